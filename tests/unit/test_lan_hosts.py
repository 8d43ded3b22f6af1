"""Hosts behind the router (issue 14), pure: the host part on the LAN's prefixes, the host by MAC
in the neighbour table, the neighbour table kept from netlink, and the options' checks."""

import ipaddress

import pytest
from pyroute2.netlink.rtnl.ndmsg import ndmsg

from ddns_edge import config, netlink
from ddns_edge.addresses import IFA_F_DEPRECATED, IFA_F_TEMPORARY, IFA_F_TENTATIVE, choose_host_id, choose_neighbour, eui64
from ddns_edge.devices import Change, View
from ddns_edge.detect import detect
from ddns_edge.errors import ConfigError
from ddns_edge.model import Address, AddressChange, Device, Link, Neighbour, NeighbourChange

A = ipaddress.ip_address
S256 = "Wi28mLDG6l5YrDIg27zPh5tvG2jWR4GBt1Sq3WUUop8="
OLD, NEW, ULA = "2001:db8:1:10", "2001:db8:2:20", "fd00:1:2:3"
NUD_REACHABLE, NUD_STALE, NUD_FAILED, NUD_INCOMPLETE = 0x02, 0x04, 0x20, 0x01


def lan(*specs):
    """br-lan's own addresses: (prefix, flags, preferred)."""
    return tuple(Address(A(f"{p}::1"), 64, flags, preferred, 7200) for p, flags, preferred in specs)


def test_eui64():
    assert eui64("aa:bb:cc:dd:ee:ff") == int(A("::a8bb:ccff:fedd:eeff"))
    assert eui64("02:00:00:00:00:01") == int(A("::ff:fe00:1"))


@pytest.mark.parametrize(
    "addresses, published, want",
    [
        (lan((OLD, 0, 3600)), None, f"{OLD}::1234"),
        (lan((ULA, 0, 3600), (OLD, 0, 3600)), None, f"{OLD}::1234"),  # never the ULA
        (lan((ULA, 0, 3600)), None, None),
        (lan((OLD, IFA_F_DEPRECATED, 0), (NEW, 0, 3600)), None, f"{NEW}::1234"),  # the preferred one
        (lan((OLD, IFA_F_DEPRECATED, 0), (NEW, 0, 3600)), A(f"{OLD}::1234"), f"{NEW}::1234"),  # even off the published one
        (lan((OLD, IFA_F_DEPRECATED, 0)), None, f"{OLD}::1234"),  # deprecated only while no other
        (lan((OLD, 0, 1800), (NEW, 0, 3600)), A(f"{OLD}::1234"), f"{OLD}::1234"),  # the published one stands
        (lan((OLD, 0, 1800), (NEW, 0, 3600)), None, f"{NEW}::1234"),  # else the longest preferred
        (lan((OLD, IFA_F_TENTATIVE, 3600)), None, f"{OLD}::1234"),  # the router's DAD says nothing of the host
        ((Address(A("198.51.100.1"), 24),), None, None),
    ],
)
def test_choose_host_id(addresses, published, want):
    choice = choose_host_id(addresses, "::1234", published)
    assert (str(choice.address) if choice.address else None) == want
    if want:
        assert choice.reason.startswith(f"prefix {ipaddress.IPv6Network((A(want), 64), strict=False)}") and "+ host part ::1234" in choice.reason


MAC = "02:dd:ed:00:00:22"


def n(address, seen, usable=True, mac=MAC):
    return Neighbour(A(address), mac, usable, seen)


