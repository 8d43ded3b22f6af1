"""Talk to the zone's primary: find it, read a record, swap it with a signed UPDATE.

The I/O shell around plan.py. Every request is TSIG-signed; an answer counts only when
it comes from the server asked, matches the request's ID and question, and carries a
valid signature. Every failure becomes one line for the operator (an UpdateError, or an
Outcome.error): what failed, at which server, with which key, and what to check.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import ipaddress
import os
import select
import socket
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Iterator

import dns.entropy
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tsig

from ddns_edge import plan, report, updatewire
from ddns_edge.algorithms import ALGORITHMS
from ddns_edge.errors import UpdateError, no_route
from ddns_edge.model import Current, Key, Outcome, Record, Wanted
from ddns_edge.plan import CAS_ATTEMPTS, Change, needs_change

TIMEOUT = 5.0  # seconds for one exchange with the server
MAX_UDP = 65535
MAX_UDP_REQUEST = 1232  # larger requests go over TCP (the EDNS-safe datagram size)


@dataclass(frozen=True)
class Target:
    """Where a record's updates go: its zone, and the primary's address and port."""

    zone: str  # no trailing dot
    server: str  # an IP address
    port: int = 53
    server_name: str | None = field(default=None, compare=False)  # the name it came from (option server, SOA MNAME)

    def __str__(self) -> str:
        where = self.server if self.port == 53 else f"{self.server} port {self.port}"
        if self.server_name and self.server_name != self.server:
            where = f"{self.server_name} ({where})"
        return where


class Rejected(Exception):
    """The server answered, but not with success (or not with a trusted answer).

    `ignored`: when no correctly signed answer came before the deadline, what came instead
    (this answer among them), as the operator reads it; "" otherwise."""

    def __init__(self, rcode: dns.rcode.Rcode, tsig_error: dns.rcode.Rcode | None = None, server_time: int | None = None,
                 detail: str = "", ignored: str = "", resent: bool = False):
        super().__init__(dns.rcode.to_text(rcode))
        self.rcode = rcode
        self.tsig_error = tsig_error
        self.server_time = server_time
        self.detail = detail
        self.ignored = ignored
        self.unproven = False  # a TSIG error taken as the verdict after the grace: its answer is not checked
        self.resent = resent  # the request left more than once: the answer may be to a later copy than one that landed


class NoAnswer(socket.timeout):
    """No correctly signed answer before the deadline; `ignored`: what came instead ("" for nothing)."""

    def __init__(self, ignored: str = ""):
        super().__init__("no answer")
        self.ignored = ignored


def absolute(name: str) -> dns.name.Name:
    """A checked name (names.py: no final dot) as dnspython's, absolute."""
    return dns.name.from_text(name)


def name_text(name: dns.name.Name) -> str:
    """dnspython's name as ddns-edge writes names: without the final dot."""
    return name.to_text(omit_final_dot=True)


@functools.lru_cache(maxsize=64)
def tsig_key(key: Key) -> dns.tsig.Key:
    """The dnspython key to sign with (made once per key)."""
    return dns.tsig.Key(key.name, key.secret, ALGORITHMS[key.algorithm].wire)


# ---------------------------------------------------------------- exchange


@dataclass(frozen=True)
class Request:
    """A signed request as exchange() sends it: its wire, what an answer must match (its ID,
    opcode and question: the zone section of an UPDATE), and the key and MAC its answer's
    signature is checked with (RFC 8945 4.3.1: the answer's MAC covers the request's)."""

    wire: bytes
    id: int
    opcode: dns.opcode.Opcode
    question: tuple[tuple[dns.name.Name, dns.rdataclass.RdataClass, dns.rdatatype.RdataType], ...]  # name, class, type
    key: Key
    mac: bytes

    @classmethod
    def query(cls, message: dns.message.Message, key: Key) -> Request:
        """A query dnspython built, signed with `key` now."""
        message.use_tsig(tsig_key(key))
        wire = message.to_wire()
        assert message.mac is not None  # to_wire() signed it
        return cls(wire, message.id, message.opcode(), tuple((q.name, q.rdclass, q.rdtype) for q in message.question),
                   key, message.mac)

    def answered_by(self, answer: dns.message.Message) -> bool:
        """Whether `answer` (parsed, not trusted yet) is a response to this request: QR set, the
        same ID and opcode, and the same question, except where dnspython's is_response does
        not ask for one (an UPDATE's answer; a FORMERR, SERVFAIL, NOTIMP or REFUSED without)."""
        if not answer.flags & dns.flags.QR or answer.id != self.id or answer.opcode() != self.opcode:
            return False
        if answer.rcode() in _MAY_LACK_QUESTION and not answer.question:
            return True
        if self.opcode == dns.opcode.UPDATE:
            return True
        theirs = {(q.name, q.rdclass, q.rdtype) for q in answer.question}
        return theirs == set(self.question)


