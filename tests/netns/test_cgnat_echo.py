"""The echo behind carrier-grade NAT, in namespaces: real NAT, real echo servers, real BIND.

The router's WAN is 100.64.0.2/10; the isp SNATs it to 203.0.113.5 (nftables) on the way
to srv, where BIND and "the internet" live: HTTP, HTTPS and DNS echo servers that answer
with the address they see (echoservers.py). The built-in echo list names real public
services, which cannot be reached from here: every test configures `list echo` with these
servers instead.
"""

from __future__ import annotations

import json
import os
import re
import time

from tools.netns.agentlib import EXE, Daemon, ddns_edge, record, wait_dig, wait_for

WHERE = dict(zone="example.com", server="192.0.2.53")
IP = "http://192.0.2.80/ip"
DNS = "dns://192.0.2.80/whoami.test"
PUBLIC, MOVED, PRIVATE = "203.0.113.5", "203.0.113.6", "100.64.0.2"


def config(world, tmp_path, echo, *records, **agent):
    """A config with `list echo` (and agent options) and records on the world's BIND."""
    lines = ["config agent 'agent'", f"\toption state_dir '{tmp_path / 'state'}'"]
    lines += [f"\tlist echo '{e}'" for e in echo]
    lines += [f"\toption {k} '{v}'" for k, v in agent.items()]
    lines += ["", "config key 'home'", f"\toption name '{world.key_name}'",
              f"\toption algorithm '{world.key_algorithm}'", f"\toption secret '{world.key_secret}'", ""]
    path = tmp_path / "ddns-edge"
    path.write_text("\n".join(lines) + "\n" + "\n".join(records or [record("www", **WHERE)]))
    path.chmod(0o600)
    return str(path)


def behind_cgnat(world):
    world.cgnat()
    world.start_echo()
    assert world.wan_addresses(4) == [f"{PRIVATE}/10"]


def landed(agent) -> list[str]:
    """The addresses the agent wrote, in order ("now X (was Y)" lines)."""
    return re.findall(r"www\.example\.com A: now (\S+)", agent.log())


def test_behind_cgnat_the_record_gets_the_nat_address_never_the_private_one(world, tmp_path):
    behind_cgnat(world)
    conf = config(world, tmp_path, [IP, DNS])
    with Daemon(world, conf) as agent:
        wait_dig(world, "www.example.com", "A", [PUBLIC])
        agent.wait_log(f"echo over IPv4 via wan0: {PUBLIC} (2 of 2 echo sources agree: {IP}, {DNS})")
        assert landed(agent) == [PUBLIC]
        assert PRIVATE not in " ".join(landed(agent))
        # the echo servers saw the NAT's address, over IPv4, for both kinds
        seen = world.echo_requests()
        assert {(r["kind"], r["client"]) for r in seen} == {("http", PUBLIC), ("dns", PUBLIC)}
    # detect says where the address came from and which sources agreed
    p = ddns_edge(world, conf, "detect")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        f"www.example.com A {PUBLIC} (echo: only a private address ({PRIVATE}) on wan0; 2 of 2 echo sources agree: {IP}, {DNS})",
        f"  {IP}: {PUBLIC}",
        f"  {DNS}: {PUBLIC}",
    ]


def test_a_wan_change_behind_the_same_nat_sends_no_update(world, tmp_path):
    behind_cgnat(world)
    conf = config(world, tmp_path, [IP, DNS])
    with Daemon(world, conf) as agent:
        wait_dig(world, "www.example.com", "A", [PUBLIC])
        serial, asked = world.serial(), len(world.echo_requests())
        world.set_wan("100.64.0.3/10")  # a PPPoE reconnect: new private address, same NAT
        wait_for(lambda: len(world.echo_requests()) >= asked + 2, what="an echo round on the address event")
        time.sleep(0.5)
        assert world.serial() == serial and landed(agent) == [PUBLIC]
        assert world.dig("www.example.com", "A") == [PUBLIC]


