"""Clock skew: a router without an RTC boots with a wrong clock and TSIG fails with BADTIME.

The wrong clock is Debian's libfaketime preloaded into ddns-edge only (BIND keeps the real
time); with FAKETIME_TIMESTAMP_FILE the test sets the clock right later, as NTP would.
"""

from __future__ import annotations

import glob
import os
import re
import time

import pytest

from tools.netns.agentlib import EXE, Daemon, record, wait_dig, write_config

WHERE = dict(zone="example.com", server="192.0.2.53")


@pytest.fixture
def libfaketime():
    found = glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
    assert found, "libfaketime is missing: apt-get install faketime (make test installs it)"
    return found[0]


def test_once_names_the_skew_with_both_clocks(world, tmp_path, libfaketime):
    conf = write_config(tmp_path / "c", world, record("www", **WHERE))
    env = dict(os.environ, LD_PRELOAD=libfaketime, FAKETIME="-2h", FAKETIME_DONT_FAKE_MONOTONIC="1")
    p = world.exec([EXE, "-c", conf, "once"], env=env)
    assert p.returncode == 1
    m = re.search(r"clocks disagree \(BADTIME\): local time is (.+) UTC, the server's (.+) UTC; set the router's clock \(NTP\)", p.stderr)
    assert m, p.stderr
    local, server = (time.mktime(time.strptime(t, "%Y-%m-%d %H:%M:%S")) for t in m.groups())
    assert abs(server - local - 7200) < 60  # both clocks, as they are
    assert world.dig("www.example.com", "A") == []


def test_run_says_it_once_and_lands_when_the_clock_is_set(world, tmp_path, libfaketime):
    clock = tmp_path / "clock"
    clock.write_text("-2h\n")
    conf = write_config(tmp_path / "c", world, record("www", **WHERE), agent={"state_dir": str(tmp_path / "state")})
    env = {"LD_PRELOAD": libfaketime, "FAKETIME_TIMESTAMP_FILE": str(clock), "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    with Daemon(world, conf, env=env) as agent:
        # three tries: said once, then reminders. An answer that is not correctly signed (a
        # TSIG error's is not) is waited past to the deadline, which grows: 5, 10, 20 s
        agent.wait_log("still failing", count=2, timeout=120)
        assert agent.log().count("error: ") == 1, agent.log()
        assert world.dig("www.example.com", "A") == []
        clock.write_text("+0\n")  # NTP sets the clock
        wait_dig(world, "www.example.com", "A", ["198.51.100.2"], timeout=90)
