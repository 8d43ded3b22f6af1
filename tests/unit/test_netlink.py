"""netlink.parse: real rtnetlink datagrams (encoded by pyroute2's own classes, as the kernel
lays them out) in, the project's own values out; and the light pyroute2 import.

The differential tests (below "pyroute2 as the oracle") encode links, addresses, routes and
neighbours with pyroute2's message classes, decode the same bytes with pyroute2, and
compare what parse() makes of them with what pyroute2's decode means by the kernel's rules
(rtnetlink(7)): parse() reads addresses, routes and neighbours with its own few lines, so
pyroute2 is the independent reader here. They run on the pyroute2 of each venv (0.7.9 in
.venv-floor, the newest in .venv)."""

import ipaddress
import struct
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.ndmsg import ndmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

from ddns_edge import netlink
from ddns_edge.addresses import IFA_F_DEPRECATED, IFA_F_PERMANENT
from ddns_edge.model import FOREVER, Address, AddressChange, Link, LinkGone, NeighbourChange, RouteChange
from ddns_edge.netlink import (
    IFF_RUNNING,
    IFF_UP,
    RTM_DELADDR,
    RTM_DELLINK,
    RTM_DELNEIGH,
    RTM_DELROUTE,
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTM_NEWNEIGH,
    RTM_NEWROUTE,
)


def wire(msg, kind):
    msg["header"]["type"] = kind
    msg.encode()
    return bytes(msg.data)


def link_msg(index, name, flags, kind=RTM_NEWLINK):
    msg = ifinfmsg()
    msg["index"] = index
    msg["flags"] = flags
    msg["attrs"] = [("IFLA_IFNAME", name)]
    return wire(msg, kind)


def addr_msg(index, text, prefixlen, flags=IFA_F_PERMANENT, preferred=0xFFFFFFFF, valid=0xFFFFFFFF, kind=RTM_NEWADDR, peer=None):
    """As the kernel lays it out (inet_fill_ifaddr, inet6_fill_ifaddr): IPv4 always has
    IFA_LOCAL (the address) and IFA_ADDRESS (the peer, or the address again); IPv6 has
    IFA_ADDRESS alone, or with a peer IFA_LOCAL (the address) and IFA_ADDRESS (the peer)."""
    msg = ifaddrmsg()
    msg["index"] = index
    msg["family"] = 10 if ":" in text else 2
    msg["prefixlen"] = prefixlen
    msg["flags"] = flags & 0xFF
    msg["attrs"] = [("IFA_ADDRESS", peer or text), ("IFA_FLAGS", flags),
                    ("IFA_CACHEINFO", {"ifa_preferred": preferred, "ifa_valid": valid, "cstamp": 0, "tstamp": 0})]
    if ":" not in text or peer is not None:
        msg["attrs"].append(("IFA_LOCAL", text))
    return wire(msg, kind)


@pytest.mark.parametrize("data, want", [
    (link_msg(3, "wan0", IFF_UP | IFF_RUNNING), [Link(3, "wan0", True)]),
    (link_msg(3, "wan0", IFF_UP), [Link(3, "wan0", False)]),  # up but no carrier
    (link_msg(3, "wan0", 0, RTM_DELLINK), [LinkGone(3)]),
    (addr_msg(3, "198.51.100.2", 24),
     [AddressChange(3, Address(ipaddress.ip_address("198.51.100.2"), 24, IFA_F_PERMANENT))]),
    (addr_msg(3, "2001:db8::2", 64, IFA_F_DEPRECATED, preferred=0, valid=3600, kind=RTM_DELADDR),
     [AddressChange(3, Address(ipaddress.ip_address("2001:db8::2"), 64, IFA_F_DEPRECATED, 0, 3600), gone=True)]),
    # with a peer, the address is IFA_LOCAL and the peer IFA_ADDRESS: for IPv6 as for IPv4
    (addr_msg(3, "198.51.100.2", 32, peer="198.51.100.1"),
     [AddressChange(3, Address(ipaddress.ip_address("198.51.100.2"), 32, IFA_F_PERMANENT))]),
    (addr_msg(3, "2001:db8:2::2", 128, peer="2001:db8:2::99"),
     [AddressChange(3, Address(ipaddress.ip_address("2001:db8:2::2"), 128, IFA_F_PERMANENT))]),
    # two messages in one datagram, as the kernel batches them
    (link_msg(2, "lan", IFF_UP | IFF_RUNNING) + addr_msg(2, "192.168.1.1", 24),
     [Link(2, "lan", True), AddressChange(2, Address(ipaddress.ip_address("192.168.1.1"), 24, IFA_F_PERMANENT))]),
])
def test_parse_gives_the_projects_values(data, want):
    assert netlink.parse(data) == want


