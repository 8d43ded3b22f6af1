"""Answers that must not be trusted: a misbehaving server of our own in the server namespace.

An update counts as landed only on a correctly signed NOERROR from the server asked,
answering the request; anything else is ignored (and the exchange times out) or rejected.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.netns.agentlib import ddns_edge, record, write_config

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


@pytest.mark.parametrize(
    "mode, says",
    [
        ("unsigned", "not correctly signed"),
        ("badsig", "not correctly signed"),
        ("garbage", "no answer within 5 s"),
        ("spoof", "no answer within 5 s"),
    ],
)
def test_untrusted_answers_never_count(misbehave, tmp_path, mode, says):
    p = once(misbehave(mode), tmp_path)
    assert p.returncode == 1, p.stderr
    assert says in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert "now 198.51.100.2" not in p.stderr


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
