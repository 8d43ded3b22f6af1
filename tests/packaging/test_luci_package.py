"""The second package, luci-app-ddns-edge (tools/mkipk.py build_luci), and its feed Makefile."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from tests.packaging.test_packaging import EPOCH, ROOT, SHELLS, control_fields, members, mkipk, read_member

APP = os.path.join(ROOT, "openwrt", "luci-app-ddns-edge")


@pytest.fixture(scope="module")
def luci_ipk():
    name, data = mkipk.build_luci(ROOT, "1", mtime=EPOCH)
    outer = {m.name: read_member(data, m.name) for m in members(data)}
    return name, data, outer


def app_files() -> dict[str, str]:
    """Every file of the app's tree -> where luci.mk installs it."""
    out = {}
    for sub, prefix in (("htdocs", "./www/"), ("root", "./")):
        for dirpath, _, filenames in os.walk(os.path.join(APP, sub)):
            for name in filenames:
                rel = os.path.relpath(os.path.join(dirpath, name), os.path.join(APP, sub))
                out[os.path.join(dirpath, name)] = prefix + rel
    return out


def test_luci_ipk_holds_the_app_where_luci_mk_installs_it(luci_ipk):
    name, data, outer = luci_ipk
    assert name == f"luci-app-ddns-edge_{mkipk.version(ROOT)}-1_all.ipk"
    assert [m.name for m in members(data)] == ["./debian-binary", "./data.tar.gz", "./control.tar.gz"]
    files = {m.name: m for m in members(outer["./data.tar.gz"]) if m.isfile()}
    expected = app_files()
    assert sorted(files) == sorted(expected.values())
    for source, path in expected.items():
        assert read_member(outer["./data.tar.gz"], path) == open(source, "rb").read()
        assert files[path].mode == 0o644 and files[path].uid == files[path].gid == 0 and files[path].mtime == EPOCH
    for path in ("./www/luci-static/resources/view/ddns-edge/config.js", "./www/luci-static/resources/view/ddns-edge/status.js",
                 "./www/luci-static/resources/ddns-edge/validate.js", "./usr/share/luci/menu.d/luci-app-ddns-edge.json",
                 "./usr/share/rpcd/acl.d/luci-app-ddns-edge.json", "./usr/share/rpcd/ucode/ddns-edge.uc"):
        assert path in files


def test_luci_ipk_control_and_postinst(luci_ipk, tmp_path):
    _, _, outer = luci_ipk
    fields = control_fields(outer)
    assert fields["Package"] == "luci-app-ddns-edge" and fields["Architecture"] == "all" and fields["Section"] == "luci"
    assert fields["Depends"] == "luci-base, ddns-edge, rpcd-mod-ucode"
    assert fields["Installed-Size"] == str(len(outer["./data.tar.gz"]))
    assert "Require-User" not in fields
    postinst = read_member(outer["./control.tar.gz"], "./postinst").decode()
    assert "killall -HUP rpcd" in postinst and 'IPKG_INSTROOT' in postinst
    script = tmp_path / "postinst"
    script.write_text(postinst)
    for shell in SHELLS:
        assert subprocess.run([*shell, "-n", str(script)]).returncode == 0
    # into an image (IPKG_INSTROOT set) it touches nothing
    assert subprocess.run(["sh", str(script)], env=dict(os.environ, IPKG_INSTROOT=str(tmp_path / "img"))).returncode == 0


def test_luci_ipk_is_reproducible():
    assert mkipk.build_luci(ROOT, mtime=EPOCH) == mkipk.build_luci(ROOT, mtime=EPOCH)
    assert mkipk.build_luci(ROOT, mtime=EPOCH)[1] != mkipk.build_luci(ROOT, mtime=EPOCH + 1)[1]
    with pytest.raises(mkipk.BuildError):
        mkipk.build_luci(ROOT, "x", mtime=EPOCH)


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
    _, _, outer = luci_ipk
    deps = [d.lstrip("+") for d in makefile_value("LUCI_DEPENDS").split()]
    assert ", ".join(deps) == control_fields(outer)["Depends"]
    assert makefile_value("LUCI_PKGARCH") == "all" and makefile_value("PKG_LICENSE") == "MIT"


def test_the_feed_makefile_says_when_the_luci_feed_is_missing(tmp_path):
    (tmp_path / "rules.mk").write_text("")
    proc = subprocess.run(["make", "-s", "-C", APP, f"TOPDIR={tmp_path}"], capture_output=True, text=True)
    assert proc.returncode != 0 and "need exactly one luci.mk" in proc.stderr