def test_parse_passes_over_what_it_cannot_use():
    route = bytearray(link_msg(3, "wan0", 0))
    route[4:6] = (24).to_bytes(2, sys.byteorder)  # a link body read as RTM_NEWROUTE: no family of ours
    assert netlink.parse(bytes(route)) == []
    assert netlink.parse(b"\x00" * 7) == []  # shorter than a header
    cut = link_msg(3, "wan0", 0)
    assert netlink.parse(cut[:-4]) == []  # a length beyond the data


def test_parse_leaves_pyroute2_importable():
    """parse() loads pyroute2's two message classes without its __init__ (which would load
    IPRoute, NDB and asyncio), leaves no half-imported package behind, and a later
    `import pyroute2` still gets the real one."""
    code = (
        "import sys\n"
        "from ddns_edge import netlink\n"
        "events = netlink.dump()\n"
        "assert any(type(e).__name__ == 'Link' and e.name == 'lo' for e in events), events\n"
        "assert 'pyroute2' not in sys.modules, 'pyroute2 left half-imported'\n"
        "assert 'asyncio' not in sys.modules, 'the whole of pyroute2 was loaded'\n"
        "import pyroute2\n"
        "assert hasattr(pyroute2, 'IPRoute'), 'a later import pyroute2 is not the real package'\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "ok\n", proc.stderr


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([16, 17, 20, 21, 24, 25, 28, 29]))
def test_any_bytes_in_a_message_give_values_or_nothing_never_an_exception(body, kind):
    data = struct.pack("=IHHII", 16 + len(body), kind, 0, 0, 0) + body
    assert isinstance(netlink.parse(data), list)


def test_parse_leaves_nothing_for_the_cycle_collector():
    """pyroute2's decoded messages hold themselves (`chain`, nested attributes their parent):
    parse() breaks those cycles, so a flood of events is freed as it is read instead of
    piling up in the collector's oldest generation (where it kept RSS high after a flood)."""
    import gc

    data = b"".join(addr_msg(3, f"10.0.{i // 250}.{i % 250 + 1}", 32) for i in range(500)) + link_msg(3, "wan0", IFF_UP)
    gc.collect()
    gc.disable()
    try:
        events = netlink.parse(data)
        garbage = gc.collect()
    finally:
        gc.enable()
    assert len(events) == 501
    assert garbage == 0, f"{garbage} objects of cyclic garbage after parsing 501 messages"


# ------------------------------------------------------------------ pyroute2 as the oracle

AF_INET, AF_INET6, AF_BRIDGE, AF_MPLS = 2, 10, 7, 28
CLASSES = {RTM_NEWLINK: ifinfmsg, RTM_DELLINK: ifinfmsg, RTM_NEWADDR: ifaddrmsg, RTM_DELADDR: ifaddrmsg,
           RTM_NEWROUTE: rtmsg, RTM_DELROUTE: rtmsg, RTM_NEWNEIGH: ndmsg, RTM_DELNEIGH: ndmsg}


def encode(kind, fields, attrs):
    msg = CLASSES[kind]()
    for name, value in fields.items():
        msg[name] = value
    msg["attrs"] = attrs
    return wire(msg, kind)


def meaning(data):
    """What each message in `data` means, read by pyroute2 (its header, fields and attributes)
    and the kernel's rules; the values parse() must give."""
    out, offset = [], 0
    while offset < len(data):
        length, kind = struct.unpack_from("=IH", data, offset)
        msg = CLASSES[kind](data[offset:offset + length])
        msg.decode()
        value = {ifinfmsg: _link, ifaddrmsg: _address, rtmsg: _route, ndmsg: _neighbour}[type(msg)](msg, kind)
        out += [value] if value is not None else []
        offset += (length + 3) & ~3
    return out


def _link(msg, kind):
    if kind == RTM_DELLINK:
        return LinkGone(msg["index"])
    name = msg.get_attr("IFLA_IFNAME")
    return None if name is None else Link(msg["index"], name, msg["flags"] & (IFF_UP | IFF_RUNNING) == IFF_UP | IFF_RUNNING)


def _address(msg, kind):
    """IFA_LOCAL is the interface's own address when there is one, IFA_ADDRESS then the peer's
    (a point-to-point address); with no IFA_LOCAL, IFA_ADDRESS is the address. For IPv4 and
    IPv6 alike (linux/if_addr.h)."""
    raw = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
    if raw is None or msg["family"] not in (AF_INET, AF_INET6):
        return None
    flags = msg.get_attr("IFA_FLAGS")
    cache = msg.get_attr("IFA_CACHEINFO")
    preferred, valid = (cache["ifa_preferred"], cache["ifa_valid"]) if cache else (FOREVER, FOREVER)
    address = Address(ipaddress.ip_address(raw), msg["prefixlen"], msg["flags"] if flags is None else flags, preferred, valid)
    return AddressChange(msg["index"], address, gone=kind == RTM_DELADDR)


