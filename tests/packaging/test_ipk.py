"""The .ipk of OpenWrt 24.10 (tools/mkipk.py): the archive as ipkg-build writes it, the control
files as the SDK's include/package-pack.mk writes them, the data as opkg installs it.

The expected control file and scripts are typed out here from package-pack.mk (the CONTROL
define, the postinst/prerm it echoes, BuildPackVariable's -pkg files), not taken from the
tool: a change to the tool that the SDK would not make fails here.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import sys

import pytest

import ddns_edge
from tests.packaging.pkgfiles import EPOCH, ROOT, tree_copy, SHELLS, control_fields, members, outer, read_member
from tools import mkipk, pkgspec

SITE = "./usr/lib/python3.11/site-packages"

SDK_POSTINST = """\
#!/bin/sh
[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_postinst $0 $@
"""
SDK_PRERM = """\
#!/bin/sh
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_prerm $0 $@
"""


@pytest.fixture(scope="module")
def ipk():
    name, data = mkipk.build(ROOT, mtime=EPOCH)
    return name, data, outer(data)


def test_ipk_is_a_gzipped_tar_as_ipkg_build_writes_it(ipk):
    name, data, parts = ipk
    assert name == f"ddns-edge_{ddns_edge.__version__}-r1_all.ipk"
    assert data[:2] == b"\x1f\x8b"  # gzip, not an ar archive ("!<arch>")
    assert [m.name for m in members(data)] == ["./debian-binary", "./data.tar.gz", "./control.tar.gz"]
    assert parts["./debian-binary"] == b"2.0\n"
    for part in (data, parts["./data.tar.gz"], parts["./control.tar.gz"]):
        assert part[:2] == b"\x1f\x8b"
        assert part[4:8] == b"\0\0\0\0"  # no time stamp in the gzip header


def test_ipk_data_paths_modes_and_owner(ipk):
    _, _, parts = ipk
    data = parts["./data.tar.gz"]
    entries = {m.name: m for m in members(data)}
    site = f"{SITE}/ddns_edge"
    assert {n: (m.mode, m.isdir()) for n, m in entries.items() if not n.startswith(site + "/")} == {
        ".": (0o755, True),  # "./" in the archive; tarfile drops the slash
        "./etc": (0o755, True),
        "./etc/config": (0o755, True),
        "./etc/config/ddns-edge": (0o600, False),
        "./etc/hotplug.d": (0o755, True),
        "./etc/hotplug.d/iface": (0o755, True),
        "./etc/hotplug.d/iface/95-ddns-edge": (0o644, False),
        "./etc/init.d": (0o755, True),
        "./etc/init.d/ddns-edge": (0o755, False),
        "./etc/uci-defaults": (0o755, True),
        "./etc/uci-defaults/ddns-edge-bytecode": (0o755, False),
        "./usr": (0o755, True),
        "./usr/bin": (0o755, True),
        "./usr/bin/ddns-edge": (0o755, False),
        "./usr/lib": (0o755, True),
        "./usr/lib/python3.11": (0o755, True),
        f"{SITE}": (0o755, True),
        site: (0o755, True),
    }
    modules = sorted(n[len(site) + 1:] for n in entries if n.startswith(site + "/"))
    assert modules == sorted(os.path.basename(p) for p in pkgspec.package_files(ROOT))
    assert "cli.py" in modules and not any("pycache" in m or m.endswith(".pyc") for m in modules)
    for name, m in entries.items():
        assert (m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "", "", EPOCH), name  # --numeric-owner
        if name.startswith(site + "/"):
            assert m.mode == 0o644
            with open(os.path.join(ROOT, "ddns_edge", name[len(site) + 1:]), "rb") as f:
                assert read_member(data, name) == f.read()
    assert [m.name for m in members(data)] == sorted(entries, key=lambda n: [p for p in n.split("/") if p])


def test_ipk_installs_the_init_script_config_and_launcher_as_they_are(ipk):
    _, _, parts = ipk
    data = parts["./data.tar.gz"]
    with open(os.path.join(ROOT, "openwrt/files/ddns-edge.init"), "rb") as f:
        assert read_member(data, "./etc/init.d/ddns-edge") == f.read()
    with open(os.path.join(ROOT, "openwrt/files/ddns-edge.config"), "rb") as f:
        assert read_member(data, "./etc/config/ddns-edge") == f.read()
    launcher = read_member(data, "./usr/bin/ddns-edge").decode()
    assert launcher.startswith("#!/usr/bin/python3\n")
    assert "from ddns_edge.cli import main" in launcher


def test_ipk_control_is_the_sdks(ipk):
    _, _, parts = ipk
    control = parts["./control.tar.gz"]
    assert {m.name: m.mode for m in members(control)} == {
        ".": 0o755, "./conffiles": 0o644, "./control": 0o644, "./postinst": 0o755, "./prerm": 0o755, "./prerm-pkg": 0o755,
    }
    assert [m.name for m in members(control)] == [".", "./conffiles", "./control", "./postinst", "./prerm", "./prerm-pkg"]
    deps = ", ".join(["libc", *pkgspec.depends(ROOT, pkgspec.RELEASES["24.10"])])
    description = "".join(f" {line.strip()}\n" for line in pkgspec.makefile_define(
        open(os.path.join(ROOT, "openwrt/Makefile")).read(), "Package/ddns-edge/description", ""))
    assert read_member(control, "./control").decode() == (
        "Package: ddns-edge\n"
        f"Version: {ddns_edge.__version__}-r1\n"
        f"Depends: {deps}\n"
        "Source: feeds/ddnsedge/openwrt\n"
        "SourceName: ddns-edge\n"
        "License: MIT\n"
        "Section: net\n"
        "Require-User: ddns-edge:ddns-edge\n"
        f"SourceDateEpoch: {EPOCH}\n"
        "Maintainer: ddns-edge maintainers\n"
        "Architecture: all\n"
        f"Installed-Size: {len(gzip.decompress(parts['./data.tar.gz']))}\n"  # ipkg-build: zcat data.tar.gz | wc -c
        f"Description: {description}"
    )
    fields = control_fields(parts)
    assert fields["Depends"].startswith("libc, python3-light, python3-dns, python3-pyroute2")
    assert fields["Description"].startswith("ddns-edge keeps DNS records")
    assert read_member(control, "./conffiles") == b"/etc/config/ddns-edge\n"


def test_ipk_maintainer_scripts_are_the_sdks_with_the_package_parts(ipk, tmp_path):
    _, _, parts = ipk
    control = parts["./control.tar.gz"]
    assert read_member(control, "./postinst").decode() == SDK_POSTINST
    assert read_member(control, "./prerm").decode() == SDK_PRERM
    prerm_pkg = read_member(control, "./prerm-pkg").decode()
    assert prerm_pkg == '#!/bin/sh\nrm -rf "${IPKG_INSTROOT}/usr/lib/python3.11/site-packages/ddns_edge/__pycache__"\n'
    for name, text in (("postinst", SDK_POSTINST), ("prerm", SDK_PRERM), ("prerm-pkg", prerm_pkg)):
        script = tmp_path / name
        script.write_text(text)
        for shell in SHELLS:
            assert subprocess.run([*shell, "-n", str(script)]).returncode == 0
    # without /lib/functions.sh (not OpenWrt) they do nothing and succeed
    for name in ("postinst", "prerm"):
        env = dict(os.environ, IPKG_INSTROOT=str(tmp_path / "nowhere"))
        assert subprocess.run(["sh", str(tmp_path / name)], env=env).returncode == 0


def test_the_bytecode_script_compiles_for_the_releases_python(ipk):
    _, _, parts = ipk
    script = read_member(parts["./data.tar.gz"], "./etc/uci-defaults/ddns-edge-bytecode").decode()
    pkg = "/usr/lib/python3.11/site-packages/ddns_edge"
    assert f"\nrm -rf {pkg}/__pycache__\npython3.11 -m compileall -q --invalidation-mode timestamp {pkg}\n" in script
    assert "exit" not in script  # sourced by default_postinst and /etc/init.d/boot


def test_ipk_python_version_is_a_variable():
    _, data = mkipk.build(ROOT, "3.12", "2", mtime=EPOCH)
    parts = outer(data)
    names = [m.name for m in members(parts["./data.tar.gz"])]
    assert "./usr/lib/python3.12/site-packages/ddns_edge/cli.py" in names
    assert not any("python3.11" in n for n in names)
    assert "python3.12 -m compileall" in read_member(parts["./data.tar.gz"], "./etc/uci-defaults/ddns-edge-bytecode").decode()
    assert control_fields(parts)["Version"] == f"{ddns_edge.__version__}-r2"


def test_a_makefile_that_disagrees_with_the_code_stops_the_build(tmp_path):
    tree = tree_copy(tmp_path)
    makefile = tree / "openwrt" / "Makefile"
    makefile.write_text(makefile.read_text().replace(f"PKG_VERSION:={ddns_edge.__version__}", "PKG_VERSION:=9.9.9"))
    with pytest.raises(pkgspec.BuildError, match="PKG_VERSION 9.9.9 differs"):
        mkipk.build(str(tree), mtime=EPOCH)


def test_ipk_unpacks_with_gnu_tar(tmp_path, ipk):
    _, data, _ = ipk
    (tmp_path / "p.ipk").write_bytes(data)
    subprocess.run(["tar", "-xzf", "p.ipk"], cwd=tmp_path, check=True)
    (tmp_path / "root").mkdir()
    subprocess.run(["tar", "-xzf", "../data.tar.gz"], cwd=tmp_path / "root", check=True)
    assert os.stat(tmp_path / "root/etc/config/ddns-edge").st_mode & 0o777 == 0o600
    assert os.stat(tmp_path / "root/etc/init.d/ddns-edge").st_mode & 0o777 == 0o755
    site = tmp_path / "root/usr/lib/python3.11/site-packages"
    proc = subprocess.run([sys.executable, "-c", "import ddns_edge.keygen as k; print(k.DEFAULT_ALGORITHM)"],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(site)), cwd=tmp_path)
    assert proc.stdout.strip() == "hmac-sha256", proc.stderr
    assert hashlib.sha256((site / "ddns_edge/cli.py").read_bytes()).digest() == hashlib.sha256(
        open(os.path.join(ROOT, "ddns_edge/cli.py"), "rb").read()).digest()
