"""Routes are events too (issue 11): the address comes first, the route a moment later.

The world keeps no route of its own (routes="client"): the test takes the role of a WAN
client that sets the new address and adds the default route only later."""

from __future__ import annotations

import calendar
import json
import time

from tools.netns.agentlib import Daemon, record, wait_dig, wait_for, write_config

NAME = "www.example.com"


def start(world, tmp_path):
    state = tmp_path / "state"
    conf = write_config(tmp_path / "c", world, record("www", zone="example.com", server=world.bind_addr4), agent={"state_dir": str(state)})
    agent = Daemon(world, conf)
    wait_dig(world, NAME, "A", ["198.51.100.2"])
    return agent, state / "state.json"


def address_without_route(world, cidr):
    """The old address goes (and the kernel's route with it), the new one comes; no route yet."""
    old = world.wan_addresses(4)
    world.ns_exec(world.rtr_ns, ["ip", "-batch", "-"], input="".join(f"addr del {a} dev {world.wan}\n" for a in old)
                  + f"addr add {cidr} dev {world.wan}\n")


def add_route(world):
    world.ns_exec(world.rtr_ns, ["ip", "route", "replace", "default", "via", "198.51.100.1", "dev", world.wan])


def row(path):
    with open(path) as f:
        return json.load(f)["records"][0]


def test_the_route_coming_a_moment_later_costs_no_error_and_no_backoff(world, tmp_path):
    agent, _ = start(world, tmp_path)
    with agent:
        address_without_route(world, "198.51.100.77/24")
        agent.wait_log(f"{NAME} A: no route to 192.0.2.53 yet; waiting for one")
        add_route(world)
        wait_dig(world, NAME, "A", ["198.51.100.77"])
        log = agent.log()
    assert [line for line in log.splitlines() if line.startswith("error:") or ": retry " in line] == []


def test_no_route_for_long_is_an_error_and_the_route_still_ends_the_wait_at_once(world, tmp_path):
    agent, state = start(world, tmp_path)
    with agent:
        address_without_route(world, "198.51.100.78/24")
        agent.wait_log("still no route after 10 s", timeout=30)
        assert "check the router's default route" in agent.log()
        # backing off now: wait until the next try is planned well ahead (4 failures: 8 s)
        wait_for(lambda: row(state)["failures"] >= 4, 40, "the fourth failure")
        planned = calendar.timegm(time.strptime(row(state)["next_retry"], "%Y-%m-%dT%H:%M:%SZ"))
        add_route(world)
        wait_dig(world, NAME, "A", ["198.51.100.78"])
        assert time.time() < planned - 2  # the route event, not the planned retry, ended the wait
        agent.wait_log("now 198.51.100.78 (was 198.51.100.2)")
