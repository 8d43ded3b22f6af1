"""Records of hosts behind the router (issue 14), in the LAN world (tools/netns/lan.py: Kea
delegates a prefix, dhcpcd asks for it on the router and numbers br-lan, hosts take SLAAC
addresses from the router's radvd).

The two ways a record names a host:

    config record 'nas'
        option name 'nas.example.com'
        option type 'AAAA'
        option device 'br-lan'                   # the LAN device (or `option interface 'lan'`)
        option host_id '::a8bb:ccff:fedd:eeff'   # by interface identifier: this host part
                                                 # joined to each public /64 on br-lan

    config record 'tv'
        option name 'tv.example.com'
        option type 'AAAA'
        option device 'br-lan'
        option mac '02:dd:ed:00:00:22'           # by MAC: the host's global address from the
                                                 # router's neighbour table on br-lan, once the
                                                 # kernel has confirmed it (test_lan_forged.py:
                                                 # what a LAN host cannot make it publish)

Published means: never a ULA (br-lan has one, as on OpenWrt), never a temporary address,
never a deprecated prefix while a preferred one exists; a renumbering moves every record
by interface identifier in one UPDATE per zone (the zone's serial moves by one). A record by
MAC for a host that is not EUI-64: the address the router saw it use first and still sees
(the tests let it talk from its stable address before its temporary ones, since an agent
that sees both at once cannot know which the host keeps).
"""

from __future__ import annotations

import base64
import ipaddress
import subprocess
from types import SimpleNamespace


from tools.netns.agentlib import EXE, Daemon, record, wait_dig, wait_for, write_config
from tools.netns.lan import Lan, eui64, in_prefix



NAS_MAC = "aa:bb:cc:dd:ee:ff"   # EUI-64 host: ::a8bb:ccff:fedd:eeff
NAS_ID = "::a8bb:ccff:fedd:eeff"
PRINTER_ID = "::1234"           # a host with a fixed host part (ip token)
TV_MAC = "02:dd:ed:00:00:22"    # stable-privacy host with temporary addresses


def lan_record(section: str, name: str, **how) -> str:
    """A AAAA record for a host behind the router: host_id=... or mac=..."""
    return record(section, name, "AAAA", device="br-lan", **how)


