"""Answers that must not be trusted: a misbehaving server of our own in the server namespace.

An update counts as landed only on a correctly signed NOERROR from the server asked,
answering the request; anything else is ignored, counted and waited past until the
deadline, so that the server's own answer right behind a forged one is still taken.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tools.netns.agentlib import Daemon, ddns_edge, record, write_config

HERE = os.path.dirname(os.path.abspath(__file__))
ADDRESS, SPOOF = "192.0.2.54", "192.0.2.55"


@pytest.fixture
def misbehave(module_world):
    world = module_world
    for a in (ADDRESS, SPOOF):
        world.ns_exec(world.srv_ns, ["ip", "addr", "add", f"{a}/32", "dev", "lo"], check=False)
    procs = []

    def start(mode):
        proc = subprocess.Popen(
            ["ip", "netns", "exec", world.srv_ns, sys.executable, os.path.join(HERE, "misbehave.py"), ADDRESS, SPOOF, mode, world.key_name, world.key_secret],
            stdout=subprocess.PIPE, text=True,
        )
        procs.append(proc)
        assert proc.stdout.readline().strip() == "ready"
        return world

    start.procs = procs
    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def once(world, tmp_path):
    conf = write_config(tmp_path / "c", world, record("www", zone="example.com", server=ADDRESS))
    return ddns_edge(world, conf, "once")


@pytest.mark.parametrize("mode", ["fine", "wrong-id", "truncated", "drop-first"])
def test_good_answers_are_found_among_bad_ones(misbehave, tmp_path, mode):
    p = once(misbehave(mode), tmp_path)
    assert p.returncode == 0, p.stderr
    assert "www.example.com A: now 198.51.100.2" in p.stderr


@pytest.mark.parametrize("mode, kind", [
    ("forged-first", "NOERROR without a valid signature"),
    ("refused-first", "unsigned REFUSED"),
    ("servfail-first", "unsigned SERVFAIL"),
], ids=["forged-first", "refused-first", "servfail-first"])
def test_the_servers_answer_right_behind_a_forged_one_lands(misbehave, tmp_path, mode, kind):
    """A forged answer with the right ID, just before the real one, used to end the exchange
    (and an unsigned REFUSED or SERVFAIL was taken as the server's verdict)."""
    p = once(misbehave(mode), tmp_path)
    assert p.returncode == 0, p.stderr
    assert "www.example.com A: now 198.51.100.2" in p.stderr
    assert f"192.0.2.54: ignored 1 answer not correctly signed ({kind}) before its correctly signed answer" in p.stderr


@pytest.mark.parametrize(
    "mode, says",
    [
        # (one answer to each of the sends at 0, 1 and 3 s: how many came by the deadline is not the point)
        ("unsigned", r"no correctly signed answer within 5 s; ignored \d+ answers? not correctly signed \(NOERROR without a valid signature\)"),
        ("badsig", r"no correctly signed answer within 5 s; ignored \d+ answers? not correctly signed"),
        ("unsigned-refused", r"no correctly signed answer within 5 s; ignored \d+ answers? not correctly signed \(unsigned REFUSED\)"),
        ("unsigned-servfail", r"no correctly signed answer within 5 s; ignored \d+ answers? not correctly signed \(unsigned SERVFAIL\)"),
        ("garbage", r"no answer within 5 s \(ignored \d+ answers? not answering the request\)"),
        ("spoof", r"no answer within 5 s;"),
    ],
    ids=["unsigned", "badsig", "unsigned-refused", "unsigned-servfail", "garbage", "spoof"],
)
def test_untrusted_answers_never_count(misbehave, tmp_path, mode, says):
    p = once(misbehave(mode), tmp_path)
    assert p.returncode == 1, p.stderr
    assert re.search(says, p.stderr) and "Traceback" not in p.stderr, p.stderr
    assert "now 198.51.100.2" not in p.stderr
    assert "update-policy" not in p.stderr and "server's log" not in p.stderr  # an unsigned error is not the server's verdict


def test_a_server_that_dribbles_its_tcp_answer_holds_nothing_up(misbehave, tmp_path):
    """Truncated over UDP, then over TCP a byte every 2 s: the exchange used to wait as long
    as bytes kept coming (a timeout per recv), and `once` and every other zone with it (the
    issue saw an AAAA record in another zone over IPv6 stalled for 60 s and more). Now the
    exchange ends at its deadline and the other record lands."""
    world = misbehave("dribble")
    conf = write_config(tmp_path / "c", world, record("www", zone="example.com", server=ADDRESS),
                        record("v6", name="dribble-v6.example.com", rtype="AAAA", zone="example.com", server=world.bind_addr6))
    p = ddns_edge(world, conf, "once", timeout=40)
    assert p.returncode == 1, p.stderr
    assert "www.example.com A: read at 192.0.2.54 with key ddns-key: no answer within 5 s" in p.stderr, p.stderr
    assert "dribble-v6.example.com AAAA: now 2001:db8:1::2 (was nothing)" in p.stderr
    assert world.dig("dribble-v6.example.com", "AAAA") == ["2001:db8:1::2"]


def seen(proc):
    """The opcodes the misbehaving server saw, once it is stopped."""
    proc.kill()
    return proc.stdout.read().split()


def test_a_lost_race_is_read_again_and_retried(misbehave, tmp_path):
    world = misbehave("race")
    p = once(world, tmp_path)
    assert p.returncode == 0, p.stderr
    assert seen(misbehave.procs[-1]) == ["QUERY", "UPDATE", "QUERY", "UPDATE"]


def test_a_race_lost_every_time_gives_up_after_three_rounds(misbehave, tmp_path):
    world = misbehave("race-always")
    p = once(world, tmp_path)
    assert p.returncode == 1
    assert "the record kept changing under us (NXRRSET) 3 times: another writer is updating it" in p.stderr, p.stderr
    assert seen(misbehave.procs[-1]) == ["QUERY", "UPDATE"] * 3


def test_a_lost_answer_is_asked_again_within_the_timeout(misbehave, tmp_path):
    world = misbehave("drop-first")
    p = once(world, tmp_path)
    assert p.returncode == 0, p.stderr
    assert seen(misbehave.procs[-1]) == ["QUERY", "UPDATE"]  # the dropped first send is not printed


def test_a_server_slower_than_the_first_timeout_gets_the_update_through(misbehave, tmp_path):
    """Every answer 6 s late: the first exchange gives up after 5 s, and each retry is given
    longer (10 s, then 20 s at most). With a fixed 5 s it never landed."""
    world = misbehave("slow")
    conf = write_config(tmp_path / "c", world, record("www", zone="example.com", server=ADDRESS),
                        agent={"state_dir": str(tmp_path / "state")})
    with Daemon(world, conf) as agent:
        agent.wait_log("no answer within 5 s", timeout=30)
        agent.wait_log("www.example.com A: now 198.51.100.2", timeout=60)
