"""The echo's pure core, table-driven: sources, answers of each kind, agreement, the round.

The built-in list (echo.DEFAULT_SOURCES) names real public services; they cannot be reached
from here, so these tests only check that the list parses and covers both families. The
netns tests (tests/netns/test_echo.py) replace it with real echo servers of their own.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddns_edge import echo
from ddns_edge.config import Agent
from ddns_edge.echo import Answer, Health, Round, agree, parse_dns, parse_exec, parse_http, parse_source, parse_text

A = ipaddress.ip_address


# ------------------------------------------------------------------ sources


@pytest.mark.parametrize(
    "text, kind, shown, host, port, target, applies4, applies6, problem",
    [
        ("https://icanhazip.com/", "https", "https://icanhazip.com/", "icanhazip.com", 443, "/", True, True, None),
        ("http://192.0.2.80/ip", "http", "http://192.0.2.80/ip", "192.0.2.80", 80, "/ip", True, False, None),
        ("http://[2001:db8::80]:8080/ip?x=1", "http", "http://[2001:db8::80]:8080/ip?x=1", "2001:db8::80", 8080, "/ip?x=1", False, True, None),
        ("https://user:s3cret@ip.example/", "https", "https://user@ip.example/", "ip.example", 443, "/", True, True, None),
        ("https://:s3cret@ip.example/", "https", "https://ip.example/", "ip.example", 443, "/", True, True, None),
        ("http://h.example:99999/", "http", "http://h.example:99999/", "", 0, "/", True, True, "bad URL"),
        ("dns://ns1.google.com/o-o.myaddr.l.google.com/TXT", "dns", None, "ns1.google.com", 53, "/", True, True, None),
        ("dns://resolver1.opendns.com/myip.opendns.com", "dns", None, "resolver1.opendns.com", 53, "/", True, True, None),
        ("dns://192.0.2.80/whoami.test/A", "dns", None, "192.0.2.80", 53, "/", True, False, None),
        ("dns://ns.example/whoami.test/AAAA", "dns", None, "ns.example", 53, "/", False, True, None),
        ("dns://ns.example:5353/whoami.test/a", "dns", None, "ns.example", 5353, "/", True, False, None),
        ("dns://2001:db8::53/whoami.test", "dns", None, "2001:db8::53", 53, "/", False, True, None),
        ("dns://[2001:db8::53]:5353/whoami.test/TXT", "dns", None, "2001:db8::53", 5353, "/", False, True, None),
        ("dns://ns.example:x/whoami.test", "dns", None, "", 0, "/", True, True, "bad server"),
        ("dns://ns.example/whoami.test/MX", "dns", None, "", 0, "/", True, True, "record type"),
        ("dns://ns.example", "dns", None, "", 0, "/", True, True, "dns://SERVER/NAME"),
        ("exec:ssh host 'echo $SSH_CONNECTION'", "exec", None, "", 0, "/", True, True, None),
        ("exec:", "exec", None, "", 0, "/", True, True, "no command"),
        ("ftp://x/", "ftp", None, "", 0, "/", True, True, "not an echo source"),
    ],
)
def test_parse_source(text, kind, shown, host, port, target, applies4, applies6, problem):
    s = parse_source(text)
    assert (s.kind, s.host, s.port, s.target) == (kind, host, port, target)
    assert s.shown == (shown or text) and str(s) == s.shown
    assert (s.applies(4), s.applies(6)) == (applies4, applies6)
    assert (s.problem is None) == (problem is None) and (problem is None or problem in s.problem)


def test_a_password_is_never_in_what_is_shown():
    s = parse_source("https://me:pa%40ss@ip.example/ip")
    assert s.auth == ("me", "pa@ss")
    assert "pa" not in s.shown.replace("ip.example", "") and "ss" not in repr(s) and "ss" not in str(s)


@pytest.mark.parametrize(
    "text, shown",
    [
        ("https://a:b@h/", "https://a@h/"),
        ("HTTP://a:b@h/p@q", "HTTP://a@h/p@q"),
        ("http://h/p@q", "http://h/p@q"),
        ("dns://h/n", "dns://h/n"),
        ("exec:echo a:b@c", "exec:echo a:b@c"),
    ],
)
def test_strip_password(text, shown):
    assert echo.strip_password(text) == shown


def test_built_in_list_is_used_when_none_is_configured_with_quorum_2():
    sources, quorum = echo.sources_of(Agent())
    assert [s.text for s in sources] == list(echo.DEFAULT_SOURCES) and quorum == 2
    # every built-in source parses, and each family has at least two of them
    assert all(s.problem is None for s in sources)
    for family in (4, 6):
        assert sum(s.applies(family) for s in sources) >= 2
    assert {s.kind for s in sources} == {"https", "dns"}


@pytest.mark.parametrize(
    "configured, quorum, want",
    [
        (("http://a/",), None, 1),
        (("http://a/", "http://b/"), None, 2),
        (("http://a/", "http://b/", "http://c/"), None, 2),
        (("http://a/", "http://b/", "http://c/"), 3, 3),
        (("http://a/", "http://b/"), 1, 1),
    ],
)
def test_quorum_defaults_to_2_with_two_or_more_sources(configured, quorum, want):
    assert echo.sources_of(Agent(echo=configured, echo_quorum=quorum))[1] == want


# ------------------------------------------------------------------ text answers

TEXT_CASES = [
    # body, family, address or the words of the rejection
    (b"203.0.113.5\n", 4, "203.0.113.5"),
    (b"  203.0.113.5  \r\n", 4, "203.0.113.5"),
    (b"203.0.113.5 is your address\n", 4, "203.0.113.5"),
    (b"::ffff:203.0.113.5\n", 4, "203.0.113.5"),
    (b"2001:db8:1::2\n", 6, "2001:db8:1::2"),
    (b"", 4, "an empty answer"),
    (b" \n\t", 4, "an empty answer"),
    (b"<!DOCTYPE html><html><body>203.0.113.5</body></html>", 4, "HTML page"),
    (b"Your IP: <b>203.0.113.5</b> <html>", 4, "HTML page"),
    (b"100.64.0.2\n", 4, "a private address (100.64.0.2)"),
    (b"10.1.2.3\n", 4, "a private address"),
    (b"192.168.1.1", 4, "a private address"),
    (b"fd00::1", 6, "a private address"),
    (b"fe80::1", 6, "a private address"),
    (b"127.0.0.1", 4, "a private address"),
    (b"2001:db8:1::2", 4, "an IPv6 address (2001:db8:1::2) where IPv4 was asked"),
    (b"203.0.113.5", 6, "an IPv4 address (203.0.113.5) where IPv6 was asked"),
    (b"hello world", 4, "not an address: 'hello'"),
    (b"203.0.113.5.7", 4, "not an address"),
    (b"0203.0.113.5", 4, "not an address"),
    (b"\xff\xfe\x00garbage", 4, "not an address"),
    (b'{"ip":"203.0.113.5"}', 4, "not an address"),
    (b"203.0.113.5 198.51.100.7", 4, "more than one address"),
    (b"203.0.113.5 203.0.113.5", 4, "203.0.113.5"),
    (b"A" * 5000, 4, "not an address: 'AAAA"),
]


@pytest.mark.parametrize("body, family, want", TEXT_CASES)
def test_parse_text(body, family, want):
    _check(parse_text(body, family), want)


def _check(answer: Answer, want: str) -> None:
    try:
        address = A(want)
    except ValueError:
        assert answer.address is None and want in answer.rejected, answer
    else:
        assert answer == Answer(address), answer


# ------------------------------------------------------------------ HTTP answers


def http(body: bytes = b"203.0.113.5\n", status: str = "200 OK", headers: tuple = ("Content-Type: text/plain",), length: bool = True) -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers] + ([f"Content-Length: {len(body)}"] if length else [])
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


HTTP_CASES = [
    ("plain", http(), True, "203.0.113.5"),
    ("HTTP/1.0, no length, ends at close", http(length=False).replace(b"HTTP/1.1", b"HTTP/1.0"), True, "203.0.113.5"),
    ("chunked", http(chunked(b"203.0", b".113.5\n"), headers=("Transfer-Encoding: chunked",), length=False), True, "203.0.113.5"),
    ("chunked with extension", http(b"5;x=1\r\n203.0\r\n6\r\n.113.5\r\n0\r\n\r\n", headers=("Transfer-Encoding: chunked",), length=False), True, "203.0.113.5"),
    ("text/plain; charset", http(headers=("Content-Type: text/plain; charset=utf-8",)), True, "203.0.113.5"),
    ("HTML by content type", http(b"203.0.113.5", headers=("Content-Type: text/html; charset=utf-8",)), True, "an HTML page"),
    ("HTML by content", http(b"<html><body>203.0.113.5</body></html>"), True, "an HTML page"),
    ("not found", http(b"nope", status="404 Not Found"), True, "HTTP status 404"),
    ("redirect", http(b"", status="301 Moved", headers=("Location: https://x/",)), True, "redirects are not followed"),
    ("server error", http(b"", status="503 Busy"), True, "HTTP status 503"),
    ("private", http(b"100.64.0.2\n"), True, "a private address (100.64.0.2)"),
    ("empty body", http(b""), True, "an empty answer"),
    ("huge length announced", http(b"", headers=("Content-Length: 10000000",), length=False), True, "an answer of 10000000 bytes"),
    ("huge body without length", http(b"203.0.113.5\n" * 1000, length=False), False, "larger than 4096 bytes"),
    ("huge chunked body", http(chunked(b"x" * 3000, b"y" * 3000), headers=("Transfer-Encoding: chunked",), length=False), False, "larger than 4096 bytes"),
    ("over the read limit", http(b"1" * 20000, length=False), False, "not read further"),
    ("headers too large", b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 1500, False, "headers larger than"),
    ("cut short by length", http()[:-3], True, "cut short"),
    ("cut short in headers", b"HTTP/1.1 200 OK\r\nContent-Le", True, "cut short"),
    ("chunked cut short", http(b"5\r\n203.0\r\n", headers=("Transfer-Encoding: chunked",), length=False), True, "cut short"),
    ("bad chunk size", http(b"zz\r\n203.0\r\n0\r\n\r\n", headers=("Transfer-Encoding: chunked",), length=False), True, "malformed chunked"),
    ("gzip", http(b"x", headers=("Transfer-Encoding: gzip",)), True, "other than chunked"),
    ("bad length", http(b"x", headers=("Content-Length: -1",), length=False), True, "bad Content-Length"),
    ("conflicting lengths", http(b"203.0.113.5", headers=("Content-Length: 3",)), True, "conflicting Content-Length"),
    ("bad header", b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n203.0.113.5", True, "malformed HTTP header"),
    ("not HTTP", b"SSH-2.0-OpenSSH_9.2\r\n\r\n", True, "not an HTTP answer"),
    ("nothing", b"", True, "no answer"),
    ("plain text without headers", b"203.0.113.5\n", True, "not an HTTP answer"),
]


@pytest.mark.parametrize("what, raw, eof, want", HTTP_CASES, ids=[c[0] for c in HTTP_CASES])
def test_parse_http(what, raw, eof, want):
    _check(parse_http(raw, 4, eof=eof), want)


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n",
        http()[:-3],
        http(length=False),
        http(b"5\r\n203.0\r\n", headers=("Transfer-Encoding: chunked",), length=False),
    ],
)
def test_parse_http_reads_on_while_incomplete(raw):
    assert parse_http(raw, 4, eof=False) is None


def test_parse_http_decides_before_the_end_when_the_length_is_known():
    assert parse_http(http() + b"trailing junk of a keep-alive server", 4, eof=False) == Answer(A("203.0.113.5"))


# ------------------------------------------------------------------ DNS answers


def dns_answer(qname="whoami.test.", rtype="A", records=(), rcode=dns.rcode.NOERROR, tc=False, qid=None, question=None):
    query = dns.message.make_query(question or qname, rtype)
    query.id = 4242
    response = dns.message.make_response(query)
    if qid is not None:
        response.id = qid
    for owner, rt, value in records:
        response.answer.append(dns.rrset.from_text(owner, 60, "IN", rt, value))
    response.set_rcode(rcode)
    if tc:
        response.flags |= dns.flags.TC
    return response.to_wire()


DNS_CASES = [
    ("A", "A", [("whoami.test.", "A", "203.0.113.5")], {}, 4, "203.0.113.5"),
    ("AAAA", "AAAA", [("whoami.test.", "AAAA", "2001:db8:1::2")], {}, 6, "2001:db8:1::2"),
    ("TXT google style", "TXT", [("whoami.test.", "TXT", '"203.0.113.5"')], {}, 4, "203.0.113.5"),
    ("TXT with client subnet", "TXT", [("whoami.test.", "TXT", '"203.0.113.5"'), ("whoami.test.", "TXT", '"edns0-client-subnet 203.0.113.0/24"')], {}, 4, "203.0.113.5"),
    ("TXT v6", "TXT", [("whoami.test.", "TXT", '"2001:db8:1::2"')], {}, 6, "2001:db8:1::2"),
    ("TXT other family", "TXT", [("whoami.test.", "TXT", '"2001:db8:1::2"')], {}, 4, "an IPv6 address"),
    ("TXT garbage", "TXT", [("whoami.test.", "TXT", '"hello"')], {}, 4, "no address in the TXT answer"),
    ("CNAME chain", "A", [("whoami.test.", "CNAME", "me.other."), ("me.other.", "A", "203.0.113.5")], {}, 4, "203.0.113.5"),
    ("unrelated owner", "A", [("other.test.", "A", "203.0.113.5")], {}, 4, "no address"),
    ("two addresses", "A", [("whoami.test.", "A", "203.0.113.5"), ("whoami.test.", "A", "203.0.113.6")], {}, 4, "more than one address"),
    ("private", "A", [("whoami.test.", "A", "100.64.0.2")], {}, 4, "a private address (100.64.0.2)"),
    ("mapped v4 in AAAA", "AAAA", [("whoami.test.", "AAAA", "::ffff:203.0.113.5")], {}, 6, "an IPv4 address"),
    ("empty", "A", [], {}, 4, "no address in the A answer"),
    ("NXDOMAIN", "A", [], {"rcode": dns.rcode.NXDOMAIN}, 4, "DNS NXDOMAIN"),
    ("REFUSED", "A", [], {"rcode": dns.rcode.REFUSED}, 4, "DNS REFUSED"),
    ("truncated", "A", [("whoami.test.", "A", "203.0.113.5")], {"tc": True}, 4, "truncated"),
    ("other id", "A", [("whoami.test.", "A", "203.0.113.5")], {"qid": 4243}, 4, "not the answer to our query"),
    ("other question", "A", [("whoami.test.", "A", "203.0.113.5")], {"question": "other.test."}, 4, "another question"),
]


@pytest.mark.parametrize("what, rtype, records, kw, family, want", DNS_CASES, ids=[c[0] for c in DNS_CASES])
def test_parse_dns(what, rtype, records, kw, family, want):
    _check(parse_dns(dns_answer(rtype=rtype, records=records, **kw), 4242, "whoami.test", rtype, family), want)


@pytest.mark.parametrize("wire", [b"", b"\x00", b"garbage" * 10, dns_answer()[:7]])
def test_parse_dns_rejects_what_is_not_dns(wire):
    answer = parse_dns(wire, 4242, "whoami.test", "A", 4)
    assert answer.address is None and "not a DNS answer" in answer.rejected


def test_parse_dns_rejects_a_query_sent_back():
    query = dns.message.make_query("whoami.test.", "A")
    query.id = 4242
    assert "not the answer" in parse_dns(query.to_wire(), 4242, "whoami.test", "A", 4).rejected


# ------------------------------------------------------------------ exec answers

EXEC_CASES = [
    ("SSH_CONNECTION", b"203.0.113.5 51234 192.0.2.22 22\n", 0, b"", 4, "203.0.113.5"),
    ("v6 SSH_CONNECTION", b"2001:db8:1::2 51234 2001:db8::22 22\n", 0, b"", 6, "2001:db8:1::2"),
    ("after a banner", b"Welcome!\nyour address: 203.0.113.5\n", 0, b"", 4, "203.0.113.5"),
    ("quoted", b'"203.0.113.5",\n', 0, b"", 4, "203.0.113.5"),
    ("mapped", b"::ffff:203.0.113.5 1 2 3\n", 0, b"", 4, "203.0.113.5"),
    ("first is private", b"100.64.0.2 203.0.113.5\n", 0, b"", 4, "a private address (100.64.0.2)"),
    ("first is v6 for A", b"2001:db8:1::2 22\n", 0, b"", 4, "an IPv6 address"),
    ("nothing", b"", 0, b"", 4, "printed nothing"),
    ("no address", b"hello\n", 0, b"", 4, "printed no address: 'hello'"),
    ("failed", b"", 255, b"ssh: connect to host h port 22: Connection refused\n", 4, "exited with status 255: 'ssh: connect to host h port 22: Connection refused'"),
    ("killed", b"", -9, b"", 4, "exited with status -9"),
    ("timed out", b"203.0.113.5", None, b"", 4, "did not finish in time"),
    ("too much", b"203.0.113.5 " * 400, 0, b"", 4, "printed more than 4096 bytes"),
]


@pytest.mark.parametrize("what, output, status, errors, family, want", EXEC_CASES, ids=[c[0] for c in EXEC_CASES])
def test_parse_exec(what, output, status, errors, family, want):
    _check(parse_exec(output, status, family, errors), want)


# ------------------------------------------------------------------ any bytes: an answer, never an exception

FAMILIES = st.sampled_from([4, 6])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), FAMILIES, st.booleans())
def test_parse_http_any_bytes(raw, family, eof):
    answer = parse_http(raw, family, eof=eof)
    assert answer is None and not eof or _is_answer(answer, family)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([http(), http(chunked(b"203.0", b".113.5\n"), headers=("Transfer-Encoding: chunked",), length=False)]),
       st.lists(st.tuples(st.integers(0, 200), st.binary(min_size=1, max_size=4)), max_size=4), FAMILIES)
def test_parse_http_mutated_answers(raw, edits, family):
    data = bytearray(raw)
    for at, new in edits:
        at %= len(data)
        data[at:at + len(new)] = new
    assert _is_answer(parse_http(bytes(data), family), family)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), FAMILIES)
def test_parse_text_any_bytes(raw, family):
    assert _is_answer(parse_text(raw, family), family)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), FAMILIES, st.sampled_from(["A", "AAAA", "TXT"]))
def test_parse_dns_any_bytes(wire, family, rtype):
    assert _is_answer(parse_dns(wire, 4242, "whoami.test", rtype, family), family)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), min_size=1, max_size=6), FAMILIES)
def test_parse_dns_mutated_answers(flips, family):
    data = bytearray(dns_answer(rtype="TXT", records=[("whoami.test.", "TXT", '"203.0.113.5"')]))
    for at, value in flips:
        data[at % len(data)] = value
    assert _is_answer(parse_dns(bytes(data), 4242, "whoami.test", "TXT", family), family)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.one_of(st.none(), st.integers(-255, 255)), st.binary(max_size=100), FAMILIES)
def test_parse_exec_any_bytes(output, status, errors, family):
    assert _is_answer(parse_exec(output, status, family, errors), family)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_parse_source_any_text(text):
    for prefix in ("", "http://", "https://", "dns://", "exec:"):
        s = parse_source(prefix + text)
        assert isinstance(s.shown, str) and s.applies(4) in (True, False) and s.applies(6) in (True, False)


def _is_answer(answer, family) -> bool:
    if not isinstance(answer, Answer):
        return False
    if answer.address is not None:
        return answer.rejected is None and answer.address.version == family and echo.is_public(answer.address)
    return isinstance(answer.rejected, str) and answer.rejected != ""


# ------------------------------------------------------------------ agreement

X, Y, L = A("203.0.113.5"), A("203.0.113.6"), A("198.51.100.66")
NO = Answer(None, "an HTML page, not an address")


def votes(*answers):
    return [(f"s{i}", a if isinstance(a, Answer) else Answer(a)) for i, a in enumerate(answers)]


@pytest.mark.parametrize(
    "answers, quorum, address, words",
    [
        (votes(X), 1, X, "from s0"),
        (votes(X, X), 2, X, "2 of 2 echo sources agree: s0, s1"),
        (votes(L, X, X), 2, X, "2 of 3 echo sources agree: s1, s2"),  # a liar outvoted
        (votes(X, L, X), 2, X, "s0, s2"),
        (votes(X, NO, X), 2, X, "2 of 3"),
        (votes(X, L), 2, None, "echo sources disagree (203.0.113.5 from s0; 198.51.100.66 from s1); 2 must agree"),
        (votes(X, Y), 1, None, "disagree"),  # a tie is no agreement, whatever the quorum
        (votes(X, X, Y, Y), 2, None, "disagree"),
        (votes(X, NO), 2, None, "only 1 echo source(s) gave 203.0.113.5; 2 must agree"),
        (votes(X, X), 3, None, "only 2 echo source(s)"),
        (votes(NO, NO), 2, None, "no echo source gave a usable answer (s0: an HTML page, not an address; s1: an HTML page"),
        ([], 2, None, "no echo source asked"),
    ],
)
def test_agree(answers, quorum, address, words):
    out = agree(answers, quorum)
    assert out.address == address and words in out.reason, out
    assert out.answers == tuple(answers)
    if address is not None:
        assert len(out.agreed) >= quorum and all(dict(answers)[s].address == address for s in out.agreed)


# ------------------------------------------------------------------ the round


def sources(*texts):
    return [parse_source(t) for t in texts]


def play(rnd: Round, said: dict) -> list[str]:
    """Run a round against canned answers; returns the sources asked, in order."""
    asked = []
    while (s := rnd.next()) is not None:
        asked.append(s.text)
        rnd.add(s, said[s.text])
    return asked


SRC = sources("http://a/", "http://b/", "dns://c/n", "exec:d")


def test_round_stops_as_soon_as_the_quorum_agrees():
    rnd = Round(SRC, 4, 2)
    assert play(rnd, {s.text: Answer(X) for s in SRC}) == ["http://a/", "http://b/"]
    assert rnd.outcome().address == X


def test_round_asks_on_past_a_liar_and_a_rejection():
    rnd = Round(SRC, 4, 2)
    said = {"http://a/": Answer(L), "http://b/": NO, "dns://c/n": Answer(X), "exec:d": Answer(X)}
    assert play(rnd, said) == ["http://a/", "http://b/", "dns://c/n", "exec:d"]
    assert rnd.outcome().address == X and rnd.outcome().agreed == ("dns://c/n", "exec:d")


def test_round_stops_when_the_quorum_is_out_of_reach():
    rnd = Round(SRC, 4, 2)
    said = {"http://a/": NO, "http://b/": NO, "dns://c/n": NO, "exec:d": Answer(X)}
    assert play(rnd, said) == ["http://a/", "http://b/", "dns://c/n"]  # one left could never make two
    assert rnd.outcome().address is None


def test_round_asks_backed_off_sources_last():
    rnd = Round(SRC, 4, 2, backed_off=lambda s: s.text in ("http://a/", "dns://c/n"))
    assert play(rnd, {s.text: Answer(X) for s in SRC}) == ["http://b/", "exec:d"]
    rnd = Round(SRC, 4, 2, backed_off=lambda s: s.text in ("http://a/", "dns://c/n"))
    said = {"http://a/": Answer(X), "http://b/": NO, "dns://c/n": Answer(X), "exec:d": Answer(X)}
    assert play(rnd, said) == ["http://b/", "exec:d", "http://a/"]  # still asked when needed


def test_round_skips_sources_of_the_other_family():
    mixed = sources("http://192.0.2.80/", "http://[2001:db8::80]/", "dns://ns/n/A", "dns://ns/n/AAAA", "dns://ns/n/TXT")
    rnd = Round(mixed, 6, 3)
    assert play(rnd, {s.text: Answer(A("2001:db8::5")) for s in mixed}) == ["http://[2001:db8::80]/", "dns://ns/n/AAAA", "dns://ns/n/TXT"]
    rnd = Round(sources("http://192.0.2.80/"), 6, 1)
    assert rnd.next() is None and rnd.outcome().reason == "no echo source can be asked over IPv6"


def test_round_out_of_time_says_so():
    rnd = Round(SRC, 4, 2)
    s = rnd.next()
    rnd.add(s, Answer(X))
    rnd.out_of_time = True
    assert rnd.next() is None
    assert rnd.outcome().reason == "only 1 echo source(s) gave 203.0.113.5; 2 must agree; the round ran out of time"


def test_source_backoff_and_health():
    assert echo.source_backoff(0, 0.5) == 0
    assert echo.source_backoff(1, 0.5) == 30 and echo.source_backoff(2, 0.5) == 60
    assert echo.source_backoff(50, 0.999) <= echo.SOURCE_BACKOFF_CAP
    h = Health()
    h.after(NO, 100.0, 0.5)
    h.after(NO, 100.0, 0.5)
    assert (h.failures, h.until) == (2, 160.0)
    h.after(Answer(X), 200.0, 0.5)
    assert (h.failures, h.until) == (0, 0.0)


@pytest.mark.parametrize(
    "agreed, failures, interval, want",
    [(True, 0, 300, 300), (True, 0, 10, 10), (False, 1, 300, 1.0), (False, 2, 300, 2.0), (False, 4, 300, 8.0), (False, 30, 300, 300)],
)
def test_next_check(agreed, failures, interval, want):
    assert echo.next_check(agreed, failures, interval, 0.5) == want


# ------------------------------------------------------------------ the round's shell, with canned sources


def test_ask_keeps_to_its_budget_and_backs_off_failing_sources(monkeypatch):
    now = [0.0]
    answers = {"http://a/": NO, "http://b/": Answer(X), "dns://c/n": Answer(X), "exec:d": Answer(X)}
    asked = []

    def fake(source, family, device, timeout):
        asked.append((source.text, timeout))
        now[0] += 1.5
        return answers[source.text]

    monkeypatch.setattr(echo, "ask_one", fake)
    health = {}
    out = echo.ask(SRC, 4, "wan0", 2, health, clock=lambda: now[0], rand=lambda: 0.5)
    assert out.address == X and [a for a, _ in asked] == ["http://a/", "http://b/", "dns://c/n"]
    assert asked[0][1] == echo.TIMEOUTS["http"] and health["http://a/"].failures == 1
    asked.clear()
    out = echo.ask(SRC, 4, "wan0", 2, health, clock=lambda: now[0], rand=lambda: 0.5)
    assert [a for a, _ in asked] == ["http://b/", "dns://c/n"]  # a is backed off
    # a budget too short for everyone: the round ends, and says why
    asked.clear()
    answers["http://b/"] = NO
    out = echo.ask(SRC, 4, None, 2, {}, budget=3.5, clock=lambda: now[0], rand=lambda: 0.5)
    assert [a for a, _ in asked] == ["http://a/", "http://b/", "dns://c/n"] and asked[-1][1] == pytest.approx(0.5)
    assert out.address is None and "the round ran out of time" in out.reason


# ------------------------------------------------------------------ I/O on this machine only (loopback, local commands)


def test_exec_source_runs_the_command_with_the_family_in_its_environment():
    s = parse_source('exec:[ "$DDNS_EDGE_FAMILY" = 4 ] && echo "203.0.113.5 40000 192.0.2.22 22" || echo 2001:db8:1::2')
    assert echo.ask_one(s, 4, "wan0", 2) == Answer(X)
    assert echo.ask_one(s, 6, "wan0", 2) == Answer(A("2001:db8:1::2"))
    failing = parse_source("exec:echo no route >&2; exit 255")
    assert echo.ask_one(failing, 4, None, 2).rejected == "exited with status 255: 'no route'"


def test_exec_source_is_killed_at_its_timeout_with_what_it_started(tmp_path):
    pidfile = tmp_path / "pid"
    s = parse_source(f"exec:sleep 30 & echo $! > {pidfile}; sleep 30; echo 203.0.113.5")
    assert echo.ask_one(s, 4, None, 0.3).rejected == "did not finish in time"
    child = int(pidfile.read_text())

    def gone():
        try:
            with open(f"/proc/{child}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except FileNotFoundError:
            return True

    deadline = time.monotonic() + 10
    while not gone() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(), "the command's background child was left running"


def test_exec_source_output_is_cut_off():
    # `yes` never ends: only the cut-off gives this answer (else: "did not finish in time")
    assert echo.ask_one(parse_source("exec:yes 203.0.113.5"), 4, None, 2).rejected == "printed more than 4096 bytes"


class _Loopback:
    """A TCP server on 127.0.0.1 that answers every connection with `send(conn)`."""

    def __init__(self, send):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.send = send
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                try:
                    self.send(conn)
                except OSError:
                    pass

    def close(self):
        self.sock.close()


@pytest.mark.parametrize(
    "send, want",
    [
        (lambda c: c.sendall(http()), "203.0.113.5"),
        (lambda c: c.sendall(http(b"<html>203.0.113.5</html>", headers=("Content-Type: text/html",))), "an HTML page"),
        # 10 MB without a length: cut off after a few KiB, not read (else it would parse)
        (lambda c: [c.sendall(http(length=False)[:-12])] + [c.sendall(b"203.0.113.5\n" * 1000) for _ in range(850)], "larger than 4096 bytes"),
        # a drip, a byte every 0.3 s: the whole answer must come within the 2 s timeout
        # (read to the end, it would give the address)
        (lambda c: [c.sendall(bytes([b])) or time.sleep(0.3) for b in http()], "no answer within"),
    ],
    ids=["plain", "html", "10 MB", "drip"],
)
def test_http_source_on_loopback(send, want):
    server = _Loopback(send)
    try:
        answer = echo.ask_one(parse_source(f"http://127.0.0.1:{server.port}/ip"), 4, None, 2.0)
        _check(answer, want)
    finally:
        server.close()


def test_unreachable_sources_are_rejections_not_exceptions():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    assert echo.ask_one(parse_source(f"http://127.0.0.1:{port}/"), 4, None, 1).rejected == "Connection refused"
    assert "not an IPv6 address" in echo.ask_one(parse_source("http://127.0.0.1/"), 6, None, 1).rejected
    assert echo.ask_one(parse_source("http://h:99999/"), 4, None, 1).rejected.startswith("bad URL")


# ------------------------------------------------------------------ the agent's echo schedule (no sockets: echo.ask replaced)


class _Agent:
    """An agent.Agent on a config with echo sources, its device's addresses set by the test."""

    def __init__(self, tmp_path, monkeypatch, records="config record 'www'\n\toption name 'www.example.com'\n\toption device 'wan0'\n"):
        from ddns_edge import agent, config

        text = (f"config agent\n\toption state_dir '{tmp_path}'\n\tlist echo 'http://192.0.2.80/ip'\n"
                f"\tlist echo 'dns://192.0.2.80/whoami.test'\n\toption echo_interval '60'\n"
                f"config key 'home'\n\toption secret 'Wi28mLDG6l5YrDIg27zPh5tvG2jWR4GBt1Sq3WUUop8='\n{records}")
        self.agent = agent.Agent(config.parse(text, str(tmp_path / "c")), str(tmp_path / "c"))
        self.addresses = {"wan0": [echo_address("100.64.0.2")]}
        self.agent.view.addresses = lambda name: self.addresses.get(name)
        self.answer = agree(votes(X, X), 2)
        self.asked = []
        monkeypatch.setattr(echo, "ask", self._ask)

    def _ask(self, sources, family, device, quorum, health=None, **kw):
        self.asked.append((family, device, quorum, [s.text for s in sources]))
        return self.answer

    def start(self, now):
        for track in self.agent.tracks.values():
            self.agent._evaluate(track, now)
        self.agent._prune_echoes()

    @property
    def track(self):
        (track,) = self.agent.tracks.values()
        return track


