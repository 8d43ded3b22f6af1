"""`ddns-edge run` on a DHCPv4 WAN: dnsmasq at the isp, busybox udhcpc on the router.

All real: dnsmasq 2.90 serves 198.51.100.100-199 (authoritative; a dhcp-host entry moves
the router), busybox udhcpc runs with a script that does what OpenWrt's
/lib/netifd/dhcp.script and netifd do with a lease: the address first, then the default
route (via the router option, proto static, src the address), then stale addresses go; on
deconfig the address goes and the kernel takes the route with it. The router keeps no route
of its own (World(routes="client") with the WAN left bare for the client).

The ISP moving the lease: a NAK on renew (udhcpc deconfigures, waits its 3 s, discovers,
binds the new address) and a release followed by a renew.
"""

from __future__ import annotations

import ipaddress

import pytest

from tests.netns.agentlib import Daemon, wait_dig, wait_for
from tests.netns.wanclients import DHCP4_RANGE, Dhcp4, serve, start_agent, trouble

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
