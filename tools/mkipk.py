#!/usr/bin/env python3
"""Build the .ipk files of ddns-edge and luci-app-ddns-edge for OpenWrt 24.10 (opkg), without the SDK.

`make ipk` (python -m tools.mkipk) writes dist/ddns-edge_<version>_all.ipk and
dist/luci-app-ddns-edge_<version>_all.ipk, the version being PKG_VERSION-rPKG_RELEASE as the
24.10 SDK writes it. What they hold comes from tools/pkgspec.py; this file is the format, as
OpenWrt's include/package-pack.mk and scripts/ipkg-build write it and opkg installs it:

    outer:   a gzip'd tar (GNU format), not the ar archive of Debian's .deb and old ipkg;
             members ./debian-binary ("2.0"), ./data.tar.gz, ./control.tar.gz, in that order
    control: ./control ./conffiles ./postinst ./prerm, and ./postinst-pkg ./prerm-pkg when
             the package has its own parts (the Makefile's Package/NAME/postinst, prerm)
    data:    ./usr/bin/ddns-edge                                    0755
             ./usr/lib/python3.11/site-packages/ddns_edge/*.py       0644
             ./etc/init.d/ddns-edge  (openwrt/files/ddns-edge.init)  0755
             ./etc/config/ddns-edge  (openwrt/files/ddns-edge.config) 0600, a conffile
             ./etc/uci-defaults/ddns-edge-bytecode                  0755

Like scripts/ipkg-build: GNU tar entries sorted by name, owner and group 0 (--numeric-owner:
no names), every mtime the same (SOURCE_DATE_EPOCH, else the time of the git HEAD commit),
`gzip -n` (level 6, no name, no time stamp), Installed-Size the size of the uncompressed data
tar (zcat data.tar.gz | wc -c). Two builds of one tree are the same bytes. postinst and prerm are always the SDK's: /lib/functions.sh's default_postinst
creates the user and group of Require-User (the Makefile's USERID), sources postinst-pkg,
runs the package's uci-defaults scripts (on a running router) and enables and starts the
init script; default_prerm sources prerm-pkg, then stops and disables it.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import sys
import tarfile

if __package__ in (None, ""):  # run as a file: tools/mkipk.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tools import pkgspec  # noqa: E402
from tools.pkgspec import ROOT, BuildError, Package  # noqa: E402

PYTHON3_VERSION = pkgspec.RELEASES["24.10"].python

POSTINST = "#!/bin/sh\n" + pkgspec.SCRIPT_GUARD_NO_SCRIPT + pkgspec.SCRIPT_SOURCE_FUNCTIONS + "default_postinst $0 $@\n"
PRERM = "#!/bin/sh\n" + pkgspec.SCRIPT_SOURCE_FUNCTIONS + "default_prerm $0 $@\n"


def _sort_key(path: str) -> tuple[str, ...]:
    return tuple(p for p in path.split("/") if p)


def _gzip(raw: bytes) -> bytes:
    """gzip -n: no name, no time stamp, gzip's default level."""
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6) as gz:
        gz.write(raw)
    return out.getvalue()