def echo_address(text):
    from ddns_edge.addresses import Address

    return Address(A(text), 10)


def test_agent_asks_the_echo_at_start_only_behind_a_private_address(tmp_path, monkeypatch):
    a = _Agent(tmp_path, monkeypatch)
    now = time.monotonic()
    a.start(now)
    assert a.agent._deadline() == now and a.track.wanted.needs_echo and a.track.wanted.address is None
    a.agent._run_echoes(now)
    assert a.asked == [(4, "wan0", 2, ["http://192.0.2.80/ip", "dns://192.0.2.80/whoami.test"])]
    assert a.track.wanted.address == "203.0.113.5" and a.track.wanted.origin == "echo"
    assert a.track.retry_at is not None  # the update is due
    check = a.agent.echoes[(4, "wan0")]
    assert 60 <= check.next_at - now < 61  # then every echo_interval
    # a public address: no echo at all
    b = _Agent(tmp_path, monkeypatch)
    b.addresses["wan0"] = [echo_address("198.51.100.2")]
    b.start(now)
    assert b.agent.echoes == {} and b.track.wanted.address == "198.51.100.2"


def test_agent_asks_again_on_a_device_event_and_stops_when_the_address_is_public(tmp_path, monkeypatch):
    a = _Agent(tmp_path, monkeypatch)
    now = time.monotonic()
    a.start(now)
    a.agent._run_echoes(now)
    a.track.confirmed, a.track.retry_at = "203.0.113.5", None  # as if the update landed
    assert a.agent._deadline() == a.agent.echoes[(4, "wan0")].next_at
    a.addresses["wan0"] = [echo_address("100.64.0.3")]
    a.agent._evaluate_devices({"wan0"}, now + 1)
    assert a.agent._deadline() == now + 1  # a reconnect behind the NAT: ask at once
    a.agent._run_echoes(now + 1)
    assert len(a.asked) == 2 and a.track.retry_at is None  # same public address: nothing to send
    a.agent._evaluate_devices({"lan"}, now + 2)
    assert a.agent.echoes[(4, "wan0")].next_at > now + 2  # other devices do not matter
    a.addresses["wan0"] = [echo_address("198.51.100.9")]
    a.agent._evaluate_devices({"wan0"}, now + 3)
    assert a.agent.echoes == {} and a.track.wanted.address == "198.51.100.9"
    a.track.retry_at = None
    assert a.agent._deadline() is None  # no timer left


