"""The echo's wire, table-driven: sources as the config gives them, and answers of each kind.

The built-in list (echo.DEFAULT_SOURCES) names real public services; they cannot be reached
from here, so these tests only check that the list parses and covers both families. The
netns tests (tests/netns/test_cgnat_echo.py) use real echo servers of their own.
"""

from __future__ import annotations

import ipaddress
import re

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddns_edge import echo, echo_wire
from ddns_edge.addresses import is_public
from ddns_edge.echo_wire import applies, parse_dns, parse_exec, parse_http, parse_source, parse_text
from ddns_edge.model import Agent, Answer

A = ipaddress.ip_address


# ------------------------------------------------------------------ sources


@pytest.mark.parametrize(
    "text, kind, shown, host, port, target, applies4, applies6",
    [
        ("https://icanhazip.com/", "https", "https://icanhazip.com/", "icanhazip.com", 443, "/", True, True),
        ("http://192.0.2.80/ip", "http", "http://192.0.2.80/ip", "192.0.2.80", 80, "/ip", True, False),
        ("http://[2001:db8::80]:8080/ip?x=1", "http", "http://[2001:db8::80]:8080/ip?x=1", "2001:db8::80", 8080, "/ip?x=1", False, True),
        ("https://user:s3cret@ip.example/", "https", "https://user@ip.example/", "ip.example", 443, "/", True, True),
        ("https://:s3cret@ip.example/", "https", "https://ip.example/", "ip.example", 443, "/", True, True),
        ("HTTPS://ip.example", "https", "HTTPS://ip.example", "ip.example", 443, "/", True, True),
        ("dns://ns1.google.com/o-o.myaddr.l.google.com/TXT", "dns", None, "ns1.google.com", 53, "/", True, True),
        ("dns://resolver1.opendns.com/myip.opendns.com", "dns", None, "resolver1.opendns.com", 53, "/", True, True),
        ("dns://192.0.2.80/whoami.test/A", "dns", None, "192.0.2.80", 53, "/", True, False),
        ("dns://ns.example/whoami.test/AAAA", "dns", None, "ns.example", 53, "/", False, True),
        ("dns://ns.example:5353/whoami.test/a", "dns", None, "ns.example", 5353, "/", True, False),
        ("dns://2001:db8::53/whoami.test", "dns", None, "2001:db8::53", 53, "/", False, True),
        ("dns://[2001:db8::53]:5353/whoami.test/TXT", "dns", None, "2001:db8::53", 5353, "/", False, True),
        ("exec:ssh host 'echo $SSH_CONNECTION'", "exec", "exec:ssh", "", 0, "/", True, True),
    ],
)
def test_parse_source(text, kind, shown, host, port, target, applies4, applies6):
    s = parse_source(text)
    assert (s.kind, s.host, s.port, s.target) == (kind, host, port, target)
    assert s.shown == (shown or text) and str(s) == s.shown
    assert (applies(s, 4), applies(s, 6)) == (applies4, applies6)


# What `check` refuses at file:line: the one parser is the config's check too, so a round
# never meets a source it cannot ask (config.py turns the ValueError into a ConfigError).
@pytest.mark.parametrize(
    "text, words",
    [
        ("", "empty echo source"),
        ("http://h.example:99999/", "bad port"),
        ("http://h.example:x/", "bad port"),
        ("https:///ip", "has no host"),
        ("https:ip.example", "has no host"),
        ("http://h\u00e9.example/", "neither an IP address nor a valid host name"),
        ("http://bad_host-.example/", "neither an IP address nor a valid host name"),
        ("http://1.2.3.4.5/", "neither an IP address nor a valid host name"),
        ("dns://192.0.2.300/whoami.test", "the server of the dns echo source"),
        ("http://h.example/a b", "must not hold spaces"),
        ("dns://ns.example:99999/x", "the server of the dns echo source"),
        ("dns://ns.example:x/whoami.test", "the server of the dns echo source"),
        ("dns://ns..example/whoami.test", "the server of the dns echo source"),
        ("dns://ns.example/whoami.test/MX", "must be A, AAAA or TXT"),
        ("dns://ns.example/who..ami", "not a valid DNS name"),
        ("dns://ns.example", "needs a server and a name"),
        ("dns:ns.example/x", "is written dns://SERVER/NAME"),
        ("exec:", "exec: needs a command"),
        ("exec:   ", "exec: needs a command"),
        ("ftp://x/", "unknown scheme 'ftp:'"),
        ("203.0.113.5", "not an echo source"),
    ],
)
def test_parse_source_refuses(text, words):
    with pytest.raises(ValueError) as info:
        parse_source(text)
    assert words in str(info.value)


def test_a_refusal_never_repeats_a_password():
    with pytest.raises(ValueError) as info:
        parse_source("https://me:hunter2@h.example:99999/")
    assert "hunter2" not in str(info.value)


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
    assert echo_wire.strip_password(text) == shown


def test_built_in_list_is_used_when_none_is_configured_with_quorum_2():
    sources, quorum = echo.sources_of(Agent())
    assert sources == echo.DEFAULT_SOURCES and quorum == 2
    # each family has at least two of them (every one parsed when echo.py was imported)
    for family in (4, 6):
        assert sum(applies(s, family) for s in sources) >= 2
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
    assert echo.sources_of(Agent(echo=tuple(map(parse_source, configured)), echo_quorum=quorum))[1] == want


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
    (b"x<img/src=x/onerror=alert(document.cookie)>", 4, "not an address: 43 bytes of text"),
    (b"203.0.113.5\x1b[2J", 4, "not an address: 15 bytes, not text"),
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
    check_answer(parse_text(body, family), want)


