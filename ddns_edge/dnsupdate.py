"""Talk to the zone's primary: find it, read a record, swap it with a signed UPDATE.

The I/O shell around plan.py. Every request is TSIG-signed; an answer counts only when
it comes from the server asked, matches the request's ID and question, and carries a
valid signature. Every failure becomes one line for the operator (an UpdateError, or a
Result.error): what failed, at which server, with which key, and what to check.
"""

from __future__ import annotations

import errno
import functools
import os
import select
import socket
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable

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
import dns.update

from ddns_edge import plan, report, updatewire
from ddns_edge.errors import UpdateError, no_route
from ddns_edge.model import Current, Key
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

    def __init__(self, rcode: int, tsig_error: int = 0, server_time: int | None = None, detail: str = "", ignored: str = "",
                 resent: bool = False):
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


def _absolute(name: str) -> dns.name.Name:
    return dns.name.from_text(name)


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True)


@functools.lru_cache(maxsize=64)
def tsig_key(key: Key) -> dns.tsig.Key:
    """The dnspython key to sign with (made once per key)."""
    algorithm = dns.tsig.HMAC_MD5 if key.algorithm == "hmac-md5" else key.algorithm
    return dns.tsig.Key(key.name, key.secret, algorithm)


# ---------------------------------------------------------------- exchange


def exchange(request: dns.message.Message, target: Target, timeout: float = TIMEOUT) -> dns.message.Message:
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
    wire = request.to_wire()
    deadline = time.monotonic() + timeout
    answer = None
    ignored = _Ignored()
    if len(wire) <= MAX_UDP_REQUEST:
        resends = None if request.opcode() != dns.opcode.UPDATE else UPDATE_RESENDS if timeout >= UPDATE_RESEND_FROM else 0
        answer = _udp(wire, target, request, deadline, ignored, resends)  # None: truncated, ask again over TCP
    if answer is None:
        ignored.copies += 1
        raw = _tcp(wire, target, deadline, ignored)
        parsed = _answering(raw, request)
        if parsed is None:
            raise Rejected(dns.rcode.FORMERR, detail="answer not correctly signed (it does not answer the request)")
        answer = _verify(raw, request, *parsed)
    if ignored:
        report.log.warning("%s: %s before its correctly signed answer; someone else may be answering in its name", target, ignored)
    rcode = answer.rcode()
    if rcode == dns.rcode.NOERROR or (rcode == dns.rcode.NXDOMAIN and request.opcode() == 0):
        return answer
    raise Rejected(rcode, resent=ignored.copies > 1)


def _family(server: str) -> int:
    return socket.AF_INET6 if ":" in server else socket.AF_INET


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

_interrupt: tuple[int, Callable[[], None]] | None = None


def interrupt_with(fd: int | None, check: Callable[[], None] | None = None) -> None:
    """Let a wait for an answer end early: when `fd` becomes readable (the agent's signal
    wakeup socket), drain it and call `check()`, which raises to abandon the exchange."""
    global _interrupt
    _interrupt = None if fd is None else (fd, check)


