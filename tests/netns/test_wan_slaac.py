"""`ddns-edge run` on a SLAAC WAN: radvd at the isp, the kernel's autoconfiguration on the router.

All real: radvd 2.19 announces 2001:db8:1::/64; the router's kernel does SLAAC with DAD on
(dad_transmits 1) and use_tempaddr=2, so temporary (privacy) addresses exist beside the
stable one, and its default route is the RA's, via the isp's link-local address (the kernel
adds it as it reads the RA, before the prefix's addresses, which then wait out DAD). The
router keeps no route of its own. Renumbering: radvd announces 2001:db8:2::/64 and the old
prefix with preferred lifetime 0, so the old addresses become deprecated.

Promises held: the record gets the stable address, never a temporary or deprecated one, and
renumbering moves it without an error or a retry.
"""

from __future__ import annotations

import ipaddress

import pytest

from tools.netns.agentlib import Daemon, wait_dig
from tools.netns.wanclients import SLAAC_PREFIX2, Slaac, serve, start_agent, trouble
from tools.netns.world import ISP_LINK_LOCAL

NAME = "www.example.com"


@pytest.fixture(scope="module")
def slaac():
    with serve(Slaac) as client:
        yield client


def agent(slaac, tmp_path) -> Daemon:
    return start_agent(slaac.world, tmp_path, "AAAA", slaac.world.wan, slaac.stable(slaac.prefix))


def test_the_record_gets_the_stable_address_never_a_temporary_one(slaac, tmp_path):
    with agent(slaac, tmp_path):
        assert slaac.temporary(), "use_tempaddr=2 made no temporary address"
        routes = slaac.default_routes(6)
        assert [(r.get("gateway"), r.get("protocol")) for r in routes] == [(ISP_LINK_LOCAL, "ra")]
    published = slaac.world.history(NAME, "AAAA")
    assert published and not set(published) & set(slaac.temporary())


def test_renumbering_moves_the_record_to_the_new_prefix_without_error_or_retry(slaac, tmp_path):
    w = slaac.world
    with agent(slaac, tmp_path) as daemon:
        stable = slaac.stable(slaac.prefix)
        old = {a["local"] for a in slaac.addresses()}
        new = slaac.renumber(SLAAC_PREFIX2)
        wait_dig(w, NAME, "AAAA", [new], timeout=30)
        deprecated = {a["local"] for a in slaac.addresses() if a.get("deprecated")}
        assert deprecated == old  # every address of the old prefix, stable and temporary
        log = daemon.log()
    assert trouble(log) == []
    assert ipaddress.ip_address(new) in ipaddress.ip_network(SLAAC_PREFIX2)
    assert w.history(NAME, "AAAA") == [stable, new]  # never a temporary or a deprecated one
