"""The rpcd plugin (ddns-edge.uc, as it ships) in OpenWrt's own rpcd and ubusd, without the stack.

$DDNS_EDGE_RPCD names a prefix holding OpenWrt's ubusd, rpcd (with its ucode and file
plugins) and the `ubus` command, built from their sources outside this repository (for
example libubox, ubus, uci, ucode and rpcd installed with CMAKE_INSTALL_PREFIX=PREFIX/usr,
so that rpcd loads ucode plugins from PREFIX/usr/share/rpcd/ucode). Without it these tests
are skipped with one line; they need root. tests/openwrt runs the same plugin under procd,
uhttpd and LuCI when a whole stack is given.

Each test runs ubusd and rpcd in private mount and network namespaces: a tmpfs on /run
(ubusd's socket, the agent's default state_dir), the shipped plugin directory mounted where
this rpcd looks for plugins, and only lo and a veth pair whose far end holds no address
(where packets vanish: a server that never answers). rpcd's environment points the plugin at the test's config and at
`ddns-edge` (a wrapper that counts its runs and starts the venv's); nothing else differs
from a router. Calls go through the real `ubus` command, as a user's would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from ddns_edge import state
from tools.netns.agentlib import wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGINS = os.path.join(ROOT, "openwrt", "luci-app-ddns-edge", "root", "usr", "share", "rpcd", "ucode")
EXE = os.path.join(os.path.dirname(sys.executable), "ddns-edge")
PREFIX = os.environ.get("DDNS_EDGE_RPCD") or None
SECRET = "Wi28mLDG6l5YrDIg27zPh5tvG2jWR4GBt1Sq3WUUop8="

if PREFIX is None:
    pytest.skip("the rpcd plugin in OpenWrt's rpcd: no rpcd given (DDNS_EDGE_RPCD is not set; see this file's docstring)",
                allow_module_level=True)
if os.geteuid() != 0:
    pytest.skip("the rpcd plugin in OpenWrt's rpcd: needs root (private mount and network namespaces)", allow_module_level=True)

SETUP = """
set -e
mount -t tmpfs none /run
mkdir -p /run/ubus
mount --bind "$PLUGINS" "$PREFIX/usr/share/rpcd/ucode"
ip link set lo up
ip link add void0 type veth peer name void1
ip addr add 10.9.0.1/24 dev void0
ip link set void0 up
ip link set void1 up
"$PREFIX/usr/sbin/ubusd" &
while [ ! -S /run/ubus/ubus.sock ]; do sleep 0.05; done
"$PREFIX/usr/sbin/rpcd" &
wait
"""


class Rpcd:
    """ubusd and rpcd in their own namespaces; call() is `ubus call ddns-edge ...` there."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.config = tmp / "config" / "ddns-edge"
        self.config.parent.mkdir()
        self.runs = tmp / "runs"
        self.prog = tmp / "ddns-edge"
        self.prog.write_text(f'#!/bin/sh\necho "$*" >> {self.runs}\nexec {EXE} "$@"\n')
        self.prog.chmod(0o755)
        env = dict(os.environ, PLUGINS=PLUGINS, PREFIX=PREFIX, DDNS_EDGE_RPCD_PROG=str(self.prog),
                   DDNS_EDGE_RPCD_CONFIG=str(self.config))
        self.proc = subprocess.Popen(["unshare", "--mount", "--net", "--propagation", "private", "sh", "-c", SETUP],
                                     env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                                     stderr=open(tmp / "rpcd.log", "w"))
        wait_for(lambda: self.ubus("list", "ddns-edge", check=False).returncode == 0 or self.proc.poll() is not None,
                 30, "rpcd with the ddns-edge object", 0.1)
        assert self.proc.poll() is None, (tmp / "rpcd.log").read_text()

    def ubus(self, *args, check=True, **kw):
        cmd = ["nsenter", f"--mount=/proc/{self.proc.pid}/ns/mnt", f"--net=/proc/{self.proc.pid}/ns/net",
               os.path.join(PREFIX, "usr", "bin", "ubus"), "-t", "60", *args]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=90, **kw)

    def call(self, method, args=None) -> dict:
        return json.loads(self.ubus("call", "ddns-edge", method, json.dumps(args or {})).stdout or "{}")

    def call_later(self, method, args=None) -> subprocess.Popen:
        cmd = ["nsenter", f"--mount=/proc/{self.proc.pid}/ns/mnt", f"--net=/proc/{self.proc.pid}/ns/net",
               os.path.join(PREFIX, "usr", "bin", "ubus"), "-t", "60", "call", "ddns-edge", method, json.dumps(args or {})]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)

    def ran(self) -> list[str]:
        """The ddns-edge command lines rpcd has run so far."""
        return self.runs.read_text().splitlines() if self.runs.exists() else []

    def write_config(self, text, mode=0o600):
        self.config.write_text(text)
        self.config.chmod(mode)

    def close(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


@pytest.fixture
def rpcd(tmp_path):
    r = Rpcd(tmp_path)
    yield r
    r.close()


def config_text(tmp_path, *extra_agent, records=None):
    agent = [f"\toption state_dir '{tmp_path}/state'", *extra_agent]
    records = records or ["config record 'www'\n\toption name 'www.example.com'\n\toption device 'lo'\n"]
    return ("config agent 'agent'\n" + "\n".join(agent) + "\n\n"
            f"config key 'home'\n\toption name 'ddns-key'\n\toption secret '{SECRET}'\n\n" + "\n".join(records))


# --- status: the state file, read by the plugin itself ----------------------------------


def test_status_is_the_state_file_as_ddns_edge_status_prints_it_and_starts_no_process(rpcd, tmp_path):
    rpcd.write_config(config_text(tmp_path))
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "state.json").write_text(state.render([
        {"name": "www.example.com", "type": "A", "address": "198.51.100.2", "source": "interface lo",
         "changed_at": 1_700_000_000, "confirmed_at": 1_700_000_000, "last_error": "<img src=x onerror=alert(1)>",
         "echo": {"at": 1_700_000_000, "address": None, "reason": "no echo source gave a usable answer"}}], 1_700_000_001))
    printed = json.loads(subprocess.run([EXE, "-c", str(rpcd.config), "status", "--json"], capture_output=True,
                                        text=True, check=True).stdout)
    for _ in range(3):
        assert rpcd.call("status") == {"service": {"running": False, "pid": None}, "state": printed}
    assert rpcd.ran() == []


