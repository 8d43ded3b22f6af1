#!/usr/bin/env python3
"""The ddns-edge demo: a router, an isp and a real BIND in network namespaces.

Run as root: `make demo` (or `.venv/bin/python -m tools.demo`). It builds the world of
tools/netns/world.py, starts BIND with example.com, writes an agent config for
www.example.com, changes the router's WAN address, shows what BIND answers before and
after; then, for IPv6, has the ISP delegate a prefix (Kea, dhcpcd), puts a NAS behind the
router on br-lan, adds its AAAA record (option host_id) with a reload, and renumbers; and
tears everything down (also on Ctrl-C and SIGTERM).

The agent runs as `ddns-edge run` in the router namespace; its log is shown as it goes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from tools.netns.lan import Lan, interface_id
from tools.netns.lan import eui64 as lan_eui64
from tools.netns.world import World

RECORD = "www.example.com"
NEW_WAN = "203.0.113.7/24"

_start = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - _start:6.3f}s] {message}", flush=True)


def write_config(world: World, lan_record: str = "") -> str:
    """An agent config (DESIGN.md syntax) for RECORD on the router's WAN (and `lan_record`); returns its path."""
    path = os.path.join(world.dir, "ddns-edge.conf")
    text = (
        "config agent 'agent'\n"
        "    option log_level 'info'\n"
        f"    option state_dir '{world.state_dir('demo')}'\n\n"
        "config key 'home'\n"
        f"    option file '{world.key_file_path}'\n\n"
        "config record 'www'\n"
        f"    option name '{RECORD}'\n"
        "    option type 'A'\n"
        f"    option device '{world.wan}'\n"
        "    option ttl '60'\n"
        + lan_record
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


def wait_record(world: World, want: str, name: str = RECORD, rtype: str = "A", timeout: float = 10) -> float:
    """Poll BIND until `name` `rtype` is `want`; returns the seconds it took."""
    start = time.monotonic()
    while world.dig(name, rtype) != [want]:
        if time.monotonic() - start > timeout:
            raise SystemExit(f"demo: {name} {rtype} did not become {want} within {timeout} s")
        time.sleep(0.005)
    return time.monotonic() - start


def show_record(world: World, name: str = RECORD, rtype: str = "A") -> None:
    answer = world.dig(name, rtype)
    say(f"BIND answers {name} {rtype}: {', '.join(answer) if answer else '(no record)'} "
        f"(zone serial {world.serial('example.com')})")


NAS, NAS_MAC = "nas.example.com", "aa:bb:cc:dd:ee:ff"


def ipv6_part(world: World, config_path: str, agent: subprocess.Popen) -> None:
    """A host behind the router, on the prefix the ISP delegated, followed through a renumbering."""
    say("IPv6: the ISP delegates a prefix to the router (Kea -> dhcpcd); br-lan takes a /64 of it (radvd) ...")
    lan = Lan(world).start()
    nas = lan.add_host("nas", mac=NAS_MAC)
    nas.wait_slaac()
    address = lan_eui64(NAS_MAC, lan.prefix)
    say(f"br-lan: {lan.prefix}; a NAS behind the router (MAC {NAS_MAC}) took {address}")
    write_config(world, "\nconfig record 'nas'\n"
                        f"    option name '{NAS}'\n    option type 'AAAA'\n    option device 'br-lan'\n"
                        f"    option host_id '{interface_id(address)}'\n")
    say(f"agent config: + {NAS} AAAA, option host_id '{interface_id(address)}' on br-lan; SIGHUP (a reload, no restart)")
    agent.send_signal(signal.SIGHUP)
    wait_record(world, address, NAS, "AAAA", timeout=30)
    show_record(world, NAS, "AAAA")
    say("the ISP renumbers: a new prefix is delegated, the old one deprecated ...")
    new_prefix = lan.renumber()
    new = lan_eui64(NAS_MAC, new_prefix)
    at = time.monotonic()
    took = wait_record(world, new, NAS, "AAAA", timeout=30)
    show_record(world, NAS, "AAAA")
    say(f"br-lan: {new_prefix}; {NAS} AAAA followed {took * 1000:.0f} ms after the renumbering was complete "
        f"(as seen by polling dig; {time.monotonic() - at:.1f} s in all)")


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
            sent = world.dns_packets() - before
            say(f"the record followed in {took * 1000:.0f} ms (as seen by polling dig), "
                f"with {sent} DNS message{'' if sent == 1 else 's'} from the router")

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

        ipv6_part(world, config_path, agent)
        agent.terminate()
        say(f"agent stopped (exit status {agent.wait(5)})")
    say("world torn down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
