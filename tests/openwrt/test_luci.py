"""luci-app-ddns-edge in headless Chromium against the real rpcd, uhttpd, LuCI and procd.

A person's path through Services -> Dynamic DNS (ddns-edge): log in, make a key with New
key (its server side goes to BIND, as the person would paste it), add a record, Save &
Apply; then the config as `uci show` has it, `ddns-edge check` on it, the agent procd
started, the record at BIND and the status view. Then a change reloads the agent in place,
a refused config leaves it running with the reason shown, a read-only user sees no secret,
an invalid TTL is marked before saving, and every field rule agrees with `ddns-edge check`.
Screenshots go to the artefacts folder (none shows a secret).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.luci import cases
from tests.openwrt.cdp import Browser
from tests.openwrt.stack import wait_for
from tests.openwrt.test_procd import WAN, answer

LUCI = "/cgi-bin/luci/"
PAGE = "admin/services/ddns-edge/"
MINIMAL = "config agent 'agent'\n\toption log_level 'info'\n\toption state_dir '/var/run/ddns-edge'\n"


def field(section: str, option: str) -> str:
    """The CSS selector of a form field's widget (LuCI ids: widget.cbid.CONFIG.SECTION.OPTION)."""
    return "#widget\\.cbid\\.ddns-edge\\.%s\\.%s" % (section, option)


def login(b: Browser, stack, user: str = "root", password: str = "admin") -> None:
    b.goto(stack.url + LUCI)
    b.wait("!!document.querySelector('.modal input[name=luci_password]')", what="the login form")
    b.type_into(".modal input[name=luci_username]", user)
    b.type_into(".modal input[name=luci_password]", password)
    b.click(".modal .cbi-button-positive")
    b.wait("!!document.querySelector('a[href*=logout]')", what=f"logged in as {user}")


def open_page(b: Browser, stack, page: str) -> None:
    b.goto(stack.url + LUCI + PAGE + page)
    b.wait("!!document.querySelector('#view > *') && !document.querySelector('#view .spinning')", what=f"{page} rendered")


def select(b: Browser, selector: str, value: str) -> None:
    b.js(f"""(function(){{ const s = document.querySelector({json.dumps(selector)});
        s.value = {json.dumps(value)}; s.dispatchEvent(new Event('change', {{bubbles: true}})); return true; }})()""")


def invalid(b: Browser, selector: str) -> str | None:
    """The field's error tooltip when LuCI marks it invalid, else None."""
    return b.js(f"""(function(){{ const e = document.querySelector({json.dumps(selector)});
        return e.classList.contains('cbi-input-invalid') ? (e.getAttribute('data-tooltip') || 'invalid') : null; }})()""")


def modal_save(b: Browser) -> None:
    b.click(".modal .cbi-button-positive", what="the form's Save button")
    b.wait("!document.body.classList.contains('modal-overlay-active')", what="the form accepted and closed")


def save_and_apply(b: Browser) -> None:
    """Save & Apply, then LuCI's reload of the page once rpcd confirmed the apply."""
    b.js("window.ddnsEdgeBeforeApply = true")
    b.click(".cbi-page-actions .cbi-button-apply", what="the Save & Apply button")
    b.wait("!window.ddnsEdgeBeforeApply && document.readyState === 'complete' && !!document.querySelector('#view > *') && "
           "!document.querySelector('#view .spinning')", what="the changes applied and the page reloaded")


def trust_key(world, clause: str) -> None:
    """What the person does with New key's server side: BIND gets the key and may use it."""
    name = re.search(r'key "([^"]+)"', clause)[1]
    with open(world.named_conf) as f:
        conf = f.read()
    conf = conf.replace("update-policy {", f"update-policy {{\n        grant {name} zonesub ANY;", 1)
    with open(world.named_conf, "w") as f:
        f.write(clause.split("};", 1)[0] + "};\n" + conf)
    world.restart_bind()


@pytest.fixture
def browser(owrt):
    world, stack = owrt
    with Browser(netns=world.rtr_ns) as b:
        yield b


