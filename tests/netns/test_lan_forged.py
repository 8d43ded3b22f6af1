"""What a LAN host can make the router publish for a record by MAC (issue 20), in the LAN world.

Any host on the LAN can make the router's kernel hold a neighbour entry for any address
with any MAC: one Neighbor Solicitation naming them (forge_ns.py: a raw ICMPv6 socket in the
host's own namespace, its frame from its own MAC) gives a STALE entry. The agent used to
publish such an entry: the NAS's record moved to an address inside the prefix that the NAS
never had, and to 2001:db8:dead::1, outside every prefix of br-lan, within 3 s. Now a record
by MAC takes only an address the kernel has confirmed (REACHABLE: the host answered the
router's own probe) inside a current public /64 of br-lan.
"""

from __future__ import annotations

import re

from tools.netns.agentlib import Daemon, wait_dig, wait_for, write_config
from tools.netns.lan import Lan
from tests.netns.test_lan_records import host_address, lan_record

NAS_MAC = "02:dd:ed:00:00:33"  # a stable-privacy host: its address is not derived from the MAC
WITNESS_MAC = "02:dd:ed:00:00:44"  # a host whose record lands after the forged entries: the agent has seen them
OUTSIDE = "2001:db8:dead::1"
UNCONFIRMED = "has no address in the neighbour table that the kernel confirmed inside a public /64 of the device"


def entry(lan: Lan, address: str) -> dict | None:
    n = lan.neighbour(address)
    return n if n is not None and n.get("lladdr") == NAS_MAC else None


def landed(agent) -> list[str]:
    return re.findall(r"nas\.example\.com AAAA: now (\S+)", agent.log())


def test_a_forged_solicitation_never_moves_a_record_by_mac(tmp_path, make_world):
    lan = Lan(make_world(zones=["example.com"])).start()
    lan.world.exec(["sysctl", "-qw", "net.ipv6.neigh.br-lan.base_reachable_time_ms=1000",
                    "net.ipv6.neigh.br-lan.delay_first_probe_time=1"], check=True)  # the router's timers: a short test
    mallory = lan.add_host("mallory")
    witness = lan.add_host("witness", mac=WITNESS_MAC)
    mallory.wait_slaac()
    inside = host_address(lan.prefix, "::bad")
    config = write_config(tmp_path / "ddns-edge.conf", lan.world, lan_record("nas", "nas.example.com", mac=NAS_MAC),
                          lan_record("witness", "witness.example.com", mac=WITNESS_MAC))
    with Daemon(lan.world, config) as agent:
        agent.wait_log(f"{NAS_MAC} not in the neighbour table); record left as it is")
        # before the NAS comes: mallory names an address inside the prefix and one outside
        # every prefix with the NAS's MAC; the router holds both, and the agent takes neither
        mallory.forge_solicitation(inside, NAS_MAC)
        mallory.forge_solicitation(OUTSIDE, NAS_MAC)
        wait_for(lambda: entry(lan, inside) and entry(lan, OUTSIDE), 10, "the router's entries for the forged addresses")
        agent.wait_log(UNCONFIRMED)
        # the router's own probe of the one inside goes to the NAS's MAC, and nothing answers
        lan.probe(inside)
        wait_for(lambda: "FAILED" in lan.neighbour(inside).get("state", ()) or None, 20, f"the probe of {inside} to fail")
        assert landed(agent) == [] and lan.world.dig("nas.example.com", "AAAA") == []

        # the NAS comes and talks: the router probes its address, the NAS answers, and it is published
        nas = lan.add_host("nas", mac=NAS_MAC, addrgen="stable-privacy")
        nas.wait_slaac()
        nas.announce(lan.prefix)
        address = nas.stable()
        wait_dig(lan.world, "nas.example.com", "AAAA", [address], timeout=30)

        # the NAS leaves, and the router's probe of its address fails; then mallory names
        # both again (the agent used to move the record to them): it stays as it is
        nas.leave()
        lan.wait_failed(address)
        agent.wait_log(f"{UNCONFIRMED}); record left as it is (", count=1)
        mallory.forge_solicitation(OUTSIDE, NAS_MAC)
        mallory.forge_solicitation(host_address(lan.prefix, "::bad:2"), NAS_MAC)
        wait_for(lambda: entry(lan, OUTSIDE) and entry(lan, host_address(lan.prefix, "::bad:2")), 10,
                 "the router's entries for the forged addresses")
        witness.wait_slaac()
        witness.announce(lan.prefix)  # the kernel's events come in order: the forged ones first
        wait_dig(lan.world, "witness.example.com", "AAAA", [witness.stable()], timeout=30)
        assert landed(agent) == [address]
        assert lan.world.dig("nas.example.com", "AAAA") == [address]
