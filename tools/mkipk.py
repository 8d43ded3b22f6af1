#!/usr/bin/env python3
"""Build dist/ddns-edge_<version>-<release>_all.ipk (and luci-app-ddns-edge's) without the OpenWrt SDK: both are pure.

The archive is what OpenWrt's scripts/ipkg-build writes and opkg installs on OpenWrt up to
24.10 (OpenWrt's snapshots moved to apk, for which the SDK and openwrt/Makefile are the way):

    outer:   a gzip'd tar (GNU format), not the ar archive of Debian's .deb and old ipkg;
             members ./debian-binary ("2.0"), ./data.tar.gz, ./control.tar.gz, in that order
    control: ./control ./conffiles ./postinst ./prerm
    data:    ./usr/bin/ddns-edge                                    0755
             ./usr/lib/python3.X/site-packages/ddns_edge/*.py        0644
             ./etc/init.d/ddns-edge  (openwrt/files/ddns-edge.init)  0755
             ./etc/config/ddns-edge  (openwrt/files/ddns-edge.config) 0600, a conffile

Like ipkg-build: entries sorted by name, owner and group root (numeric 0), every mtime the
same (SOURCE_DATE_EPOCH, else the time of the git HEAD commit), gzip without a name or a
time stamp, Installed-Size the size of data.tar.gz. Two builds of one tree are the same
bytes. postinst and prerm are OpenWrt's default ones: /lib/functions.sh's default_postinst
creates the user and group of Require-User (the Makefile's USERID) and enables and
starts the init script; default_prerm stops and disables it.

The SDK's package ships byte code (.pyc) made by the feed's own Python; this one ships
the sources (no host Python can make .pyc files for another version), which the
router's python3 compiles in memory when the agent starts.

The second package, luci-app-ddns-edge_<version>-<release>_all.ipk, is the LuCI app as
luci.mk installs it: openwrt/luci-app-ddns-edge/htdocs/* under /www, root/* under /
(views, validators, menu, ACL, and the rpcd ucode plugin that answers `ubus call
ddns-edge`); its postinst is luci.mk's (clear LuCI's caches, SIGHUP rpcd, which re-executes
itself and so loads the new plugin and ACL).

Depends lists python3-light, the feed packages of the third-party imports (python3-dns,
python3-pyroute2) and the split-off standard-library packages of every stdlib module
ddns_edge imports, found by reading its imports (the feed's own table, from
lang/python/python3-find-stdlib-depends.sh, plus http -> python3-email). The feed's
python3-dns and python3-pyroute2 depend on the whole python3, which covers what they
import themselves (pyroute2 >= 0.8 needs asyncio, for one).
"""

from __future__ import annotations

import argparse
import ast
import gzip
import io
import os
import re
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "ddns-edge"
PYTHON3_VERSION = "3.13"  # the packages feed's lang/python/python3-version.mk
RELEASE = "1"  # PKG_RELEASE in openwrt/Makefile

SECTION = "net"
LICENSE = "MIT"
MAINTAINER = "ddns-edge maintainers"
REQUIRE_USER = "ddns-edge:ddns-edge"  # USERID in openwrt/Makefile: user ddns-edge, group ddns-edge
CONFFILES = ("/etc/config/ddns-edge",)
DESCRIPTION = """\
Dynamic DNS from kernel address events (RFC 2136, TSIG).
ddns-edge keeps DNS records pointing at the router's WAN address. It learns
the address from rtnetlink address and link events (no polling), asks an
external echo only when the WAN address is not public (CGNAT), and sends a
TSIG-signed RFC 2136 compare-and-swap update to the zone's primary server
(BIND, Knot, PowerDNS, ...). It runs as the unprivileged user ddns-edge."""