def test_agent_backs_off_rounds_without_agreement_and_leaves_the_record(tmp_path, monkeypatch):
    a = _Agent(tmp_path, monkeypatch)
    a.answer = agree(votes(X, L), 2)
    now = time.monotonic()
    a.start(now)
    a.agent._run_echoes(now)
    check = a.agent.echoes[(4, "wan0")]
    assert check.failures == 1 and 0.5 < check.next_at - now < 2
    assert a.track.wanted.address is None and "disagree" in a.track.wanted.reason and a.track.retry_at is None
    a.agent._run_echoes(check.next_at)
    assert check.failures == 2 and len(a.asked) == 2
    a.answer = agree(votes(X, X), 2)
    a.agent._run_echoes(check.next_at)
    assert check.failures == 0 and a.track.wanted.address == "203.0.113.5"


def test_agent_shares_one_round_per_family_and_device(tmp_path, monkeypatch):
    records = "".join(f"config record '{n}'\n\toption name '{n}.example.com'\n\toption device 'wan0'\n" for n in ("www", "mail"))
    records += "config record 'e'\n\toption name 'e.example.com'\n\toption source 'echo'\n"
    a = _Agent(tmp_path, monkeypatch, records)
    now = time.monotonic()
    a.start(now)
    a.agent._run_echoes(now)
    assert len(a.asked) == 2 and {d for _, d, _, _ in a.asked} == {None, "wan0"}
    assert all(t.wanted.address == "203.0.113.5" for t in a.agent.tracks.values())


def test_agent_survives_an_echo_round_that_raises(tmp_path, monkeypatch):
    a = _Agent(tmp_path, monkeypatch)
    monkeypatch.setattr(echo, "ask", lambda *args, **kw: 1 / 0)
    now = time.monotonic()
    a.start(now)
    a.agent._run_echoes(now)
    assert a.agent.echoes[(4, "wan0")].failures == 1 and a.track.wanted.address is None