@pytest.fixture(scope="module")
def applied(owrt, artifacts):
    """The main path, once: returns (pid, key name) of what the person set up in the browser."""
    world, stack = owrt
    world.set_wan(WAN + "/24")
    stack.exec("/etc/init.d/ddns-edge", "stop")
    stack.write_config(MINIMAL)
    stack.exec("/sbin/reload_config")
    # as at boot: procd holds the service and its reload trigger, with no instance yet
    assert "no record enabled" in stack.exec("/etc/init.d/ddns-edge", "start").stderr
    with Browser(netns=world.rtr_ns) as b:
        login(b, stack)
        open_page(b, stack, "config")

        # a key, with New key: ddns-edge keygen on the router, its server side to copy
        b.click("#ddns-edge-newkey")
        b.type_into("#ddns-edge-newkey-section", "home")
        b.type_into("#ddns-edge-newkey-name", "router-key")
        b.type_into("#ddns-edge-newkey-zone", "example.com")
        b.click("#ddns-edge-newkey-generate")
        clause = b.wait("(document.querySelector('#ddns-edge-newkey-text') || {}).value", what="keygen's key shown")
        assert "update-policy" in clause and "pdnsutil" in clause and "Knot" in clause
        trust_key(world, clause)
        b.click("#ddns-edge-newkey-add")
        b.wait("!!document.querySelector('#cbi-ddns-edge-home')", what="the key section in the form")

        # a record
        b.type_into("#cbi-ddns-edge-record .cbi-section-create-name", "www")
        b.click("#cbi-ddns-edge-record .cbi-section-create .cbi-button-add")
        b.wait_selector(f".modal {field('www', 'name')}", what="the record's form")
        b.type_into(field("www", "name"), "www.example.com")
        select(b, field("www", "type"), "A")
        device = "#cbid\\.ddns-edge\\.www\\.device"  # a ui.Dropdown: its id has no "widget." prefix
        b.click(device, what="the device list")
        b.click(f"{device} li[data-value='{world.wan}']", what=f"{world.wan} in the device list")
        assert invalid(b, device) is None
        select(b, field("www", "source"), "interface")
        b.type_into(field("www", "ttl"), "60")
        b.type_into(field("www", "zone"), "example.com")
        b.type_into(field("www", "server"), world.bind_addr4)
        b.screenshot(os.path.join(artifacts, "luci-record-form.png"))
        modal_save(b)
        save_and_apply(b)
        b.screenshot(os.path.join(artifacts, "luci-config.png"))
        errors = [e for e in b.js_errors() if "uci/get" not in e]  # the login page's own, upstream
        assert errors == []
    pid = wait_for(stack.running_pid, what="procd started the agent after Save & Apply")
    return pid, re.search(r'key "([^"]+)"', clause)[1]


def test_save_and_apply_writes_the_config_check_passes_and_the_agent_runs_it(owrt, applied):
    world, stack = owrt
    pid, key_name = applied
    show = stack.uci_show()
    for line in ("ddns-edge.www=record", "ddns-edge.www.name='www.example.com'", "ddns-edge.www.type='A'",
                 f"ddns-edge.www.device='{world.wan}'", "ddns-edge.www.source='interface'", "ddns-edge.www.ttl='60'",
                 "ddns-edge.www.zone='example.com'", f"ddns-edge.www.server='{world.bind_addr4}'",
                 "ddns-edge.home=key", f"ddns-edge.home.name='{key_name}'", "ddns-edge.home.algorithm='hmac-sha256'"):
        assert line in show.splitlines(), show
    assert re.search(r"^ddns-edge\.home\.secret='[A-Za-z0-9+/]+=*'$", show, re.M)
    check = stack.exec("ddns-edge", "-c", "/etc/config/ddns-edge", "check")
    assert check.returncode == 0 and "1 record(s) enabled, 1 key(s)" in check.stdout, check.stdout + check.stderr
    assert stack.instance()["user"] == "ddns-edge"
    wait_for(lambda: answer(world) == [(60, WAN)], what="the record at BIND, signed with the key made in LuCI")
    assert stack.running_pid() == pid