def _route(msg, kind):
    """A unicast route of the main table; a table past 255 is in RTA_TABLE (the header says 252)."""
    table = msg.get_attr("RTA_TABLE")
    table = msg["table"] if table is None else table
    if msg["family"] not in (AF_INET, AF_INET6) or table != 254 or msg["type"] != 1:
        return None
    return RouteChange(4 if msg["family"] == AF_INET else 6, gone=kind == RTM_DELROUTE)


def _neighbour(msg, kind):
    """An IPv6 neighbour; its MAC when the kernel gave one of six bytes (none while unresolved)."""
    dst = msg.get_attr("NDA_DST")
    if msg["family"] != AF_INET6 or dst is None:
        return None
    mac = msg.get_attr("NDA_LLADDR")
    return NeighbourChange(msg["ifindex"], ipaddress.IPv6Address(dst), mac, msg["state"], gone=kind == RTM_DELNEIGH)


u8, u16, u32 = (st.integers(0, 2 ** n - 1) for n in (8, 16, 32))
i32 = st.integers(-(2 ** 31), 2 ** 31 - 1)
ipv4 = st.builds(ipaddress.IPv4Address, u32).map(str)
ipv6 = st.builds(ipaddress.IPv6Address, st.integers(0, 2 ** 128 - 1)).map(str)
mac = st.binary(min_size=6, max_size=6).map(lambda b: b.hex(":"))
cacheinfo = st.builds(lambda p, v: {"ifa_preferred": p, "ifa_valid": v, "cstamp": 0, "tstamp": 0}, u32, u32)


def some(*attrs):
    """Each (name, strategy) present or not, in the order given."""
    return st.tuples(*(st.one_of(st.none(), value.map(lambda v, n=name: (n, v))) for name, value in attrs)).map(
        lambda got: [a for a in got if a is not None])


@st.composite
def links(draw):
    kind = draw(st.sampled_from([RTM_NEWLINK, RTM_DELLINK]))
    attrs = draw(some(("IFLA_IFNAME", st.text("abcdefghijklmnopqrstuvwxyz0123456789.-_@", min_size=1, max_size=15)),
                      ("IFLA_MTU", u32), ("IFLA_ADDRESS", mac)))
    return encode(kind, {"index": draw(i32), "flags": draw(u32), "ifi_type": draw(u16)}, attrs)


@st.composite
def addresses(draw, ipv6_local=False):
    """An address message as the kernel sends one: IPv4 with IFA_LOCAL (equal to IFA_ADDRESS,
    or the peer's in IFA_ADDRESS), IPv6 with IFA_ADDRESS alone (`ipv6_local`: with a peer too)."""
    kind = draw(st.sampled_from([RTM_NEWADDR, RTM_DELADDR]))
    family = draw(st.sampled_from([AF_INET, AF_INET6]))
    address = ipv4 if family == AF_INET else ipv6
    own = draw(address)
    peer = draw(st.one_of(st.just(own), address))
    if family == AF_INET:
        attrs = [("IFA_ADDRESS", peer)] * draw(st.booleans()) + [("IFA_LOCAL", own)]
    elif ipv6_local:
        attrs = [("IFA_LOCAL", own), ("IFA_ADDRESS", draw(address.filter(lambda a: a != own)))]
    else:
        attrs = [("IFA_ADDRESS", own)]
    attrs += draw(some(("IFA_LABEL", st.just("wan0")), ("IFA_FLAGS", u32), ("IFA_CACHEINFO", cacheinfo)))
    fields = {"family": family, "prefixlen": draw(st.integers(0, 32 if family == AF_INET else 128)),
              "flags": draw(u8), "scope": draw(u8), "index": draw(u32)}
    return encode(kind, fields, attrs)


@st.composite
def routes(draw):
    kind = draw(st.sampled_from([RTM_NEWROUTE, RTM_DELROUTE]))
    family = draw(st.sampled_from([AF_INET, AF_INET6, AF_INET, AF_INET6, AF_BRIDGE, AF_MPLS]))
    attrs = []  # (pyroute2 encodes few attributes for other families; their header is what is read)
    if family in (AF_INET, AF_INET6):
        address = ipv4 if family == AF_INET else ipv6
        attrs = draw(some(("RTA_TABLE", st.one_of(st.just(254), u32)), ("RTA_DST", address), ("RTA_GATEWAY", address),
                          ("RTA_PREFSRC", address), ("RTA_OIF", u32), ("RTA_PRIORITY", u32)))
    fields = {"family": family, "dst_len": draw(u8), "table": draw(st.one_of(st.just(254), st.just(252), u8)),
              "proto": draw(u8), "scope": draw(u8), "type": draw(st.one_of(st.just(1), st.integers(0, 11))), "flags": draw(u32)}
    return encode(kind, fields, attrs)


