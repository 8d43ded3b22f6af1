#!/usr/bin/env python3
"""Build the .apk files of ddns-edge and luci-app-ddns-edge for OpenWrt 25.12 (apk-tools 3), without the SDK.

`make apk` (python -m tools.mkapk) writes dist/ddns-edge-<version>.apk and
dist/luci-app-ddns-edge-<version>.apk, <version> being PKG_VERSION-rPKG_RELEASE. What they
hold comes from tools/pkgspec.py (the agent under /usr/lib/python3.13/site-packages); the
container is apk-tools 3's ADB format (tools/adb.py). This file does what OpenWrt 25.12's
include/package-pack.mk does for apk and then `apk mkpkg` (src/app_mkpkg.c) with it:

  - beside the package's files, /lib/apk/packages/NAME.list (every file and link, sorted;
    default_postinst and default_prerm read it for init scripts and uci-defaults),
    NAME.rusers (the Makefile's USERID), NAME.conffiles and NAME.conffiles_static (each
    conffile with its sha256);
  - the scripts: post-install sources /lib/functions.sh, then add_group_and_user (the
    user and group of .rusers), default_postinst, then the package's own postinst part;
    post-upgrade is the same with PKG_UPGRADE=1; pre-deinstall runs default_prerm, then
    the package's own prerm part;
  - the info: name, version, description (one line), arch noarch (PKGARCH all), license,
    origin (the SDK's SOURCE), maintainer, depends (libc first), provides NAME-any, and
    mkpkg's installed-size and unique id (the first 20 bytes of the sha256 of the ADB block);
  - paths: every directory (the root too, as mkpkg's default --compat keeps them), 0755
    root:root, with its files: name, mode, owner root:root, size, mtime, sha256.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys

if __package__ in (None, ""):  # run as a file: tools/mkapk.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tools import adb, mkipk, pkgspec  # noqa: E402
from tools.pkgspec import ROOT, BuildError, Package  # noqa: E402

PYTHON3_VERSION = pkgspec.RELEASES["25.12"].python

# src/apk_adb.h: the field numbers of the package schema
PKG_INFO, PKG_PATHS, PKG_SCRIPTS = 1, 2, 3
PI_NAME, PI_VERSION, PI_HASHES, PI_DESCRIPTION, PI_ARCH, PI_LICENSE, PI_ORIGIN, PI_MAINTAINER = 1, 2, 3, 4, 5, 6, 7, 8
PI_INSTALLED_SIZE, PI_DEPENDS, PI_PROVIDES = 0x0C, 0x0F, 0x10
DEP_NAME = 1
ACL_MODE, ACL_USER, ACL_GROUP = 1, 2, 3
FI_NAME, FI_ACL, FI_SIZE, FI_MTIME, FI_HASHES = 1, 2, 3, 4, 5
DI_NAME, DI_ACL, DI_FILES = 1, 2, 3
SCRIPT_NUMBERS = {"trigger": 1, "pre-install": 2, "post-install": 3, "pre-deinstall": 4,
                  "post-deinstall": 5, "pre-upgrade": 6, "post-upgrade": 7}
UID_LENGTH = 20  # apk_digest_alg_len(APK_DIGEST_SHA1): mkpkg's unique id

# doc/apk-package.5: number{.number}...{letter}{_suffix{number}}...{~hash}{-r#}
VERSION_RE = re.compile(r"[0-9]+(\.[0-9]+)*[a-z]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]*)*(~[0-9a-f]+)?(-r[0-9]+)?")


def scripts(pkg: Package) -> dict[str, str]:
    """The scripts package-pack.mk writes for apk (no preinst: no pre-install, pre-upgrade)."""
    head = pkgspec.SCRIPT_SOURCE_FUNCTIONS + f'export root="${{IPKG_INSTROOT}}"\nexport pkgname="{pkg.name}"\n'
    post_install = ("#!/bin/sh\n" + pkgspec.SCRIPT_GUARD_NO_SCRIPT + head + "add_group_and_user\ndefault_postinst\n"
                    + pkgspec.without_shebang(pkg.postinst))
    return {
        "post-install": post_install,
        "pre-deinstall": "#!/bin/sh\n" + head + "default_prerm\n" + pkgspec.without_shebang(pkg.prerm),
        "post-upgrade": "#!/bin/sh\nexport PKG_UPGRADE=1\n" + pkgspec.without_shebang(post_install),
    }


def package_files(pkg: Package) -> dict[str, tuple[int, bytes]]:
    """The package's files and the SDK's /lib/apk/packages/NAME.* beside them."""
    files = dict(pkg.files)
    meta = f"/lib/apk/packages/{pkg.name}"
    if pkg.require_user:
        files[f"{meta}.rusers"] = (0o644, f"{pkg.require_user}\n".encode())
    files[f"{meta}.list"] = (0o644, "".join(f"{p}\n" for p in sorted(files)).encode())
    if pkg.conffiles:
        files[f"{meta}.conffiles"] = (0o644, "".join(f"{c}\n" for c in pkg.conffiles).encode())
        static = "".join(f"{c} {hashlib.sha256(files[c][1]).hexdigest()}\n" for c in pkg.conffiles if c in files)
        files[f"{meta}.conffiles_static"] = (0o644, static.encode())
    return files


def directories(files: dict[str, tuple[int, bytes]]) -> list[str]:
    """Every directory that holds a file, relative, the root ("") first, then by name."""
    dirs = {""}
    for path in files:
        parts = path.strip("/").split("/")[:-1]
        dirs.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    return sorted(dirs, key=lambda d: d.encode())


def _dependencies(db: adb.Adb, names: list[str]) -> int:
    """dependencies_fromstring, then adb_wa_sort_unique; tagged OBJECT as adb_w_obj does."""
    values = {name: db.object({DEP_NAME: db.blob(name.encode())}) for name in names}
    return db.array([values[n] for n in sorted(values, key=str.encode)], adb.TYPE_OBJECT)


def apk(pkg: Package) -> tuple[str, bytes]:
    """(file name, bytes) of the package as apk-tools 3 writes it (app_mkpkg.c)."""
    if not VERSION_RE.fullmatch(pkg.version):
        raise BuildError(f"version {pkg.version!r}: apk refuses it (apk-package(5): 1.2.3, 1.2.3_rc1, 1.2.3-r1, ...)")
    files = package_files(pkg)
    db = adb.Adb()
    # assign_fields: the --info values, in field order
    info = {
        PI_NAME: db.blob(pkg.name.encode()),
        PI_VERSION: db.blob(pkg.version.encode()),
        PI_DESCRIPTION: db.blob(" ".join(" ".join(pkg.description).split()).encode()),  # $(strip ...)
        PI_ARCH: db.blob(b"noarch"),
        PI_LICENSE: db.blob(pkg.license.encode()),
        PI_ORIGIN: db.blob(pkg.source.encode()),
        PI_MAINTAINER: db.blob(pkg.maintainer.encode()),
    }
    info[PI_DEPENDS] = _dependencies(db, list(pkg.depends))
    info[PI_PROVIDES] = _dependencies(db, [f"{pkg.name}-any"])
    # mkpkg_process_directory for each directory: its files, then the directory itself
    by_dir: dict[str, list[str]] = {d: [] for d in directories(files)}
    for path in sorted(files, key=str.encode):
        by_dir[path.rsplit("/", 1)[0].strip("/")].append(path)
    paths, contents, installed_size = [], [], 0
    for dirname, entries in by_dir.items():
        file_values, file_contents = [], []
        for path in entries:
            mode, content = files[path]
            fields = {FI_NAME: db.blob(path.rsplit("/", 1)[1].encode()), FI_HASHES: db.blob(hashlib.sha256(content).digest())}
            fields[FI_MTIME] = db.int(pkg.mtime)
            fields[FI_SIZE] = db.int(len(content))
            fields[FI_ACL] = _acl(db, mode)
            file_values.append(db.object(fields))
            file_contents.append(content)
            installed_size += len(content)
        fields = {DI_NAME: db.blob(dirname.encode())}
        fields[DI_ACL] = _acl(db, 0o755)
        fields[DI_FILES] = db.array(file_values, adb.TYPE_OBJECT)
        paths.append(db.object(fields))
        contents.append(file_contents)
    info[PI_INSTALLED_SIZE] = db.int(installed_size or 1)
    info[PI_HASHES] = uid = db.blob(bytes(UID_LENGTH), cache=False)
    package = {PKG_INFO: db.object(info), PKG_PATHS: db.array(paths, adb.TYPE_OBJECT)}
    script_text = scripts(pkg)
    package[PKG_SCRIPTS] = db.object({SCRIPT_NUMBERS[k]: db.blob(script_text[k].encode())
                                      for k in sorted(script_text, key=SCRIPT_NUMBERS.get)})
    db.set_root(db.object(package))
    db.patch(uid, hashlib.sha256(db.buf).digest()[:UID_LENGTH])
    blocks = [adb.data_block(i, j, content)
              for i, dir_contents in enumerate(contents, 1)
              for j, content in enumerate(dir_contents, 1) if content]
    return f"{pkg.name}-{pkg.version}.apk", adb.compress(adb.file_bytes(adb.SCHEMA_PACKAGE, bytes(db.buf), blocks))


def _acl(db: adb.Adb, mode: int) -> int:
    fields = {ACL_MODE: db.int(mode)}
    fields[ACL_USER] = db.blob(b"root")
    fields[ACL_GROUP] = db.blob(b"root")
    return db.object(fields)


def build(root: str = ROOT, python_version: str = PYTHON3_VERSION, release: str | None = None,
          mtime: int | None = None) -> tuple[str, bytes]:
    """(file name, bytes) of ddns-edge's .apk."""
    return apk(pkgspec.ddns_edge(root, pkgspec.release_for_python("apk", python_version), release, mtime))


def build_luci(root: str = ROOT, release: str | None = None, mtime: int | None = None) -> tuple[str, bytes]:
    """(file name, bytes) of luci-app-ddns-edge's .apk."""
    return apk(pkgspec.luci_app(root, release, mtime))


if __name__ == "__main__":
    sys.exit(mkipk.main(fmt="apk", default_python=PYTHON3_VERSION, build_one=build, build_app=build_luci))