def test_the_status_view_shows_the_running_agents_state(owrt, applied, browser, artifacts):
    world, stack = owrt
    pid, _ = applied
    login(browser, stack)
    open_page(browser, stack, "status")
    browser.wait(f"document.querySelector('#ddns-edge-agent').innerText.indexOf('pid {pid}') >= 0 && "
                 f"document.querySelector('#ddns-edge-records').innerText.indexOf('{WAN}') >= 0",
                 what="the status view shows the running agent and the published address")
    row = browser.text("#ddns-edge-records")
    assert "www.example.com A" in row and f"interface {world.wan}" in row and "UTC" in row
    assert "Agent running" in browser.text("#ddns-edge-agent")
    # it refreshes while open: a new WAN address shows up without reloading the page
    world.set_wan("198.51.100.44/24")
    browser.wait("document.querySelector('#ddns-edge-records').innerText.indexOf('198.51.100.44') >= 0",
                 what="the status view refreshes by itself")
    browser.screenshot(os.path.join(artifacts, "luci-status.png"))
    world.set_wan(WAN + "/24")
    wait_for(lambda: answer(world) == [(60, WAN)], what="the record back")


def test_a_change_saved_and_applied_reloads_the_agent_in_place(owrt, applied, browser):
    world, stack = owrt
    pid, _ = applied
    login(browser, stack)
    open_page(browser, stack, "config")
    browser.click("#cbi-ddns-edge-www .cbi-button-edit, #cbi-ddns-edge-www button[title='Edit']", what="the record's Edit button")
    browser.type_into(field("www", "ttl"), "300")
    modal_save(browser)
    save_and_apply(browser)
    assert "ddns-edge.www.ttl='300'" in stack.uci_show().splitlines()
    wait_for(lambda: answer(world) == [(300, WAN)], what="the new TTL at BIND")
    assert stack.running_pid() == pid, "the agent was reloaded (SIGHUP), not restarted"


def test_a_config_the_agent_refuses_leaves_it_running_and_the_page_says_why(owrt, applied, browser, artifacts):
    world, stack = owrt
    pid, _ = applied
    with open(os.path.join(stack.rootfs, "etc/config/ddns-edge")) as f:
        before = f.read()
    refusals = stack.logread().count("config not reloaded; the running agent keeps the one it has")
    login(browser, stack)
    open_page(browser, stack, "config")
    browser.click("#cbi-ddns-edge-home .cbi-button-edit, #cbi-ddns-edge-home button[title='Edit']", what="the key's Edit button")
    browser.type_into(field("home", "secret"), "")
    browser.type_into(field("home", "file"), "/etc/ddns-edge/missing.key")
    modal_save(browser)
    save_and_apply(browser)
    banner = browser.wait("(document.querySelector('#ddns-edge-refused') || {}).innerText", what="the refusal shown on the page")
    assert "cannot read /etc/ddns-edge/missing.key" in banner and "keeps the configuration it had" in banner
    browser.screenshot(os.path.join(artifacts, "luci-refused.png"))
    wait_for(lambda: stack.logread().count("config not reloaded; the running agent keeps the one it has") > refusals,
             what="the init script refused the reload")
    assert stack.running_pid() == pid
    open_page(browser, stack, "status")
    assert "cannot read /etc/ddns-edge/missing.key" in browser.wait("(document.querySelector('#ddns-edge-refused') || {}).innerText")
    # the agent still works with the key it had
    world.set_wan("198.51.100.45/24")
    wait_for(lambda: [a for _, a in answer(world)] == ["198.51.100.45"], what="the agent still updates with its old config")
    stack.write_config(before)
    stack.exec("/sbin/reload_config")
    world.set_wan(WAN + "/24")