@st.composite
def neighbours(draw):
    kind = draw(st.sampled_from([RTM_NEWNEIGH, RTM_DELNEIGH]))
    family = draw(st.sampled_from([AF_INET6, AF_INET6, AF_INET]))
    attrs = draw(some(("NDA_DST", ipv6 if family == AF_INET6 else ipv4), ("NDA_LLADDR", mac), ("NDA_PROBES", u32)))
    fields = {"family": family, "ifindex": draw(i32), "state": draw(u16), "flags": draw(u8), "ndm_type": draw(u8)}
    return encode(kind, fields, attrs)


@pytest.mark.parametrize("messages", [links(), addresses(), routes(), neighbours()], ids=["links", "addresses", "routes", "neighbours"])
def test_parse_reads_each_message_as_pyroute2_does(messages):
    @settings(max_examples=100, deadline=None)
    @given(messages)
    def check(data):
        assert netlink.parse(data) == meaning(data)

    check()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(links(), addresses(), routes(), neighbours()), min_size=1, max_size=8))
def test_a_datagram_of_many_messages_is_read_message_by_message(messages):
    data = b"".join(messages)
    assert netlink.parse(data) == meaning(data)


@settings(max_examples=50, deadline=None)
@given(addresses(ipv6_local=True))
def test_an_ipv6_address_with_a_peer_is_its_local_one(data):
    assert netlink.parse(data) == meaning(data)


R = {"dst_len": 0, "proto": 3, "scope": 0, "flags": 0}


@pytest.mark.parametrize("kind, fields, attrs, want", [
    (RTM_NEWROUTE, {"family": AF_INET, "table": 254, "type": 1}, [("RTA_GATEWAY", "192.0.2.1"), ("RTA_OIF", 3)], [RouteChange(4)]),
    (RTM_DELROUTE, {"family": AF_INET6, "table": 254, "type": 1}, [("RTA_GATEWAY", "fe80::1")], [RouteChange(6, gone=True)]),
    (RTM_NEWROUTE, {"family": AF_INET, "table": 252, "type": 1}, [("RTA_TABLE", 254)], [RouteChange(4)]),
    (RTM_NEWROUTE, {"family": AF_INET, "table": 252, "type": 1}, [("RTA_TABLE", 1000)], []),  # a table past 255
    (RTM_NEWROUTE, {"family": AF_INET, "table": 255, "type": 2}, [("RTA_DST", "192.0.2.2")], []),  # the local table
    (RTM_NEWROUTE, {"family": AF_INET6, "table": 254, "type": 7}, [], []),  # unreachable: no way out
    (RTM_NEWROUTE, {"family": AF_MPLS, "table": 254, "type": 1}, [], []),
], ids=["default v4", "v6 gone", "main in RTA_TABLE", "table 1000", "local", "unreachable", "mpls"])
def test_routes_of_the_main_table_only(kind, fields, attrs, want):
    data = encode(kind, {**R, **fields}, attrs)
    assert netlink.parse(data) == meaning(data) == want


@pytest.mark.parametrize("fields, attrs, want", [
    ({"family": AF_INET, "table": 254, "type": 1}, [("RTA_GATEWAY", "192.0.2.1"), ("RTA_OIF", 3)], (4, 3, 0)),
    ({"family": AF_INET, "table": 254, "type": 1}, [("RTA_GATEWAY", "203.0.113.1"), ("RTA_OIF", 5), ("RTA_PRIORITY", 20)], (4, 5, 20)),
    ({"family": AF_INET6, "table": 252, "type": 1}, [("RTA_TABLE", 254), ("RTA_OIF", 4), ("RTA_PRIORITY", 1024)], (6, 4, 1024)),
    ({"family": AF_INET, "table": 254, "type": 1, "dst_len": 24}, [("RTA_DST", "192.0.2.0"), ("RTA_OIF", 3)], None),  # not a default
    ({"family": AF_INET, "table": 1, "type": 1}, [("RTA_OIF", 3)], None),  # mwan3's own tables: not the main one
    ({"family": AF_INET, "table": 254, "type": 1}, [("RTA_GATEWAY", "192.0.2.1")], None),  # no device (multipath)
], ids=["v4", "v4 metric", "v6 in RTA_TABLE", "not default", "table 1", "no oif"])
def test_default_routes_of_the_main_table_with_device_and_metric(fields, attrs, want):
    data = encode(RTM_NEWROUTE, {**R, **fields}, attrs)
    assert netlink.default_route(data, 0) == want


def test_the_kernel_s_default_routes_are_dumped():
    assert all(f in (4, 6) and index > 0 and metric >= 0 for f, index, metric in netlink.default_routes())
