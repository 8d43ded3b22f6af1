"""Address rules of DESIGN.md, table-driven."""

import ipaddress

import pytest

from ddns_edge.addresses import (
    IFA_F_DADFAILED,
    IFA_F_DEPRECATED,
    IFA_F_PERMANENT,
    IFA_F_TEMPORARY,
    IFA_F_TENTATIVE,
    choose,
    is_public,
)
from ddns_edge.model import Address


@pytest.mark.parametrize(
    "text, public",
    [
        ("8.8.8.8", True),
        ("198.51.100.7", True),  # documentation ranges count as public (tests and demos)
        ("192.0.2.1", True),
        ("203.0.113.9", True),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("172.31.255.254", False),
        ("172.32.0.1", True),
        ("192.168.1.1", False),
        ("100.64.0.2", False),  # CGNAT
        ("100.127.255.255", False),
        ("100.128.0.1", True),
        ("127.0.0.1", False),
        ("169.254.3.4", False),
        ("0.1.2.3", False),
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("2001:db8::1", True),
        ("2a00:1450::1", True),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:198.51.100.7", False),
    ],
)
def test_is_public(text, public):
    assert is_public(ipaddress.ip_address(text)) is public


def A(text, flags=IFA_F_PERMANENT, preferred=0xFFFFFFFF, valid=0xFFFFFFFF):
    return Address(ipaddress.ip_address(text), 64 if ":" in text else 24, flags, preferred, valid)


@pytest.mark.parametrize(
    "rtype, addrs, published, want",
    [
        ("A", [A("198.51.100.2")], None, "198.51.100.2"),
        ("A", [A("10.0.0.2"), A("198.51.100.2")], None, "198.51.100.2"),
        ("A", [A("2001:db8::2")], None, None),  # wrong family
        ("A", [A("198.51.100.2"), A("198.51.100.3")], "198.51.100.3", "198.51.100.3"),  # keep the published one
        ("A", [A("198.51.100.3"), A("198.51.100.2")], None, "198.51.100.2"),  # tie: lowest, stable
        ("AAAA", [A("fe80::1"), A("fd00::2"), A("2001:db8::2")], None, "2001:db8::2"),
        ("AAAA", [A("2001:db8::2", IFA_F_TENTATIVE)], None, None),
        ("AAAA", [A("2001:db8::2", IFA_F_DADFAILED | IFA_F_TENTATIVE)], None, None),
        ("AAAA", [A("2001:db8::2", IFA_F_DEPRECATED, preferred=0, valid=100)], None, None),
        ("AAAA", [A("2001:db8::2", 0, preferred=0, valid=100)], None, None),  # preferred 0 is deprecated
        ("AAAA", [A("2001:db8::2", IFA_F_TEMPORARY, 100, 200)], None, None),
        (
            "AAAA",
            [A("2001:db8::2", 0, preferred=100, valid=200), A("2001:db8::3", 0, preferred=3000, valid=7200)],
            None,
            "2001:db8::3",
        ),  # longest preferred lifetime
        (
            "AAAA",
            [A("2001:db8::2", 0, preferred=100, valid=200), A("2001:db8::3", 0, preferred=3000, valid=7200)],
            "2001:db8::2",
            "2001:db8::2",
        ),  # but the published one while it is still valid
        (
            "AAAA",
            [A("2001:db8::2", IFA_F_DEPRECATED, preferred=0, valid=200), A("2001:db8::3")],
            "2001:db8::2",
            "2001:db8::3",
        ),  # published but deprecated: move on
        ("AAAA", [A("2001:db8::2", IFA_F_TEMPORARY, 100, 200), A("2001:db8::9")], None, "2001:db8::9"),
    ],
)
def test_choose(rtype, addrs, published, want):
    pub = ipaddress.ip_address(published) if published else None
    got = choose(rtype, addrs, pub).address
    assert (str(got) if got else None) == want


def test_private_only_is_the_echo_cue():
    c = choose("A", [A("100.64.0.2")])
    assert c.address is None and str(c.private) == "100.64.0.2"
    assert "100.64.0.2" in c.reason


def test_link_local_is_not_a_private_cue():
    c = choose("AAAA", [A("fe80::1")])
    assert c.address is None and c.private is None


def test_reasons_name_the_unfit_address():
    c = choose("AAAA", [A("2001:db8::2", IFA_F_TENTATIVE)])
    assert "2001:db8::2 tentative" in c.reason
    assert "no IPv6 address" in choose("AAAA", []).reason