def assert_accepted(tmp_path, *records: str) -> None:
    """`ddns-edge check` accepts the records (with a stand-in key): the agent knows the options."""
    key = SimpleNamespace(key_name="ddns-key", key_algorithm="hmac-sha256",
                          key_secret=base64.b64encode(bytes(32)).decode())
    path = write_config(tmp_path / "check.conf", key, *records)
    proc = subprocess.run([EXE, "-c", path, "check"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"ddns-edge check refuses the LAN record options: {proc.stderr.strip()}"


def host_address(prefix: str, host_id: str) -> str:
    return str(ipaddress.ip_address(int(ipaddress.ip_network(prefix).network_address)
                                    | int(ipaddress.ip_address(host_id))))


def lan_world(make_world, zones=("example.com",)) -> Lan:
    return Lan(make_world(zones=list(zones))).start()


def test_records_by_host_id_and_by_mac_are_set_at_start(tmp_path, make_world):
    records = [lan_record("nas", "nas.example.com", host_id=NAS_ID),
               lan_record("printer", "printer.example.com", host_id=PRINTER_ID),
               lan_record("tv", "tv.example.com", mac=TV_MAC)]
    assert_accepted(tmp_path, *records)
    lan = lan_world(make_world)
    lan.add_host("nas", mac=NAS_MAC)
    lan.add_host("printer", token=PRINTER_ID)
    tv = lan.add_host("tv", mac=TV_MAC, addrgen="stable-privacy", temporary=True)
    for host in lan.hosts.values():
        host.wait_slaac()
    # tv talks from its stable address and its ULA: the router's neighbour table holds both
    # (a host whose temporary address shows up as early could not tell the agent which it keeps)
    tv.ping(lan.router_address, tv.stable())
    tv.announce(lan.ula_prefix)
    config = write_config(tmp_path / "ddns-edge.conf", lan.world, *records)
    with Daemon(lan.world, config):
        wait_dig(lan.world, "nas.example.com", "AAAA", [eui64(NAS_MAC, lan.prefix)], timeout=30)
        wait_dig(lan.world, "printer.example.com", "AAAA", [host_address(lan.prefix, PRINTER_ID)], timeout=30)
        wait_dig(lan.world, "tv.example.com", "AAAA", [tv.stable()], timeout=30)  # not its temporary, not its ULA


def test_a_renumbering_moves_every_record_in_one_update_per_zone(tmp_path, make_world):
    records = [lan_record("nas", "nas.example.com", host_id=NAS_ID),
               lan_record("printer", "printer.example.com", host_id=PRINTER_ID),
               lan_record("nas_net", "nas.example.net", host_id=NAS_ID)]
    assert_accepted(tmp_path, *records)
    lan = lan_world(make_world, zones=("example.com", "example.net"))
    w = lan.world
    config = write_config(tmp_path / "ddns-edge.conf", w, *records)
    with Daemon(w, config):
        old = lan.prefix
        for name, host_id in (("nas.example.com", NAS_ID), ("printer.example.com", PRINTER_ID),
                              ("nas.example.net", NAS_ID)):
            wait_dig(w, name, "AAAA", [host_address(old, host_id)], timeout=30)
        serials = {zone: w.serial(zone) for zone in ("example.com", "example.net")}
        new = lan.renumber()
        for name, host_id in (("nas.example.com", NAS_ID), ("printer.example.com", PRINTER_ID),
                              ("nas.example.net", NAS_ID)):
            wait_dig(w, name, "AAAA", [host_address(new, host_id)], timeout=30)
        assert {zone: w.serial(zone) - before for zone, before in serials.items()} == \
            {"example.com": 1, "example.net": 1}  # one UPDATE per zone, both names in it


def test_a_record_by_mac_follows_the_host_into_the_new_prefix(tmp_path, make_world):
    records = [lan_record("tv", "tv.example.com", mac=TV_MAC)]
    assert_accepted(tmp_path, *records)
    lan = lan_world(make_world)
    tv = lan.add_host("tv", mac=TV_MAC, addrgen="stable-privacy", temporary=True)
    tv.wait_slaac()
    tv.ping(lan.router_address, tv.stable())
    config = write_config(tmp_path / "ddns-edge.conf", lan.world, *records)
    with Daemon(lan.world, config):
        wait_dig(lan.world, "tv.example.com", "AAAA", [tv.stable()], timeout=30)
        new = lan.renumber()
        tv.wait_slaac(new)
        tv.ping(lan.router_address, tv.stable(new))  # it is reached at its new address; the old one is deprecated
        wait_dig(lan.world, "tv.example.com", "AAAA", [tv.stable(new)], timeout=30)


def test_a_rotating_temporary_address_does_not_move_the_record(tmp_path, make_world):
    records = [lan_record("laptop", "laptop.example.com", mac=TV_MAC)]
    assert_accepted(tmp_path, *records)
    lan = lan_world(make_world)
    laptop = lan.add_host("laptop", mac=TV_MAC, addrgen="stable-privacy", temporary=True,
                          temp_preferred=7, temp_valid=20)
    laptop.wait_slaac()
    stable = laptop.stable()
    laptop.ping(lan.router_address, stable)  # first seen from its stable address, then (chatter) its temporaries
    config = write_config(tmp_path / "ddns-edge.conf", lan.world, *records)
    with Daemon(lan.world, config):
        wait_dig(lan.world, "laptop.example.com", "AAAA", [stable], timeout=30)
        serial = lan.world.serial()
        laptop.chatter()  # from its newest temporary address, one after the other
        seen: set[str] = set()

        def rotations_seen():
            seen.update(n["dst"] for n in lan.neighbours()
                        if n.get("lladdr") == TV_MAC and n["dst"] in laptop.addresses(temporary=True, only_usable=False))
            return len(seen) >= 3
        wait_for(rotations_seen, 60, "three of laptop's temporary addresses in the router's neighbour table")
        assert lan.world.dig("laptop.example.com", "AAAA") == [stable]
        assert lan.world.serial() == serial


def test_a_host_that_leaves_keeps_its_record(tmp_path, make_world):
    records = [lan_record("nas", "nas.example.com", mac=NAS_MAC)]
    assert_accepted(tmp_path, *records)
    lan = lan_world(make_world)
    w = lan.world
    w.exec(["sysctl", "-qw", "net.ipv6.neigh.br-lan.base_reachable_time_ms=1000",
            "net.ipv6.neigh.br-lan.delay_first_probe_time=1"], check=True)  # the router's timers: a short test
    nas = lan.add_host("nas", mac=NAS_MAC)
    nas.wait_slaac()
    nas.announce()
    address = eui64(NAS_MAC, lan.prefix)
    config = write_config(tmp_path / "ddns-edge.conf", w, *records)
    with Daemon(w, config) as agent:
        wait_dig(w, "nas.example.com", "AAAA", [address], timeout=30)
        serial = w.serial()
        nas.leave()
        lan.wait_failed(address)
        agent.stop()  # whatever it was going to do about it, it has done
        assert w.dig("nas.example.com", "AAAA") == [address]
        assert w.serial() == serial


def test_never_a_ula_nor_a_deprecated_prefix_while_a_preferred_one_exists(tmp_path, make_world):
    records = [lan_record("nas", "nas.example.com", host_id=NAS_ID),
               lan_record("tv", "tv.example.com", mac=TV_MAC)]
    assert_accepted(tmp_path, *records)
    lan = lan_world(make_world)
    tv = lan.add_host("tv", mac=TV_MAC, addrgen="stable-privacy")
    tv.wait_slaac()
    tv.wait_slaac(lan.ula_prefix)
    tv.announce()  # the router learns its addresses in the prefix (soon deprecated) and the ULA
    old = lan.prefix
    new = lan.renumber()  # br-lan: the new /64 preferred, the old one deprecated, the ULA forever
    tv.wait_slaac(new)
    tv.announce(new)
    assert {n["dst"] for n in lan.neighbours()} >= {tv.stable(old), tv.stable(new), tv.stable(lan.ula_prefix)}
    config = write_config(tmp_path / "ddns-edge.conf", lan.world, *records)
    with Daemon(lan.world, config):
        wait_dig(lan.world, "nas.example.com", "AAAA", [host_address(new, NAS_ID)], timeout=30)
        wait_dig(lan.world, "tv.example.com", "AAAA", [tv.stable(new)], timeout=30)
    for name in ("nas.example.com", "tv.example.com"):
        (published,) = lan.world.dig(name, "AAAA")
        assert in_prefix(published, new) and not in_prefix(published, old)
