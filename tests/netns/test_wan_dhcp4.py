"""`ddns-edge run` on a DHCPv4 WAN as OpenWrt runs it: dnsmasq at the isp, busybox udhcpc under
netifd on the router.

Real: dnsmasq 2.90 serves 198.51.100.100-199 (authoritative; a dhcp-host entry moves the
router), busybox udhcpc, BIND, the agent. Stood in: OpenWrt's dhcp.script and netifd, by
tools/netns/netifd_standin.py (its docstring says what netifd does, from its sources), since
netifd cannot run here without ubus, procd and OpenWrt's shell libraries. netifd's order and
timing: on deconfig (a NAK, a release) the address goes and the kernel takes the default route
with it; on bound the new address comes, and its default route (proto static, the address as
its source) in the same update, microseconds later. The router keeps no route of its own
(World(routes="client") with the WAN left bare for the client).

The ISP moving the lease: a NAK on renew (udhcpc deconfigures, waits its 3 s, discovers,
binds the new address) and a release followed by a renew: the WAN goes without an address
for seconds, which the agent says at info level, never as a warning (issue 19).
"""

from __future__ import annotations

import ipaddress
import subprocess
import time

import pytest

from tools.netns.agentlib import Daemon, wait_dig, wait_for
from tools.netns.wanclients import DHCP4_RANGE, Dhcp4, serve, start_agent, trouble

NAME = "www.example.com"


@pytest.fixture(scope="module")
def dhcp():
    with serve(Dhcp4) as client:
        yield client


def agent(dhcp, tmp_path) -> Daemon:
    return start_agent(dhcp.world, tmp_path, "A", dhcp.world.wan, dhcp.address())


def nak_on_renew(dhcp, new: str) -> str:
    old = dhcp.address()
    naks = dhcp.log("events.log").count(" nak ")
    dhcp.move_lease(new)
    dhcp.renew()
    got = dhcp.wait_address(old, timeout=30)
    assert dhcp.log("events.log").count(" nak ") == naks + 1
    return got


def release_and_renew(dhcp, new: str) -> str:
    old = dhcp.address()
    dhcp.move_lease(new)
    dhcp.release()
    wait_for(lambda: not dhcp.addr_info() or all(a["family"] != "inet" for a in dhcp.addr_info()), 10,
             "the released address to go")
    dhcp.renew()
    return dhcp.wait_address(old, timeout=30)


def test_the_record_follows_a_lease_moved_with_a_nak_on_renew(dhcp, tmp_path):
    w = dhcp.world
    with agent(dhcp, tmp_path):
        got = nak_on_renew(dhcp, "198.51.100.150")
        assert got == "198.51.100.150"
        wait_dig(w, NAME, "A", [got], timeout=30)
    route = dhcp.default_routes(4)
    assert [(r["gateway"], r["dev"], r.get("prefsrc")) for r in route] == [("198.51.100.1", w.wan, got)]


def test_the_record_follows_a_release_and_renew(dhcp, tmp_path):
    w = dhcp.world
    with agent(dhcp, tmp_path):
        got = release_and_renew(dhcp, "198.51.100.160")
        assert got == "198.51.100.160"
        wait_dig(w, NAME, "A", [got], timeout=30)
    lo, hi = (ipaddress.ip_address(a) for a in DHCP4_RANGE)
    assert all(lo <= ipaddress.ip_address(a) <= hi for a in w.history(NAME, "A"))  # leases only


def test_a_moved_lease_logs_no_error_and_no_retry(dhcp, tmp_path):
    w = dhcp.world
    with agent(dhcp, tmp_path) as daemon:
        wait_dig(w, NAME, "A", [nak_on_renew(dhcp, "198.51.100.170")], timeout=30)
        wait_dig(w, NAME, "A", [release_and_renew(dhcp, "198.51.100.180")], timeout=30)
        log = daemon.log()
    assert trouble(log) == []


def test_a_renumbering_in_netifds_order_logs_no_warning_and_the_record_follows(dhcp, tmp_path):
    """netifd's down, then up: the old address (and the default route with it) goes at the NAK,
    the new address comes 3 s later with its route in the same update. The agent says the
    address is missing at info level, and the record has the new address right afterwards."""
    w = dhcp.world
    old, new = dhcp.address(), "198.51.100.190"
    mon = w.popen(["ip", "-o", "-4", "monitor", "address", "route"], stdout=subprocess.PIPE, text=True)
    with agent(dhcp, tmp_path) as daemon:
        time.sleep(0.2)  # the monitor subscribed (what it prints is checked, not when)
        assert nak_on_renew(dhcp, new) == new
        wait_dig(w, NAME, "A", [new], timeout=10)
        log = daemon.log()
    mon.terminate()
    seen = []
    for line in mon.stdout.read().splitlines():
        if f"inet {old}/" in line and line.startswith("Deleted"):
            seen.append("old address deleted")
        elif f"inet {new}/" in line and not line.startswith("Deleted"):
            seen.append("new address")
        elif line.startswith("default via") and f"src {new}" in line:
            seen.append("default route")
    assert seen == ["old address deleted", "new address", "default route"]  # netifd's order
    assert trouble(log) == []  # no warning, no error, no retry
    assert f"info: {NAME} A: no address (interface {w.wan}: no IPv4 address); record left as it is ({old})" in log