_MAY_LACK_QUESTION = {dns.rcode.FORMERR, dns.rcode.SERVFAIL, dns.rcode.NOTIMP, dns.rcode.REFUSED}


class Clock:
    """The time an exchange runs by: monotonic seconds (`now`), and a wait on sockets until a
    time on it (`select`). This one is the real clock; tests hand in one that jumps over a
    quiet wait, so that a timeout is tested without waiting for it."""

    def now(self) -> float:
        return time.monotonic()

    def select(self, reading: list, writing: list, until: float) -> tuple[list, list]:
        readable, writable, _ = select.select(reading, writing, [], max(0.0, until - self.now()))
        return readable, writable


REAL_CLOCK = Clock()


def exchange(request: Request, target: Target, timeout: float = TIMEOUT, clock: Clock = REAL_CLOCK) -> dns.message.Message:
    """Send `request` to the target and return the verified answer.

    UDP, or TCP when the answer is truncated or the request too large for one datagram;
    either way the exchange ends by `timeout`, whatever the other end sends or does not.
    Over UDP, an answer that is not the server's correctly signed one (another ID or
    question, garbage, no or a wrong signature, an unsigned error) is ignored and counted,
    and the wait goes on until `timeout`, as dnspython's ignore_unexpected does: a forged
    answer just before the real one does not end the exchange. A TSIG error (BADSIG,
    BADKEY, BADTIME) is the exception: it is what a server answers to a key it does not
    take, and it can be sent no other way than unchecked (RFC 8945 5.3.2), so after one the
    wait goes on for a short grace only (_grace) and then it is the verdict, marked
    `unproven`. Raises Rejected for an answer that is not NOERROR (or NXDOMAIN for a
    query), or, at the deadline, for the most telling of the answers ignored; NoAnswer (a
    socket.timeout) when nothing came that answers the request; OSError for network errors.
    """
    wire = request.wire
    deadline = clock.now() + timeout
    answer = None
    ignored = _Ignored()
    if len(wire) <= MAX_UDP_REQUEST:
        resends = None if request.opcode != dns.opcode.UPDATE else UPDATE_RESENDS if timeout >= UPDATE_RESEND_FROM else 0
        answer = _udp(wire, target, request, deadline, ignored, clock, resends)  # None: truncated, ask again over TCP
    if answer is None:
        ignored.copies += 1
        raw = _tcp(wire, target, deadline, ignored, clock)
        parsed = _answering(raw, request)
        if parsed is None:
            raise Rejected(dns.rcode.FORMERR, detail="answer not correctly signed (it does not answer the request)")
        answer = _verify(raw, request, *parsed)
    if ignored:
        report.log.warning("%s: %s before its correctly signed answer; someone else may be answering in its name", target, ignored)
    rcode = answer.rcode()
    if rcode == dns.rcode.NOERROR or (rcode == dns.rcode.NXDOMAIN and request.opcode == dns.opcode.QUERY):
        return answer
    raise Rejected(rcode, resent=ignored.copies > 1)


def _family(server: str) -> int:
    return socket.AF_INET6 if ":" in server else socket.AF_INET


_leave_by: dict[int, str] = {}  # address family (4|6) -> the device exchanges leave by (SO_BINDTODEVICE)


def leave_by(devices: dict[int, str] | None) -> None:
    """Let exchanges with a server of family 4 or 6 leave by this device (two WANs: the main
    table's default route points at one mwan3 calls offline); None: by the routes, as ever."""
    global _leave_by
    _leave_by = dict(devices or {})


def _socket(server: str, kind: int) -> socket.socket:
    family = _family(server)
    sock = socket.socket(family, kind | socket.SOCK_CLOEXEC)
    device = _leave_by.get(6 if family == socket.AF_INET6 else 4)
    if device is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device.encode())
        except OSError as e:
            report.log.debug("cannot bind the exchange with %s to %s (%s); it leaves by the routes", server, device, e.strerror or e)
    return sock