def test_the_isp_moving_its_nat_is_caught_by_the_recheck(world, tmp_path):
    behind_cgnat(world)
    conf = config(world, tmp_path, [IP, DNS], echo_interval=10)
    with Daemon(world, conf) as agent:
        wait_dig(world, "www.example.com", "A", [PUBLIC])
        agent.wait_log("next check in 10 s")
        world.move_nat(MOVED)  # no event on the router: only the re-check can see it
        wait_dig(world, "www.example.com", "A", [MOVED], timeout=15)
        assert landed(agent) == [PUBLIC, MOVED]


def test_the_echo_stops_when_the_wan_address_is_public_again(world, tmp_path):
    behind_cgnat(world)
    conf = config(world, tmp_path, [IP, DNS], echo_interval=10)
    with Daemon(world, conf) as agent:
        wait_dig(world, "www.example.com", "A", [PUBLIC])
        world.set_wan("198.51.100.9/24")
        wait_dig(world, "www.example.com", "A", ["198.51.100.9"])
        agent.wait_log("echo over IPv4 via wan0: no longer needed; stopped")
        asked = len(world.echo_requests())
        time.sleep(11)  # longer than echo_interval: no timer is left to fire
        assert len(world.echo_requests()) == asked


def test_a_public_wan_address_never_asks_the_echo(world, tmp_path):
    world.start_echo()
    conf = config(world, tmp_path, [IP, DNS], echo_interval=10)
    with Daemon(world, conf) as agent:
        wait_dig(world, "www.example.com", "A", ["198.51.100.2"])
        agent.wait_log("now 198.51.100.2")
        time.sleep(1)
        assert world.echo_requests() == []


def test_a_lying_source_is_outvoted(world, tmp_path):
    behind_cgnat(world)
    conf = config(world, tmp_path, ["http://192.0.2.80/lie", IP, DNS])
    with Daemon(world, conf) as agent:
        wait_dig(world, "www.example.com", "A", [PUBLIC])
        agent.wait_log(f"2 of 3 echo sources agree: {IP}, {DNS}")
        assert landed(agent) == [PUBLIC]


def test_two_sources_that_disagree_move_nothing(world, tmp_path):
    behind_cgnat(world)
    conf = config(world, tmp_path, ["http://192.0.2.80/lie", IP])
    with Daemon(world, conf) as agent:
        agent.wait_log("echo sources disagree (198.51.100.66 from http://192.0.2.80/lie; 203.0.113.5 from http://192.0.2.80/ip); 2 must agree")
        agent.wait_log("record left as it is")
        assert world.dig("www.example.com", "A") == [] and landed(agent) == []


def test_bad_answers_are_rejected_and_logged_and_the_next_source_tried(world, tmp_path):
    behind_cgnat(world)
    sources = ["http://192.0.2.80/html", "http://192.0.2.80/private", "http://192.0.2.80/big",
               "http://192.0.2.80/slow", IP, DNS]
    conf = config(world, tmp_path, sources)
    with Daemon(world, conf) as agent:
        wait_dig(world, "www.example.com", "A", [PUBLIC], timeout=20)
        log = agent.log()
        assert "http://192.0.2.80/html rejected: an HTML page, not an address" in log
        assert "http://192.0.2.80/private rejected: a private address (100.64.0.9)" in log
        assert "http://192.0.2.80/big rejected: an answer larger than 4096 bytes; not read further" in log
        assert "http://192.0.2.80/slow rejected: no answer within 2.0 s" in log
        assert landed(agent) == [PUBLIC]
        # the failing sources are backed off: an event asks the good ones first (a second
        # address: a device event that leaves the route alone, unlike an address swap)
        asked = len(world.echo_requests())
        world.add_addr("100.64.0.3/10")
        wait_for(lambda: len(world.echo_requests()) >= asked + 2, what="a second round")
        assert [r["what"] for r in world.echo_requests()[asked:asked + 2]] == ["/ip", "whoami.test. A"]


