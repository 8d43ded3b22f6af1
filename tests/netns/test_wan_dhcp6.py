"""`ddns-edge run` on a DHCPv6 WAN: Kea and radvd at the isp, dhcpcd on the router.

All real: radvd announces 2001:db8:1::/64 with the M flag and no autonomous prefix (so no
SLAAC address); Kea 2.2's kea-dhcp6 hands the router (by its DUID) an IA_NA address; dhcpcd
9.4 (it handles the RAs itself) adds it as a /128 with DAD and adds the default route via
the isp's link-local address once it has a global address. The router keeps no route of
its own. The ISP moves the lease: Kea reserves another address for the router (reloaded on
SIGHUP) and the next renew gets the new address and the old one with lifetime 0; dhcpcd
deletes the old, adds the new (DAD again) and puts the default route back.
"""

from __future__ import annotations

import pytest

from tools.netns.agentlib import wait_dig
from tools.netns.wanclients import Dhcp6, serve, start_agent, trouble
from tools.netns.world import ISP_LINK_LOCAL

NAME = "www.example.com"


@pytest.fixture(scope="module")
def dhcp6():
    with serve(Dhcp6) as client:
        yield client


def test_the_record_follows_an_ia_na_renewed_to_another_address(dhcp6, tmp_path):
    w = dhcp6.world
    first = dhcp6.address()
    assert first == Dhcp6.FIRST
    assert [a["prefixlen"] for a in dhcp6.addr_info() if a.get("scope") == "global"] == [128]
    with start_agent(w, tmp_path, "AAAA", w.wan, first) as daemon:
        for new in ("2001:db8:1::d002", "2001:db8:1::d003"):
            old = dhcp6.address()
            dhcp6.move_lease(new)
            dhcp6.renew()
            assert dhcp6.wait_address(old, timeout=30) == new
            wait_dig(w, NAME, "AAAA", [new], timeout=30)
        log = daemon.log()
    assert trouble(log) == []
    assert [(r.get("gateway"), r["dev"]) for r in dhcp6.default_routes(6)] == [(ISP_LINK_LOCAL, w.wan)]
    assert w.history(NAME, "AAAA") == [Dhcp6.FIRST, "2001:db8:1::d002", "2001:db8:1::d003"]