RETRANSMIT = 1.0  # seconds before the first resend of a read; doubles within the exchange's timeout
# An UPDATE is sent again once, when UPDATE_RESEND_AT of the exchange's time has passed
# without its answer, in an exchange of UPDATE_RESEND_FROM seconds or more (a retry's: 10 s,
# 20 s); the first (5 s) sends one copy, and a lost one costs the retry, 6 s later. Issue 24,
# bench --fleet, 100 routers renumbered into a primary stopped 10 s, UPDATEs per router
# (one run each, load average 5 to 12): 3.6 with 1 s, 2 s resends (and a read first at the
# retry); 3.95 with a copy half-way through every exchange; 2.74 with one half-way through
# the retry's only; 2.91 with it 3/4 of the way. What a stopped primary queued is mostly
# lost anyway: BIND refuses a copy older than its fudge (10 s) and drops the UPDATEs beyond
# its update-quota (100 at a time).
UPDATE_RESENDS = 1
UPDATE_RESEND_FROM = 10.0
UPDATE_RESEND_AT = 0.5
GRACE_ROUND_TRIPS = 4  # after a TSIG error, wait this many times the exchange's time so far for a signed answer
GRACE_MIN = 0.25  # seconds: ... and at least this long (a forger next to the router answers in microseconds)

_interrupt: tuple[int, Callable[[], None]] | None = None  # only ever set by interruptible(), for its block


@contextlib.contextmanager
def interruptible(fd: int | None, check: Callable[[], None]) -> Iterator[None]:
    """Within the block, a wait for an answer ends early: when `fd` becomes readable (the
    agent's signal wakeup socket), it is drained and `check()` called, which raises to
    abandon the exchange. With `fd` None, waits are as they were."""
    global _interrupt
    before = _interrupt
    _interrupt = None if fd is None else (fd, check)
    try:
        yield
    finally:
        _interrupt = before


def _udp(wire: bytes, target: Target, request: Request, deadline: float,
         ignored: _Ignored | None = None, clock: Clock = REAL_CLOCK, resends: int | None = None) -> dns.message.Message | None:
    """Send over UDP and wait for the server's correctly signed answer (None: it came
    truncated, ask over TCP); resend from a fresh socket after 1 s, 2 s, ...: the answer to
    the first send may have gone to a WAN address that is gone. An UPDATE (`resends` not
    None: how many copies more) is resent that many times at most, UPDATE_RESEND_AT of the
    way through: every
    copy queued at a stopped or swamped primary is one more signed UPDATE it must verify
    and answer when it returns, for every router of a renumbered ISP at once, and fills the
    socket buffer that drops the copies after it. Every socket stays open until the
    exchange ends, so a slow primary's answer to the first copy still ends it. What is not that answer is
    counted in `ignored` and waited past; at the deadline, `ignored.failure()` is raised,
    and after a TSIG error's grace, that error as the verdict (`unproven`)."""
    ignored = _Ignored() if ignored is None else ignored
    socks: list[socket.socket] = []
    try:
        start = next_send = clock.now()
        interval, grace_end = RETRANSMIT, None
        sends = 0
        while True:
            now = clock.now()
            if grace_end is not None and now >= grace_end:
                raise ignored.verdict()
            if now >= deadline:
                raise ignored.failure()
            if now >= next_send:
                sock = _socket(target.server, socket.SOCK_DGRAM)
                socks.append(sock)
                sock.connect((target.server, target.port))  # the kernel drops datagrams from anyone else
                sock.send(wire)
                ignored.copies += 1
                sends += 1
                next_send, interval = now + interval, interval * 2
                if resends is not None:  # an UPDATE: once more, late in the exchange
                    next_send = start + (deadline - start) * UPDATE_RESEND_AT if sends <= resends else deadline
            for ready in _wait(socks, [], min(deadline, next_send, grace_end or deadline), clock):
                raw = ready.recv(MAX_UDP)
                parsed = _answering(raw, request)
                if parsed is None:
                    ignored.unmatched += 1  # garbage, or another ID or question: not our answer
                    continue
                if int.from_bytes(raw[2:4], "big") & dns.flags.TC:
                    return None  # truncated: not trusted, asked again over TCP
                try:
                    return _verify(raw, request, *parsed)
                except Rejected as e:
                    ignored.unsigned.append(e)  # proves nothing; the server's own may be right behind it
                    if e.tsig_error and grace_end is None:
                        grace_end = min(deadline, _grace(start, clock.now()))
    finally:
        for sock in socks:
            sock.close()


def _grace(start: float, now: float) -> float:
    """When to take a TSIG error that came at `now`, in an exchange begun at `start`, as the
    verdict: after a few more round trips (the time so far bounds one from above), so that
    the server's own signed answer, should the error be forged, still comes first."""
    return now + max(GRACE_MIN, GRACE_ROUND_TRIPS * (now - start))