@pytest.mark.parametrize(
    "neighbours, addresses, published, want, how",
    [
        ([n(f"{OLD}::5", 1), n(f"{OLD}::77", 2)], lan((OLD, 0, 3600)), None, f"{OLD}::5", "the address seen first"),
        ([n(f"{OLD}::77", 1), n(f"{OLD}:0:ff:fe00:1", 2, mac="02:00:00:00:00:01")], lan((OLD, 0, 3600)), None, f"{OLD}::77", "seen first"),
        ([n(f"{OLD}::5", 2), n(f"{OLD}:dd:edff:fe00:22", 3)], lan((OLD, 0, 3600)), None, f"{OLD}:dd:edff:fe00:22", "EUI-64"),
        ([n(f"{OLD}::5", 1), n(f"{OLD}::77", 2)], lan((OLD, 0, 3600)), A(f"{OLD}::77"), f"{OLD}::77", "still in the neighbour table"),
        ([n(f"{OLD}::5", 1), n(f"{NEW}::9", 5)], lan((OLD, IFA_F_DEPRECATED, 0), (NEW, 0, 3600)), A(f"{OLD}::5"), f"{NEW}::9", "seen first"),
        ([n(f"{ULA}::5", 1), n("fe80::5", 2), n(f"{OLD}::9", 3)], lan((OLD, 0, 3600)), None, f"{OLD}::9", ""),  # public only
        ([n(f"{OLD}::5", 1, usable=False), n(f"{OLD}::9", 2)], lan((OLD, 0, 3600)), A(f"{OLD}::5"), f"{OLD}::9", ""),
        ([n(f"{OLD}::5", 1, usable=False)], lan((OLD, 0, 3600)), A(f"{OLD}::5"), None, "no address in the neighbour table that the kernel confirmed"),
        # only inside a current public /64 of the device: a LAN host can make the kernel hold any address
        ([n("2001:db8:dead::1", 1)], lan((OLD, 0, 3600)), None, None, "inside a public /64 of the device"),
        ([n("2001:db8:dead::1", 1), n(f"{OLD}::9", 2)], lan((OLD, 0, 3600)), A("2001:db8:dead::1"), f"{OLD}::9", "seen first"),
        ([n(f"{OLD}::5", 1)], lan((NEW, 0, 3600)), A(f"{OLD}::5"), None, "inside a public /64"),  # the prefix is gone
        ([n(f"{ULA}::5", 1)], lan((ULA, 0, 3600), (OLD, 0, 3600)), None, None, "inside a public /64"),
        ([n("2001:db8:1:11::5", 1)], lan((OLD, 0, 3600)), None, None, "inside a public /64"),  # the /56 around it is not the LAN's
        ([n(f"{OLD}::5", 1)], (Address(A(f"{OLD}::1"), 64, IFA_F_DEPRECATED, 0, 0),), None, None, "inside a public /64"),  # expired
        ([n(f"{OLD}::5", 1)], lan((OLD, IFA_F_DEPRECATED, 0)), None, f"{OLD}::5", "seen first"),  # deprecated, still valid
        ([], lan((OLD, 0, 3600)), None, None, "not in the neighbour table"),
        ([n(f"{OLD}::5", 1, mac="02:00:00:00:00:99")], lan((OLD, 0, 3600)), None, None, "not in the neighbour table"),
    ],
)
def test_choose_neighbour(neighbours, addresses, published, want, how):
    choice = choose_neighbour(neighbours, MAC, addresses, published)
    assert (str(choice.address) if choice.address else None) == want
    assert how in choice.reason


def neigh(index, address, mac=MAC, state=NUD_REACHABLE, gone=False):
    return NeighbourChange(index, A(address), mac, state, gone)


def test_the_neighbour_table_follows_netlink_and_a_host_that_stays_is_no_change():
    v = View()
    v.apply(Link(5, "br-lan", True))
    assert v.apply(neigh(5, f"{OLD}::5")) == Change("br-lan")
    assert v.apply(neigh(5, f"{OLD}::5", state=NUD_STALE)) is None  # REACHABLE -> STALE: the same host
    assert v.apply(neigh(5, f"{OLD}::77")) == Change("br-lan")
    (first, second) = sorted(v.device("br-lan").neighbours, key=lambda x: x.seen)
    assert (str(first.address), str(second.address)) == (f"{OLD}::5", f"{OLD}::77")
    assert v.apply(neigh(5, f"{OLD}::5", state=NUD_FAILED)) == Change("br-lan")  # gone away: not usable
    assert not {x.address: x for x in v.device("br-lan").neighbours}[A(f"{OLD}::5")].usable
    assert v.apply(neigh(5, f"{OLD}::5", mac=None, state=NUD_INCOMPLETE)) is None  # already unusable
    assert v.apply(neigh(5, f"{OLD}::77", gone=True)) == Change("br-lan")
    # a re-read (an overflow) keeps the order in which they were first seen
    v.apply(neigh(5, f"{OLD}::5"))
    seen = {x.address: x.seen for x in v.device("br-lan").neighbours}
    v.reset([Link(5, "br-lan", True), neigh(5, f"{OLD}::9"), neigh(5, f"{OLD}::5")])
    after = {x.address: x.seen for x in v.device("br-lan").neighbours}
    assert after[A(f"{OLD}::5")] == seen[A(f"{OLD}::5")] < after[A(f"{OLD}::9")]


NUD_DELAY, NUD_PROBE, NUD_PERMANENT, NUD_NOARP = 0x08, 0x10, 0x80, 0x40
FORGER = "02:66:66:66:66:66"


def usable(v, address):
    return {str(x.address): x.usable for x in v.device("br-lan").neighbours}.get(address)


