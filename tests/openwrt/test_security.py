"""Issue 20 in the real stack: who can act through the agent, and who cannot.

- the admin's browser: markup from the state file, the check, detect and the config reaches
  LuCI's pages (status, config, read-only config, New key) as text, in Chromium: no element
  and no script from it;
- read-only users: the config without echo passwords or exec: commands, no detect;
- rpcd: long work (check --online against servers that never answer) does not hold it, and
  gives up by its time limit; the status page starts no process;
- the init script: a refused config (a value, or a file its group may write) starts nothing,
  creates nothing, and `start` exits non-zero with check's line in the log.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from tests.openwrt.cdp import Browser
from tests.openwrt.stack import wait_for
from tests.openwrt.test_luci import login, open_page
from tests.openwrt.test_procd import WAN, agent_config

MARK = "<img src=x onerror=window.ddnsEdgeOwned=1>"
STATE = "/var/run/ddns-edge/state.json"


def marked(field: str) -> str:
    return f"<img src=x onerror=window.ddnsEdgeOwned=1 alt={field}>"


def forged_state() -> str:
    """A state file with markup in every field the status page shows."""
    def record(n):
        return {f: marked(f"{f}{n}") for f in ("name", "type", "address", "source", "changed_at", "confirmed_at",
                                                "last_error", "error_at", "next_retry")} | {
            "failures": 3, "echo": {"at": marked("echo.at"), "address": marked("echo.address"), "reason": marked("echo.reason")}}
    return json.dumps({"version": 1, "pid": 4242, "written_at": marked("written_at"), "records": [record(1), record(2)]})


def markup_config(world) -> str:
    """A config check refuses, with markup in its values (the refusal repeats one)."""
    return agent_config(world).replace("option name 'www.example.com'", f"option name '{MARK}'") + (
        f"\nconfig record 'other'\n\toption name 'other.example.com'\n\toption key '{MARK}'\n\toption device '{world.wan}'\n")


def clean(b: Browser) -> dict:
    """What markup made of the page: elements with its marker, and whether its script ran."""
    return b.js("""({
        elements: [...document.querySelectorAll('img[src="x"], img[onerror], [onerror]')].map(e => e.outerHTML),
        ran: window.ddnsEdgeOwned === 1,
        text: document.querySelector('#view').innerText })""")


@pytest.fixture
def stopped(owrt):
    """No agent runs (it would write the state file); the config as it was is put back after."""
    world, stack = owrt
    stack.exec("/etc/init.d/ddns-edge", "stop")
    with open(os.path.join(stack.rootfs, "etc/config/ddns-edge")) as f:
        before = f.read()
    yield world, stack
    stack.sh(f"rm -f {STATE}")
    stack.write_config(before)
    stack.exec("/sbin/reload_config")


def test_markup_reaches_every_page_as_text(stopped, artifacts):
    world, stack = stopped
    stack.write_config(markup_config(world))
    state_dir = os.path.dirname(STATE)  # as the init script makes it, when no agent ran yet
    stack.exec("sh", "-c", f"{{ [ -d {state_dir} ] || {{ mkdir -m 0750 {state_dir} && chown ddns-edge:ddns-edge {state_dir}; }}; }}"
               f" && cat > {STATE}", input=forged_state(), check=True)
    with Browser(netns=world.rtr_ns) as b:
        login(b, stack)
        open_page(b, stack, "status")
        b.wait("document.querySelector('#ddns-edge-records').innerText.indexOf('name1') >= 0", what="the forged state shown")
        b.wait("!!document.querySelector('#ddns-edge-refused')", what="the check's refusal shown")
        b.click("#ddns-edge-detect-button", what="Detect")
        b.wait("document.querySelector('#ddns-edge-detect pre') !== null", what="detect's answer")
        time.sleep(6)  # a refresh of the page (every 5 s) goes through the same fields again
        page = clean(b)
        b.screenshot(os.path.join(artifacts, "luci-markup-status.png"))
        assert page["elements"] == [] and page["ran"] is False
        for field in ("name1", "address2", "last_error1", "echo.reason", "written_at"):
            assert marked(field) in page["text"], field
        assert MARK in page["text"]  # the check's refusal, and detect's, repeat the name as text

        open_page(b, stack, "config")
        b.wait("!!document.querySelector('#ddns-edge-refused')", what="the config page's banner")
        page = clean(b)
        assert page["elements"] == [] and page["ran"] is False and MARK in page["text"]

    with Browser(netns=world.rtr_ns) as b:
        login(b, stack, "viewer", "viewer-pw")
        open_page(b, stack, "config")
        b.wait("!!document.querySelector('#ddns-edge-readonly')", what="the read-only config")
        page = clean(b)
        b.screenshot(os.path.join(artifacts, "luci-markup-readonly.png"))
        assert page["elements"] == [] and page["ran"] is False and MARK in page["text"]


def test_a_read_only_user_sees_no_echo_password_nor_command_and_cannot_detect(stopped):
    world, stack = stopped
    stack.write_config(agent_config(world).replace(
        "config key 'home'",
        "\tlist echo 'https://alice:hunter2@echo.example.net/ip'\n"
        "\tlist echo \"exec:sshpass -p hunter2 ssh me@vps 'echo $SSH_CONNECTION'\"\n\nconfig key 'home'"))
    with Browser(netns=world.rtr_ns) as b:
        login(b, stack, "viewer", "viewer-pw")
        open_page(b, stack, "config")
        text = b.wait("(document.querySelector('#ddns-edge-readonly') || {}).innerText", what="the read-only config")
        assert "https://alice@echo.example.net/ip" in text and "exec:sshpass (echo source 2)" in text
        assert "hunter2" not in b.html() and "SSH_CONNECTION" not in b.html() and world.key_secret not in b.html()
        open_page(b, stack, "status")
        assert b.js("document.querySelector('#ddns-edge-detect-button') === null")
        reply = b.js("""fetch('/ubus', {method: 'POST', body: JSON.stringify({jsonrpc: '2.0', id: 1, method: 'call',
            params: [L.env.sessionid, 'ddns-edge', 'detect', {}]})}).then(r => r.json())""")
        assert reply.get("error", {}).get("code") == -32002 or reply.get("result") == [6], reply


def test_check_online_never_holds_rpcd_and_gives_up_by_its_time_limit(stopped):
    """Servers that never answer: the check used to hold rpcd (and everyone's uci) 15 s."""
    world, stack = stopped
    records = "".join(f"\nconfig record 'r{i}'\n\toption name 'r{i}.example.com'\n\toption device '{world.wan}'\n"
                      f"\toption zone 'example.com'\n\toption server '192.0.2.{200 + i}'\n" for i in range(4))
    stack.write_config(agent_config(world, enabled=0) + records)
    cmd = ["ip", "netns", "exec", world.rtr_ns, "bash", stack.script, "exec", stack.prefix,
           "ubus", "-t", "60", "call", "ddns-edge", "check", '{"online": true}']
    later = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    wait_for(lambda: "--online" in stack.sh("ps w").stdout, what="the online check running")
    answered = [stack.exec("ubus", "-t", "2", "call", "uci", "configs").returncode == 0 for _ in range(3)]
    still = later.poll() is None
    reply = later.communicate(timeout=120)[0]
    assert reply.strip(), f"no answer from ubus call ddns-edge check (rpcd's log: {stack.logread()[-3000:]})"
    out = json.loads(reply)
    assert answered == [True, True, True] and still, "rpcd answered others while the check ran"
    assert out["ok"] is False and out["output"].endswith("ddns-edge: gave up after 15 s (--time-limit 15)"), out


def test_the_status_page_starts_no_process(stopped):
    """It used to start two Python processes every 5 s (status, check)."""
    world, stack = stopped
    world.set_wan(WAN + "/24")
    stack.write_config(agent_config(world))
    stack.exec("/etc/init.d/ddns-edge", "start", check=True)
    pid = wait_for(stack.running_pid, what="the agent")
    wait_for(lambda: (stack.ubus("ddns-edge", "status").get("state") or {}).get("pid") == pid, what="the agent's state file")
    runs = "/tmp/ddns-edge-runs"
    stack.sh(f"mv /usr/bin/ddns-edge /usr/bin/ddns-edge.real && printf '#!/bin/sh\\necho \"$*\" >> {runs}\\n"
             f"exec /usr/bin/ddns-edge.real \"$@\"\\n' > /usr/bin/ddns-edge && chmod 755 /usr/bin/ddns-edge", check=True)
    try:
        with Browser(netns=world.rtr_ns) as b:
            login(b, stack)
            open_page(b, stack, "status")
            b.wait(f"document.querySelector('#ddns-edge-records').innerText.indexOf('{WAN}') >= 0", what="the status")
            first = stack.sh(f"cat {runs} 2>/dev/null").stdout.splitlines()
            time.sleep(16)  # three refreshes
            after = stack.sh(f"cat {runs} 2>/dev/null").stdout.splitlines()
        assert [r for r in first if "status" in r] == []
        assert after == first, "the page started ddns-edge while it refreshed"
        assert len([r for r in first if r.endswith(" check")]) <= 1  # once for the page, at most
        assert stack.running_pid() == pid
    finally:
        stack.sh("mv /usr/bin/ddns-edge.real /usr/bin/ddns-edge", check=True)
        stack.exec("/etc/init.d/ddns-edge", "stop")


@pytest.mark.parametrize("refuse", ["value", "group-writable"])
def test_a_refused_config_starts_nothing_creates_nothing_and_start_fails(stopped, refuse):
    world, stack = stopped
    state_dir = "/var/run/ddns-edge-sneaky"
    text = agent_config(world).replace("/var/run/ddns-edge'", f"{state_dir}'")
    stack.write_config(text.replace("option ttl '60'", "option ttl '0'") if refuse == "value" else text)
    if refuse == "group-writable":
        os.chmod(os.path.join(stack.rootfs, "etc/config/ddns-edge"), 0o660)
    stack.sh(f"rm -rf {state_dir}")
    proc = stack.exec("/etc/init.d/ddns-edge", "start")
    assert proc.returncode != 0
    assert stack.sh(f"[ ! -e {state_dir} ]").returncode == 0, "state_dir created for a refused config"
    assert stack.running_pid() is None
    why = "option ttl: 0 is out of range" if refuse == "value" else "writable by its group (mode 0660)"
    assert why in proc.stderr
    wait_for(lambda: why in stack.logread(), what="check's line in the log")
    assert stack.sh("ls -ln /etc/config/ddns-edge").stdout.split()[3] == "0", "the config's group was changed"
