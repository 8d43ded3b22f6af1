"""openwrt/files/ddns-edge.init under the real procd and rc.common, and `ubus call ddns-edge`.

The agent runs in the stack as procd starts it, in the router namespace of a netns world
whose BIND serves example.com: each promise of the init script is checked by its outcome
(procd's instance, /proc inside the stack, the record at BIND, the log).
"""

from __future__ import annotations

import re

import pytest

from tests.openwrt.stack import AGENT_USER, wait_for

WAN = "198.51.100.2"


def agent_config(world, ttl: int = 60, enabled: int = 1) -> str:
    return f"""
config agent 'agent'
\toption log_level 'info'
\toption state_dir '/var/run/ddns-edge'

config key 'home'
\toption name '{world.key_name}'
\toption algorithm '{world.key_algorithm}'
\toption secret '{world.key_secret}'

config record 'www'
\toption enabled '{enabled}'
\toption name 'www.example.com'
\toption type 'A'
\toption device '{world.wan}'
\toption source 'interface'
\toption key 'home'
\toption ttl '{ttl}'
\toption zone 'example.com'
\toption server '{world.bind_addr4}'
"""


def answer(world, name: str = "www.example.com") -> list[tuple[int, str]]:
    """(ttl, address) of each A record BIND holds for name."""
    out = world.ns_exec(world.srv_ns, ["dig", "+norec", "+noall", "+answer", f"@{world.bind_addr4}", name, "A"]).stdout
    return [(int(f[1]), f[4]) for f in (line.split() for line in out.splitlines()) if len(f) == 5]


@pytest.fixture
def agent(owrt):
    """The agent started by procd with a fresh config (ttl 60), its record landed at BIND."""
    world, stack = owrt
    world.set_wan(WAN + "/24")
    stack.exec("/etc/init.d/ddns-edge", "stop")
    stack.write_config(agent_config(world))
    stack.exec("/sbin/reload_config")  # the new file's checksum, so later commits are compared to it
    stack.exec("/etc/init.d/ddns-edge", "start", check=True)
    pid = wait_for(stack.running_pid, what="procd runs the ddns-edge instance")
    wait_for(lambda: answer(world) == [(60, WAN)], what=f"BIND answers www.example.com A {WAN} with TTL 60")
    yield world, stack, pid
    stack.exec("/etc/init.d/ddns-edge", "stop")


def test_start_runs_the_agent_as_user_ddns_edge_and_it_lands_the_record(agent):
    world, stack, pid = agent
    assert stack.exec("/etc/init.d/ddns-edge", "running").returncode == 0
    assert stack.exec("/etc/init.d/ddns-edge", "status").stdout.strip() == "running"
    instance = stack.instance()
    assert instance["user"] == AGENT_USER
    assert instance["command"][-4:] == ["--syslog", "-c", "/etc/config/ddns-edge", "run"]
    uid = stack.exec("id", "-u", AGENT_USER, check=True).stdout.strip()
    status = stack.exec("cat", f"/proc/{pid}/status", check=True).stdout
    assert re.search(rf"^Uid:\s+{uid}\s+{uid}\s", status, re.M), status
    assert uid != "0"
    # its lines reach logd through /dev/log, each at its own priority (a change is a notice, not daemon.err)
    line = (rf"daemon\.notice ddns-edge\[{pid}\]: www\.example\.com A: now 198\.51\.100\.2"
            rf"|daemon\.info ddns-edge\[{pid}\]: www\.example\.com A: already 198\.51\.100\.2")
    log = wait_for(lambda: re.search(line, log := stack.logread()) and log, what="the agent's own lines in logread, at their levels")
    assert not re.search(rf"daemon\.err ddns-edge\[{pid}\]", log), log[-2000:]