INTERPRETER = "python3-light"
# Third-party top-level modules -> the packages feed's names.
THIRD_PARTY = {"dns": "python3-dns", "pyroute2": "python3-pyroute2"}
# Standard-library modules OpenWrt splits out of python3-light -> their packages.
STDLIB_PACKAGES = {
    "asyncio": "python3-asyncio",
    "cgi": "python3-cgi",
    "cgitb": "python3-cgitb",
    "ctypes": "python3-ctypes",
    "curses": "python3-ncurses",
    "dbm": "python3-dbm",
    "dbm.gnu": "python3-gdbm",
    "decimal": "python3-decimal",
    "distutils": "python3-distutils",
    "doctest": "python3-pydoc",
    "email": "python3-email",
    "http": "python3-email",  # http.client imports email.parser
    "lib2to3": "python3-lib2to3",
    "logging": "python3-logging",
    "lzma": "python3-lzma",
    "multiprocessing": "python3-multiprocessing",
    "pydoc": "python3-pydoc",
    "readline": "python3-readline",
    "sqlite3": "python3-sqlite3",
    "ssl": "python3-openssl",
    "unicodedata": "python3-codecs",
    "unittest": "python3-unittest",
    "urllib": "python3-urllib",
    "uuid": "python3-uuid",
    "venv": "python3-venv",
    "webbrowser": "python3-webbrowser",
    "xml": "python3-xml",
    "xmlrpc": "python3-xml",
}

POSTINST = """\
#!/bin/sh
[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_postinst $0 $@
"""
PRERM = """\
#!/bin/sh
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_prerm $0 $@
"""
LAUNCHER = """\
#!/usr/bin/python3
import sys

from ddns_edge.cli import main

sys.exit(main())
"""


LUCI_PACKAGE = "luci-app-ddns-edge"
LUCI_DIR = "openwrt/luci-app-ddns-edge"
LUCI_DEPENDS = ("luci-base", "ddns-edge", "rpcd-mod-ucode")  # LUCI_DEPENDS in its Makefile
LUCI_DESCRIPTION = """\
LuCI support for ddns-edge.
Services -> Dynamic DNS (ddns-edge): the records, keys and agent of
/etc/config/ddns-edge as a form checked as ddns-edge check checks it, New key
(keygen with the server side to copy), the agent's status, and the ubus object
ddns-edge (status, config without secrets, check, detect, keygen)."""
LUCI_POSTINST = """\
#!/bin/sh
[ -n "${IPKG_INSTROOT}" ] || {
	rm -f /tmp/luci-indexcache.*
	rm -rf /tmp/luci-modulecache/
	killall -HUP rpcd 2>/dev/null
	exit 0
}
"""


class BuildError(Exception):
    """Something in the tree stops the build; the message says what."""


def version(root: str = ROOT) -> str:
    """ddns_edge.__version__, read without importing the package."""
    with open(os.path.join(root, "ddns_edge", "__init__.py"), encoding="utf-8") as f:
        m = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', f.read(), re.MULTILINE)
    if not m:
        raise BuildError("ddns_edge/__init__.py has no __version__")
    return m.group(1)


