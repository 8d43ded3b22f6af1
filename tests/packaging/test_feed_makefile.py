"""openwrt/Makefile, the package for the SDK: what it declares agrees with the packages `make ipk`
and `make apk` build, and its rules work under a stand-in SDK.

The stand-in is ours (no SDK code in the repository): rules.mk's install commands, a
package.mk whose BuildPackage prints what the package declares and installs it into
DESTDIR/NAME, and a python3-package.mk whose Py3Package does what the feed's does for a
package (lang/python/python3-package.mk): NAME installs the package's own files
(Py3Package/NAME/install), copies site-packages from PKG_INSTALL_DIR, compiles it with
`compileall -r 20 -b -d /` and deletes the .py files; NAME-src keeps only the .py files.
PKG_INSTALL_DIR holds what Py3Build's wheel install leaves there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

import ddns_edge
from tests.packaging.pkgfiles import EPOCH, ROOT, control_fields, outer
from tools import mkipk, pkgspec

MAKEFILE = os.path.join(ROOT, "openwrt", "Makefile")
INIT = os.path.join(ROOT, "openwrt", "files", "ddns-edge.init")


def makefile_value(name: str) -> str:
    with open(MAKEFILE) as f:
        m = re.search(rf"^\s*{name}:=(.*)$", f.read(), re.MULTILINE)
    assert m, name
    return m.group(1).strip()


@pytest.mark.parametrize("release", sorted(pkgspec.RELEASES))
def test_makefile_depends_is_what_the_code_imports_under_each_releases_names(release):
    deps = [d.lstrip("+") for d in makefile_value("DEPENDS").split()]
    assert deps == pkgspec.depends(ROOT, pkgspec.RELEASES[release]), \
        "openwrt/Makefile DEPENDS differs from what ddns_edge imports (tools/pkgspec.py depends())"


def test_makefile_agrees_with_the_ipk():
    fields = control_fields(outer(mkipk.build(ROOT, mtime=EPOCH)[1]))
    assert makefile_value("PKG_VERSION") == ddns_edge.__version__
    assert f'{makefile_value("PKG_VERSION")}-r{makefile_value("PKG_RELEASE")}' == fields["Version"]
    deps = [d.lstrip("+") for d in makefile_value("DEPENDS").split()]
    assert ["libc", *deps] == fields["Depends"].split(", ")  # package-defaults.mk puts libc first
    assert makefile_value("USERID") == fields["Require-User"]
    assert makefile_value("PKGARCH") == "all"
    with open(MAKEFILE) as f:
        text = f.read()
    assert "define Package/ddns-edge/conffiles\n/etc/config/ddns-edge\nendef" in text
    assert "$(eval $(call BuildPackage,ddns-edge-src))" in text


FAKE_RULES = """\
INCLUDE_DIR:=$(TOPDIR)/include
INSTALL_DIR:=install -d -m0755
INSTALL_BIN:=install -m0755
INSTALL_CONF:=install -m0600
INSTALL_DATA:=install -m0644
CP:=cp -fpR
FIND:=find
"""
FAKE_PACKAGE_MK = """\
define BuildPackage
$(eval $(Package/$(1)))
$(info $(1): DEPENDS=$(strip $(DEPENDS)) USERID=$(USERID) PKGARCH=$(PKGARCH))
$(info $(1): CONFFILES=$(strip $(Package/$(1)/conffiles)))
.PHONY: install-$(1)
install: install-$(1)
install-$(1):
	$(call Package/$(1)/install,$(DESTDIR)/$(1))
endef
prepare:
	$(Build/Prepare)
"""
FAKE_PYTHON3_PACKAGE_MK = """\
PYTHON3_VERSION:=3.11
PYTHON3_PKG_DIR:=/usr/lib/python$(PYTHON3_VERSION)/site-packages
define Py3Package
  define Package/$(1)-src
    $(call Package/$(1))
    DEPENDS:=
    USERID:=
    TITLE+= (sources)
  endef
  define Package/$(1)/install
	$$(call Py3Package/$(1)/install,$$(1))
	$(INSTALL_DIR) $$(1)$(PYTHON3_PKG_DIR)
	$(CP) $(PKG_INSTALL_DIR)$(PYTHON3_PKG_DIR)/. $$(1)$(PYTHON3_PKG_DIR)/
	$(HOST_PYTHON3_BIN) -m compileall -q -r 20 -b -d / $$(1)
	$(FIND) $$(1) -type f -name '*.py' -delete
  endef
  define Package/$(1)-src/install
	$$(call Py3Package/$(1)/install,$$(1))
	$(INSTALL_DIR) $$(1)$(PYTHON3_PKG_DIR)
	$(CP) $(PKG_INSTALL_DIR)$(PYTHON3_PKG_DIR)/. $$(1)$(PYTHON3_PKG_DIR)/
	$(FIND) $$(1) -not -type d -not -name '*.py' -delete
	$(FIND) $$(1) -mindepth 1 -empty -type d -delete
  endef