def _udp(wire: bytes, target: Target, request: dns.message.Message, deadline: float,
         ignored: _Ignored | None = None, resends: int | None = None) -> dns.message.Message | None:
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
        start = next_send = time.monotonic()
        interval, grace_end = RETRANSMIT, None
        sends = 0
        while True:
            now = time.monotonic()
            if grace_end is not None and now >= grace_end:
                raise ignored.verdict()
            if now >= deadline:
                raise ignored.failure()
            if now >= next_send:
                sock = socket.socket(_family(target.server), socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                socks.append(sock)
                sock.connect((target.server, target.port))  # the kernel drops datagrams from anyone else
                sock.send(wire)
                ignored.copies += 1
                sends += 1
                next_send, interval = now + interval, interval * 2
                if resends is not None:  # an UPDATE: once more, late in the exchange
                    next_send = start + (deadline - start) * UPDATE_RESEND_AT if sends <= resends else deadline
            for ready in _wait(socks, [], min(deadline, next_send, grace_end or deadline)):
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
                        grace_end = min(deadline, _grace(start, time.monotonic()))
    finally:
        for sock in socks:
            sock.close()


def _grace(start: float, now: float) -> float:
    """When to take a TSIG error that came at `now`, in an exchange begun at `start`, as the
    verdict: after a few more round trips (the time so far bounds one from above), so that
    the server's own signed answer, should the error be forged, still comes first."""
    return now + max(GRACE_MIN, GRACE_ROUND_TRIPS * (now - start))


def _wait(reading: list[socket.socket], writing: list[socket.socket], until: float) -> list[socket.socket]:
    """select() on the sockets until `until` (monotonic), watching the interrupt too (the
    agent's signal wakeup socket: drained, then its check may raise); returns the sockets
    ready, [] when `until` has come."""
    watch: list = list(reading)
    if _interrupt is not None:
        watch.append(_interrupt[0])
    readable, writable, _ = select.select(watch, writing, [], max(0.0, until - time.monotonic()))
    ready = []
    for fd in readable:
        if isinstance(fd, socket.socket):
            ready.append(fd)
        else:
            _drain(fd)
            _interrupt[1]()
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


def _tcp(wire: bytes, target: Target, deadline: float, ignored: _Ignored) -> bytes:
    """The answer over TCP, by `deadline` or never: connecting, sending and every read wait
    only until then (a per-read timeout would let a byte every few seconds hold the exchange
    for as long as the sender likes). NoAnswer at the deadline, carrying what UDP ignored."""
    sock = socket.socket(_family(target.server), socket.SOCK_STREAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
    try:
        code = sock.connect_ex((target.server, target.port))
        if code not in (0, errno.EINPROGRESS):
            raise OSError(code, os.strerror(code))
        if code:
            if not _wait([], [sock], deadline):
                raise NoAnswer(str(ignored) if ignored else "")
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise OSError(code, os.strerror(code))  # (OSError gives ConnectionRefusedError and the like)
        out = memoryview(len(wire).to_bytes(2, "big") + wire)
        while out:
            if not _wait([], [sock], deadline):
                raise NoAnswer(str(ignored) if ignored else "")
            out = out[sock.send(out):]
        size = int.from_bytes(_read_exactly(sock, 2, deadline, ignored), "big")
        return _read_exactly(sock, size, deadline, ignored)
    finally:
        sock.close()


def _read_exactly(sock: socket.socket, n: int, deadline: float, ignored: _Ignored) -> bytes:
    data = b""
    while len(data) < n:
        if not _wait([sock], [], deadline):
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


def _answering(raw: bytes, request: dns.message.Message) -> tuple[dns.message.Message, updatewire.TsigRecord | None] | None:
    """`raw` parsed without its TSIG, and that TSIG, when it answers `request` (ID, QR,
    opcode, question); None when it does not. Not trusted yet: _verify() decides that."""
    try:
        answer, tsig = _unsigned(raw)
    except (ValueError, dns.exception.DNSException):
        return None
    return (answer, tsig) if request.is_response(answer) else None


def _verify(raw: bytes, request: dns.message.Message, unsigned: dns.message.Message,
            tsig: updatewire.TsigRecord | None) -> dns.message.Message:
    """Parse with the request's key: the answer must be correctly signed. `unsigned` and
    `tsig`: what _answering() made of it (parsed once without the key, not again here).

    That it is signed at all is checked here, not left to dnspython: before 2.8 it takes an
    answer without a TSIG record as it is, even to a signed request."""
    if tsig is None:
        if unsigned.rcode() != dns.rcode.NOERROR:
            raise Rejected(unsigned.rcode(), 0, None, "unsigned")
        raise Rejected(dns.rcode.NOERROR, 0, None, "answer not correctly signed (it has no TSIG record)")
    try:
        answer = dns.message.from_wire(raw, keyring=request.keyring, request_mac=request.mac)
    except dns.tsig.PeerError as e:
        raise Rejected(unsigned.rcode(), _tsig_error(e), _server_time(tsig)) from None
    except dns.tsig.BadTime:
        raise Rejected(unsigned.rcode(), dns.rcode.BADTIME, _server_time(tsig), "local check") from None
    except dns.exception.DNSException as e:  # a bad signature, another key or algorithm, a misplaced TSIG
        if unsigned.rcode() != dns.rcode.NOERROR:
            raise Rejected(unsigned.rcode(), 0, None, "unsigned") from None
        raise Rejected(dns.rcode.NOERROR, 0, None, f"answer not correctly signed ({_short(e)})") from None
    if not answer.had_tsig:  # it had a TSIG record: dnspython must have checked it
        raise Rejected(dns.rcode.NOERROR, 0, None, "answer not correctly signed (its TSIG was not checked)")
    return answer


def _tsig_error(e: Exception) -> int:
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
    query = dns.message.make_query(_absolute(name), rtype, want_dnssec=False)
    query.flags &= ~dns.flags.RD
    query.use_tsig(tsig_key(key))
    answer = exchange(query, target, timeout)
    if clock is not None:
        clock.saw(answer, time.time())
    rdtype = dns.rdatatype.from_text(rtype)
    try:
        rrset = answer.find_rrset(answer.answer, _absolute(name), dns.rdataclass.IN, rdtype)
    except KeyError:
        cname = answer.get_rrset(answer.answer, _absolute(name), dns.rdataclass.IN, dns.rdatatype.CNAME)
        return Current(cname=_text(cname[0].target) if cname else None)
    return Current(frozenset(rd.to_text() for rd in rrset), rrset.ttl)


class SignedUpdate(dns.update.UpdateMessage):
    """An UPDATE as exchange() needs a request: dnspython's message for its ID, zone, key and
    MAC (answers are matched and verified against them), its wire written and signed by
    updatewire.encode, which is about ten times faster than rendering it with dnspython."""

    def __init__(self, zone: str, changes: Iterable[Change], key: Key, fudge: int):
        super().__init__(_absolute(zone))
        self.zone_text, self.changes, self.key, self.fudge = zone, list(changes), key, fudge
        self.keyring = tsig_key(key)  # what the answer's signature is checked with

        self._mac: bytes | None = None

    @property
    def mac(self) -> bytes | None:  # the request MAC an answer's signature covers (RFC 8945 4.3.1)
        return self._mac

    def to_wire(self, *args, **kwargs) -> bytes:
        wire, self._mac = updatewire.encode(self.id, self.zone_text, self.changes, self.key, self.fudge, int(time.time()))
        return wire


def build_update(zone: str, changes: Iterable[Change], key: Key, fudge: int = plan.FUDGE_MAX) -> SignedUpdate:
    """One UPDATE for `changes` in `zone`: each RRset must be exactly as known, then is
    replaced; signed with `fudge` (plan.fudge: how long the server will take a copy of it)."""
    return SignedUpdate(zone, changes, key, fudge)


@dataclass(frozen=True)
class Want:
    """A record, the address it should carry, and the RRset the server holds as this agent
    knows it (None: read it first)."""

    name: str
    rtype: str
    ttl: int
    address: str
    known: Current | None = None


@dataclass(frozen=True)
class Result:
    """What happened to one record: `changed` (an UPDATE landed), already right, or `error`.
    `sent`: an UPDATE for it left, and a copy may land within `window` seconds."""

    want: Want
    changed: bool = False
    old: Current = Current()
    error: str | None = None  # the operator's line when the record could not be made right
    sent: bool = False
    window: float = 0.0
    no_route: bool = False  # the exchange failed for want of a route or source address (no_route())


# Failures of a several-record UPDATE that may be one record's fault (a policy that refuses
# one name): each record is then tried alone, so the others still land.
_SPLIT_ON = (dns.rcode.REFUSED, dns.rcode.NOTZONE)


def sync_zone(target: Target, key: Key, wants: list[Want], timeout: float = TIMEOUT,
              clock: ServerClock | None = None) -> list[Result]:
    """Bring every record in `wants` (all in target.zone, one key) to its address.

    A record whose RRset is known (as this agent left or read it) is swapped from that at
    once; the others are read first, one read each, and nothing is sent for those already
    right. The compare-and-swap UPDATEs hold every record that differs, as few messages as
    their encoded size allows (updatewire.batches), each atomic. A failed prerequisite
    (NXRRSET/YXRRSET: someone, or a delayed copy of an UPDATE, changed a record) reads that
    message's records again and retries it, CAS_ATTEMPTS times at most. So messages grow
    with the records, never with their square. Returns one Result per want, in order; a
    failure is a Result with `error` set, never an exception."""
    return _ZoneSync(target, key, timeout, clock if clock is not None else ServerClock()).run(wants)


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

    def __init__(self, target: Target, key: Key, timeout: float, clock: ServerClock):
        self.target, self.key, self.timeout, self.clock = target, key, timeout, clock
        self.done: dict[Want, Result] = {}
        self.sent: dict[Want, float] = {}  # the records in an UPDATE that left, and its replay window

    def run(self, wants: list[Want]) -> list[Result]:
        try:
            held = {w: w.known for w in wants if w.known is not None}
            held.update(self._read([w for w in wants if w.known is None]))
            changes = self._changes(wants, held)
            batches, too_large = updatewire.batches(self.target.zone, changes.values(), self.key)
            want_of = {change: w for w, change in changes.items()}
            for change in too_large:
                self.done[want_of[change]] = Result(want_of[change], error=self._too_large(change))
            for batch in batches:
                self._swap([want_of[c] for c in batch], held)
        except _Failed as e:
            for w in wants:
                self.done.setdefault(w, Result(w, error=e.line, no_route=e.unreachable))
        return [replace(self.done[w], sent=True, window=max(self.done[w].window, self.sent[w])) if w in self.sent else self.done[w]
                for w in wants]

    def _read(self, wants: list[Want]) -> dict[Want, Current]:
        held = {}
        for w in wants:
            try:
                held[w] = read(self.target, w.name, w.rtype, self.key, self.timeout, self.clock)
            except (Rejected, OSError) as e:
                raise _Failed(explain(e, f"{w.name} {w.rtype}", "read", self.target, self.key, self.timeout), no_route(e)) from None
        return held

    def _changes(self, wants: list[Want], held: dict[Want, Current]) -> dict[Want, Change]:
        """The swaps to send; the records already right are done (nothing sent for them)."""
        changes = {}
        for w in wants:
            change = needs_change(w.name, w.rtype, w.ttl, held[w], w.address)
            if change is None:
                self.done[w] = Result(w, False, held[w])
            else:
                changes[w] = change
        return changes

    def _swap(self, batch: list[Want], held: dict[Want, Current]) -> None:
        """One UPDATE for `batch` (compare-and-swap from `held`), retried after a lost race."""
        for attempt in range(1, CAS_ATTEMPTS + 1):
            changes = self._changes(batch, held)
            if not changes:
                return
            names = _labels(changes.values())
            fudge = plan.fudge(self.clock.offset)
            window = plan.replay_window(fudge, self.clock.offset)
            for w in changes:
                self.sent[w] = max(self.sent.get(w, 0.0), window)
            try:
                answer = exchange(build_update(self.target.zone, changes.values(), self.key, fudge), self.target, self.timeout)
            except Rejected as e:
                if e.rcode in (dns.rcode.NXRRSET, dns.rcode.YXRRSET) and not e.tsig_error:
                    if attempt == CAS_ATTEMPTS and not e.resent:
                        self._fail(changes, explain(e, names, "update", self.target, self.key, self.timeout))
                        return
                    now = self._read(list(changes))
                    if e.resent and all(plan.is_right(now[w], w.address, w.ttl) for w in changes):
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
                    for w in changes:
                        self._swap([w], held)
                    return
                # the server answered: this message's records fail, and the next message is tried
                self._fail(changes, explain(e, names, "update", self.target, self.key, self.timeout))
                return
            except OSError as e:
                raise _Failed(explain(e, names, "update", self.target, self.key, self.timeout), no_route(e)) from None
            self.clock.saw(answer, time.time())
            self._landed(changes, held)
            return

    def _landed(self, changes: dict[Want, Change], held: dict[Want, Current]) -> None:
        """The UPDATE for `changes` landed. A record the server had answered for with a CNAME
        is read once more: beside a real CNAME the add was ignored (and NOERROR answered)."""
        beside_cname = [w for w in changes if held[w].cname is not None]
        for w in changes:
            if w not in beside_cname:
                self.done[w] = Result(w, True, held[w])
        for w, now in self._read(beside_cname).items():
            if plan.is_right(now, w.address, w.ttl):
                self.done[w] = Result(w, True, held[w])  # a wildcard's CNAME: the name exists now, with the record
            else:
                self.done[w] = Result(w, error=self._beside_cname(w, now.cname or held[w].cname))

    def _fail(self, changes: dict[Want, Change], line: str) -> None:
        for w in changes:
            self.done[w] = Result(w, error=line)

    def _beside_cname(self, w: Want, cname: str) -> str:
        return (f"{w.name} {w.rtype}: update at {self.target} with key {self.key.name}: the name is a CNAME (to {cname}) at the "
                f"server, which keeps nothing else beside it and ignored the {w.rtype} record; remove the CNAME from zone "
                f"{self.target.zone}, or give the record a name of its own")

    def _too_large(self, change: Change) -> str:
        return (f"{change.name} {change.rtype}: update at {self.target} with key {self.key.name}: the server holds "
                f"{len(change.old.rdatas)} {change.rtype} records for the name, too many to name in one UPDATE's prerequisite "
                f"(over {updatewire.MAX_MESSAGE:,} bytes); delete them at the server (nsupdate: update delete {change.name} "
                f"{change.rtype}), and ddns-edge sets its own")


def prove_key(target: Target, key: Key, timeout: float = TIMEOUT) -> int:
    """A TSIG-signed SOA query for the zone: proves the key and the server; returns the serial."""
    query = dns.message.make_query(_absolute(target.zone), "SOA")
    query.flags &= ~dns.flags.RD
    query.use_tsig(tsig_key(key))
    try:
        answer = exchange(query, target, timeout)
        rrset = answer.find_rrset(answer.answer, _absolute(target.zone), dns.rdataclass.IN, dns.rdatatype.SOA)
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
        ignored = f" ({error.ignored})" if getattr(error, "ignored", "") else ""
        return f"{head}: {NO_ANSWER} {timeout:g} s{ignored}; check that the server is up and reachable on port {target.port} (firewall, address)"
    if isinstance(error, ConnectionRefusedError):
        return f"{head}: connection refused; nothing listens on port {target.port} there: check the server address and port"
    if no_route(error):
        return f"{head}: no route to the server ({error.strerror or error}); check the router's default route and WAN address (ip route, ip addr)"
    if isinstance(error, OSError):
        return f"{head}: network error: {error.strerror or error}; check the router's route to the server"
    assert isinstance(error, Rejected)
    if error.tsig_error:
        return f"{head}: {_tsig_line(error, key)}"
    if error.detail == "unsigned" or error.detail.startswith("answer not correctly signed"):
        said = error.ignored or f"ignored {_unsigned_kind(error) if error.detail == 'unsigned' else error.detail}"
        return (f"{head}: no correctly signed answer within {timeout:g} s; {said}: an answer to a signed request "
                "that is not signed with its key proves nothing; check the key, or who answers at that address")
    table = _READ_ADVICE if action != "update" else {}
    advice = table.get(error.rcode) or _ADVICE.get(error.rcode, "the server answered {rcode}")
    return f"{head}: " + advice.format(rcode=dns.rcode.to_text(error.rcode), key=key.name, zone=target.zone, attempts=CAS_ATTEMPTS)


def _tsig_line(error: Rejected, key: Key) -> str:
    """What a TSIG error says, and what to check; said as unproven when it is (the grace's verdict)."""
    if error.tsig_error == dns.rcode.BADKEY:
        line = (f"the server does not know this key (BADKEY); "
                f"check that key name {key.name} and algorithm {key.algorithm} match the server's key clause")
    elif error.tsig_error == dns.rcode.BADSIG:
        line = f"signature rejected (BADSIG); the secret differs from the server's for key {key.name}"
    elif error.tsig_error == dns.rcode.BADTIME:
        local = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        server = f", the server's {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(error.server_time))}" if error.server_time else ""
        line = f"clocks disagree (BADTIME): local time is {local}{server}; set the router's clock (NTP), routers without an RTC boot with a wrong one"
    else:
        line = f"TSIG error {dns.rcode.to_text(error.tsig_error)}"
    if error.unproven:  # BADSIG and BADKEY come without a MAC (RFC 8945 5.3.2); BADTIME's is not checked (dnspython)
        how = "whose signature is not checked" if error.tsig_error == dns.rcode.BADTIME else "that is unsigned"
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


def _short(error: Exception) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:200]