@pytest.mark.parametrize("make, error", [
    (lambda p: None, "no state file in {dir}: is `ddns-edge run` running?"),
    (lambda p: p.symlink_to("/etc/hostname"), "{dir}/state.json: unreadable state file: a symbolic link, which is never followed"),
    (lambda p: os.mkfifo(p), "{dir}/state.json: unreadable state file: not a regular file (fifo)"),  # never waited on
    (lambda p: p.write_text("<html>"), "{dir}/state.json: unreadable state file: not a ddns-edge state file"),
    (lambda p: p.write_text('{"records": {}}'), "{dir}/state.json: unreadable state file: not a ddns-edge state file"),
], ids=["missing", "link", "fifo", "not json", "not a state file"])
def test_status_says_why_there_is_no_state(rpcd, tmp_path, make, error):
    rpcd.write_config(config_text(tmp_path))
    (tmp_path / "state").mkdir()
    make(tmp_path / "state" / "state.json")
    assert rpcd.call("status") == {"service": {"running": False, "pid": None}, "error": error.format(dir=tmp_path / "state")}
    assert rpcd.ran() == []


# --- config: without its secrets, by the agent's own rule ---------------------------------


def test_config_is_ddns_edge_config_without_any_secret(rpcd, tmp_path):
    rpcd.write_config(config_text(tmp_path, "\tlist echo 'https://alice:hunter2@echo.example.net/ip'",
                                  "\tlist echo \"exec:sshpass -p hunter2 ssh me@vps 'echo $SSH_CONNECTION'\""))
    shown = rpcd.call("config")
    assert shown == json.loads(subprocess.run([EXE, "-c", str(rpcd.config), "config", "--json"], capture_output=True,
                                              text=True, check=True).stdout)
    text = json.dumps(shown)
    assert "hunter2" not in text and "sshpass -p" not in text and SECRET not in text
    assert shown["sections"][0]["echo"] == ["https://alice@echo.example.net/ip", "exec:sshpass (echo source 2)"]
    assert shown["sections"][1]["secret_set"] is True
    assert rpcd.call("config") == shown and len(rpcd.ran()) == 1  # kept while the config stands


# --- check: kept while nothing it depends on changes --------------------------------------