def test_ubus_call_ddns_edge_answers_from_the_command_line(agent):
    world, stack, pid = agent
    def written_by_this_agent():
        s = stack.ubus("ddns-edge", "status")
        return s.get("state", {}).get("pid") == pid and s["state"]["records"][0].get("confirmed_at") and s

    status = wait_for(written_by_this_agent, what="ubus call ddns-edge status shows the record confirmed by this agent")
    assert status["service"] == {"running": True, "pid": pid}
    assert status["state"]["pid"] == pid
    record = status["state"]["records"][0]
    assert (record["name"], record["type"], record["address"], record["last_error"]) == ("www.example.com", "A", WAN, None)
    assert record["source"] == f"interface {world.wan}"

    check = stack.ubus("ddns-edge", "check")
    assert check["ok"] is True and "1 record(s) enabled, 1 key(s)" in check["output"]
    online = stack.ubus("ddns-edge", "check", {"online": True})
    assert online["ok"] is True and "accepted by" in online["output"], online
    detect = stack.ubus("ddns-edge", "detect")
    assert detect["ok"] is True and f"www.example.com A {WAN}" in detect["output"]

    config = stack.ubus("ddns-edge", "config")
    text = repr(config)
    assert world.key_secret not in text
    key = next(s for s in config["sections"] if s[".type"] == "key")
    assert key["secret_set"] is True and "secret" not in key and key["name"] == world.key_name

    made = stack.ubus("ddns-edge", "keygen", {"name": "router-key", "algorithm": "hmac-sha512", "zone": "example.com"})
    assert made["ok"] is True
    assert re.search(r'key "router-key" \{\s+algorithm hmac-sha512;\s+secret "[A-Za-z0-9+/=]+";', made["key"])
    assert "update-policy" in made["key"] and "pdnsutil" in made["key"] and "knot" in made["key"].lower()
    bad = stack.ubus("ddns-edge", "keygen", {"name": "bad name"})
    assert bad["ok"] is False and "\n" not in bad["error"] and bad["error"].startswith("ddns-edge:")
    assert stack.ubus("ddns-edge", "keygen", {})["ok"] is False


def test_procd_respawns_the_agent_after_it_is_killed(agent):
    world, stack, pid = agent
    stack.exec("kill", "-9", str(pid), check=True)
    new = wait_for(lambda: (p := stack.running_pid()) not in (None, pid) and p, what="procd respawns the instance with a new pid")
    assert stack.instance()["user"] == AGENT_USER
    # the respawned agent follows the WAN
    world.set_wan("198.51.100.9/24")
    wait_for(lambda: answer(world) == [(60, "198.51.100.9")], what="the respawned agent moves the record")
    assert stack.running_pid() == new


def test_uci_commit_and_reload_config_reach_the_running_agent_as_sighup(agent):
    world, stack, pid = agent
    stack.sh("uci set ddns-edge.www.ttl=300 && uci commit ddns-edge && reload_config", check=True)
    wait_for(lambda: answer(world) == [(300, WAN)], what="the TTL from the reloaded config at BIND")
    assert stack.running_pid() == pid, "reloaded in place (SIGHUP), not restarted"
    assert re.search(rf"ddns-edge\[{pid}\]: .*config reloaded", stack.logread())


def test_a_config_the_check_refuses_leaves_the_agent_running_as_it_was(agent):
    world, stack, pid = agent
    refusal = "config not reloaded; the running agent keeps the one it has"
    before = stack.logread().count(refusal)
    stack.sh("uci set ddns-edge.www.ttl=0 && uci commit ddns-edge && reload_config", check=True)
    log = wait_for(lambda: (log := stack.logread()).count(refusal) > before and log, what="the init script says it did not reload")
    assert re.search(r"option ttl: 0 is out of range; allowed: a whole number 1\.\.604800 seconds", log), log[-2000:]
    assert stack.running_pid() == pid
    # still running with the config it had: it follows the WAN, with the old TTL
    world.set_wan("198.51.100.77/24")
    wait_for(lambda: answer(world) == [(60, "198.51.100.77")], what="the agent keeps working with its old config")
    assert stack.running_pid() == pid


def test_stop_enable_disable_and_nothing_enabled_starts_nothing(agent):
    world, stack, pid = agent
    assert stack.exec("/etc/init.d/ddns-edge", "enabled").returncode == 0
    assert stack.sh("[ -L /etc/rc.d/S95ddns-edge ] && [ -L /etc/rc.d/K10ddns-edge ]").returncode == 0

    stack.exec("/etc/init.d/ddns-edge", "stop", check=True)
    wait_for(lambda: stack.exec("/etc/init.d/ddns-edge", "running").returncode != 0, what="the instance stopped")
    assert stack.exec("/etc/init.d/ddns-edge", "status").stdout.strip() == "inactive"
    assert stack.exec("kill", "-0", str(pid)).returncode != 0
    assert stack.ubus("ddns-edge", "status")["service"]["running"] is False

    stack.exec("/etc/init.d/ddns-edge", "disable", check=True)
    assert stack.exec("/etc/init.d/ddns-edge", "enabled").returncode != 0
    assert stack.sh("[ ! -e /etc/rc.d/S95ddns-edge ] && [ ! -e /etc/rc.d/K10ddns-edge ]").returncode == 0
    stack.exec("/etc/init.d/ddns-edge", "enable", check=True)
    assert stack.exec("/etc/init.d/ddns-edge", "enabled").returncode == 0

    stack.write_config(agent_config(world, enabled=0))
    proc = stack.exec("/etc/init.d/ddns-edge", "start")
    assert proc.returncode == 0 and "no record enabled" in proc.stderr
    assert stack.running_pid() is None
