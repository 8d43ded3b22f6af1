"""The second package, luci-app-ddns-edge (build_luci of tools/mkipk.py and tools/mkapk.py), and its feed Makefile."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess

import pytest

import ddns_edge
from tests.packaging import adbread
from tests.packaging.pkgfiles import EPOCH, ROOT, SHELLS, control_fields, members, outer, read_member
from tools import mkapk, mkipk
from tools.pkgspec import BuildError

APP = os.path.join(ROOT, "openwrt", "luci-app-ddns-edge")


@pytest.fixture(scope="module")
def luci_ipk():
    name, data = mkipk.build_luci(ROOT, "1", mtime=EPOCH)
    return name, data, outer(data)


def app_files() -> dict[str, str]:
    """Every file of the app's tree -> where luci.mk installs it."""
    out = {}
    for sub, prefix in (("htdocs", "./www/"), ("root", "./")):
        for dirpath, _, filenames in os.walk(os.path.join(APP, sub)):
            for name in filenames:
                rel = os.path.relpath(os.path.join(dirpath, name), os.path.join(APP, sub))
                out[os.path.join(dirpath, name)] = prefix + rel
    return out


LUCI_POSTINST_PKG = """\
#!/bin/sh
[ -n "${IPKG_INSTROOT}" ] || {
	rm -f /tmp/luci-indexcache.*
	rm -rf /tmp/luci-modulecache/
	killall -HUP rpcd 2>/dev/null
	exit 0
}
"""  # luci.mk's Package/NAME/postinst


def test_luci_ipk_holds_the_app_where_luci_mk_installs_it(luci_ipk):
    name, data, parts = luci_ipk
    assert name == f"luci-app-ddns-edge_{ddns_edge.__version__}-r1_all.ipk"
    assert [m.name for m in members(data)] == ["./debian-binary", "./data.tar.gz", "./control.tar.gz"]
    files = {m.name: m for m in members(parts["./data.tar.gz"]) if m.isfile()}
    expected = app_files()
    assert sorted(files) == sorted(expected.values())
    for source, path in expected.items():
        assert read_member(parts["./data.tar.gz"], path) == open(source, "rb").read()
        assert (files[path].mode, files[path].uid, files[path].gid, files[path].uname, files[path].mtime) == (0o644, 0, 0, "", EPOCH)
    for path in ("./www/luci-static/resources/view/ddns-edge/config.js", "./www/luci-static/resources/view/ddns-edge/status.js",
                 "./www/luci-static/resources/ddns-edge/validate.js", "./usr/share/luci/menu.d/luci-app-ddns-edge.json",
                 "./usr/share/rpcd/acl.d/luci-app-ddns-edge.json", "./usr/share/rpcd/ucode/ddns-edge.uc"):
        assert path in files


def test_luci_ipk_control_and_scripts(luci_ipk, tmp_path):
    _, _, parts = luci_ipk
    fields = control_fields(parts)
    assert fields["Package"] == "luci-app-ddns-edge" and fields["Architecture"] == "all" and fields["Section"] == "luci"
    assert fields["Depends"] == "libc, luci-base, ddns-edge, rpcd-mod-ucode"
    assert fields["Description"] == makefile_value("LUCI_TITLE")  # package.mk: the title when there is no description
    assert fields["Installed-Size"] == str(len(gzip.decompress(parts["./data.tar.gz"])))
    assert "Require-User" not in fields
    control = parts["./control.tar.gz"]
    assert [m.name for m in members(control)] == [".", "./control", "./postinst", "./postinst-pkg", "./prerm"]
    # the SDK's postinst sources luci.mk's part as postinst-pkg (default_postinst)
    assert read_member(control, "./postinst").decode().endswith("default_postinst $0 $@\n")
    assert read_member(control, "./postinst-pkg").decode() == LUCI_POSTINST_PKG
    script = tmp_path / "postinst-pkg"
    script.write_text(LUCI_POSTINST_PKG)
    for shell in SHELLS:
        assert subprocess.run([*shell, "-n", str(script)]).returncode == 0
    # into an image (IPKG_INSTROOT set) it touches nothing
    assert subprocess.run(["sh", str(script)], env=dict(os.environ, IPKG_INSTROOT=str(tmp_path / "img"))).returncode == 0