def test_check_is_run_once_per_change_of_what_it_depends_on(rpcd, tmp_path):
    rpcd.write_config(config_text(tmp_path))
    ok = rpcd.call("check")
    assert ok == {"ok": True, "code": 0, "output": f"{rpcd.config}: ok: 1 record(s) enabled, 1 key(s)"}
    assert rpcd.call("check") == ok and rpcd.call("status")["check"] == ok
    assert len(rpcd.ran()) == 1
    rpcd.config.chmod(0o660)  # the same bytes, but its group may now write it: check refuses it
    refused = rpcd.call("check")
    assert refused["ok"] is False and refused["code"] == 2 and "writable by its group (mode 0660)" in refused["output"]
    assert rpcd.call("status")["check"] == refused and len(rpcd.ran()) == 2
    key = tmp_path / "config" / "k.key"
    key.write_text(f'key "ddns-key" {{\n\talgorithm hmac-sha256;\n\tsecret "{SECRET}";\n}};\n')
    key.chmod(0o600)
    rpcd.write_config(config_text(tmp_path).replace(f"\toption secret '{SECRET}'", "\toption file 'k.key'"))
    assert rpcd.call("check")["ok"] is True and len(rpcd.ran()) == 3
    key.chmod(0o644)  # a key file changes: checked again
    assert "check" not in rpcd.call("status")  # the kept answer no longer stands
    refused = rpcd.call("check")
    assert refused["ok"] is False and "k.key: key material is readable by others" in refused["output"]
    assert len(rpcd.ran()) == 4


# --- long work outside rpcd, capped ---------------------------------------------------------


def test_rpcd_answers_others_while_detect_runs_and_a_second_caller_waits_for_the_same_run(rpcd, tmp_path):
    started, gate = tmp_path / "started", tmp_path / "gate"
    rpcd.write_config(config_text(
        tmp_path, "\toption echo_quorum '1'",
        f"\tlist echo 'exec:touch {started}; while [ ! -e {gate} ]; do sleep 0.05; done; echo 203.0.113.7'",
        records=["config record 'www'\n\toption name 'www.example.com'\n\toption source 'echo'\n"]))
    first = rpcd.call_later("detect")
    wait_for(started.exists, 30, "the exec: source to start")
    second = rpcd.call_later("detect")
    # rpcd is not held: status, check and uci answer while the exec: source waits for the gate
    assert rpcd.call("status")["error"].startswith("no state file")
    assert rpcd.call("check")["ok"] is True
    assert rpcd.ubus("call", "file", "stat", '{"path": "/"}').returncode == 0
    assert first.poll() is None and second.poll() is None  # (the exec: source may wait 5 s at most)
    gate.touch()
    answers = [json.loads(p.communicate(timeout=60)[0]) for p in (first, second)]
    assert answers[0] == answers[1]
    assert answers[0]["ok"] is True and "www.example.com A 203.0.113.7 (echo: source echo; from exec:touch (echo source 1))" \
        in answers[0]["output"]
    assert [r for r in rpcd.ran() if r.endswith(" detect")] == [f"--time-limit 15 -c {rpcd.config} detect"]


def test_check_online_gives_up_after_its_time_limit(rpcd, tmp_path):
    """Servers that never answer (their packets vanish on a link with no one on it): the check used to
    hold rpcd, and everyone's uci, for as long as it took (15 s with three)."""
    records = [f"config record 'r{i}'\n\toption name 'r{i}.example.com'\n\toption device 'lo'\n"
               f"\toption zone 'example.com'\n\toption server '10.9.0.{i + 2}'\n" for i in range(4)]
    rpcd.write_config(config_text(tmp_path, records=records))
    later = rpcd.call_later("check", {"online": True})
    wait_for(lambda: any("--online" in r for r in rpcd.ran()), 30, "the online check to start")
    assert rpcd.ubus("call", "file", "stat", '{"path": "/"}').returncode == 0  # rpcd answers while it runs
    answer = json.loads(later.communicate(timeout=90)[0])
    assert answer["ok"] is False and answer["code"] == 1
    assert answer["output"].endswith("ddns-edge: gave up after 15 s (--time-limit 15)")


def test_keygen_runs_once_per_call(rpcd, tmp_path):
    rpcd.write_config(config_text(tmp_path))
    keys = [rpcd.call("keygen", {"name": "ddns-key", "zone": "example.com"}) for _ in range(2)]
    assert all(k["ok"] and k["key"].startswith('key "ddns-key" {') for k in keys)
    assert keys[0]["key"] != keys[1]["key"]
    refused = rpcd.call("keygen", {"name": "bad-.example"})
    assert refused["ok"] is False and "is not a plain DNS name" in refused["error"]
    assert len(rpcd.ran()) == 3
