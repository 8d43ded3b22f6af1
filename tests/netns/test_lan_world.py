"""Tests of the LAN side of the world (lan.py): prefix delegation, br-lan, hosts, renumbering.

Everything here is real: Kea delegates, dhcpcd asks, radvd advertises, the hosts' kernels
do SLAAC, DAD and temporary addresses, the router's kernel keeps the neighbour table.
lan_hook.py plays netifd and odhcpd (see lan.py); these tests hold it to what they do.
"""

from __future__ import annotations

import ipaddress
import re
import subprocess
import threading

import pytest

from tools.netns.agentlib import wait_for
from tools.netns.lan import ULA_PREFIX, Lan, Lifetimes, eui64, in_prefix, interface_id, pool
from tests.netns.test_world import leftovers
from tools.netns.world import World, netns_names

NAS_MAC = "aa:bb:cc:dd:ee:ff"  # EUI-64: ::a8bb:ccff:fedd:eeff
TV_MAC = "02:dd:ed:00:00:22"
SLACK = 300  # seconds a lifetime may have run down between the lease and the look: not a timing


def first_64(prefix: str) -> str:
    return str(next(ipaddress.ip_network(prefix).subnets(new_prefix=64)))


def router_routes(world: World) -> str:
    return world.exec(["ip", "-6", "route"], check=True).stdout


def isp_routes(world: World) -> str:
    return world.ns_exec(world.isp_ns, ["ip", "-6", "route"]).stdout


def srv_ping(world: World, address: str) -> bool:
    """One echo request from srv ("the internet") to `address`: answered or not."""
    return world.ns_exec(world.srv_ns, ["busybox", "ping", "-6", "-c", "1", "-W", "2", address],
                         check=False).returncode == 0


def srv_reaches(world: World, address: str) -> bool:
    """srv gets an answer from `address` (a few tries: a busy machine may lose the first)."""
    return bool(wait_for(lambda: srv_ping(world, address), 15, f"an answer from {address} to srv", interval=0.1))


def by_address(info: list[dict]) -> dict[str, dict]:
    return {a["local"]: a for a in info}