def test_markup_from_an_echo_is_described_never_repeated(world, tmp_path):
    """An http:// answer of markup used to go, 40 characters of it, into the log, the state
    file (and from there the LuCI page, where it ran) and detect's output."""
    behind_cgnat(world)
    conf = config(world, tmp_path, ["http://192.0.2.80/markup"])
    with Daemon(world, conf) as agent:
        agent.wait_log("http://192.0.2.80/markup rejected: not an address: 43 bytes of text")
        state = wait_for(lambda: (p := tmp_path / "state" / "state.json").is_file() and "echo" in p.read_text()
                         and json.loads(p.read_text()), what="the echo's round in the state file")
        reason = state["records"][0]["echo"]["reason"]
        assert reason == "no echo source gave a usable answer (http://192.0.2.80/markup: not an address: 43 bytes of text)"
        log = agent.log()
    detected = ddns_edge(world, conf, "detect")
    assert "  http://192.0.2.80/markup: rejected: not an address: 43 bytes of text" in detected.stdout
    for text in (log, (tmp_path / "state" / "state.json").read_text(), detected.stdout, detected.stderr):
        assert "<" not in text and "onerror" not in text


def test_https_and_exec_sources_and_family_pinning(world, tmp_path):
    """https:// trusted through SSL_CERT_FILE (the test CA), exec: with the family in its
    environment, and each family's echo over its own family: A behind the NAT, AAAA not."""
    behind_cgnat(world)
    fetch = tmp_path / "fetch"  # an `ssh host 'echo $SSH_CONNECTION'` of this world: address first
    fetch.write_text(
        "#!/usr/bin/env python3\nimport os, urllib.request\n"
        "host = '192.0.2.80' if os.environ['DDNS_EDGE_FAMILY'] == '4' else '[2001:db8:53::80]'\n"
        "print(urllib.request.urlopen(f'http://{host}/ip', timeout=2).read().decode().strip(), 4242, host, 22)\n")
    fetch.chmod(0o755)
    sources = ["https://192.0.2.80/ip", "https://[2001:db8:53::80]/ip", f"exec:{fetch}"]
    conf = config(world, tmp_path, sources, record("www", **WHERE), record("www6", rtype="AAAA", source="echo", **WHERE))
    env = dict(os.environ, SSL_CERT_FILE=world.echo_ca)
    with Daemon(world, conf, env=env) as agent:
        wait_dig(world, "www.example.com", "A", [PUBLIC])
        wait_dig(world, "www.example.com", "AAAA", ["2001:db8:1::2"])
        log = agent.log()
        assert f"echo over IPv4 via wan0: {PUBLIC} (2 of 2 echo sources agree: https://192.0.2.80/ip, exec:" in log
        assert "echo over IPv6 via wan0: 2001:db8:1::2 (2 of 2 echo sources agree: https://[2001:db8:53::80]/ip, exec:" in log
    https = {(r["what"], r["client"]) for r in world.echo_requests() if r["kind"] == "https"}
    assert https == {("/ip", PUBLIC), ("/ip", "2001:db8:1::2")}
    # without the test CA the same https source is refused, not trusted blindly
    p = world.exec([EXE, "-c", conf, "detect"], env=dict(os.environ, SSL_CERT_FILE="/nonexistent"), timeout=60)
    assert "https://192.0.2.80/ip: rejected: TLS certificate not trusted" in p.stdout, p.stdout + p.stderr


def test_a_password_in_an_echo_url_is_never_logged(world, tmp_path):
    """Nor in an exec: command, its error output or what it printed (they used to be logged
    as they were): an exec source is named by its program and place in the list."""
    behind_cgnat(world)
    failing = "exec:echo password=hunter2 >&2; echo token=hunter2; exit 3"
    conf = config(world, tmp_path, [failing, "http://me:hunter2@192.0.2.80/ip", DNS, "http://me:hunter2@192.0.2.80/html"])
    with Daemon(world, conf, "-v") as agent:
        wait_dig(world, "www.example.com", "A", [PUBLIC])
        agent.wait_log("agree: http://me@192.0.2.80/ip, dns://192.0.2.80/whoami.test")
        assert "exec:echo (echo source 1) rejected: exited with status 3" in agent.log()
    p = ddns_edge(world, conf, "-v", "detect")
    for text in (agent.log(), p.stdout, p.stderr):
        assert "hunter2" not in text