endef
"""


@pytest.fixture
def fake_sdk(tmp_path):
    if not shutil.which("make"):
        pytest.skip("no make")
    top = tmp_path / "sdk"
    (top / "include").mkdir(parents=True)
    (top / "rules.mk").write_text(FAKE_RULES)
    (top / "include" / "package.mk").write_text(FAKE_PACKAGE_MK)
    py = top / "feeds" / "packages" / "lang" / "python"
    py.mkdir(parents=True)
    (py / "python3-package.mk").write_text(FAKE_PYTHON3_PACKAGE_MK)
    inst = tmp_path / "ipkg-install"  # what the wheel's install leaves
    (inst / "usr" / "bin").mkdir(parents=True)
    (inst / "usr" / "bin" / "ddns-edge").write_text("#!/usr/bin/python3\n")
    shutil.copytree(os.path.join(ROOT, "ddns_edge"), inst / "usr/lib/python3.11/site-packages/ddns_edge",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return top


def make(top, tmp_path, *goals, **variables):
    args = ["make", "-s", "-C", os.path.join(ROOT, "openwrt"), f"TOPDIR={top}", f"HOST_PYTHON3_BIN={sys.executable}",
            f"PKG_INSTALL_DIR={tmp_path / 'ipkg-install'}", f"PKG_BUILD_DIR={tmp_path / 'build'}",
            f"DESTDIR={tmp_path / 'root'}", *(f"{k}={v}" for k, v in variables.items()), *goals]
    return subprocess.run(args, capture_output=True, text=True)


def test_makefile_install_rules_under_a_stand_in_sdk(fake_sdk, tmp_path):
    proc = make(fake_sdk, tmp_path, "install")
    assert proc.returncode == 0, proc.stderr
    deps = " ".join(f"+{d}" for d in pkgspec.depends(ROOT, pkgspec.RELEASES["24.10"]))
    assert f"ddns-edge: DEPENDS={deps} USERID=ddns-edge:ddns-edge PKGARCH=all" in proc.stdout
    assert "ddns-edge: CONFFILES=/etc/config/ddns-edge" in proc.stdout
    assert "ddns-edge-src: DEPENDS= USERID= PKGARCH=all" in proc.stdout
    root = tmp_path / "root" / "ddns-edge"
    assert (root / "usr/bin/ddns-edge").is_file()  # the wheel's console script, copied as it is
    modes = {p: os.stat(root / p).st_mode & 0o777 for p in ("etc/init.d/ddns-edge", "etc/config/ddns-edge", "etc/hotplug.d/iface/95-ddns-edge")}
    assert modes == {"etc/init.d/ddns-edge": 0o755, "etc/config/ddns-edge": 0o600, "etc/hotplug.d/iface/95-ddns-edge": 0o644}
    assert (root / "etc/init.d/ddns-edge").read_bytes() == open(INIT, "rb").read()
    # the SDK's package ships byte code only (sourceless .pyc, which the router's python imports)
    site = root / "usr/lib/python3.11/site-packages"
    assert sorted(p.name for p in (site / "ddns_edge").iterdir()) == sorted(
        os.path.basename(p)[:-3] + ".pyc" for p in pkgspec.package_files(ROOT))
    proc = subprocess.run([sys.executable, "-B", "-c", "import ddns_edge.cli, ddns_edge; print(ddns_edge.__version__)"],
                          capture_output=True, text=True, cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(site)))
    assert proc.stdout.strip() == ddns_edge.__version__, proc.stderr
    # and ddns-edge-src the sources, nothing else
    src = tmp_path / "root" / "ddns-edge-src"
    assert sorted(str(p.relative_to(src)) for p in src.rglob("*") if p.is_file()) == sorted(
        f"usr/lib/python3.11/site-packages/{p}" for p in pkgspec.package_files(ROOT))


def test_makefile_prepare_copies_the_source_of_its_checkout(fake_sdk, tmp_path):
    proc = make(fake_sdk, tmp_path, "prepare")
    assert proc.returncode == 0, proc.stderr
    build = tmp_path / "build"
    assert (build / "ddns_edge" / "cli.py").is_file() and (build / "setup.cfg").is_file()
    assert not list(build.rglob("__pycache__"))
    bad = make(fake_sdk, tmp_path, "prepare", DDNS_EDGE_SRC=str(tmp_path / "nowhere"))
    assert bad.returncode != 0 and "no source tree at" in bad.stderr and "DDNS_EDGE_SRC=" in bad.stderr


def test_makefile_says_when_the_packages_feed_is_missing(fake_sdk, tmp_path):
    shutil.rmtree(fake_sdk / "feeds")
    proc = make(fake_sdk, tmp_path, "install")
    assert proc.returncode != 0 and "python3-package.mk" in proc.stderr
