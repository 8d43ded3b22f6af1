"""Where a record's address comes from (sources.detect), table-driven: interface or echo."""

from __future__ import annotations

import ipaddress

import pytest

from ddns_edge.addresses import IFA_F_TENTATIVE
from ddns_edge.detect import detect, echo_key
from ddns_edge.model import Address, Agreement, Answer, Detection, Device, Record

A = ipaddress.ip_address


def rec(source="auto", rtype="A", device="wan0"):
    return Record(section="r", name="www.example.com", type=rtype, device=device, interface=None, source=source,
                  key="k", ttl=60, zone=None, server=None, port=53, enabled=True, line=1, path="c")


def addrs(*texts, flags=0):
    return Device("wan0", True, tuple(Address(A(t), 24 if ":" not in t else 64, flags) for t in texts))


PUBLIC = addrs("198.51.100.2", "2001:db8:1::2")
CGNAT = addrs("100.64.0.2", "fd00::2")
AGREED = Agreement(A("203.0.113.5"), "2 of 2 echo sources agree: http://e/ip, dns://e/whoami",
                   ("http://e/ip", "dns://e/whoami"), (("http://e/ip", Answer(A("203.0.113.5"))), ("dns://e/whoami", Answer(A("203.0.113.5")))))
AGREED6 = Agreement(A("2001:db8:1::2"), "from http://[e]/ip", ("http://[e]/ip",), ())
FAILED = Agreement(None, "echo sources disagree (203.0.113.5 from a; 198.51.100.66 from b); 2 must agree", (), ())

CASES = [
    # source, type, addresses, echo, (address, origin, needs_echo, words in the reason)
    ("auto", "A", PUBLIC, None, ("198.51.100.2", "interface wan0", False, "public address on the interface")),
    ("auto", "A", PUBLIC, AGREED, ("198.51.100.2", "interface wan0", False, "public address")),  # the echo is not used
    ("interface", "A", PUBLIC, None, ("198.51.100.2", "interface wan0", False, "public")),
    ("auto", "AAAA", PUBLIC, None, ("2001:db8:1::2", "interface wan0", False, "public")),
    # behind CGNAT: auto asks the echo, never publishes the private address
    ("auto", "A", CGNAT, None, (None, "echo", True, "only a private address (100.64.0.2) on wan0; the echo has not answered yet")),
    ("auto", "A", CGNAT, AGREED, ("203.0.113.5", "echo", True, "only a private address (100.64.0.2) on wan0; 2 of 2 echo sources agree")),
    ("auto", "A", CGNAT, FAILED, (None, "echo", True, "echo sources disagree")),
    ("auto", "AAAA", CGNAT, AGREED6, ("2001:db8:1::2", "echo", True, "only a private address (fd00::2) on wan0; from http://[e]/ip")),
    ("interface", "A", CGNAT, AGREED, (None, "interface wan0", False, "only a private address (100.64.0.2)")),
    # source echo: always the echo, whatever the device has, even without a device
    ("echo", "A", PUBLIC, None, (None, "echo", True, "source echo; the echo has not answered yet")),
    ("echo", "A", PUBLIC, AGREED, ("203.0.113.5", "echo", True, "source echo; 2 of 2")),
    ("echo", "A", None, AGREED, ("203.0.113.5", "echo", True, "source echo")),
    ("echo", "A", None, FAILED, (None, "echo", True, "disagree")),
    # nothing to ask the echo about: no device, no address, or none fit
    ("auto", "A", None, AGREED, (None, "interface wan0", False, "no such device")),
    ("auto", "A", addrs(), AGREED, (None, "interface wan0", False, "no IPv4 address")),
    ("auto", "AAAA", addrs("2001:db8:1::5", flags=IFA_F_TENTATIVE), AGREED6, (None, "interface wan0", False, "tentative")),
    ("auto", "AAAA", addrs("fe80::1"), AGREED6, (None, "interface wan0", False, "not public")),
]


@pytest.mark.parametrize("source, rtype, addresses, echo, want", CASES)
def test_detect(source, rtype, addresses, echo, want):
    found = detect(rec(source, rtype), addresses, None, echo)
    address, origin, needs_echo, words = want
    assert found.address is None or found.address.single is not None  # one device: one address
    assert (found.address, found.origin, found.needs_echo) == (None if address is None else {A(address)}, origin, needs_echo), found
    assert words in found.reason, found.reason
    if address is not None and origin == "echo":
        assert found.agreed == echo.agreed and found.answers == echo.answers
    if address is not None:
        assert found.address.single.is_global or address.startswith(("198.51.100.", "203.0.113.", "2001:db8:"))


def test_a_private_address_is_never_published_whatever_the_source():
    for source in ("auto", "interface", "echo"):
        for echo in (None, FAILED):
            assert detect(rec(source), CGNAT, None, echo).address is None


def test_detection_reads_as_one_line():
    found = detect(rec(), CGNAT, None, AGREED)
    assert str(found) == ("203.0.113.5 (echo: only a private address (100.64.0.2) on wan0; "
                          "2 of 2 echo sources agree: http://e/ip, dns://e/whoami)")
    assert str(Detection(None, "interface wan0", "no such device")) == "no address (interface wan0: no such device)"


def test_echo_key_is_family_and_device():
    assert echo_key(rec("auto", "A")) == (4, "wan0")
    assert echo_key(rec("echo", "AAAA", device=None)) == (6, None)
