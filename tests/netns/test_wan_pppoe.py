"""`ddns-edge run` on a PPPoE WAN: rp-pppoe for real, pppd's kernel side stood in.

Real: rp-pppoe 3.15's `pppoe-server` at the isp (discovery, sessions, the address pool
198.51.100.101-104 handed out in turn, the peer 198.51.100.1) and its `pppoe` client on the
router, carrying every PPP frame in PPPoE session packets over the veth; BIND; the agent.
Stood in: pppd, on both sides, by tools/netns/pppd_standin.py, because this kernel has no
PPP (no /dev/ppp, no AF_PPPOX sockets), so pppd itself cannot run. The stand-in does to the
kernel what pppd 2.4.9 does, in pppd's order: per connection a new unit renamed `pppoe-wan`
(a tun device: a new ifindex each time), the MTU, the address with its peer (local != peer,
/32) set while the device is DOWN, then up, then the default route (`defaultroute`), or with
`nodefaultroute` nothing more, and OpenWrt's ip-up script (ppp-up) hands the link to netifd,
which adds the default route via the peer (tools/netns/netifd_standin.py stands in for both:
the route comes when the script's update has reached netifd, no sleep added). On hang-up:
down, the address goes, the device goes. See their docstrings.

The router keeps no route of its own: what routes it has, pppd (or "netifd") made.
"""

from __future__ import annotations

import pytest

from tools.netns.agentlib import Daemon, wait_dig
from tools.netns.wanclients import PPPOE_LOCAL, PPPOE_POOL, Pppoe, serve, start_agent, trouble

NAME = "www.example.com"


@pytest.fixture(scope="module", params=["pppd-defaultroute", "openwrt-nodefaultroute"])
def pppoe(request):
    with serve(Pppoe, defaultroute=request.param == "pppd-defaultroute") as client:
        yield client


def agent(pppoe, tmp_path) -> Daemon:
    return start_agent(pppoe.world, tmp_path, "A", pppoe.ifname, pppoe.connection()["address"])


def test_the_record_follows_each_reconnect_to_a_new_device(pppoe, tmp_path):
    w = pppoe.world
    with agent(pppoe, tmp_path):
        before = pppoe.connection()
        for _ in range(2):
            now = pppoe.reconnect()
            assert now["ifindex"] != before["ifindex"]
            assert now["address"] in PPPOE_POOL and now["address"] != before["address"]
            assert now["peer"] == PPPOE_LOCAL != now["address"]
            wait_dig(w, NAME, "A", [now["address"]], timeout=30)
            before = now
    routes = pppoe.default_routes(4)
    assert [r["dev"] for r in routes] == [pppoe.ifname]  # the router's only route: the client's
    if pppoe.defaultroute:
        assert "gateway" not in routes[0]  # pppd: `default dev pppoe-wan`
    else:
        assert routes[0]["gateway"] == PPPOE_LOCAL and routes[0]["protocol"] == "static"  # netifd
    published = w.history(NAME, "A")
    assert published and set(published) <= set(PPPOE_POOL)  # never the peer


def test_a_reconnect_logs_no_error_and_no_retry(pppoe, tmp_path):
    """pppd sets the address while the device is down, brings it up, then adds the route (or
    netifd does, once ppp-up's update reaches it): the agent's first tries find no route, and
    it waits for the route event without an error or a backoff; the device gone in between is
    said at info level, never as a warning."""
    w = pppoe.world
    with agent(pppoe, tmp_path) as daemon:
        for _ in range(2):
            now = pppoe.reconnect()
            wait_dig(w, NAME, "A", [now["address"]], timeout=30)
        log = daemon.log()
    assert trouble(log) == []
