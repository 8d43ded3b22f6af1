"""updatewire.encode against dnspython: the same UPDATE, and a MAC dnspython accepts with the key."""

import ipaddress
import base64
import time

import dns.message
import dns.name
import dns.opcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.update
import pytest

from ddns_edge import dnsupdate, updatewire
from ddns_edge.algorithms import ALGORITHMS
from ddns_edge.model import Addresses, Current, Key
from ddns_edge.plan import Change

ip = ipaddress.ip_address  # addresses are values, from the kernel to the wire


def one(address):
    """A record's one address, as it travels (model.Addresses)."""
    return Addresses.of(ipaddress.ip_address(address))

SECRET = base64.b64decode("c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==")
CHANGES = {
    "from absent": [Change("www.example.com", "A", 60, Current(), one("198.51.100.2"))],
    "from two rdatas": [Change("www.example.com", "A", 300, Current(frozenset({ip("198.51.100.7"), ip("198.51.100.8")}), 60), one("198.51.100.2"))],
    "AAAA": [Change("v6.example.com", "AAAA", 60, Current(frozenset({ip("2001:db8::1")}), 60), one("2001:db8:1::2"))],
    "several": [Change(f"h{i}.sub.example.com", "A", 60, Current(frozenset({ip("192.0.2.1")}), 60), one(f"198.51.100.{i}")) for i in range(5)],
    "wildcard and apex": [Change("*.example.com", "A", 60, Current(), one("198.51.100.2")), Change("example.com", "A", 60, Current(), one("198.51.100.2"))],
}


def dnspython_update(zone, changes, key):
    """The UPDATE as dnspython writes it (what ddns-edge sent before updatewire)."""
    update = dns.update.UpdateMessage(dns.name.from_text(zone))
    for c in changes:
        name, rdtype = dns.name.from_text(c.name), dns.rdatatype.from_text(c.rtype)
        if c.old.absent:
            update.absent(name, rdtype)
        else:
            update.present(name, *[dns.rdata.from_text(dns.rdataclass.IN, rdtype, str(a)) for a in sorted(c.old.rdatas)])
        update.delete(name, rdtype)
        update.add(name, c.ttl, rdtype, str(c.new))
    return update


@pytest.mark.parametrize("what", list(CHANGES))
@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_the_same_update_as_dnspython_and_a_mac_it_accepts(what, algorithm):
    key = Key("home", "DDNS-Key.example", algorithm, SECRET, "test")
    wire, mac = updatewire.encode(0x1234, "example.com", CHANGES[what], key, 10, int(time.time()))
    keyring = dnsupdate.tsig_key(key)
    got = dns.message.from_wire(wire, keyring=keyring)  # checks the MAC and the time
    want = dns.message.from_wire(dnspython_update("example.com", CHANGES[what], key).to_wire())  # parsed alike
    assert got.id == 0x1234 and got.opcode() == dns.opcode.UPDATE and got.had_tsig
    assert got.zone == want.zone and got.prerequisite == want.prerequisite and got.update == want.update
    assert got.tsig[0].fudge == 10 and got.tsig[0].mac == mac


def test_a_wrong_secret_or_a_changed_byte_is_refused():
    key = Key("home", "ddns-key", "hmac-sha256", SECRET, "test")
    wire, _ = updatewire.encode(7, "example.com", CHANGES["from absent"], key, 10, int(time.time()))
    with pytest.raises(dns.tsig.BadSignature):
        dns.message.from_wire(wire, keyring=dns.tsig.Key("ddns-key", b"another secret", "hmac-sha256"))
    tampered = bytearray(wire)
    tampered[wire.index(bytes([198, 51, 100, 2]))] ^= 1  # the new address
    with pytest.raises(dns.tsig.BadSignature):
        dns.message.from_wire(bytes(tampered), keyring=dnsupdate.tsig_key(key))


def test_the_time_signed_is_what_the_server_checks_against_the_fudge():
    key = Key("home", "ddns-key", "hmac-sha256", SECRET, "test")
    wire, _ = updatewire.encode(7, "example.com", CHANGES["from absent"], key, 10, int(time.time()) - 60)
    with pytest.raises(dns.tsig.BadTime):  # a copy a minute old is refused with a 10 s fudge
        dns.message.from_wire(wire, keyring=dnsupdate.tsig_key(key))


def test_signed_update_answers_are_matched_against_its_mac():
    key = Key("home", "ddns-key", "hmac-sha256", SECRET, "test")
    request = dnsupdate.build_update("example.com", CHANGES["from absent"], key, 10)
    wire = request.wire
    query = dns.message.from_wire(wire, keyring=dnsupdate.tsig_key(key))
    answer = dns.message.make_response(query).to_wire()
    assert request.answered_by(dns.message.from_wire(updatewire.split_tsig(answer)[0]))
    assert dns.message.from_wire(answer, keyring=dnsupdate.tsig_key(request.key), request_mac=request.mac).rcode() == 0


# --- split_tsig: the TSIG record taken off an answer, without dnspython's key handling ---------------


def answers(rcode=0, tsig_error=0, other=b""):
    """(a signed answer's wire, the same answer unsigned) to a signed UPDATE."""
    key = Key("home", "ddns-key", "hmac-sha256", SECRET, "test")
    wire = dnsupdate.build_update("example.com", CHANGES["several"], key, 10).wire
    signed = dns.message.make_response(dns.message.from_wire(wire, keyring=dnsupdate.tsig_key(key)))
    unsigned = dns.message.make_response(dns.message.from_wire(wire[:10] + b"\0\0" + wire[12:wire.rindex(b"\x08ddns-key")]))
    for answer in (signed, unsigned):
        answer.set_rcode(rcode)
    signed.use_tsig(dnsupdate.tsig_key(key), tsig_error=tsig_error, other_data=other)
    return signed.to_wire(), unsigned.to_wire()