def test_an_unsolicited_entry_counts_only_once_the_kernel_confirms_it():
    """One Neighbor Solicitation from any LAN host gives a STALE (or, on traffic, DELAY) entry
    for the address and MAC it names; the agent used to publish it."""
    v = View()
    v.apply(Link(5, "br-lan", True))
    assert v.apply(neigh(5, f"{OLD}::5", state=NUD_STALE)) == Change("br-lan")  # a new entry, not usable
    assert usable(v, f"{OLD}::5") is False
    assert v.apply(neigh(5, f"{OLD}::5", state=NUD_DELAY)) is None
    assert v.apply(neigh(5, f"{OLD}::5", state=NUD_PROBE)) is None
    assert usable(v, f"{OLD}::5") is False
    assert v.apply(neigh(5, f"{OLD}::5", state=NUD_REACHABLE)) == Change("br-lan")  # the host answered the probe
    for state in (NUD_STALE, NUD_DELAY, NUD_PROBE, NUD_STALE):  # ageing: still the confirmed host
        assert v.apply(neigh(5, f"{OLD}::5", state=state)) is None and usable(v, f"{OLD}::5")
    # another MAC takes the address (an NS naming it): not confirmed, whatever was before
    assert v.apply(neigh(5, f"{OLD}::5", mac=FORGER, state=NUD_STALE)) == Change("br-lan")
    assert usable(v, f"{OLD}::5") is False
    assert v.apply(neigh(5, f"{OLD}::5", state=NUD_STALE)) == Change("br-lan")  # and back: to be confirmed again
    assert usable(v, f"{OLD}::5") is False
    # failed, then named again: to be confirmed again
    v.apply(neigh(5, f"{OLD}::6"))
    assert v.apply(neigh(5, f"{OLD}::6", state=NUD_FAILED)) == Change("br-lan")
    assert v.apply(neigh(5, f"{OLD}::6", state=NUD_STALE)) is None and usable(v, f"{OLD}::6") is False
    # gone, then named again
    v.apply(neigh(5, f"{OLD}::7"))
    v.apply(neigh(5, f"{OLD}::7", gone=True))
    v.apply(neigh(5, f"{OLD}::7", state=NUD_STALE))
    assert usable(v, f"{OLD}::7") is False
    # the administrator's own entries count
    v.apply(neigh(5, f"{OLD}::8", state=NUD_PERMANENT))
    v.apply(neigh(5, f"{OLD}::9", state=NUD_NOARP))
    assert usable(v, f"{OLD}::8") and usable(v, f"{OLD}::9")


def test_a_re_read_keeps_what_the_kernel_confirmed_and_confirms_nothing_new():
    v = View()
    v.reset([Link(5, "br-lan", True), neigh(5, f"{OLD}::5"), neigh(5, f"{OLD}::6", state=NUD_STALE),
             neigh(5, f"{OLD}::7")])
    v.apply(neigh(5, f"{OLD}::5", state=NUD_STALE))
    v.reset([Link(5, "br-lan", True), neigh(5, f"{OLD}::5", state=NUD_STALE), neigh(5, f"{OLD}::6", state=NUD_STALE),
             neigh(5, f"{OLD}::7", mac=FORGER, state=NUD_STALE), neigh(5, f"{OLD}::8", state=NUD_STALE)])
    assert [usable(v, f"{OLD}::{i}") for i in (5, 6, 7, 8)] == [True, False, False, False]
    # at start nothing is known: an entry found STALE waits for the kernel to confirm it
    fresh = View()
    fresh.reset([Link(5, "br-lan", True), neigh(5, f"{OLD}::5", state=NUD_STALE)])
    assert usable(fresh, f"{OLD}::5") is False


def test_a_forged_entry_is_never_published_and_the_confirmed_host_is():
    """The issue's two forgeries, through the view and detect: an address inside the prefix
    and one outside every prefix, named with the NAS's MAC; then the NAS itself."""
    (nas,) = config.parse(f"config key 'k'\n\toption secret '{S256}'\n"
                          f"config record 'nas'\n\toption name 'nas.example.com'\n\toption type 'AAAA'\n\toption device 'br-lan'\n\toption mac '{MAC}'\n", "/c").records
    v = View()
    v.reset([Link(5, "br-lan", True)] + [AddressChange(5, a) for a in lan((OLD, 0, 3600))])
    v.apply(neigh(5, f"{OLD}::bad", state=NUD_STALE))
    v.apply(neigh(5, "2001:db8:dead::1", state=NUD_STALE))
    assert detect(nas, v.device("br-lan")).address is None
    v.apply(neigh(5, "2001:db8:dead::1", state=NUD_REACHABLE))  # even confirmed (a forged solicited NA)
    assert detect(nas, v.device("br-lan")).address is None
    v.apply(neigh(5, f"{OLD}:dd:edff:fe00:22", state=NUD_STALE))  # the NAS asks the router
    assert detect(nas, v.device("br-lan")).address is None
    v.apply(neigh(5, f"{OLD}:dd:edff:fe00:22", state=NUD_DELAY))  # the router answers: DELAY, then its probe
    v.apply(neigh(5, f"{OLD}:dd:edff:fe00:22", state=NUD_PROBE))
    v.apply(neigh(5, f"{OLD}:dd:edff:fe00:22", state=NUD_REACHABLE))  # the NAS answers the probe
    assert detect(nas, v.device("br-lan")).address == {ipaddress.ip_address(f"{OLD}:dd:edff:fe00:22")}


