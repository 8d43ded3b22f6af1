#!/usr/bin/env python3
"""The ddns-edge demo: a router, an isp and a real BIND in network namespaces.

Run as root: `make demo` (or `.venv/bin/python tools/demo.py`). It builds the world of
tests/netns/world.py, starts BIND with example.com, writes an agent config for
www.example.com, changes the router's WAN address, shows what BIND answers before and
after, and tears everything down (also on Ctrl-C and SIGTERM).

The agent is not wired in yet: see run_agent().
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "netns"))

from world import World  # noqa: E402

RECORD = "www.example.com"
NEW_WAN = "203.0.113.7/24"

_start = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - _start:6.3f}s] {message}", flush=True)


def write_config(world: World) -> str:
    """An agent config (DESIGN.md syntax) for RECORD on the router's WAN; returns its path."""
    path = os.path.join(world.dir, "ddns-edge.conf")
    text = (
        "config agent 'agent'\n"
        "    option log_level 'info'\n"
        f"    option state_dir '{world.dir}/state'\n\n"
        "config key 'home'\n"
        f"    option file '{world.key_file_path}'\n\n"
        "config record 'www'\n"
        f"    option name '{RECORD}'\n"
        "    option type 'A'\n"
        f"    option device '{world.wan}'\n"
        "    option ttl '60'\n"
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def run_agent(world: World, config_path: str) -> None:
    """PLACEHOLDER, does nothing yet: start the ddns-edge agent inside the router namespace.

    To be written with the agent (e.g. world.popen([sys.executable, "-m", "ddns_edge",
    "-c", config_path, "run"])) and a wait for the record to follow the WAN address.
    Until then no update is sent, and the demo says so.
    """


def show_record(world: World) -> None:
    answer = world.dig(RECORD, "A")
    say(f"BIND answers {RECORD} A: {', '.join(answer) if answer else '(no record)'} "
        f"(zone serial {world.serial('example.com')})")


def main() -> int:
    with World(handle_signals=True) as world:
        say(f"world {world.name}: namespaces {world.rtr_ns}, {world.isp_ns}, {world.srv_ns}")
        world.start_bind()
        say(f"BIND is up at {world.bind_addr4} and {world.bind_addr6}, key {world.key_name}")
        say(f"router {world.wan}: {', '.join(world.wan_addresses())}")
        show_record(world)

        config_path = write_config(world)
        say(f"agent config: {config_path}")
        run_agent(world, config_path)

        world.set_wan(NEW_WAN)
        say(f"router {world.wan} is now {', '.join(world.wan_addresses(4))}")
        show_record(world)
        say("(the agent is not wired into the demo yet: nothing updated the record)")
        say(f"DNS packets from the router to BIND: {world.dns_packets()}")
    say("world torn down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
