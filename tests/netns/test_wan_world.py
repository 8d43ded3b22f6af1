"""World's routes: "client" (the default) keeps no route of its own; "onlink" keeps its own."""

from __future__ import annotations

import json
import subprocess
import time

from tools.netns.world import ISP_LINK_LOCAL, World, _run


def routes(w: World, family: int) -> list[dict]:
    return json.loads(_run(["ip", "-n", w.rtr_ns, "-j", f"-{family}", "route", "show", "default"]).stdout)


def test_an_onlink_world_keeps_its_routes_across_changes():
    with World(routes="onlink") as w:
        w.set_wan("203.0.113.7/24")
        assert [(r["gateway"], r["flags"]) for r in routes(w, 4)] == [("198.51.100.1", ["onlink"])]


def test_client_routes_go_with_the_address_and_come_back_via_the_new_subnet():
    assert World().routes == "client"  # the default: no kinder than a router
    with World(routes="client") as w:
        assert [(r["gateway"], r.get("flags", [])) for r in routes(w, 4)] == [("198.51.100.1", [])]
        assert [r["gateway"] for r in routes(w, 6)] == [ISP_LINK_LOCAL]
        mon = w.popen(["ip", "-o", "monitor", "address", "route"], stdout=subprocess.PIPE, text=True)
        time.sleep(0.2)  # the monitor subscribed (what it prints is checked, not when)
        w.set_wan("203.0.113.7/24")
        assert [r["gateway"] for r in routes(w, 4)] == ["203.0.113.1"]
        assert "203.0.113.1/24" in w._isp_wan_addresses()
        time.sleep(0.2)
        mon.terminate()
        seen = [("route" if line.startswith("default") else "address")
                for line in mon.stdout.read().splitlines()
                if line.startswith("default via 203.0.113.1") or ("inet 203.0.113.7/24" in line and not line.startswith("Deleted"))]
        # the old address went first, taking the old route with it (the kernel says nothing of
        # that route); then the new address, then the client's route: as udhcpc's stock script
        assert seen == ["address", "route"]


def test_strip_wan_leaves_the_link_bare_for_a_client():
    with World() as w:
        w.strip_wan()
        assert w.routes == "client"
        assert routes(w, 4) == routes(w, 6) == [] and w.wan_addresses() == []