def test_netlink_reads_an_ipv6_neighbour():
    """Encoded by pyroute2's ndmsg, as the kernel lays it out (test_netlink.py compares every
    field with pyroute2's own decode)."""
    def neighbour(family, dst, lladdr=None):
        msg = ndmsg()
        msg["family"], msg["ifindex"], msg["state"] = family, 5, NUD_REACHABLE
        msg["attrs"] = [("NDA_DST", dst)] + ([("NDA_LLADDR", lladdr)] if lladdr else [])
        msg["header"]["type"] = netlink.RTM_NEWNEIGH
        msg.encode()
        return bytes(msg.data)

    assert netlink.parse(neighbour(10, f"{OLD}::5", MAC)) == [NeighbourChange(5, A(f"{OLD}::5"), MAC, NUD_REACHABLE)]
    assert netlink.parse(neighbour(10, f"{OLD}::6")) == [NeighbourChange(5, A(f"{OLD}::6"), None, NUD_REACHABLE)]  # unresolved
    assert netlink.parse(neighbour(2, "192.168.1.5", MAC)) == []  # IPv4: ARP is not followed


RECORDS = f"config key 'k'\n\toption secret '{S256}'\n" + "config record 'nas'\n\toption name 'nas.example.com'\n\toption device 'br-lan'\n"


@pytest.mark.parametrize(
    "options, want",
    [
        ("\toption type 'AAAA'\n\toption host_id '::A8BB:ccff:fedd:eeff'\n", {"host_id": "::a8bb:ccff:fedd:eeff"}),
        ("\toption type 'AAAA'\n\toption mac 'AA-BB-CC-DD-EE-FF'\n", {"mac": "aa:bb:cc:dd:ee:ff"}),
        ("\toption type 'AAAA'\n\toption host_id '2001:db8::1'\n", "c:7: option host_id: '2001:db8::1' is not an interface identifier"),
        ("\toption type 'AAAA'\n\toption host_id '::'\n", "is not an interface identifier"),
        ("\toption type 'AAAA'\n\toption mac '01:00:5e:00:00:01'\n", "is not a host's MAC address"),  # multicast
        ("\toption type 'AAAA'\n\toption mac 'aa:bb:cc:dd:ee'\n", "is not a host's MAC address"),
        ("\toption type 'AAAA'\n\toption mac 'aa:bb-cc:dd:ee:ff'\n", "is not a host's MAC address"),
        ("\toption host_id '::1'\n", "c:6: option host_id: only for type AAAA"),
        ("\toption type 'AAAA'\n\toption host_id '::1'\n\toption mac 'aa:bb:cc:dd:ee:ff'\n", "c:8: config record 'nas' has both option host_id and option mac"),
        ("\toption type 'AAAA'\n\toption source 'echo'\n\toption mac 'aa:bb:cc:dd:ee:ff'\n", "not with option source 'echo'"),
    ],
)
def test_the_options_are_checked_at_their_line(options, want):
    if isinstance(want, dict):
        (record,) = config.parse(RECORDS + options, "/c").records
        assert {k: getattr(record, k) for k in want} == want
        return
    with pytest.raises(ConfigError) as info:
        config.parse(RECORDS + options, "/c")
    assert want in str(info.value)


def test_detect_says_the_prefix_and_host_part_or_the_neighbour():
    (nas, tv) = config.parse(f"config key 'k'\n\toption secret '{S256}'\n"
                             "config record 'nas'\n\toption name 'nas.example.com'\n\toption type 'AAAA'\n\toption device 'br-lan'\n\toption host_id '::1234'\n"
                             f"config record 'tv'\n\toption name 'tv.example.com'\n\toption type 'AAAA'\n\toption device 'br-lan'\n\toption mac '{MAC}'\n", "/c").records
    device = Device("br-lan", True, lan((OLD, 0, 3600), (ULA, 0, 3600)) + (Address(A(f"{OLD}::99"), 64, IFA_F_TEMPORARY),),
                    (n(f"{OLD}::5", 1), n(f"{ULA}::5", 2)))
    assert str(detect(nas, device)) == f"{OLD}::1234 (interface br-lan: prefix {OLD}::/64 + host part ::1234)"
    assert str(detect(tv, device)) == f"{OLD}::5 (interface br-lan: neighbour {MAC}: the address seen first)"