def test_split_tsig_gives_the_message_without_it_and_its_fields():
    wire, unsigned = answers(rcode=5)
    stripped, tsig = updatewire.split_tsig(wire)
    assert tsig is not None and tsig.key_name == updatewire.name_wire("ddns-key") and tsig.error == 0
    assert abs(tsig.time_signed - time.time()) < 60 and tsig.fudge == 300 and tsig.other == b""
    assert stripped == unsigned
    parsed = dns.message.from_wire(stripped)  # no key needed: it holds no TSIG any more
    assert parsed.rcode() == 5 and not parsed.had_tsig


def test_split_tsig_reads_a_tsig_error_and_the_servers_clock():
    wire, _ = answers(tsig_error=18, other=(1234567890).to_bytes(6, "big"))
    _, tsig = updatewire.split_tsig(wire)
    assert tsig.error == 18 and int.from_bytes(tsig.other, "big") == 1234567890


def test_split_tsig_leaves_an_unsigned_message_as_it_is():
    _, unsigned = answers()
    assert updatewire.split_tsig(unsigned) == (unsigned, None)


@pytest.mark.parametrize("mangle", [
    lambda w: w[:-1],  # cut short
    lambda w: w + b"\0",  # trailing bytes
    lambda w: w[:11] + bytes([w[11] + 1]) + w[12:],  # ARCOUNT says one more record than there is
    lambda w: w[:5],  # not even a header
], ids=["cut short", "trailing", "count", "header"])
def test_split_tsig_refuses_what_does_not_parse(mangle):
    wire, _ = answers()
    with pytest.raises(ValueError):
        updatewire.split_tsig(mangle(wire))


def test_split_tsig_refuses_a_tsig_that_is_not_the_last_record():
    wire, unsigned = answers()
    tsig_rr = wire[len(unsigned):]
    a_rr = b"\x01x\x00" + bytes.fromhex("0001 0001 00000000 0004") + bytes(4)  # x. A 0.0.0.0, after the TSIG
    with pytest.raises(ValueError, match="not the last"):
        updatewire.split_tsig(unsigned[:10] + (2).to_bytes(2, "big") + unsigned[12:] + tsig_rr + a_rr)


LONG = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 49]) + ".example.com"  # 253 characters, as names.py allows at most


@pytest.mark.parametrize("what", list(CHANGES))
@pytest.mark.parametrize("algorithm", ["hmac-md5", "hmac-sha256", "hmac-sha512"])
def test_sizes_are_the_encoded_ones(what, algorithm):
    key = Key("home", "ddns-key.example", algorithm, SECRET, "test")
    wire, _ = updatewire.encode(1, "example.com", CHANGES[what], key, 10, int(time.time()))
    assert len(wire) == updatewire.overhead("example.com", key) + sum(map(updatewire.change_size, CHANGES[what]))


def test_batches_are_split_by_their_encoded_size_in_order():
    """80 records of 253-character names made one UPDATE over 65,535 bytes: OverflowError
    at the TCP length prefix, a traceback for `once`, every retry failing for `run`."""
    assert len(LONG) == 253
    key = Key("home", "ddns-key", "hmac-sha512", SECRET, "test")
    changes = [Change(f"{i:03d}{LONG[3:]}", "AAAA", 60, Current(frozenset({ip("2001:db8::1")})), one("2001:db8::2")) for i in range(200)]
    out, too_large = updatewire.batches("example.com", changes, key)
    assert not too_large and [c for batch in out for c in batch] == changes
    sizes = [len(updatewire.encode(1, "example.com", batch, key, 10, int(time.time()))[0]) for batch in out]
    assert max(sizes) <= updatewire.MAX_MESSAGE and len(out) == 3  # as few as fit
    assert all(size + updatewire.change_size(changes[0]) > updatewire.MAX_MESSAGE for size in sizes[:-1])  # each one full


def test_a_change_too_large_alone_is_set_apart():
    key = Key("home", "ddns-key", "hmac-sha256", SECRET, "test")
    crowded = Current(frozenset(ip(f"2001:db8::{i:x}") for i in range(300)))  # 300 addresses at the server, all in the prerequisite
    changes = [Change("a.example.com", "AAAA", 60, Current(), one("2001:db8::2")), Change(LONG, "AAAA", 60, crowded, one("2001:db8::2"))]
    out, too_large = updatewire.batches("example.com", changes, key)
    assert out == [changes[:1]] and too_large == changes[1:]
    assert updatewire.batches("example.com", [], key) == ([], [])


def test_a_records_own_change_always_fits():
    """Why `check` has nothing to refuse: with what names.py allows (253 characters), the
    largest key name and MAC, a record's change from one address is a few hundred bytes."""
    key = Key("home", LONG, "hmac-sha512", SECRET, "test")
    lone = updatewire.overhead(LONG, key) + updatewire.change_size(Change(LONG, "AAAA", 604800, Current(frozenset({ip("2001:db8::1")})), one("2001:db8::2")))
    assert lone < 2048 < updatewire.MAX_MESSAGE