class AddressEvents:
    """`ip -o -6 monitor address` in the router namespace, read by a thread."""

    LINE = re.compile(r"^(?P<deleted>Deleted )?\d+: (?P<dev>\S+)\s+inet6 (?P<address>[0-9a-f:]+)/\d+ "
                      r".*preferred_lft (?P<preferred>\S+)")

    def __init__(self, world: World):
        self.proc = world.popen(["ip", "-o", "-6", "monitor", "address"], stdout=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        marker = "fd00:ffff::1/128"  # events we make until one shows: the monitor listens

        def listening():
            world.exec(["ip", "addr", "replace", marker, "dev", "lo", "nodad"], check=True)
            return any(marker.split("/")[0] in line for line in self.lines)
        wait_for(listening, 10, "ip monitor to listen", interval=0.1)

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    def events(self, dev: str) -> list[tuple[str, str, str]]:
        """(NEW or DEL, address, preferred_lft) for each address event on `dev`, in order."""
        found = []
        for line in list(self.lines):
            m = self.LINE.match(line)
            if m and m["dev"] == dev:
                found.append(("DEL" if m["deleted"] else "NEW", m["address"], m["preferred"]))
        return found

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


@pytest.fixture(scope="module")
def lan():
    """One LAN for the tests that only look: nas (EUI-64), printer (token ::1234) and tv
    (stable-privacy, temporary)."""
    with World() as w:
        lan = Lan(w).start()
        lan.add_host("nas", mac=NAS_MAC)
        lan.add_host("printer", token="::1234")
        lan.add_host("tv", mac=TV_MAC, addrgen="stable-privacy", temporary=True)
        for host in lan.hosts.values():
            host.wait_slaac()
        yield lan


@pytest.fixture
def make_lan():
    worlds: list[World] = []

    def make(**kw) -> Lan:
        w = World()
        worlds.append(w)
        w.build()
        return Lan(w, **kw).start()

    yield make
    for w in worlds:
        w.close()


# -- prefix delegation -------------------------------------------------------------------


def test_the_delegated_prefix_is_on_br_lan_with_the_lease_lifetimes(lan):
    (lease,) = [x for x in lan.leases() if x["valid_lifetime"] != "0"]
    delegated = f"{lease['address']}/{lease['prefix_len']}"
    assert ipaddress.ip_network(delegated).subnet_of(pool(0)) and lease["prefix_len"] == "56"
    assert (lease["pref_lifetime"], lease["valid_lifetime"]) == ("3600", "7200")

    (address,) = lan.delegated()
    assert address["local"] == str(ipaddress.ip_network(first_64(delegated))[1])  # <prefix>::1, as netifd
    assert address["prefixlen"] == 64 and address.get("noprefixroute")
    assert not address.get("tentative") and not address.get("deprecated")
    assert 3600 - SLACK < address["preferred_life_time"] <= 3600
    assert 7200 - SLACK < address["valid_life_time"] <= 7200
    assert lan.prefix == first_64(delegated) and lan.router_address == address["local"]

    routes = router_routes(lan.world)
    assert f"{lan.prefix} dev br-lan" in routes
    assert f"unreachable {delegated} dev lo" in routes  # dhcpcd's, as netifd's on OpenWrt
    assert f"{delegated} via fe80::2 dev to-rtr proto dhcp" in isp_routes(lan.world)  # Kea's hook
    ula = by_address(lan.addr_info())[str(ipaddress.ip_network(ULA_PREFIX)[1])]
    assert ula["preferred_life_time"] == ula["valid_life_time"] == 0xFFFFFFFF  # forever


def test_hosts_take_slaac_addresses_in_the_delegated_prefix(lan):
    nas, tv = lan.hosts["nas"], lan.hosts["tv"]
    assert nas.stable() == eui64(NAS_MAC, lan.prefix)
    assert interface_id(nas.stable()) == "::a8bb:ccff:fedd:eeff"
    assert nas.addresses(lan.prefix) == [nas.stable()]
    assert nas.wait_slaac(ULA_PREFIX) == {"stable": eui64(NAS_MAC, ULA_PREFIX)}  # a ULA too: never to be published
    assert lan.hosts["printer"].stable() == str(ipaddress.ip_network(lan.prefix)[0x1234])

    info = by_address(tv.addr_info())
    stable = tv.stable()
    assert info[stable].get("stable-privacy") and stable != eui64(TV_MAC, lan.prefix)
    temporary = tv.addresses(lan.prefix, temporary=True)
    assert temporary and stable not in temporary
    assert all(info[t].get("temporary") for t in temporary)

    # the delegated prefix is routed to the router: the internet reaches the hosts
    assert srv_reaches(lan.world, nas.stable())
    assert srv_reaches(lan.world, stable)


def test_the_router_neighbour_table_holds_the_hosts_global_addresses(lan):
    for host in (lan.hosts["nas"], lan.hosts["tv"]):
        for address in host.announce(lan.prefix):
            entry = lan.wait_neighbour(address)
            assert entry["lladdr"] == host.mac


def test_temporary_addresses_rotate_and_the_router_sees_each(lan):
    laptop = lan.add_host("laptop", temporary=True, temp_preferred=7, temp_valid=20)
    laptop.wait_slaac()
    laptop.chatter()
    seen: set[str] = set()

    def rotated_and_seen():
        info = [a for a in laptop.addr_info() if a.get("temporary") and in_prefix(a["local"], lan.prefix)]
        seen.update(a["local"] for a in info)
        in_table = {n["dst"] for n in lan.neighbours() if n.get("lladdr") == laptop.mac}
        rotated = any(a.get("deprecated") for a in info)  # an old one deprecated, a new one in use
        return rotated and len(seen & in_table) >= 2 and in_table
    in_table = wait_for(rotated_and_seen, 60, "laptop's temporary address to rotate, two of them in the router's table")
    assert laptop.stable() not in in_table  # the host talks from its temporary addresses only


def test_a_host_that_leaves_is_gone_and_the_router_notices_when_it_asks(lan):
    w = lan.world
    # the router's own neighbour timers, short so this test is: states and events are the kernel's
    w.exec(["sysctl", "-qw", "net.ipv6.neigh.br-lan.base_reachable_time_ms=1000",
            "net.ipv6.neigh.br-lan.delay_first_probe_time=1"], check=True)
    guest = lan.add_host("guest")
    guest.wait_slaac()
    (address,) = guest.announce(lan.prefix)
    lan.wait_neighbour(address)
    guest.leave()
    assert guest.ns not in netns_names()
    assert guest.port not in w.exec(["ip", "link"], check=True).stdout

    def failed_or_gone():
        lan.probe(address)
        entry = lan.neighbour(address)
        return entry is None or "FAILED" in entry.get("state", ())
    wait_for(failed_or_gone, 60, f"the router's entry for {address} to fail: {lan.neighbour(address)}")
    assert not srv_ping(w, address)
    assert srv_reaches(w, lan.hosts["nas"].stable())  # the others stay


# -- renumbering -------------------------------------------------------------------------


def test_renumbering_brings_a_new_prefix_and_deprecates_the_old_in_netifds_order(make_lan):
    lan = make_lan()
    nas = lan.add_host("nas", mac=NAS_MAC)
    nas.wait_slaac()
    old, old_router = lan.prefix, lan.router_address
    events = AddressEvents(lan.world)
    try:
        new = lan.renumber()
    finally:
        events.close()
    new_router = lan.router_address
    assert new != old and in_prefix(new_router, str(pool(1)))

    br = by_address(lan.addr_info())
    assert 3600 - SLACK < br[new_router]["preferred_life_time"] <= 3600
    assert 7200 - SLACK < br[new_router]["valid_life_time"] <= 7200
    assert br[old_router]["preferred_life_time"] == 0 and br[old_router].get("deprecated")
    assert 0 < br[old_router]["valid_life_time"] <= 7200

    # the kernel saw: the new address, then the old one deprecated, never deleted
    seen = events.events("br-lan")
    first_new = next(i for i, (kind, a, _) in enumerate(seen) if kind == "NEW" and a == new_router)
    deprecated = next(i for i, (kind, a, p) in enumerate(seen) if kind == "NEW" and a == old_router and p == "0sec")
    assert first_new < deprecated, seen
    assert ("DEL", old_router) not in [(k, a) for k, a, _ in seen], seen

    routes = router_routes(lan.world)
    assert f"{new} dev br-lan" in routes and f"{old} dev br-lan" not in routes
    by_prefix = {(x["address"], x["valid_lifetime"]) for x in lan.leases()}
    old56 = str(next(pool(0).subnets(new_prefix=56)).network_address)
    new56 = str(next(pool(1).subnets(new_prefix=56)).network_address)
    assert (old56, "0") in by_prefix and (new56, "7200") in by_prefix  # Kea took the old one back
    isp = isp_routes(lan.world)
    assert f"{new56}/56 via fe80::2" in isp and f"{old56}/56" not in isp  # and routes the new one only

    # the hosts follow the RA: a new address, the old one deprecated (not yet gone)
    assert nas.wait_slaac(new)["stable"] == eui64(NAS_MAC, new)
    wait_for(lambda: nas.addresses(old, only_usable=False) and not nas.addresses(old), 20,
          f"nas's address in {old} to be deprecated: {nas.addr_info()}")
    assert srv_reaches(lan.world, eui64(NAS_MAC, new))


def test_a_withdrawn_prefix_goes_when_its_valid_lifetime_runs_out(make_lan):
    # Short lifetimes (preferred 4 s, valid 8 s, T1 2 s) and no nudge: the client learns
    # of the new prefix at its own Renew.
    lan = make_lan(lifetimes=Lifetimes(preferred=4, valid=8))
    nas = lan.add_host("nas", mac=NAS_MAC)
    nas.wait_slaac()
    old, old_router = lan.prefix, lan.router_address
    new = lan.renumber(renew_now=False)
    wait_for(lambda: old_router not in by_address(lan.addr_info()), 60,
          f"{old_router} to leave br-lan: {lan.addr_info()}")
    wait_for(lambda: not nas.addresses(old, only_usable=False), 60, f"nas's address in {old} to go: {nas.addr_info()}")
    assert lan.prefix == new and nas.wait_slaac(new)["stable"] == eui64(NAS_MAC, new)


# -- cleanup -----------------------------------------------------------------------------


def test_close_leaves_nothing_of_the_lan():
    w = World().build()
    lan = Lan(w).start()
    host = lan.add_host("nas", temporary=True)
    host.chatter()
    namespaces = [ns for ns in netns_names() if ns.startswith(w.name)]
    assert len(namespaces) == 5  # rtr, isp, srv, the LAN switch, the host
    pids = [int(p) for ns in namespaces
            for p in subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()]
    assert len(pids) >= 5  # Kea, dhcpcd and its helpers, radvd, the chatter
    w.close()
    assert leftovers(w.name, pids, [w.dir, lan.dir]) == []
    with open("/proc/self/mountinfo") as f:
        assert w.name not in f.read()  # dhcpcd's bind mounts went with its mount namespace