def check_answer(answer: Answer, want: str) -> None:
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
    check_answer(parse_http(raw, 4, eof=eof), want)


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
    check_answer(parse_dns(dns_answer(rtype=rtype, records=records, **kw), 4242, "whoami.test", rtype, family), want)


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
    ("SSH_CONNECTION", b"203.0.113.5 51234 192.0.2.22 22\n", 0, 4, "203.0.113.5"),
    ("v6 SSH_CONNECTION", b"2001:db8:1::2 51234 2001:db8::22 22\n", 0, 6, "2001:db8:1::2"),
    ("after a banner", b"Welcome!\nyour address: 203.0.113.5\n", 0, 4, "203.0.113.5"),
    ("quoted", b'"203.0.113.5",\n', 0, 4, "203.0.113.5"),
    ("mapped", b"::ffff:203.0.113.5 1 2 3\n", 0, 4, "203.0.113.5"),
    ("first is private", b"100.64.0.2 203.0.113.5\n", 0, 4, "a private address (100.64.0.2)"),
    ("first is v6 for A", b"2001:db8:1::2 22\n", 0, 4, "an IPv6 address"),
    ("nothing", b"", 0, 4, "printed nothing"),
    ("no address, not repeated", b"password=hunter2\n", 0, 4, "printed no address (16 bytes, not logged)"),
    ("failed", b"", 255, 4, "exited with status 255 (its output is not logged: run it by hand to see why)"),
    ("killed", b"", -9, 4, "exited with status -9"),
    ("timed out", b"203.0.113.5", None, 4, "did not finish in time"),
    ("too much", b"203.0.113.5 " * 400, 0, 4, "printed more than 4096 bytes"),
]


@pytest.mark.parametrize("what, output, status, family, want", EXEC_CASES, ids=[c[0] for c in EXEC_CASES])
def test_parse_exec(what, output, status, family, want):
    check_answer(parse_exec(output, status, family), want)
    assert b"hunter2" not in output or "hunter2" not in parse_exec(output, status, family).rejected


@pytest.mark.parametrize("command, position, shown", [
    ("ssh -4 me@vps.example.net 'echo $SSH_CONNECTION'", 3, "exec:ssh (echo source 3)"),
    ("/usr/local/bin/whoami-echo --token=hunter2", 1, "exec:whoami-echo (echo source 1)"),
    ("TOKEN=hunter2 curl -s https://ip.example/", 2, "exec:curl (echo source 2)"),
    ("echo password=hunter2; exit 1", None, "exec:echo"),
    ("'my prog' hunter2", 4, "exec:command (echo source 4)"),
    ("hunter2=x", None, "exec:command"),
])
def test_an_exec_source_is_named_by_its_program_and_place_never_its_command(command, position, shown):
    """The command used to be logged as written: `password=hunter2` appeared in the log."""
    s = parse_source("exec:" + command, position)
    assert s.shown == str(s) == shown and s.command == command
    assert "hunter2" not in repr(s)


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
@given(st.binary(max_size=300), st.one_of(st.none(), st.integers(-255, 255)), FAMILIES)
def test_parse_exec_any_bytes(output, status, family):
    assert _is_answer(parse_exec(output, status, family), family)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_parse_source_any_text(text):
    """Any text is a source or one ValueError that says why, never another exception."""
    for prefix in ("", "http://", "https://", "dns://", "exec:"):
        try:
            s = parse_source(prefix + text)
        except ValueError as e:
            assert str(e)
            continue
        assert isinstance(s.shown, str) and applies(s, 4) in (True, False) and applies(s, 6) in (True, False)


def _is_answer(answer, family) -> bool:
    if not isinstance(answer, Answer):
        return False
    if answer.address is not None:
        return answer.rejected is None and answer.address.version == family and is_public(answer.address)
    return isinstance(answer.rejected, str) and answer.rejected != "" and harmless(answer.rejected)


def harmless(reason: str) -> bool:
    """No markup and no control characters: printable ASCII without < > & and double quotes."""
    return re.fullmatch(r'[ !#-%(-;=?-~\']*', reason) is not None


# ------------------------------------------------------------------ what of an answer is repeated


@pytest.mark.parametrize("data, shown", [
    (b"hello", "'hello'"),
    (b"203.0.113.5.7", "'203.0.113.5.7'"),
    (b"HTTP/1.1 999", "'HTTP/1.1 999'"),
    (b"A" * 41, "'" + "A" * 40 + "'... (41 bytes)"),
    (b"<img src=x onerror=alert(1)>", "28 bytes of text"),
    (b"x<img/src=x/onerror=alert(1)>", "29 bytes of text"),
    (b"a&amp;b", "7 bytes of text"),
    (b'"quoted"', "8 bytes of text"),
    (b"it's", "4 bytes of text"),
    (b"caf\xc3\xa9", "5 bytes of text"),
    (b"\x1b]0;owned\x07", "10 bytes, not text"),
    (b"a\x00b", "3 bytes, not text"),
    (b"\xff\xfe", "2 bytes, not text"),
    (b"<", "1 byte of text"),
    (b"", "''"),
])
def test_describe_repeats_only_harmless_bytes(data, shown):
    assert echo_wire.describe(data) == shown and harmless(shown)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=80))
def test_describe_any_bytes_is_harmless(data):
    assert harmless(echo_wire.describe(data))
