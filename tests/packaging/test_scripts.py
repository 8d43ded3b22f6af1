"""The packages' maintainer scripts, run as opkg and apk run them, on a stand-in router
(tests/packaging/router.py: busybox, a real Python, our stand-ins for base-files'
/lib/functions.sh and /etc/rc.common), for both formats.

The packages are built here for the Python the router root gets, the host's (3.11, the
floor, in CI): the scripts are the same for any version but the path. test_apk_tools.py does
it with apk-tools 3 and the .apk for 3.13.
"""

from __future__ import annotations

import importlib.util
import os
import struct
import subprocess
import sys

import pytest

import ddns_edge
from tests.packaging import router
from tests.packaging.pkgfiles import EPOCH, ROOT
from tools import mkapk, mkipk, pkgspec

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
TAG = f"cpython-{sys.version_info.major}{sys.version_info.minor}"
BYTECODE = "/etc/uci-defaults/ddns-edge-bytecode"
USER_STEP = "add_group_and_user ddns-edge:ddns-edge"


class Manager:
    """opkg with the .ipk, or apk with the .apk, as far as the scripts see them."""

    def __init__(self, fmt: str):
        self.fmt = fmt
        self.tool = mkipk if fmt == "ipk" else mkapk

    def build(self, release: str = "1") -> bytes:
        return self.tool.build(ROOT, PYTHON, release, mtime=EPOCH)[1]

    def install(self, r: router.Router, data: bytes, image: bool = False):
        return (router.opkg_install if self.fmt == "ipk" else router.apk_install)(r, data, image)

    def remove(self, r: router.Router, installed) -> None:
        (router.opkg_remove if self.fmt == "ipk" else router.apk_remove)(r, installed)


@pytest.fixture(params=["ipk", "apk"])
def manager(request):
    return Manager(request.param)


@pytest.fixture
def box(tmp_path):
    return router.make(str(tmp_path / "root"), PYTHON)


def modules() -> list[str]:
    return sorted(os.path.basename(p)[:-3] for p in pkgspec.package_files(ROOT))


def pycache(r: router.Router) -> dict[str, bytes]:
    d = r / f"{r.site()}/ddns_edge/__pycache__"
    return {n: open(os.path.join(d, n), "rb").read() for n in os.listdir(d)} if os.path.isdir(d) else {}


def assert_compiled_for_the_routers_python(r: router.Router) -> None:
    pyc = pycache(r)
    assert sorted(pyc) == [f"{m}.{TAG}.pyc" for m in modules()]
    for name, data in pyc.items():
        magic, flags, mtime, size = struct.unpack("<4sIII", data[:16])
        source = r / f"{r.site()}/ddns_edge/{name.split('.')[0]}.py"
        # PEP 552: timestamp-based (flags 0), stamped with the source's mtime and size
        assert (magic, flags, mtime, size) == (importlib.util.MAGIC_NUMBER, 0, EPOCH, os.path.getsize(source)), name
    # OpenWrt's python writes no byte code (-B here): it loads what the script made
    # (the path is site-packages, or Debian's dist-packages that the root links to it)
    proc = r.run(f"python{PYTHON} -B -v -c 'import ddns_edge.cli' 2>&1")
    for m in ("__init__", "cli"):
        assert f"-packages/ddns_edge/__pycache__/{m}.{TAG}.pyc'" in proc.stdout


def test_install_on_a_running_router_creates_the_user_compiles_then_starts(manager, box):
    manager.install(box, manager.build())
    assert box.steps() == [USER_STEP, f"uci-defaults {BYTECODE}", "rc.common ddns-edge enable", "rc.common ddns-edge start"]
    assert "ddns-edge:x:32768:32768:ddns-edge:/var/run/ddns-edge:/bin/false" in open(box / "etc/passwd").read()
    assert "ddns-edge:x:32768:" in open(box / "etc/group").read().splitlines()
    assert not os.path.exists(box / BYTECODE)  # removed once it succeeded
    assert_compiled_for_the_routers_python(box)
    assert box.run("/usr/bin/ddns-edge --version").stdout.strip() == f"ddns-edge {ddns_edge.__version__}"


def test_into_an_image_nothing_is_compiled_until_the_first_boot(manager, box):
    manager.install(box, manager.build(), image=True)
    assert box.steps() == [USER_STEP, "rc.common ddns-edge enable"]  # IPKG_INSTROOT: no uci-defaults, no start
    assert "ddns-edge:x:32768:" in open(box / "etc/group").read().splitlines()
    assert pycache(box) == {} and os.path.exists(box / BYTECODE)
    box.run(router.FIRST_BOOT)  # /etc/init.d/boot, before any service starts
    assert not os.path.exists(box / BYTECODE)
    assert_compiled_for_the_routers_python(box)


def test_removal_stops_the_service_and_leaves_no_byte_code_behind(manager, box):
    installed = manager.install(box, manager.build())
    assert pycache(box)
    box.clear_steps()
    manager.remove(box, installed)
    assert box.steps() == ["rc.common ddns-edge disable", "rc.common ddns-edge stop"]
    for path in ("/usr/bin/ddns-edge", "/etc/init.d/ddns-edge", f"{box.site()}/ddns_edge"):
        assert not os.path.lexists(box / path), path  # the directory goes only if __pycache__ went first
    assert os.path.isdir(box / box.site())


def test_an_upgrade_recompiles_without_enabling_again(manager, box):
    """opkg and apk run the new package's postinst with PKG_UPGRADE=1 (apk: post-upgrade)."""
    installed = manager.install(box, manager.build("1"))
    stale = box / f"{box.site()}/ddns_edge/__pycache__/gone.{TAG}.pyc"
    with open(stale, "wb"):
        pass  # byte code of a module the new version no longer has
    box.clear_steps()
    new = manager.build("2")
    if manager.fmt == "ipk":
        router.opkg_install_upgrade(box, new)
    else:
        upgraded = router.apk_unpack(box, new)
        router.apk_script(box, upgraded, "post-upgrade", False, installed.version)
    assert box.steps() == [USER_STEP, f"uci-defaults {BYTECODE}", "rc.common ddns-edge start"]
    assert not os.path.exists(stale)
    assert_compiled_for_the_routers_python(box)


@pytest.mark.parametrize("fmt", ["ipk", "apk"])
def test_the_luci_apps_postinst_clears_luci_and_wakes_rpcd(fmt, box):
    data = (mkipk if fmt == "ipk" else mkapk).build_luci(ROOT, mtime=EPOCH)[1]
    with open(box / "tmp/luci-indexcache.abc", "w"):
        pass
    os.makedirs(box / "tmp/luci-modulecache")
    (router.opkg_install if fmt == "ipk" else router.apk_install)(box, data)
    assert not os.path.exists(box / "tmp/luci-indexcache.abc") and not os.path.exists(box / "tmp/luci-modulecache")
    assert box.steps() == []  # no user, no uci-defaults, no init script
    assert os.path.isfile(box / "www/luci-static/resources/view/ddns-edge/config.js")


def test_the_stand_in_router_has_no_kinder_python(box):
    """The root's python finds only what is in the root: a module missing there stays missing."""
    proc = box.run(f"python{PYTHON} -c 'import ddns_edge'", check=False)
    assert proc.returncode != 0 and "No module named 'ddns_edge'" in proc.stderr
    proc = subprocess.run(["chroot", box.path, "/bin/sh", "-c", "command -v apk opkg pip"], capture_output=True, text=True)
    assert proc.stdout == ""