def _wait(reading: list[socket.socket], writing: list[socket.socket], until: float, clock: Clock) -> list[socket.socket]:
    """select() on the sockets until `until` (monotonic), watching the interrupt too (the
    agent's signal wakeup socket: drained, then its check may raise); returns the sockets
    ready, [] when `until` has come."""
    interrupt = _interrupt
    watch: list[socket.socket | int] = list(reading)
    if interrupt is not None:
        watch.append(interrupt[0])
    readable, writable = clock.select(watch, writing, until)
    ready = []
    for fd in readable:
        if isinstance(fd, socket.socket):
            ready.append(fd)
        elif interrupt is not None:
            _drain(fd)
            interrupt[1]()
    return ready + writable


@dataclass
class _Ignored:
    """What came back over UDP that was not the server's correctly signed answer (and how
    many copies of the request left: an answer is to any of them)."""

    unmatched: int = 0  # not answering the request: garbage, another ID or question
    unsigned: list[Rejected] = field(default_factory=list)  # answering it, without a valid signature
    copies: int = 0  # of the request sent, resends and TCP included

    def __bool__(self) -> bool:
        return bool(self.unmatched or self.unsigned)

    def __str__(self) -> str:
        parts = []
        if self.unsigned:
            kinds = ", ".join(dict.fromkeys(map(_unsigned_kind, self.unsigned)))
            parts.append(f"{_answers(len(self.unsigned))} not correctly signed ({kinds})")
        if self.unmatched:
            parts.append(f"{_answers(self.unmatched)} not answering the request")
        return "ignored " + " and ".join(parts)

    def failure(self) -> Exception:
        """What the deadline raises: NoAnswer when nothing answered the request, else the
        most telling answer ignored (a TSIG error first: that is what the server says when
        it does not take the key), carrying the count."""
        if not self.unsigned:
            return NoAnswer(str(self) if self else "")
        telling = next((e for e in self.unsigned if e.tsig_error), self.unsigned[-1])
        telling.ignored = str(self)
        return telling

    def verdict(self) -> Rejected:
        """What a TSIG error's grace ends in: that error, as the server's verdict, unproven."""
        error = next(e for e in self.unsigned if e.tsig_error)
        error.unproven = True
        return error


def _unsigned_kind(e: Rejected) -> str:
    if e.tsig_error:
        return f"TSIG error {dns.rcode.to_text(e.tsig_error)}"
    if e.rcode != dns.rcode.NOERROR:
        return f"unsigned {dns.rcode.to_text(e.rcode)}"
    return "NOERROR without a valid signature"


