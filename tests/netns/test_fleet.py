"""Issue 24: many agents, one primary, its secondary; the primary stopped while they all renumber.

Not timed (the figures are the bench's: `python -m tools.bench --only-fleet`): AGENTS agents,
each `ddns-edge run` with its own config, record and key (granted only its own name), follow
the router's one WAN device. The primary gets SIGSTOP, the WAN address changes (every agent
sends its UPDATE into a stopped server), and SIGCONT after STOP_S: every record must end at
the new address at the primary and at its secondary, none lost, nothing else ever published,
and no agent says an error line (its update landed within 30 s: a warning at most).
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from tools.bench.fleet import agent_config, name
from tools.bench.report import ZONE
from tools.netns.agentlib import Daemon, wait_for
from tools.netns.world import Zone

pytestmark = pytest.mark.netns

AGENTS = 15
STOP_S = 8.0  # longer than an UPDATE's first exchange (5 s): every agent times out and retries


def _all_right(world, address: str, server: str) -> bool:
    return all(world.dig(name(i), "A", server=server) == [address] for i in range(AGENTS))


def test_a_burst_into_a_stopped_primary_converges_with_no_record_lost(make_world):
    keys = [f"f{i:04d}-key" for i in range(AGENTS)]
    world = make_world(zones=[Zone(ZONE, policy=[f"grant {k} name {name(i)}. A" for i, k in enumerate(keys)])],
                       keys=keys, secondary=True)
    old = world.wan_addresses(4)[0].split("/")[0]
    agents = [Daemon(world, agent_config(world, i, os.path.join(world.dir, f"fleet{i}.conf"), world.state_dir(f"f{i}")))
              for i in range(AGENTS)]
    try:
        wait_for(lambda: _all_right(world, old, world.secondary_addr4), 90, f"all {AGENTS} records at {old} at the secondary", 0.2)
        offsets = [os.path.getsize(a.log_path) for a in agents]
        os.kill(world.named_pid, signal.SIGSTOP)
        try:
            world.set_wan("203.0.113.9/24")
            time.sleep(STOP_S)
        finally:
            os.kill(world.named_pid, signal.SIGCONT)
        wait_for(lambda: _all_right(world, "203.0.113.9", world.bind_addr4), 90, "all records at the new address at the primary", 0.2)
        wait_for(lambda: _all_right(world, "203.0.113.9", world.secondary_addr4), 30, "... and at the secondary", 0.2)
        for i, agent in enumerate(agents):
            assert agent.proc.poll() is None, f"agent {i} exited:\n{agent.log()}"
            assert set(world.history(name(i))) <= {old, "203.0.113.9"}, world.history(name(i))
            said = agent.log()[offsets[i]:]
            assert "retry 1 in" in said, said  # it did time out: the primary was stopped
            assert not [line for line in said.splitlines() if line.startswith("error:")], said
    finally:
        for agent in agents:
            agent.proc.send_signal(signal.SIGTERM)
        for agent in agents:
            agent.stop()
