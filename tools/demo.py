#!/usr/bin/env python3
"""The ddns-edge demo: a router, an isp and a real BIND in network namespaces.

Run as root: `make demo` (or `.venv/bin/python -m tools.demo`). It builds the world of
tests/netns/world.py, starts BIND with example.com, writes an agent config for
www.example.com, changes the router's WAN address, shows what BIND answers before and
after, and tears everything down (also on Ctrl-C and SIGTERM).

The agent runs as `ddns-edge run` in the router namespace; its log is shown as it goes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from tests.netns.world import World

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


def run_agent(world: World, config_path: str) -> subprocess.Popen:
    """Start `ddns-edge run` inside the router namespace; its log lines are echoed here."""
    exe = os.path.join(os.path.dirname(sys.executable), "ddns-edge")
    proc = world.popen([exe, "-c", config_path, "run"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def echo() -> None:
        for line in proc.stdout:
            say(f"  agent | {line.rstrip()}")

    threading.Thread(target=echo, daemon=True).start()
    return proc


def wait_record(world: World, want: str, timeout: float = 10) -> float:
    """Poll BIND until RECORD A is `want`; returns the seconds it took."""
    start = time.monotonic()
    while world.dig(RECORD, "A") != [want]:
        if time.monotonic() - start > timeout:
            raise SystemExit(f"demo: {RECORD} did not become {want} within {timeout} s")
        time.sleep(0.005)
    return time.monotonic() - start


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
        agent = run_agent(world, config_path)
        first = world.wan_addresses(4)[0].split("/")[0]
        wait_record(world, first)
        show_record(world)

        for cidr in (NEW_WAN, "198.51.100.23/24"):
            before = world.dns_packets()
            world.set_wan(cidr)
            say(f"router {world.wan} is now {', '.join(world.wan_addresses(4))}")
            took = wait_record(world, cidr.split("/")[0])
            show_record(world)
            say(f"the record followed in {took * 1000:.0f} ms (as seen by polling dig), "
                f"with {world.dns_packets() - before} DNS messages from the router")

        before, last = world.dns_packets(), time.monotonic()
        say("waiting for the agent's one check of the record (once no copy of its last UPDATE can land) ...")
        while world.dns_packets() == before and time.monotonic() - last < 30:
            time.sleep(0.05)
        time.sleep(0.5)
        say(f"the check: {world.dns_packets() - before} DNS message(s), {time.monotonic() - last:.0f} s after the last change")
        before = world.dns_packets()
        say("idle for 3 s: nothing changes, so nothing is sent ...")
        time.sleep(3)
        say(f"DNS messages from the router while idle: {world.dns_packets() - before}")
        agent.terminate()
        say(f"agent stopped (exit status {agent.wait(5)})")
    say("world torn down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