def package_files(root: str = ROOT) -> list[str]:
    """The package's .py files, relative to root, sorted (no tests, no byte code)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(root, "ddns_edge")):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        out += [os.path.relpath(os.path.join(dirpath, f), root) for f in filenames if f.endswith(".py")]
    return sorted(out)


def imported_modules(root: str = ROOT) -> set[str]:
    """Every absolute module name ddns_edge imports, anywhere in its files (lazy imports too)."""
    names: set[str] = set()
    for rel in package_files(root):
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            tree = ast.parse(f.read(), rel)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def depends(root: str = ROOT) -> list[str]:
    """The feed packages ddns-edge needs: the interpreter, third-party and split stdlib packages."""
    third: set[str] = set()
    stdlib: set[str] = set()
    for name in imported_modules(root):
        top = name.split(".")[0]
        if top in ("ddns_edge", "__future__"):
            continue
        if top in THIRD_PARTY:
            third.add(THIRD_PARTY[top])
        elif top in sys.stdlib_module_names:
            parts = name.split(".")
            for n in range(len(parts), 0, -1):  # the longest known prefix: dbm.gnu before dbm
                prefix = ".".join(parts[:n])
                if prefix in STDLIB_PACKAGES:
                    stdlib.add(STDLIB_PACKAGES[prefix])
                    break
        else:
            raise BuildError(f"ddns_edge imports {top!r}, which is neither the standard library nor in THIRD_PARTY; add its feed package to tools/mkipk.py")
    return [INTERPRETER, *sorted(third), *sorted(stdlib)]


def source_date_epoch(root: str = ROOT) -> int:
    """SOURCE_DATE_EPOCH, else the git HEAD commit time, else 0: never the clock."""
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env:
        return int(env)
    try:
        out = subprocess.run(["git", "-C", root, "log", "-1", "--format=%ct"], capture_output=True, text=True, timeout=10)
        return int(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else 0
    except (OSError, ValueError, subprocess.SubprocessError):
        return 0


def _read(root: str, rel: str) -> bytes:
    with open(os.path.join(root, rel), "rb") as f:
        return f.read()


def data_files(root: str = ROOT, python_version: str = PYTHON3_VERSION) -> dict[str, tuple[int, bytes]]:
    """{path on the router: (mode, content)} of every file the package installs."""
    site = f"/usr/lib/python{python_version}/site-packages"
    files = {
        "/usr/bin/ddns-edge": (0o755, LAUNCHER.encode()),
        "/etc/init.d/ddns-edge": (0o755, _read(root, "openwrt/files/ddns-edge.init")),
        "/etc/config/ddns-edge": (0o600, _read(root, "openwrt/files/ddns-edge.config")),
    }
    for rel in package_files(root):
        files[f"{site}/{rel}"] = (0o644, _read(root, rel))
    return files


def luci_data_files(root: str = ROOT) -> dict[str, tuple[int, bytes]]:
    """The LuCI app's files where luci.mk puts them: htdocs/ under /www, root/ under /."""
    files = {}
    for sub, prefix in (("htdocs", "/www"), ("root", "")):
        base = os.path.join(root, LUCI_DIR, sub)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                rel = os.path.relpath(os.path.join(dirpath, name), base).replace(os.sep, "/")
                files[f"{prefix}/{rel}"] = (0o644, _read(base, rel))
    if not files:
        raise BuildError(f"{LUCI_DIR} has no htdocs/ or root/ files")
    return files


def _control(fields: list[tuple[str, str]], description: str) -> bytes:
    lines = description.split("\n")
    text = "".join(f"{k}: {v}\n" for k, v in fields if v)
    return (text + f"Description:  {lines[0]}\n" + "".join(f" {line}\n" for line in lines[1:])).encode()


def control_files(version_text: str, deps: list[str], installed_size: int) -> dict[str, tuple[int, bytes]]:
    control = _control([
        ("Package", PACKAGE), ("Version", version_text), ("Depends", ", ".join(deps)), ("Source", "openwrt/Makefile"),
        ("SourceName", PACKAGE), ("License", LICENSE), ("Section", SECTION), ("Require-User", REQUIRE_USER),
        ("Maintainer", MAINTAINER), ("Architecture", "all"), ("Installed-Size", str(installed_size)),
    ], DESCRIPTION)
    return {
        "/control": (0o644, control),
        "/conffiles": (0o644, "".join(f"{c}\n" for c in CONFFILES).encode()),
        "/postinst": (0o755, POSTINST.encode()),
        "/prerm": (0o755, PRERM.encode()),
    }


def luci_control_files(version_text: str, installed_size: int) -> dict[str, tuple[int, bytes]]:
    control = _control([
        ("Package", LUCI_PACKAGE), ("Version", version_text), ("Depends", ", ".join(LUCI_DEPENDS)),
        ("Source", f"{LUCI_DIR}/Makefile"), ("SourceName", LUCI_PACKAGE), ("License", LICENSE), ("Section", "luci"),
        ("Maintainer", MAINTAINER), ("Architecture", "all"), ("Installed-Size", str(installed_size)),
    ], LUCI_DESCRIPTION)
    return {"/control": (0o644, control), "/postinst": (0o755, LUCI_POSTINST.encode())}


