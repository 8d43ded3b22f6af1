"""The .apk of OpenWrt 25.12 (tools/mkapk.py), read back with tests/packaging/adbread.py (a
reader written from apk-tools 3's sources, not from tools/adb.py) and checked field by field
against those sources and against what OpenWrt's include/package-pack.mk hands `apk mkpkg`.

The expected scripts are typed out here from package-pack.mk (the apk branch), not taken
from the tool. test_apk_tools.py installs the package with apk-tools 3 itself.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import subprocess
import zlib

import pytest

import ddns_edge
from tests.packaging import adbread
from tests.packaging.pkgfiles import EPOCH, ROOT, tree_copy, SHELLS
from tools import mkapk, pkgspec

SITE = "/usr/lib/python3.13/site-packages/ddns_edge"
VERSION = f"{ddns_edge.__version__}-r1"

SDK_POST_INSTALL = """\
#!/bin/sh
[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
export root="${IPKG_INSTROOT}"
export pkgname="ddns-edge"
add_group_and_user
default_postinst
"""
SDK_PRE_DEINSTALL = """\
#!/bin/sh
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
export root="${IPKG_INSTROOT}"
export pkgname="ddns-edge"
default_prerm
rm -rf "${IPKG_INSTROOT}/usr/lib/python3.13/site-packages/ddns_edge/__pycache__"
"""


@pytest.fixture(scope="module")
def apk():
    name, data = mkapk.build(ROOT, mtime=EPOCH)
    return name, data, adbread.read(data)


def test_file_name_is_the_sdks(apk):
    name, _, _ = apk
    assert name == f"ddns-edge-{VERSION}.apk"  # package-pack.mk: $(1)$(ABIV)-$(VERSION).apk


def test_container_magic_compression_and_blocks(apk):
    _, data, pkg = apk
    assert data[:4] == b"ADBd"  # adb_comp.c: the default spec is deflate, announced as "ADBd"
    raw = zlib.decompress(data[4:], -15)  # raw deflate, no zlib or gzip header
    assert pkg.compression == "deflate" and pkg.raw == raw
    assert raw[:4] == b"ADB." and struct.unpack_from("<I", raw)[0] == 0x2E424441  # ADB_FORMAT_MAGIC
    assert pkg.schema == b"pckg" and struct.unpack_from("<I", raw, 4)[0] == 0x676B6370  # ADB_SCHEMA_PACKAGE
    kinds = [b.type for b in pkg.blocks]
    assert kinds[0] == 0 and set(kinds[1:]) == {2}  # ADB, no SIG (unsigned), then DATA only
    for b in pkg.blocks:
        assert b.offset % 8 == 0 and b.header_size == 4  # ADB_BLOCK_ALIGNMENT; no extended header needed
        (type_size,) = struct.unpack_from("<I", raw, b.offset)
        assert type_size >> 30 == b.type and type_size & 0x3FFFFFFF == 4 + len(b.payload)
        assert len(b.padding) == -(4 + len(b.payload)) % 8 and b.padding == bytes(len(b.padding))
    assert pkg.blocks[-1].offset + 4 + len(pkg.blocks[-1].payload) + len(pkg.blocks[-1].padding) == len(raw)
    assert pkg.header == (0, 0, 0)  # adb_hdr: compat 0 (anything else is refused), version 0


def test_values_have_the_types_the_schema_gives_them(apk):
    _, _, pkg = apk
    blobs, ints, objects = {0x8, 0x9, 0xA}, {0x1, 0x2, 0x3}, {0xD, 0xE}
    expected = {
        "name": blobs, "version": blobs, "hashes": blobs, "description": blobs, "arch": blobs, "license": blobs,
        "origin": blobs, "maintainer": blobs, "installed-size": ints, "depends": objects, "provides": objects,
        "info": objects, "paths": objects, "scripts": objects, "acl": objects, "files": objects, "mode": ints,
        "user": blobs, "group": blobs, "size": ints, "mtime": ints, "hash": blobs,
        "post-install": blobs, "pre-deinstall": blobs, "post-upgrade": blobs,
    }
    assert set(pkg.slot_types) == set(expected)
    for field, types in pkg.slot_types.items():
        assert types <= expected[field], field
    assert pkg.slot_types["mtime"] == {0x2}  # a 2023 time is >= 2^28: an INT32, written once and shared
    assert pkg.slot_types["description"] == {0x9}  # over 255 bytes: BLOB16


def test_package_info(apk):
    _, _, pkg = apk
    info = pkg.root["info"]
    makefile = open(os.path.join(ROOT, "openwrt/Makefile")).read()
    description = " ".join(" ".join(pkgspec.makefile_define(makefile, "Package/ddns-edge/description", "")).split())
    files = adbread.files(pkg)
    assert set(info) == {"name", "version", "hashes", "description", "arch", "license", "origin", "maintainer",
                         "installed-size", "depends", "provides"}
    assert info["name"] == b"ddns-edge"
    assert info["version"] == VERSION.encode()
    assert re.fullmatch(rb"[0-9]+(\.[0-9]+)*[a-z]?(_[a-z]+[0-9]*)*(~[0-9a-f]+)?(-r[0-9]+)?", info["version"])
    assert info["description"] == description.encode()  # $(strip $(Package/ddns-edge/description)): one line
    assert info["arch"] == b"noarch"  # PKGARCH all
    assert (info["license"], info["maintainer"]) == (b"MIT", b"ddns-edge maintainers")
    assert info["origin"] == b"feeds/ddnsedge/openwrt"
    deps = sorted(["libc", *pkgspec.depends(ROOT, pkgspec.RELEASES["25.12"])])
    assert [d for d in info["depends"]] == [{"name": d.encode()} for d in deps]  # names only, sorted (adb_wa_sort_unique)
    assert info["provides"] == [{"name": b"ddns-edge-any"}]
    assert info["installed-size"] == sum(f["size"] for f in files.values())  # mkpkg: the regular files' sizes
    assert len(info["hashes"]) == 20 and info["hashes"] == adbread.unique_id(pkg)


def test_paths_hold_every_file_with_its_mode_owner_mtime_and_hash(apk):
    _, _, pkg = apk
    dirs = adbread.directories(pkg)
    assert list(dirs) == sorted(dirs)
    assert list(dirs)[:8] == ["/", "/etc", "/etc/config", "/etc/hotplug.d", "/etc/hotplug.d/iface", "/etc/init.d", "/etc/uci-defaults", "/lib"]
    assert all(acl == {"mode": 0o755, "user": b"root", "group": b"root"} for acl in dirs.values())
    files = adbread.files(pkg)
    expected = {
        "/etc/config/ddns-edge": 0o600, "/etc/init.d/ddns-edge": 0o755, "/usr/bin/ddns-edge": 0o755,
        "/etc/hotplug.d/iface/95-ddns-edge": 0o644,
        "/etc/uci-defaults/ddns-edge-bytecode": 0o755,
        "/lib/apk/packages/ddns-edge.list": 0o644, "/lib/apk/packages/ddns-edge.rusers": 0o644,
        "/lib/apk/packages/ddns-edge.conffiles": 0o644, "/lib/apk/packages/ddns-edge.conffiles_static": 0o644,
        **{f"{SITE}/{os.path.basename(p)}": 0o644 for p in pkgspec.package_files(ROOT)},
    }
    assert {p: f["mode"] for p, f in files.items()} == expected
    for path, f in files.items():
        assert (f["user"], f["group"], f["mtime"]) == (b"root", b"root", EPOCH), path
        assert f["size"] == len(f["content"]) and f["hash"] == hashlib.sha256(f["content"]).digest(), path
        assert set(f) == {"mode", "user", "group", "size", "mtime", "hash", "content"}  # no xattrs, no link target
    for rel in pkgspec.package_files(ROOT):
        assert files[f"{SITE}/{os.path.basename(rel)}"]["content"] == open(os.path.join(ROOT, rel), "rb").read()
    assert files["/etc/init.d/ddns-edge"]["content"] == open(os.path.join(ROOT, "openwrt/files/ddns-edge.init"), "rb").read()
    assert files["/etc/config/ddns-edge"]["content"] == open(os.path.join(ROOT, "openwrt/files/ddns-edge.config"), "rb").read()
    # one DATA block per non-empty file, in path and file order (extract_v3.c checks the indexes)
    assert len(pkg.data) == sum(1 for f in files.values() if f["size"])


def test_the_sdks_files_beside_the_package(apk):
    _, _, pkg = apk
    files = adbread.files(pkg)
    meta = "/lib/apk/packages/ddns-edge"
    listed = files[f"{meta}.list"]["content"].decode().splitlines()
    # package-pack.mk: find . -type f,l | sort, after .rusers, before the conffiles move in
    assert listed == sorted(p for p in files if p not in (f"{meta}.list", f"{meta}.conffiles", f"{meta}.conffiles_static"))
    assert "/etc/init.d/ddns-edge" in listed and "/etc/uci-defaults/ddns-edge-bytecode" in listed
    assert files[f"{meta}.rusers"]["content"] == b"ddns-edge:ddns-edge\n"  # the Makefile's USERID
    assert files[f"{meta}.conffiles"]["content"] == b"/etc/config/ddns-edge\n"
    config_sum = hashlib.sha256(files["/etc/config/ddns-edge"]["content"]).hexdigest()
    assert files[f"{meta}.conffiles_static"]["content"] == f"/etc/config/ddns-edge {config_sum}\n".encode()


def test_scripts_are_the_sdks_with_the_package_parts(apk, tmp_path):
    _, _, pkg = apk
    scripts = {k: v.decode() for k, v in pkg.root["scripts"].items()}
    assert set(scripts) == {"post-install", "pre-deinstall", "post-upgrade"}  # no preinst: no pre-install/pre-upgrade
    assert scripts["post-install"] == SDK_POST_INSTALL
    assert scripts["pre-deinstall"] == SDK_PRE_DEINSTALL
    assert scripts["post-upgrade"] == "#!/bin/sh\nexport PKG_UPGRADE=1\n" + SDK_POST_INSTALL.split("\n", 1)[1]
    for name, text in scripts.items():
        (tmp_path / name).write_text(text)
        for shell in SHELLS:
            assert subprocess.run([*shell, "-n", str(tmp_path / name)]).returncode == 0, (name, shell)
        # without /lib/functions.sh (not OpenWrt) they do nothing and succeed
        env = dict(os.environ, IPKG_INSTROOT=str(tmp_path / "nowhere"))
        assert subprocess.run(["sh", str(tmp_path / name)], env=env).returncode == 0


def test_python_version_and_release_are_variables():
    _, data = mkapk.build(ROOT, "3.11", "7", mtime=EPOCH)
    pkg = adbread.read(data)
    assert pkg.root["info"]["version"] == f"{ddns_edge.__version__}-r7".encode()
    assert "/usr/lib/python3.11/site-packages/ddns_edge/cli.py" in adbread.files(pkg)
    assert not any("python3.13" in p for p in adbread.files(pkg))


def test_a_version_apk_refuses_stops_the_build(tmp_path):
    tree = tree_copy(tmp_path)
    init, makefile = tree / "ddns_edge/__init__.py", tree / "openwrt/Makefile"
    init.write_text(init.read_text().replace(f'"{ddns_edge.__version__}"', '"0.2.0.dev1"'))
    makefile.write_text(makefile.read_text().replace(f"PKG_VERSION:={ddns_edge.__version__}", "PKG_VERSION:=0.2.0.dev1"))
    with pytest.raises(pkgspec.BuildError, match="apk refuses"):
        mkapk.build(str(tree), mtime=EPOCH)


def test_reader_refuses_what_apk_refuses(apk):
    """The reader is the test's eyes: it must see a broken package as broken."""
    _, data, pkg = apk
    raw = bytearray(pkg.raw)
    with pytest.raises(adbread.FormatError):
        adbread.read(b"ADBx" + data[4:])
    bad = bytearray(raw)
    bad[0:4] = b"XDB."
    with pytest.raises(adbread.FormatError):
        adbread.read(bytes(bad))
    bad = bytearray(raw)
    last = pkg.blocks[-1].offset + 3  # the type bits of the last DATA block: a SIG block after DATA
    bad[last] = 0x40 | bad[last] & 0x3F
    with pytest.raises(adbread.FormatError, match="then SIG, then DATA"):
        adbread.read(bytes(bad))
    bad = bytearray(raw)
    bad[pkg.blocks[0].offset + 4] = 1  # adb_compat_ver 1
    with pytest.raises(adbread.FormatError, match="compat"):
        adbread.read(bytes(bad))
    bad = bytearray(raw)
    struct.pack_into("<II", bad, pkg.blocks[2].offset + 4, 99, 1)  # a DATA block for another file
    with pytest.raises(adbread.FormatError):
        adbread.files(adbread.read(bytes(bad)))