def test_luci_apk_holds_the_same_app_and_luci_mks_postinst(tmp_path):
    name, data = mkapk.build_luci(ROOT, mtime=EPOCH)
    assert name == f"luci-app-ddns-edge-{ddns_edge.__version__}-r1.apk"
    pkg = adbread.read(data)
    info = pkg.root["info"]
    assert info["arch"] == b"noarch" and info["origin"] == b"feeds/ddnsedge/openwrt/luci-app-ddns-edge"
    assert [d["name"] for d in info["depends"]] == [b"ddns-edge", b"libc", b"luci-base", b"rpcd-mod-ucode"]
    assert info["description"] == makefile_value("LUCI_TITLE").encode()
    files = adbread.files(pkg)
    expected = {path[1:]: open(source, "rb").read() for source, path in app_files().items()}
    listed = "/lib/apk/packages/luci-app-ddns-edge.list"
    assert set(files) == set(expected) | {listed}
    assert files[listed]["content"].decode().split() == sorted(expected)
    for path, content in expected.items():
        assert files[path]["content"] == content and files[path]["mode"] == 0o644
    post_install = pkg.root["scripts"]["post-install"].decode()
    assert post_install.endswith('export pkgname="luci-app-ddns-edge"\nadd_group_and_user\ndefault_postinst\n'
                                 + LUCI_POSTINST_PKG.split("\n", 1)[1])


def test_luci_packages_are_reproducible():
    for tool in (mkipk, mkapk):
        assert tool.build_luci(ROOT, mtime=EPOCH) == tool.build_luci(ROOT, mtime=EPOCH)
        assert tool.build_luci(ROOT, mtime=EPOCH)[1] != tool.build_luci(ROOT, mtime=EPOCH + 1)[1]
        with pytest.raises(BuildError):
            tool.build_luci(ROOT, "x", mtime=EPOCH)


def test_the_apps_json_parses_and_the_acl_keeps_secrets_detect_and_keygen_for_writers():
    with open(os.path.join(APP, "root/usr/share/rpcd/acl.d/luci-app-ddns-edge.json")) as f:
        groups = json.load(f)
    # rpcd's shape: one group, a description, and read/write scopes of object -> method lists
    assert list(groups) == ["luci-app-ddns-edge"]
    acl = groups["luci-app-ddns-edge"]
    assert set(acl) == {"description", "read", "write"} and isinstance(acl["description"], str)
    for scopes in (acl["read"], acl["write"]):
        assert set(scopes) <= {"ubus", "uci"}
        for objects in scopes.values():
            assert all(isinstance(k, str) and isinstance(v, list) and v and all(isinstance(m, str) for m in v)
                       for k, v in objects.items())
    read, write = acl["read"], acl["write"]
    assert "uci" not in read, "read-only users must not read the config (it may hold a secret)"
    # detect runs the config's exec: echo sources (as root): never for read-only users
    assert set(read["ubus"]["ddns-edge"]) == {"status", "config", "check"}
    assert set(write["ubus"]["ddns-edge"]) == {"detect", "keygen"} and set(write["uci"]["ddns-edge"]) == {"read", "write"}
    with open(os.path.join(APP, "root/usr/share/luci/menu.d/luci-app-ddns-edge.json")) as f:
        menu = json.load(f)
    for path, entry in menu.items():  # LuCI's menu.d shape
        assert path.startswith("admin/services/ddns-edge") and set(entry) <= {"title", "order", "action", "depends"}, path
        assert isinstance(entry["title"], str) and isinstance(entry["order"], int)
        assert entry["action"]["type"] in ("firstchild", "view"), path
    assert menu["admin/services/ddns-edge"]["title"] == "Dynamic DNS (ddns-edge)"
    assert menu["admin/services/ddns-edge"]["depends"]["acl"] == ["luci-app-ddns-edge"]
    views = {v["action"]["path"] for v in menu.values() if v["action"]["type"] == "view"}
    for view in views:
        assert os.path.isfile(os.path.join(APP, "htdocs/luci-static/resources/view", view + ".js"))
    with open(os.path.join(APP, "root/usr/share/rpcd/ucode/ddns-edge.uc")) as f:
        plugin = f.read()
    methods = set(re.findall(r"^\t(\w+): \{$", plugin, re.M))
    assert methods == set(read["ubus"]["ddns-edge"]) | set(write["ubus"]["ddns-edge"])


def makefile_value(name: str) -> str:
    with open(os.path.join(APP, "Makefile")) as f:
        m = re.search(rf"^{name}:=(.*)$", f.read(), re.M)
    assert m, name
    return m.group(1).strip()


def test_the_feed_makefile_agrees_with_the_ipk(luci_ipk):
    _, _, parts = luci_ipk
    deps = [d.lstrip("+") for d in makefile_value("LUCI_DEPENDS").split()]
    assert ", ".join(["libc", *deps]) == control_fields(parts)["Depends"]  # the SDK adds libc
    assert makefile_value("LUCI_PKGARCH") == "all" and makefile_value("PKG_LICENSE") == "MIT"


def test_the_feed_makefile_says_when_the_luci_feed_is_missing(tmp_path):
    (tmp_path / "rules.mk").write_text("")
    proc = subprocess.run(["make", "-s", "-C", APP, f"TOPDIR={tmp_path}"], capture_output=True, text=True)
    assert proc.returncode != 0 and "need exactly one luci.mk" in proc.stderr
