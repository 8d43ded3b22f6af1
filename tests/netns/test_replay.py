"""One message per change, and no late or replayed UPDATE can leave a record wrong (issue 12).

Against the world's real BIND. The man in the middle (replayproxy.py, in the isp namespace,
fed by an nftables DNAT of the router's UDP DNS traffic) holds an UPDATE back and lets it
go later, or replays a captured one, as an unlucky network or an attacker on the path would.
The defence (README, "Late and replayed updates"): every UPDATE is signed with a small TSIG
fudge, so BIND refuses any copy of it once the fudge has passed; the agent reads the record
once after that window and sets back what a copy changed inside it.
"""

from __future__ import annotations

import time

import pytest

from ddns_edge import plan
from tools.netns.agentlib import Daemon, record, wait_dig, wait_for, write_config
from tools.netns.replayproxy import Proxy

NAME = "www.example.com"
A, B = "198.51.100.20", "198.51.100.22"


@pytest.fixture
def proxy(world):
    p = Proxy(world)
    yield p
    p.close()


def agent_at(world, tmp_path, address):
    world.set_wan(f"{address}/24")
    conf = write_config(tmp_path / "c", world, record("www", zone="example.com", server=world.bind_addr4))
    agent = Daemon(world, conf)
    wait_dig(world, NAME, "A", [address])
    return agent


def test_a_change_is_one_message_and_its_check_one_read_later(world, tmp_path):
    with agent_at(world, tmp_path, A) as agent:
        agent.wait_log(f"{NAME} A: already {A} at the server; nothing sent", timeout=30)  # the check of the first UPDATE
        before = world.dns_packets()
        world.set_wan(f"{B}/24")
        wait_dig(world, NAME, "A", [B])
        assert world.dns_packets() - before == 1  # the UPDATE, from the RRset this agent knows: no read first
        agent.wait_log(f"{NAME} A: already {B} at the server; nothing sent", timeout=30)
        assert world.dns_packets() - before == 2  # one read, once no copy of the UPDATE can land any more
        assert "error" not in agent.log()


def test_a_late_copy_of_an_update_is_found_and_set_back(world, tmp_path, proxy):
    """The issue's case: A->B is held back, its resend lands; B->A lands; then the held copy
    arrives, finds its prerequisite {A} true again, and sets B."""
    with agent_at(world, tmp_path, A) as agent:
        proxy.command("hold")
        world.set_wan(f"{B}/24")
        proxy.expect("held")
        wait_dig(world, NAME, "A", [B])  # the agent's resend, a second later
        world.set_wan(f"{A}/24")
        wait_dig(world, NAME, "A", [A])
        proxy.command("release")
        assert proxy.expect("released") == "released rcode=0"  # inside its fudge: BIND took it
        assert world.dig(NAME, "A") == [B]  # wrong, and the agent did not send it just now
        wait_dig(world, NAME, "A", [A], timeout=30)  # the target: right again within 30 s
        agent.wait_log(f"{NAME} A: the server held {B}, not {A} as this agent left it "
                       "(a delayed or replayed UPDATE, or another writer); set back to " + A)


def test_a_replayed_update_is_set_back_inside_the_window_and_refused_after_it(world, tmp_path, proxy):
    with agent_at(world, tmp_path, A) as agent:
        proxy.command("capture")
        world.set_wan(f"{B}/24")
        wait_dig(world, NAME, "A", [B])
        world.set_wan(f"{A}/24")
        wait_dig(world, NAME, "A", [A])
        captured = time.monotonic()
        proxy.command("replay")  # A->B again, seconds after B->A was answered
        assert proxy.expect("replayed") == "replayed rcode=0"
        assert world.dig(NAME, "A") == [B]
        wait_dig(world, NAME, "A", [A], timeout=30)
        agent.wait_log(f"the server held {B}, not {A}")
        # once the fudge has passed (on BIND's clock too), BIND refuses the copy: BADTIME, as NOTAUTH
        time.sleep(max(0.0, plan.FUDGE_MIN + 2 - (time.monotonic() - captured)))
        proxy.command("replay")
        assert proxy.expect("replayed") == "replayed rcode=9"
        assert world.dig(NAME, "A") == [A]


def test_a_landed_update_whose_answer_was_lost_is_a_change_said_once(world, tmp_path, proxy):
    """Ordinary packet loss: the UPDATE lands, its answer is lost, the retry (the same swap,
    about 6 s later since issue 24: the first exchange sends one copy) finds its prerequisite
    gone (NXRRSET). It used to read the record, find it right and say
    "already ... nothing sent" with a warning about a replayed UPDATE or another writer, and
    the hook never ran. Now it is what it is: a change that landed, said once, hook once."""
    out, hook = tmp_path / "hook.out", tmp_path / "hook"
    hook.write_text(f'#!/bin/sh\necho "$DDNS_EDGE_OLD -> $DDNS_EDGE_NEW" >> {out}\n')
    hook.chmod(0o755)
    world.set_wan(f"{A}/24")
    conf = write_config(tmp_path / "c", world, record("www", zone="example.com", server=world.bind_addr4),
                        agent={"hook": str(hook), "state_dir": world.state_dir("lost")})
    with Daemon(world, conf) as agent:
        agent.wait_log(f"{NAME} A: already {A} at the server; nothing sent", timeout=30)  # the start's UPDATE, and its check
        proxy.command("lose")
        world.set_wan(f"{B}/24")
        assert proxy.expect("lost") == "lost rcode=0"  # BIND took it; the agent never hears so
        agent.wait_log(f"{NAME} A: now {B} (was {A})")
        agent.wait_log(f"{NAME} A: already {B} at the server; nothing sent", timeout=30)  # the check after the window
        log = agent.log()
        assert log.count(f"already {B}") == 1 and log.index(f"now {B} (was {A})") < log.index(f"already {B}")
        assert "delayed or replayed" not in log and "error" not in log
        wait_for(lambda: out.exists() and out.read_text().count("\n") == 2, what="the hook's runs")
        assert out.read_text().splitlines() == [f" -> {A}", f"{A} -> {B}"]
        assert world.dig(NAME, "A") == [B]


def test_a_lost_race_reads_and_swaps_and_says_so(world, tmp_path):
    with agent_at(world, tmp_path, A) as agent:
        agent.wait_log(f"{NAME} A: already {A} at the server; nothing sent", timeout=30)
        assert world.nsupdate([f"update delete {NAME} A", f"update add {NAME} 60 A 198.51.100.99"]).returncode == 0
        before = world.dns_packets()
        world.set_wan(f"{B}/24")
        wait_dig(world, NAME, "A", [B])
        assert world.dns_packets() - before == 3  # the UPDATE from what it knew (NXRRSET), a read, the UPDATE
        agent.wait_log(f"{NAME} A: the server held 198.51.100.99, not {A} as this agent left it")
        assert f"now {B} (was 198.51.100.99)" in agent.log()