def _answers(n: int) -> str:
    return "1 answer" if n == 1 else f"{n} answers"


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _tcp(wire: bytes, target: Target, deadline: float, ignored: _Ignored, clock: Clock = REAL_CLOCK) -> bytes:
    """The answer over TCP, by `deadline` or never: connecting, sending and every read wait
    only until then (a per-read timeout would let a byte every few seconds hold the exchange
    for as long as the sender likes). NoAnswer at the deadline, carrying what UDP ignored."""
    sock = _socket(target.server, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
    try:
        code = sock.connect_ex((target.server, target.port))
        if code not in (0, errno.EINPROGRESS):
            raise OSError(code, os.strerror(code))
        if code:
            if not _wait([], [sock], deadline, clock):
                raise NoAnswer(str(ignored) if ignored else "")
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise OSError(code, os.strerror(code))  # (OSError gives ConnectionRefusedError and the like)
        out = memoryview(len(wire).to_bytes(2, "big") + wire)
        while out:
            if not _wait([], [sock], deadline, clock):
                raise NoAnswer(str(ignored) if ignored else "")
            out = out[sock.send(out):]
        size = int.from_bytes(_read_exactly(sock, 2, deadline, ignored, clock), "big")
        return _read_exactly(sock, size, deadline, ignored, clock)
    finally:
        sock.close()


def _read_exactly(sock: socket.socket, n: int, deadline: float, ignored: _Ignored, clock: Clock) -> bytes:
    data = b""
    while len(data) < n:
        if not _wait([sock], [], deadline, clock):
            raise NoAnswer(str(ignored) if ignored else "")
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionResetError(errno.ECONNRESET, "connection closed by the server")
        data += chunk
    return data


def _unsigned(raw: bytes) -> tuple[dns.message.Message, updatewire.TsigRecord | None]:
    """The answer parsed without its TSIG record, and that record (None: it has none).
    Raises ValueError or a DNSException for what does not parse."""
    stripped, tsig = updatewire.split_tsig(raw)
    return dns.message.from_wire(stripped, ignore_trailing=False), tsig


def _answering(raw: bytes, request: Request) -> tuple[dns.message.Message, updatewire.TsigRecord | None] | None:
    """`raw` parsed without its TSIG, and that TSIG, when it answers `request` (ID, QR,
    opcode, question); None when it does not. Not trusted yet: _verify() decides that."""
    try:
        answer, tsig = _unsigned(raw)
    except (ValueError, dns.exception.DNSException):
        return None
    return (answer, tsig) if request.answered_by(answer) else None


def _verify(raw: bytes, request: Request, unsigned: dns.message.Message,
            tsig: updatewire.TsigRecord | None) -> dns.message.Message:
    """Parse with the request's key: the answer must be correctly signed. `unsigned` and
    `tsig`: what _answering() made of it (parsed once without the key, not again here).

    That it is signed at all is checked here, not left to dnspython: before 2.8 it takes an
    answer without a TSIG record as it is, even to a signed request."""
    if tsig is None:
        if unsigned.rcode() != dns.rcode.NOERROR:
            raise Rejected(unsigned.rcode(), None, None, "unsigned")
        raise Rejected(dns.rcode.NOERROR, None, None, "answer not correctly signed (it has no TSIG record)")
    try:
        answer = dns.message.from_wire(raw, keyring=tsig_key(request.key), request_mac=request.mac)
    except dns.tsig.PeerError as e:
        raise Rejected(unsigned.rcode(), _tsig_error(e), _server_time(tsig)) from None
    except dns.tsig.BadTime:
        raise Rejected(unsigned.rcode(), dns.rcode.BADTIME, _server_time(tsig), "local check") from None
    except dns.exception.DNSException as e:  # a bad signature, another key or algorithm, a misplaced TSIG
        if unsigned.rcode() != dns.rcode.NOERROR:
            raise Rejected(unsigned.rcode(), None, None, "unsigned") from None
        raise Rejected(dns.rcode.NOERROR, None, None, f"answer not correctly signed ({first_line(e)})") from None
    if not answer.had_tsig:  # it had a TSIG record: dnspython must have checked it
        raise Rejected(dns.rcode.NOERROR, None, None, "answer not correctly signed (its TSIG was not checked)")
    return answer


def _tsig_error(e: Exception) -> dns.rcode.Rcode:
    if isinstance(e, dns.tsig.PeerBadKey):
        return dns.rcode.BADKEY
    if isinstance(e, dns.tsig.PeerBadSignature):
        return dns.rcode.BADSIG
    if isinstance(e, dns.tsig.PeerBadTime):
        return dns.rcode.BADTIME
    return dns.rcode.BADTRUNC


def _server_time(tsig: updatewire.TsigRecord) -> int:
    """The server's clock, from the TSIG of a BADTIME answer (RFC 8945 5.2.3), if given."""
    if tsig.error == dns.rcode.BADTIME and len(tsig.other) == 6:
        return int.from_bytes(tsig.other, "big")
    return tsig.time_signed


# ---------------------------------------------------------------- read and swap


class ServerClock:
    """The server's clock against ours (`offset`, seconds, server minus local), from the time
    signed in its last correctly signed answer; None until one came. It sets the fudge of
    the next UPDATE (plan.fudge)."""

    def __init__(self):
        self.offset: float | None = None

    def saw(self, answer: dns.message.Message, now: float) -> None:
        if answer.tsig:
            self.offset = answer.tsig[0].time_signed - now


def read(target: Target, name: str, rtype: str, key: Key, timeout: float = TIMEOUT,
         clock: ServerClock | None = None) -> Current:
    """The record's RRset as the primary holds it now, with a signed query (no cache between)."""
    query = dns.message.make_query(absolute(name), rtype, want_dnssec=False)
    query.flags &= ~dns.flags.RD
    answer = exchange(Request.query(query, key), target, timeout)
    if clock is not None:
        clock.saw(answer, time.time())
    rdtype = dns.rdatatype.from_text(rtype)
    try:
        rrset = answer.find_rrset(answer.answer, absolute(name), dns.rdataclass.IN, rdtype)
    except KeyError:
        cname = answer.get_rrset(answer.answer, absolute(name), dns.rdataclass.IN, dns.rdatatype.CNAME)
        return Current(cname=name_text(cname[0].target) if cname else None)
    return Current(frozenset(ipaddress.ip_address(rd.address) for rd in rrset), rrset.ttl)


def build_update(zone: str, changes: Iterable[Change], key: Key, fudge: int = plan.FUDGE_MAX, now: float | None = None,
                 msg_id: int | None = None) -> Request:
    """One UPDATE for `changes` in `zone`: each RRset must be exactly as known, then is
    replaced; signed with `fudge` (plan.fudge: how long the server will take a copy of it)
    at `now` (the wall clock's, by default). Written and signed by updatewire.encode, which
    is about ten times faster than rendering it with dnspython."""
    msg_id = dns.entropy.random_16() if msg_id is None else msg_id
    signed_at = int(time.time() if now is None else now)
    wire, mac = updatewire.encode(msg_id, zone, changes, key, fudge, signed_at)
    return Request(wire, msg_id, dns.opcode.UPDATE, ((absolute(zone), dns.rdataclass.IN, dns.rdatatype.SOA),), key, mac)


# Failures of a several-record UPDATE that may be one record's fault (a policy that refuses
# one name): each record is then tried alone, so the others still land.
_SPLIT_ON = (dns.rcode.REFUSED, dns.rcode.NOTZONE)


def sync_zone(target: Target, key: Key, wants: list[tuple[Record, Wanted]], timeout: float = TIMEOUT,
              clock: ServerClock | None = None) -> list[Outcome]:
    """Bring every record in `wants` (all in target.zone, one key) to its address.

    A record whose RRset is known (as this agent left or read it) is swapped from that at
    once; the others are read first, one read each, and nothing is sent for those already
    right. The compare-and-swap UPDATEs hold every record that differs, as few messages as
    their encoded size allows (updatewire.batches), each atomic. A failed prerequisite
    (NXRRSET/YXRRSET: someone, or a delayed copy of an UPDATE, changed a record) reads that
    message's records again and retries it, CAS_ATTEMPTS times at most. So messages grow
    with the records, never with their square. Returns one Outcome per want, in order; a
    failure is an Outcome with `error` set, never an exception."""
    return _ZoneSync(target, key, timeout, clock if clock is not None else ServerClock(), dict(wants)).run()


def _labels(changes: Iterable[Change]) -> str:
    """The records of an UPDATE as a line names them: a few, and how many more."""
    return report.few([f"{c.name} {c.rtype}" for c in changes])


class _Failed(Exception):
    """An exchange failed: the zone's records not done yet fail with `line`."""

    def __init__(self, line: str, unreachable: bool = False):
        super().__init__(line)
        self.line, self.unreachable = line, unreachable


class _ZoneSync:
    """One sync_zone: what is done, and the replay window of each record an UPDATE carried."""

    def __init__(self, target: Target, key: Key, timeout: float, clock: ServerClock, wanted: dict[Record, Wanted]):
        self.target, self.key, self.timeout, self.clock = target, key, timeout, clock
        self.wanted = wanted
        self.done: dict[Record, Outcome] = {}
        self.sent: dict[Record, float] = {}  # the records in an UPDATE that left, and its replay window

    def _outcome(self, r: Record, changed: bool = False, old: Current | None = None, error: str | None = None,
                 no_route: bool = False) -> Outcome:
        return Outcome(self.wanted[r].address, changed, old or Current(), error, no_route=no_route, server=str(self.target))

    def run(self) -> list[Outcome]:
        records = list(self.wanted)
        try:
            held = {r: w.known for r, w in self.wanted.items() if w.known is not None}
            held.update(self._read([r for r, w in self.wanted.items() if w.known is None]))
            changes = self._changes(records, held)
            batches, too_large = updatewire.batches(self.target.zone, changes.values(), self.key)
            record_of = {change: r for r, change in changes.items()}
            for change in too_large:
                self.done[record_of[change]] = self._outcome(record_of[change], error=self._too_large(change))
            for batch in batches:
                self._swap([record_of[c] for c in batch], held)
        except _Failed as e:
            for r in records:
                self.done.setdefault(r, self._outcome(r, error=e.line, no_route=e.unreachable))
        return [replace(self.done[r], sent=True, window=max(self.done[r].window, self.sent[r])) if r in self.sent else self.done[r]
                for r in records]

    def _read(self, records: list[Record]) -> dict[Record, Current]:
        held = {}
        for r in records:
            try:
                held[r] = read(self.target, r.name, r.type, self.key, self.timeout, self.clock)
            except (Rejected, OSError) as e:
                raise _Failed(explain(e, f"{r.name} {r.type}", "read", self.target, self.key, self.timeout), no_route(e)) from None
        return held

    def _changes(self, records: list[Record], held: dict[Record, Current]) -> dict[Record, Change]:
        """The swaps to send; the records already right are done (nothing sent for them)."""
        changes = {}
        for r in records:
            change = needs_change(r.name, r.type, r.ttl, held[r], self.wanted[r].address)
            if change is None:
                self.done[r] = self._outcome(r, False, held[r])
            else:
                changes[r] = change
        return changes

    def _right(self, r: Record, now: Current) -> bool:
        return plan.is_right(now, self.wanted[r].address, r.ttl)

    def _swap(self, batch: list[Record], held: dict[Record, Current]) -> None:
        """One UPDATE for `batch` (compare-and-swap from `held`), retried after a lost race."""
        for attempt in range(1, CAS_ATTEMPTS + 1):
            changes = self._changes(batch, held)
            if not changes:
                return
            names = _labels(changes.values())
            fudge = plan.fudge(self.clock.offset)
            window = plan.replay_window(fudge, self.clock.offset)
            for r in changes:
                self.sent[r] = max(self.sent.get(r, 0.0), window)
            try:
                answer = exchange(build_update(self.target.zone, changes.values(), self.key, fudge), self.target, self.timeout)
            except Rejected as e:
                if e.rcode in (dns.rcode.NXRRSET, dns.rcode.YXRRSET) and not e.tsig_error:
                    if attempt == CAS_ATTEMPTS and not e.resent:
                        self._fail(changes, explain(e, names, "update", self.target, self.key, self.timeout))
                        return
                    now = self._read(list(changes))
                    if e.resent and all(self._right(r, now[r]) for r in changes):
                        # a copy sent before the one answered landed, its answer lost: the
                        # resend found its own prerequisite gone. Ordinary packet loss: landed.
                        self._landed(changes, held)
                        return
                    held.update(now)  # someone (or a delayed copy of an UPDATE) changed a record: swap from what it is now
                    if attempt < CAS_ATTEMPTS:
                        continue
                    self._fail(changes, explain(e, names, "update", self.target, self.key, self.timeout))
                    return
                if e.rcode in _SPLIT_ON and not e.tsig_error and len(changes) > 1:
                    for r in changes:
                        self._swap([r], held)
                    return
                # the server answered: this message's records fail, and the next message is tried
                self._fail(changes, explain(e, names, "update", self.target, self.key, self.timeout))
                return
            except OSError as e:
                raise _Failed(explain(e, names, "update", self.target, self.key, self.timeout), no_route(e)) from None
            self.clock.saw(answer, time.time())
            self._landed(changes, held)
            return

    def _landed(self, changes: dict[Record, Change], held: dict[Record, Current]) -> None:
        """The UPDATE for `changes` landed. A record the server had answered for with a CNAME
        is read once more: beside a real CNAME the add was ignored (and NOERROR answered)."""
        beside_cname = {r: cname for r in changes if (cname := held[r].cname) is not None}
        for r in changes:
            if r not in beside_cname:
                self.done[r] = self._outcome(r, True, held[r])
        for r, now in self._read(list(beside_cname)).items():
            if self._right(r, now):
                self.done[r] = self._outcome(r, True, held[r])  # a wildcard's CNAME: the name exists now, with the record
            else:
                self.done[r] = self._outcome(r, error=self._beside_cname(r, now.cname or beside_cname[r]))

    def _fail(self, changes: dict[Record, Change], line: str) -> None:
        for r in changes:
            self.done[r] = self._outcome(r, error=line)

    def _beside_cname(self, r: Record, cname: str) -> str:
        return (f"{r.name} {r.type}: update at {self.target} with key {self.key.name}: the name is a CNAME (to {cname}) at the "
                f"server, which keeps nothing else beside it and ignored the {r.type} record; remove the CNAME from zone "
                f"{self.target.zone}, or give the record a name of its own")

    def _too_large(self, change: Change) -> str:
        return (f"{change.name} {change.rtype}: update at {self.target} with key {self.key.name}: the server holds "
                f"{len(change.old.rdatas)} {change.rtype} records for the name, too many to name in one UPDATE's prerequisite "
                f"(over {updatewire.MAX_MESSAGE:,} bytes); delete them at the server (nsupdate: update delete {change.name} "
                f"{change.rtype}), and ddns-edge sets its own")


def prove_key(target: Target, key: Key, timeout: float = TIMEOUT) -> int:
    """A TSIG-signed SOA query for the zone: proves the key and the server; returns the serial."""
    query = dns.message.make_query(absolute(target.zone), "SOA")
    query.flags &= ~dns.flags.RD
    try:
        answer = exchange(Request.query(query, key), target, timeout)
        rrset = answer.find_rrset(answer.answer, absolute(target.zone), dns.rdataclass.IN, dns.rdatatype.SOA)
    except KeyError:
        raise UpdateError(f"zone {target.zone}: {target} has no SOA for it: it does not serve this zone; check option zone and option server") from None
    except (Rejected, OSError) as e:
        raise UpdateError(explain(e, f"zone {target.zone}", "signed query", target, key, timeout)) from None
    if not answer.flags & dns.flags.AA:
        raise UpdateError(f"zone {target.zone}: {target} answered but is not authoritative for it; point option server at the zone's primary")
    return rrset[0].serial


# ---------------------------------------------------------------- the operator's line


NO_ANSWER = "no answer within"  # explain()'s words for a timeout


def unanswered(line: str) -> bool:
    """Whether an error line of explain() is a timeout: the server may only be slow (a burst)."""
    return f": {NO_ANSWER} " in line


def explain(error: Exception, what: str, action: str, target: Target, key: Key, timeout: float) -> str:
    """One line: what failed, where, with which key (never its secret), and what to check."""
    head = f"{what}: {action} at {target} with key {key.name}"
    if isinstance(error, socket.timeout):
        said = getattr(error, "ignored", "")  # (NoAnswer's)
        ignored = f" ({said})" if said else ""
        return f"{head}: {NO_ANSWER} {timeout:g} s{ignored}; check that the server is up and reachable on port {target.port} (firewall, address)"
    if isinstance(error, ConnectionRefusedError):
        return f"{head}: connection refused; nothing listens on port {target.port} there: check the server address and port"
    if no_route(error):
        return f"{head}: no route to the server ({error.strerror or error}); check the router's default route and WAN address (ip route, ip addr)"
    if isinstance(error, OSError):
        return f"{head}: network error: {error.strerror or error}; check the router's route to the server"
    assert isinstance(error, Rejected)
    if error.tsig_error:
        return f"{head}: {_tsig_line(error, error.tsig_error, key)}"
    if error.detail == "unsigned" or error.detail.startswith("answer not correctly signed"):
        said = error.ignored or f"ignored {_unsigned_kind(error) if error.detail == 'unsigned' else error.detail}"
        return (f"{head}: no correctly signed answer within {timeout:g} s; {said}: an answer to a signed request "
                "that is not signed with its key proves nothing; check the key, or who answers at that address")
    table = _READ_ADVICE if action != "update" else {}
    advice = table.get(error.rcode) or _ADVICE.get(error.rcode, "the server answered {rcode}")
    return f"{head}: " + advice.format(rcode=dns.rcode.to_text(error.rcode), key=key.name, zone=target.zone, attempts=CAS_ATTEMPTS)


def _tsig_line(error: Rejected, tsig_error: dns.rcode.Rcode, key: Key) -> str:
    """What a TSIG error (error.tsig_error) says, and what to check; said as unproven when it is (the grace's verdict)."""
    if tsig_error == dns.rcode.BADKEY:
        line = (f"the server does not know this key (BADKEY); "
                f"check that key name {key.name} and algorithm {key.algorithm} match the server's key clause")
    elif tsig_error == dns.rcode.BADSIG:
        line = f"signature rejected (BADSIG); the secret differs from the server's for key {key.name}"
    elif tsig_error == dns.rcode.BADTIME:
        local = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        server = f", the server's {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(error.server_time))}" if error.server_time else ""
        line = f"clocks disagree (BADTIME): local time is {local}{server}; set the router's clock (NTP), routers without an RTC boot with a wrong one"
    else:
        line = f"TSIG error {dns.rcode.to_text(tsig_error)}"
    if error.unproven:  # BADSIG and BADKEY come without a MAC (RFC 8945 5.3.2); BADTIME's is not checked (dnspython)
        how = "whose signature is not checked" if tsig_error == dns.rcode.BADTIME else "that is unsigned"
        line += f" (said in an answer {how}, so unproven: anyone on the path could send one)"
    return line


# What a server's rcode means to the operator, and what to check.
_ADVICE = {
    dns.rcode.REFUSED: "refused (REFUSED); check that the zone's update-policy grants key {key} this name and type",
    dns.rcode.NOTAUTH: "the server is not authoritative for zone {zone} (NOTAUTH); send updates to the zone's primary (option server) and check option zone",
    dns.rcode.NOTZONE: "the name is not in zone {zone} (NOTZONE); check option zone",
    dns.rcode.NXRRSET: "the record kept changing under us ({rcode}) {attempts} times: another writer is updating it",
    dns.rcode.YXRRSET: "the record kept changing under us ({rcode}) {attempts} times: another writer is updating it",
    dns.rcode.SERVFAIL: "the server failed (SERVFAIL); see the server's log (zone not loaded, journal not writable?)",
    dns.rcode.NOTIMP: "the server does not implement dynamic update (NOTIMP); enable it for zone {zone}",
    dns.rcode.FORMERR: "the server could not parse the request (FORMERR)",
}


# A read (or check's signed query) refused is no update-policy matter: queries are refused
# when the server does not serve the zone (it was removed, or it is the wrong server).
_READ_ADVICE = {
    dns.rcode.REFUSED: "refused (REFUSED): the server does not serve zone {zone} (removed, or not the zone's primary?); check option server and option zone",
}


def first_line(error: Exception) -> str:
    """An exception as a line may quote it: its first line, at most 200 characters."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:200]