def _tar(entries: list[tuple[str, int, bytes | None]], mtime: int) -> bytes:
    """A GNU tar of (name, mode, content or None for a directory), owner 0:0 by number, one mtime."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, mode, content in entries:
            info = tarfile.TarInfo(name)
            info.mode, info.mtime = mode, mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return raw.getvalue()


def tree_tar(files: dict[str, tuple[int, bytes]], mtime: int) -> bytes:
    """`files` ({'/a/b': (mode, bytes)}) as ./a/b, with every directory (0755), sorted by name
    (tar --sort=name: a directory, then what it holds)."""
    entries: dict[str, tuple[int, bytes | None]] = {"/": (0o755, None)}
    for path in files:
        parts = _sort_key(path)
        for i in range(1, len(parts)):
            entries.setdefault("/" + "/".join(parts[:i]), (0o755, None))
    entries.update(files)
    return _tar([("." + p if p != "/" else ".", *entries[p]) for p in sorted(entries, key=_sort_key)], mtime)


def control_text(pkg: Package, installed_size: int) -> bytes:
    """./control as package-pack.mk's Package/NAME/CONTROL, with ipkg-build's Installed-Size."""
    fields = [
        ("Package", pkg.name), ("Version", pkg.version), ("Depends", ", ".join(pkg.depends)),
        ("Source", pkg.source), ("SourceName", pkg.name), ("License", pkg.license), ("Section", pkg.section),
        ("Require-User", pkg.require_user), ("SourceDateEpoch", str(pkg.mtime)), ("Maintainer", pkg.maintainer),
        ("Architecture", "all"), ("Installed-Size", str(installed_size)),
    ]
    text = "".join(f"{k}: {v}\n" for k, v in fields if v)
    # printf "Description: "; echo "$DESCRIPTION" | sed -e 's,^[[:space:]]*, ,g'
    return (text + "Description: " + "".join(f" {line.lstrip()}\n" for line in pkg.description)).encode()


def control_files(pkg: Package, installed_size: int) -> list[tuple[str, int, bytes | None]]:
    files = {
        "control": (0o644, control_text(pkg, installed_size)),
        "postinst": (0o755, POSTINST.encode()),
        "prerm": (0o755, PRERM.encode()),
    }
    if pkg.conffiles:
        files["conffiles"] = (0o644, "".join(f"{c}\n" for c in pkg.conffiles).encode())
    if pkg.postinst:
        files["postinst-pkg"] = (0o755, pkg.postinst.encode())
    if pkg.prerm:
        files["prerm-pkg"] = (0o755, pkg.prerm.encode())
    return [(".", 0o755, None)] + [(f"./{name}", *files[name]) for name in sorted(files)]


def ipk(pkg: Package) -> tuple[str, bytes]:
    """(file name, bytes) of the package as an .ipk."""
    data = tree_tar(pkg.files, pkg.mtime)
    control = _gzip(_tar(control_files(pkg, len(data)), pkg.mtime))
    members = [("./debian-binary", 0o644, b"2.0\n"), ("./data.tar.gz", 0o644, _gzip(data)), ("./control.tar.gz", 0o644, control)]
    return f"{pkg.name}_{pkg.version}_all.ipk", _gzip(_tar(members, pkg.mtime))


def build(root: str = ROOT, python_version: str = PYTHON3_VERSION, release: str | None = None,
          mtime: int | None = None) -> tuple[str, bytes]:
    """(file name, bytes) of ddns-edge's .ipk."""
    return ipk(pkgspec.ddns_edge(root, pkgspec.release_for_python("opkg", python_version), release, mtime))


def build_luci(root: str = ROOT, release: str | None = None, mtime: int | None = None) -> tuple[str, bytes]:
    """(file name, bytes) of luci-app-ddns-edge's .ipk."""
    return ipk(pkgspec.luci_app(root, release, mtime))


def write(out: str, packages: list[tuple[str, bytes]]) -> list[str]:
    """Write each (name, bytes) into `out` (atomically), return the paths."""
    os.makedirs(out, exist_ok=True)
    paths = []
    for name, data in packages:
        path = os.path.join(out, name)
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.replace(path + ".tmp", path)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None, fmt: str = "ipk", default_python: str = PYTHON3_VERSION,
         build_one=build, build_app=build_luci) -> int:
    release = pkgspec.FORMAT_RELEASE["opkg" if fmt == "ipk" else "apk"]
    parser = argparse.ArgumentParser(prog=f"mk{fmt}", description=f"Build the ddns-edge and luci-app-ddns-edge .{fmt} files for OpenWrt {release} (no SDK needed).")
    parser.add_argument("-o", "--out", default=os.path.join(ROOT, "dist"), metavar="DIR", help="output directory (default dist/)")
    parser.add_argument("--python-version", default=default_python, metavar="X.Y",
                        help=f"the router's Python, for the site-packages path (default {default_python}, OpenWrt {release}'s)")
    parser.add_argument("--release", default=None, help="PKG_RELEASE, after the version (default openwrt/Makefile's)")
    args = parser.parse_args(argv)
    try:
        packages = [build_one(ROOT, args.python_version, args.release), build_app(ROOT, args.release)]
        paths = write(args.out, packages)
    except (BuildError, OSError) as e:
        print(f"mk{fmt}: {e}", file=sys.stderr)
        return 1
    print("\n".join(paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