def _sort_key(path: str) -> tuple[str, ...]:
    return tuple(p for p in path.split("/") if p)


def tar_gz(files: dict[str, tuple[int, bytes]], mtime: int, with_dirs: bool = True) -> bytes:
    """A gzip'd GNU tar of `files` ({'/a/b': (mode, bytes)}) as ./a/b: sorted, root:root, one mtime."""
    entries: dict[str, tuple[int, bytes | None]] = {}
    if with_dirs:
        entries["/"] = (0o755, None)
        for path in files:
            parts = _sort_key(path)
            for i in range(1, len(parts)):
                entries.setdefault("/" + "/".join(parts[:i]), (0o755, None))
    entries.update(files)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path in sorted(entries, key=_sort_key):
            mode, content = entries[path]
            info = tarfile.TarInfo("." + path if path != "/" else ".")
            info.mode, info.mtime = mode, mtime
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def _outer(members: list[tuple[str, bytes]], mtime: int) -> bytes:
    """The outer gzip'd tar, members in the given order (ipkg-build's order)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.mode, info.mtime, info.size = 0o644, mtime, len(content)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(content))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def _check_release(release: str) -> None:
    if not re.fullmatch(r"[0-9][0-9A-Za-z.+~]*", release):
        raise BuildError(f"release {release!r}: allowed: a number such as 1")


def _ipk(data: bytes, control: bytes, mtime: int) -> bytes:
    return _outer([("./debian-binary", b"2.0\n"), ("./data.tar.gz", data), ("./control.tar.gz", control)], mtime)


def build(root: str = ROOT, python_version: str = PYTHON3_VERSION, release: str = RELEASE,
          mtime: int | None = None) -> tuple[str, bytes]:
    """(file name, bytes) of the .ipk."""
    if not re.fullmatch(r"3\.\d+", python_version):
        raise BuildError(f"python version {python_version!r}: allowed: 3.N, as in the feed's python3-version.mk")
    _check_release(release)
    mtime = source_date_epoch(root) if mtime is None else mtime
    version_text = f"{version(root)}-{release}"
    data = tar_gz(data_files(root, python_version), mtime)
    control = tar_gz(control_files(version_text, depends(root), len(data)), mtime)
    return f"{PACKAGE}_{version_text}_all.ipk", _ipk(data, control, mtime)


def build_luci(root: str = ROOT, release: str = RELEASE, mtime: int | None = None) -> tuple[str, bytes]:
    """(file name, bytes) of the luci-app-ddns-edge .ipk."""
    _check_release(release)
    mtime = source_date_epoch(root) if mtime is None else mtime
    version_text = f"{version(root)}-{release}"
    data = tar_gz(luci_data_files(root), mtime)
    control = tar_gz(luci_control_files(version_text, len(data)), mtime)
    return f"{LUCI_PACKAGE}_{version_text}_all.ipk", _ipk(data, control, mtime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the ddns-edge and luci-app-ddns-edge .ipk files for OpenWrt (no SDK needed).")
    parser.add_argument("-o", "--out", default=os.path.join(ROOT, "dist"), metavar="DIR", help="output directory (default dist/)")
    parser.add_argument("--python-version", default=os.environ.get("PYTHON3_VERSION") or PYTHON3_VERSION, metavar="X.Y",
                        help=f"the router's Python, for the site-packages path (default {PYTHON3_VERSION})")
    parser.add_argument("--release", default=RELEASE, help=f"package release, after the version (default {RELEASE})")
    args = parser.parse_args(argv)
    try:
        packages = [build(ROOT, args.python_version, args.release), build_luci(ROOT, args.release)]
    except (BuildError, OSError) as e:
        print(f"mkipk: {e}", file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)
    for name, ipk in packages:
        path = os.path.join(args.out, name)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(ipk)
        os.replace(tmp, path)
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