def test_a_read_only_user_sees_status_and_config_but_no_secret_and_cannot_write(owrt, applied, browser, artifacts):
    world, stack = owrt
    secret = re.search(r"^ddns-edge\.home\.secret='([^']+)'$", stack.uci_show(), re.M)[1]
    login(browser, stack, "viewer", "viewer-pw")
    open_page(browser, stack, "status")
    browser.wait(f"document.querySelector('#ddns-edge-records').innerText.indexOf('{WAN}') >= 0", what="the viewer sees the status")
    open_page(browser, stack, "config")
    text = browser.wait("(document.querySelector('#ddns-edge-readonly') || {}).innerText", what="the read-only config view")
    assert "www.example.com" in text and "config key 'home'" in text and "(set; hidden)" in text
    assert secret not in browser.html()
    assert browser.js("document.querySelectorAll('.cbi-page-actions button').length") == 0
    browser.screenshot(os.path.join(artifacts, "luci-readonly.png"))

    def rpc(obj, method, args=None):
        return browser.js(f"""fetch('/ubus', {{method: 'POST', body: JSON.stringify({{jsonrpc: '2.0', id: 1, method: 'call',
            params: [L.env.sessionid, {json.dumps(obj)}, {json.dumps(method)}, {json.dumps(args or {})}]}})}}).then(r => r.json())""")

    def refused(reply):  # by uhttpd's ubus ACL (JSON-RPC error), or by rpcd (status 6, permission denied)
        return reply.get("error", {}).get("code") == -32002 or reply.get("result") == [6]

    assert refused(rpc("uci", "get", {"config": "ddns-edge"}))
    assert refused(rpc("uci", "set", {"config": "ddns-edge", "section": "www", "values": {"ttl": "5"}}))
    assert refused(rpc("ddns-edge", "keygen", {"name": "x"}))
    assert refused(rpc("file", "read", {"path": "/etc/config/ddns-edge"}))
    assert "ddns-edge.www.ttl='300'" in stack.uci_show().splitlines() or "ddns-edge.www.ttl='60'" in stack.uci_show().splitlines()
    status = rpc("ddns-edge", "status")["result"]
    assert status[0] == 0 and status[1]["state"]["records"][0]["address"] == WAN
    assert secret not in json.dumps(rpc("ddns-edge", "config"))


def test_an_invalid_ttl_is_marked_in_the_form_before_saving(owrt, applied, browser, artifacts):
    world, stack = owrt
    before = stack.uci_show()
    login(browser, stack)
    open_page(browser, stack, "config")
    browser.type_into("#cbi-ddns-edge-record .cbi-section-create-name", "bad")
    browser.click("#cbi-ddns-edge-record .cbi-section-create .cbi-button-add")
    browser.wait_selector(f".modal {field('bad', 'ttl')}", what="the new record's form")
    browser.type_into(field("bad", "name"), "bad.example.com")
    for value, why in (("0", "0 is out of range; allowed: a whole number 1..604800 seconds"),
                       ("604801", "out of range"), ("6O", "is not a whole number")):
        browser.type_into(field("bad", "ttl"), value)
        assert why in (invalid(browser, field("bad", "ttl")) or ""), value
        if value == "0":
            browser.screenshot(os.path.join(artifacts, "luci-invalid-ttl.png"))
    browser.click(".modal .cbi-button-positive")  # refused: the form stays open, nothing is staged
    assert browser.js(f"!!document.querySelector({json.dumps('.modal ' + field('bad', 'ttl'))})")
    assert invalid(browser, field("bad", "ttl"))
    browser.type_into(field("bad", "ttl"), "604800")
    assert invalid(browser, field("bad", "ttl")) is None
    assert stack.exec("uci", "changes", "ddns-edge").stdout.strip() == ""
    assert stack.uci_show() == before


def test_the_forms_rules_are_those_of_ddns_edge_check(owrt, applied, browser, tmp_path):
    world, stack = owrt
    login(browser, stack)
    open_page(browser, stack, "config")
    calls = ", ".join(cases.js(c) for c in cases.CASES)
    verdicts = browser.js(f"L.require('ddns-edge.validate').then(v => [{calls}])")
    assert len(verdicts) == len(cases.CASES)

    ddns_edge = os.path.join(os.path.dirname(sys.executable), "ddns-edge")

    def check(i: int) -> tuple[int, str]:
        path = tmp_path / f"case{i}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(cases.config(cases.CASES[i], world.key_secret))
        proc = subprocess.run([ddns_edge, "-c", str(path), "check"], capture_output=True, text=True)
        return proc.returncode, proc.stderr.strip()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(check, range(len(cases.CASES))))
    disagree = []
    for case, verdict, (code, err) in zip(cases.CASES, verdicts, results, strict=True):
        assert code in (0, 2), (case, err)
        if (verdict is True) != (code == 0):
            disagree.append(f"{case!r}: form says {verdict!r}, check says {err or 'ok'}")
    assert disagree == [], "\n".join(disagree)
    assert any(v is not True for v in verdicts) and any(v is True for v in verdicts)
