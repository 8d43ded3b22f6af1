"""netlink.parse: real rtnetlink datagrams (encoded by pyroute2's own classes, as the kernel
lays them out) in, the project's own values out; and the light pyroute2 import."""

import ipaddress
import struct
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from ddns_edge import netlink
from ddns_edge.addresses import IFA_F_DEPRECATED, IFA_F_PERMANENT
from ddns_edge.model import Address, AddressChange, Link, LinkGone
from ddns_edge.netlink import IFF_RUNNING, IFF_UP, RTM_DELADDR, RTM_DELLINK, RTM_NEWADDR, RTM_NEWLINK


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
    route[4:6] = (24).to_bytes(2, sys.byteorder)  # RTM_NEWROUTE: not ours
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
