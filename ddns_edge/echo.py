"""The echo: ask services outside the NAT which address they see, and trust only agreement.

Theory of operation. A record whose device holds only a private address (CGNAT, double
NAT), or that says `source echo`, takes its address from echo sources: `http://` and
`https://` URLs that answer with the address as text, `dns://SERVER/NAME[/TYPE]` (A, AAAA
or TXT answers, as whoami-style names give) and `exec:COMMAND` (the first address the
command prints). One *round* asks them for one address family, pinned: the query for an A
record leaves over IPv4, for AAAA over IPv6, bound to the record's device when it has one.

Two rules keep a round honest:
- an answer counts only when it is exactly one public address of the round's family;
  anything else (HTML, empty, private, garbage, too large, too slow) is rejected with a
  reason the operator can read;
- an address is taken only when `quorum` sources agree on it (and more than on any other),
  so one lying or stale source cannot move a record.

The round asks the sources in order, healthy ones first (a source that failed lately is
backed off to the end of the line), and stops as soon as an address has its quorum, or
when no address can reach it any more, or when its time budget is spent.

Everything down to "I/O" is pure: parsing sources and answers, validation, the quorum and
the round's decisions; the I/O below it is thin and bounded in time and bytes.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Callable, Sequence
from urllib.parse import unquote, urlsplit

from ddns_edge.addresses import IPAddress, is_public

# Built-in sources, used when the config has no `list echo`. See the README ("The echo")
# for why each is here. HTTPS first: TLS means no one on the path can forge the answer.
DEFAULT_SOURCES = (
    "https://icanhazip.com/",
    "https://api64.ipify.org/",
    "dns://ns1.google.com/o-o.myaddr.l.google.com/TXT",
    "dns://resolver1.opendns.com/myip.opendns.com",
)

ROUND_BUDGET = 5.0  # seconds one round may block the agent, all sources together
TIMEOUTS = {"http": 2.0, "https": 3.0, "dns": 2.0, "exec": ROUND_BUDGET}  # per source, within the budget
MAX_BODY = 4096  # bytes of an answer's body (or a command's output)
MAX_HEAD = 8192  # bytes of an HTTP answer's status line and headers
MAX_READ = MAX_HEAD + MAX_BODY + 1024  # never read more than this of an HTTP answer (chunk framing)

SOURCE_BACKOFF_FIRST = 30.0  # a failing source goes to the end of the line for this long, doubling
SOURCE_BACKOFF_CAP = 3600.0

FAMILY_NAMES = {4: "IPv4", 6: "IPv6"}
TYPE_OF_FAMILY = {4: "A", 6: "AAAA"}


def round_label(family: int, device: str | None) -> str:
    """How the log names the echo of one family and device: 'echo over IPv4 via wan0'."""
    return f"echo over {FAMILY_NAMES[family]}" + (f" via {device}" if device else "")


# ------------------------------------------------------------------ sources (pure)


@dataclass(frozen=True)
class Source:
    """One echo source, parsed. `shown` is how the log names it: the URL without its password."""

    text: str = field(repr=False)  # as configured: may hold a password, never shown
    kind: str  # http | https | dns | exec
    shown: str
    host: str = ""  # http(s): host; dns: server (name or address)
    port: int = 0
    target: str = "/"  # http(s): path and query
    auth: tuple[str, str] | None = field(default=None, repr=False)  # http(s): user, password
    name: str = ""  # dns: the name to ask
    rtype: str | None = None  # dns: A | AAAA | TXT; None: the record's own type
    command: str = ""  # exec
    problem: str | None = None  # why this source cannot be used (a bad port, ...)

    def applies(self, family: int) -> bool:
        """False when this source can never answer for `family` (and so is not asked)."""
        if self.kind == "dns" and self.rtype in ("A", "AAAA") and self.rtype != TYPE_OF_FAMILY[family]:
            return False
        literal = _literal(self.host)
        return literal is None or literal.version == family

    def __str__(self) -> str:
        return self.shown


def strip_password(text: str) -> str:
    """`text` with the password of a URL's userinfo removed (user@host stays)."""
    m = re.match(r"(?i)((?:https?|dns)://)([^/@]*)@", text)
    if m is None:
        return text
    user = m.group(2).split(":", 1)[0]
    return m.group(1) + (user + "@" if user else "") + text[m.end():]


def parse_source(text: str) -> Source:
    """Parse one echo source (config.py checked its shape); never raises."""
    text = text.strip()
    shown = strip_password(text)
    scheme = text.split(":", 1)[0].lower() if ":" in text else ""
    if scheme in ("http", "https"):
        try:
            parts = urlsplit(text)
            host, port = parts.hostname or "", parts.port or (443 if scheme == "https" else 80)
        except ValueError as e:
            return Source(text, scheme, shown, problem=f"bad URL: {e}")
        if not host:
            return Source(text, scheme, shown, problem="the URL has no host")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        auth = (unquote(parts.username or ""), unquote(parts.password or "")) if parts.username is not None else None
        return Source(text, scheme, shown, host=host, port=port, target=target, auth=auth)
    if scheme == "dns":
        parts = text[len("dns://"):].split("/")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
            return Source(text, "dns", shown, problem="a dns echo source is written dns://SERVER/NAME[/TYPE]")
        rtype = parts[2].upper() if len(parts) == 3 and parts[2] else None
        if rtype not in (None, "A", "AAAA", "TXT"):
            return Source(text, "dns", shown, problem="the record type must be A, AAAA or TXT")
        server = _server(parts[0])
        if server is None:
            return Source(text, "dns", shown, problem="bad server (allowed: NAME, NAME:PORT, ADDRESS, [IPv6]:PORT)")
        return Source(text, "dns", shown, host=server[0], port=server[1], name=parts[1], rtype=rtype)
    if scheme == "exec":
        command = text[len("exec:"):].strip()
        return Source(text, "exec", shown, command=command, problem=None if command else "no command")
    return Source(text, scheme or "?", shown, problem="not an echo source")


def _server(text: str) -> tuple[str, int] | None:
    """dns:// server part: `name`, `name:port`, `1.2.3.4`, `2001:db8::1`, `[2001:db8::1]:port`."""
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?", text)
    if m:
        host, port = m.group(1), int(m.group(2) or 53)
    elif text.count(":") > 1:
        host, port = text, 53
    elif ":" in text:
        host, _, p = text.partition(":")
        if not p.isdigit():
            return None
        host, port = host, int(p)
    else:
        host, port = text, 53
    if not host or not 0 < port < 65536 or (":" in host and _literal(host) is None):
        return None
    return host, port


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def sources_of(agent) -> tuple[tuple[Source, ...], int]:
    """The sources to use and the quorum, from a config.Agent (the built-in list when none)."""
    texts = agent.echo or DEFAULT_SOURCES
    sources = tuple(parse_source(t) for t in texts)
    quorum = agent.echo_quorum or (2 if len(sources) >= 2 else 1)
    return sources, quorum


# ------------------------------------------------------------------ answers (pure)


@dataclass(frozen=True)
class Answer:
    """What one source said: a usable address, or why it was rejected."""

    address: IPAddress | None = None
    rejected: str | None = None

    def __str__(self) -> str:
        return str(self.address) if self.address is not None else f"rejected: {self.rejected}"


def reject(why: str) -> Answer:
    return Answer(None, why)


def check(address: IPAddress, family: int) -> Answer:
    """The address if it is public and of `family`, else the rejection."""
    if address.version != family:
        return reject(f"an {FAMILY_NAMES[address.version]} address ({address}) where {FAMILY_NAMES[family]} was asked")
    if not is_public(address):
        return reject(f"a private address ({address})")
    return Answer(address)


def to_address(token: bytes | str) -> IPAddress | None:
    """`token` as an address (IPv4-mapped IPv6 as IPv4), or None."""
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            return None
    if not 2 <= len(token) <= 45:
        return None
    try:
        address = ipaddress.ip_address(token)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _show(data: bytes, limit: int = 40) -> str:
    text = data[:limit].decode("utf-8", "replace")
    return repr(text) + ("..." if len(data) > limit else "")


def parse_text(body: bytes, family: int) -> Answer:
    """A text answer whose first token is the address, and the only address in it."""
    text = body.strip()
    if not text:
        return reject("an empty answer")
    if text[:1] == b"<" or b"<html" in text[:MAX_BODY].lower():
        return reject("an HTML page, not an address")
    tokens = text.split()
    address = to_address(tokens[0])
    if address is None:
        return reject(f"not an address: {_show(tokens[0])}")
    others = {a for a in map(to_address, tokens[1:]) if a is not None and a != address}
    if others:
        return reject(f"more than one address ({address}, {sorted(others, key=str)[0]})")
    return check(address, family)


_STATUS_RE = re.compile(rb"HTTP/1\.[01] ([0-9]{3})(?: [^\r\n]*)?")
_TOKEN_RE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def parse_http(raw: bytes, family: int, eof: bool = True) -> Answer | None:
    """An HTTP/1.x answer, as read so far, as an Answer; None: incomplete, read on (only when not `eof`)."""
    if len(raw) > MAX_READ:
        return reject(f"an answer larger than {MAX_READ} bytes; not read further")
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        if len(raw) > MAX_HEAD:
            return reject(f"HTTP headers larger than {MAX_HEAD} bytes")
        if not eof:
            return None
        return reject("no answer" if not raw else "not an HTTP answer" if not raw.startswith(b"HTTP/") else "an HTTP answer cut short")
    if end > MAX_HEAD:
        return reject(f"HTTP headers larger than {MAX_HEAD} bytes")
    lines = raw[:end].split(b"\r\n")
    status = _STATUS_RE.fullmatch(lines[0])
    if status is None:
        return reject(f"not an HTTP answer: {_show(lines[0])}")
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN_RE.fullmatch(name):
            return reject(f"a malformed HTTP header: {_show(line)}")
        name, value = name.lower(), value.strip()
        if name in headers and name == b"content-length" and headers[name] != value:
            return reject("conflicting Content-Length headers")
        headers[name] = value
    code = int(status.group(1))
    if code != 200:
        return reject(f"HTTP status {code}" + (" (redirects are not followed)" if 300 <= code < 400 else ""))
    ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    if ctype in (b"text/html", b"application/xhtml+xml"):
        return reject("an HTML page, not an address")
    body = raw[end + 4:]
    if b"transfer-encoding" in headers:
        if headers[b"transfer-encoding"].lower() != b"chunked":
            return reject("an HTTP transfer encoding other than chunked")
        body, complete, problem = dechunk(body)
        if problem:
            return reject(problem)
        if not complete:
            return None if not eof else reject("an HTTP answer cut short")
    elif b"content-length" in headers:
        length = headers[b"content-length"]
        if not length.isdigit() or len(length) > 12:
            return reject(f"a bad Content-Length: {_show(length)}")
        if int(length) > MAX_BODY:
            return reject(f"an answer of {int(length)} bytes; at most {MAX_BODY} are read")
        if len(body) < int(length):
            return None if not eof else reject("an HTTP answer cut short")
        body = body[: int(length)]
    elif len(body) > MAX_BODY:
        return reject(f"an answer larger than {MAX_BODY} bytes; not read further")
    elif not eof:
        return None
    return parse_text(body, family)


def dechunk(data: bytes) -> tuple[bytes, bool, str | None]:
    """Chunked transfer coding: (body so far, complete, problem)."""
    out, pos = bytearray(), 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return bytes(out), False, None if len(data) - pos < 64 else "a malformed chunked HTTP answer"
        size = data[pos:eol].split(b";", 1)[0].strip()
        if not size or len(size) > 8 or not all(c in b"0123456789abcdefABCDEF" for c in size):
            return bytes(out), False, "a malformed chunked HTTP answer"
        n = int(size, 16)
        if n == 0:
            return bytes(out), True, None
        if len(out) + n > MAX_BODY:
            return bytes(out), False, f"an answer larger than {MAX_BODY} bytes; not read further"
        start = eol + 2
        if len(data) < start + n + 2:
            out += data[start:start + n]
            return bytes(out), False, None
        if data[start + n:start + n + 2] != b"\r\n":
            return bytes(out), False, "a malformed chunked HTTP answer"
        out += data[start:start + n]
        pos = start + n + 2


def parse_dns(wire: bytes, query_id: int, qname: str, rtype: str, family: int) -> Answer:
    """A DNS answer to (`query_id`, `qname`, `rtype`): exactly one address in A, AAAA or TXT data."""
    import dns.flags
    import dns.message
    import dns.name
    import dns.rcode
    import dns.rdataclass
    import dns.rdatatype

    try:
        msg = dns.message.from_wire(wire)
    except Exception as e:  # any bytes may arrive: every way of being malformed is one rejection
        return reject(f"not a DNS answer ({type(e).__name__})")
    if msg.id != query_id or not msg.flags & dns.flags.QR:
        return reject("not the answer to our query")
    if msg.flags & dns.flags.TC:
        return reject("a truncated DNS answer")
    want_type = dns.rdatatype.from_text(rtype)
    try:
        name = dns.name.from_text(qname)
    except Exception:
        return reject("a bad name")
    if len(msg.question) != 1 or (msg.question[0].name, msg.question[0].rdtype, msg.question[0].rdclass) != (name, want_type, dns.rdataclass.IN):
        return reject("the answer to another question")
    if msg.rcode() != dns.rcode.NOERROR:
        return reject(f"DNS {dns.rcode.to_text(msg.rcode())}")
    owners = {name}
    for rrset in msg.answer:  # follow CNAMEs in order
        if rrset.rdtype == dns.rdatatype.CNAME and rrset.name in owners:
            owners.update(r.target for r in rrset)
    addresses: list[IPAddress] = []
    for rrset in msg.answer:
        if rrset.name not in owners or rrset.rdtype != want_type or rrset.rdclass != dns.rdataclass.IN:
            continue
        for rdata in rrset:
            if want_type == dns.rdatatype.TXT:
                addresses += [a for s in rdata.strings for a in map(to_address, s.split()) if a is not None]
            else:
                address = to_address(rdata.address)
                if address is not None:
                    addresses.append(address)
    distinct = list(dict.fromkeys(addresses))
    if not distinct:
        return reject(f"no address in the {rtype} answer")
    if len(distinct) > 1:
        return reject(f"more than one address ({distinct[0]}, {distinct[1]})")
    return check(distinct[0], family)


def parse_exec(output: bytes, status: int | None, family: int, errors: bytes = b"") -> Answer:
    """A command's result: exit status 0 and an address as the first address in its output."""
    if status is None:
        return reject("did not finish in time")
    if status != 0:
        said = errors.strip().splitlines()[-1:] or [b""]
        return reject(f"exited with status {status}" + (f": {_show(said[0], 120)}" if said[0] else ""))
    if len(output) > MAX_BODY:
        return reject(f"printed more than {MAX_BODY} bytes")
    for token in output.split():
        address = to_address(token.strip(b"\"'[](),;"))
        if address is not None:
            return check(address, family)
    if not output.strip():
        return reject("printed nothing")
    return reject(f"printed no address: {_show(output.strip())}")


# ------------------------------------------------------------------ agreement (pure)


@dataclass(frozen=True)
class Agreement:
    """A round's outcome: the agreed address (or None and why), who agreed, and every answer."""

    address: IPAddress | None
    reason: str
    agreed: tuple[str, ...] = ()
    answers: tuple[tuple[str, Answer], ...] = ()

    def __str__(self) -> str:
        return f"{self.address} ({self.reason})" if self.address is not None else self.reason


def agree(answers: Sequence[tuple[str, Answer]], quorum: int) -> Agreement:
    """The address that at least `quorum` sources gave, and more than gave any other (pure)."""
    answers = tuple(answers)
    votes: dict[IPAddress, list[str]] = {}
    for shown, answer in answers:
        if answer.address is not None:
            votes.setdefault(answer.address, []).append(shown)
    ranked = sorted(votes.items(), key=lambda kv: -len(kv[1]))
    if ranked and len(ranked[0][1]) >= quorum and (len(ranked) == 1 or len(ranked[1][1]) < len(ranked[0][1])):
        address, who = ranked[0]
        if quorum == 1:
            reason = f"from {who[0]}"
        else:
            reason = f"{len(who)} of {len(answers)} echo sources agree: {', '.join(who)}"
        return Agreement(address, reason, tuple(who), answers)
    if not answers:
        return Agreement(None, "no echo source asked", (), answers)
    if len(votes) > 1:
        said = "; ".join(f"{a} from {', '.join(w)}" for a, w in votes.items())
        return Agreement(None, f"echo sources disagree ({said}); {quorum} must agree", (), answers)
    if votes:
        (address, who), = votes.items()
        return Agreement(None, f"only {len(who)} echo source(s) gave {address}; {quorum} must agree", (), answers)
    said = "; ".join(f"{shown}: {answer.rejected}" for shown, answer in answers)
    return Agreement(None, f"no echo source gave a usable answer ({said})", (), answers)


def source_backoff(failures: int, rand: float) -> float:
    """Seconds a source that failed `failures` times in a row waits at the end of the line."""
    if failures < 1:
        return 0.0
    base = min(SOURCE_BACKOFF_CAP, SOURCE_BACKOFF_FIRST * 2 ** min(failures - 1, 20))
    return min(SOURCE_BACKOFF_CAP, base * (0.8 + 0.4 * rand))


@dataclass
class Health:
    """How one source has fared: failures in a row, and until when it is backed off."""

    failures: int = 0
    until: float = 0.0

    def after(self, answer: Answer, now: float, rand: float) -> None:
        if answer.address is not None:
            self.failures, self.until = 0, 0.0
        else:
            self.failures += 1
            self.until = now + source_backoff(self.failures, rand)


class Round:
    """One round's decisions (pure): which source to ask next, and the outcome so far.

    `backed_off`: sources that failed lately; asked only after every healthy one.
    """

    def __init__(self, sources: Sequence[Source], family: int, quorum: int, backed_off: Callable[[Source], bool] = lambda s: False):
        usable = [s for s in sources if s.applies(family)]
        self.family = family
        self.quorum = quorum
        self.queue = [s for s in usable if not backed_off(s)] + [s for s in usable if backed_off(s)]
        self.answers: list[tuple[str, Answer]] = []
        self.out_of_time = False

    def next(self) -> Source | None:
        """The next source to ask, or None when the round is over."""
        if not self.queue or self.out_of_time:
            return None
        so_far = agree(self.answers, self.quorum)
        if so_far.address is not None:
            return None
        counts = {}
        for _, answer in self.answers:
            if answer.address is not None:
                counts[answer.address] = counts.get(answer.address, 0) + 1
        best = max(counts.values(), default=0)
        if best + len(self.queue) < self.quorum:
            return None  # not even unanimity from here on could reach the quorum
        return self.queue.pop(0)

    def add(self, source: Source, answer: Answer) -> None:
        self.answers.append((source.shown, answer))

    def outcome(self) -> Agreement:
        out = agree(self.answers, self.quorum)
        if out.address is None:
            if not self.answers:
                reason = f"no echo source can be asked over {FAMILY_NAMES[self.family]}"
                return Agreement(None, reason, (), ())
            if self.out_of_time:
                return Agreement(None, f"{out.reason}; the round ran out of time", (), out.answers)
        return out


def next_check(agreed: bool, failures: int, interval: float, rand: float) -> float:
    """Seconds until the next round: the interval after agreement, a growing backoff after failures."""
    from ddns_edge import plan

    return float(interval) if agreed else plan.backoff(max(failures, 1), rand)


# ------------------------------------------------------------------ I/O


def ask(sources: Sequence[Source], family: int, device: str | None, quorum: int,
        health: dict[str, Health] | None = None, budget: float = ROUND_BUDGET,
        clock: Callable[[], float] = None, rand: Callable[[], float] = None) -> Agreement:
    """Run one round over `family`, bound to `device` when given; blocks at most `budget` s."""
    import random
    import time

    clock = clock or time.monotonic
    rand = rand or random.random
    health = {} if health is None else health
    start = clock()
    deadline = start + budget
    rnd = Round(sources, family, quorum, lambda s: health.get(s.text, Health()).until > start)
    while (source := rnd.next()) is not None:
        left = deadline - clock()
        if left <= 0.05:
            rnd.out_of_time = True
            break
        answer = ask_one(source, family, device, min(left, TIMEOUTS.get(source.kind, 2.0)))
        rnd.add(source, answer)
        health.setdefault(source.text, Health()).after(answer, clock(), rand())
    return rnd.outcome()


def ask_one(source: Source, family: int, device: str | None, timeout: float) -> Answer:
    """Ask one source; every failure is a rejection with its reason, never an exception."""
    if source.problem:
        return reject(source.problem)
    try:
        if source.kind in ("http", "https"):
            return _ask_http(source, family, device, timeout)
        if source.kind == "dns":
            return _ask_dns(source, family, device, timeout)
        if source.kind == "exec":
            return _ask_exec(source, family, device, timeout)
        return reject("not an echo source")
    except TimeoutError:
        return reject(f"no answer within {timeout:.1f} s")
    except OSError as e:
        return reject(_os_error(e))
    except _Failed as e:
        return reject(str(e))
    except ValueError as e:  # a host name that TLS cannot encode, ...
        return reject(f"cannot be asked: {e}")


class _Failed(Exception):
    """A source failed before it answered (its host has no address of the family, ...)."""


def _os_error(e: OSError) -> str:
    import ssl

    if isinstance(e, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {e.verify_message}"
    if isinstance(e, ssl.SSLError):
        return f"TLS failed: {e.reason or e}"
    return e.strerror or str(e) or type(e).__name__


def _address_of(host: str, family: int, timeout: float) -> str:
    """`host` as an address of `family`, asking the system's resolvers within `timeout`."""
    literal = _literal(host)
    if literal is not None:
        if literal.version != family:
            raise _Failed(f"{host} is not an {FAMILY_NAMES[family]} address")
        return str(literal)
    import dns.exception
    import dns.resolver

    rtype = TYPE_OF_FAMILY[family]
    try:
        resolver = dns.resolver.Resolver()
        answer = resolver.resolve(host, rtype, lifetime=max(timeout, 0.1))
        return answer[0].to_text()
    except dns.resolver.NoResolverConfiguration:
        raise _Failed("no resolver in /etc/resolv.conf to find the host") from None
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        raise _Failed(f"{host} has no {FAMILY_NAMES[family]} address ({rtype})") from None
    except dns.exception.Timeout:
        raise _Failed(f"no answer resolving {host} within {timeout:.1f} s") from None
    except dns.exception.DNSException as e:
        raise _Failed(f"cannot resolve {host}: {type(e).__name__}") from None


def _socket(family: int, kind: int, device: str | None):
    import socket

    sock = socket.socket(socket.AF_INET if family == 4 else socket.AF_INET6, kind | socket.SOCK_CLOEXEC)
    if device:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device.encode())
        except PermissionError:
            pass  # not root: leave it to the routing table
        except OSError as e:
            sock.close()
            raise _Failed(f"cannot send through {device}: {e.strerror or e}") from None
    return sock


_tls_context = None


def _tls():
    """The default TLS context: the system's CAs (SSL_CERT_FILE / SSL_CERT_DIR honoured), host names checked."""
    global _tls_context
    if _tls_context is None:
        import ssl

        _tls_context = ssl.create_default_context()
    return _tls_context


def _ask_http(source: Source, family: int, device: str | None, timeout: float) -> Answer:
    import base64
    import socket
    import time

    from ddns_edge import __version__

    deadline = time.monotonic() + timeout
    address = _address_of(source.host, family, timeout)
    sock = _socket(family, socket.SOCK_STREAM, device)
    try:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        sock.connect((address, source.port))
        if source.kind == "https":
            sock = _tls().wrap_socket(sock, server_hostname=source.host)
        host = f"[{source.host}]" if ":" in source.host else source.host
        if source.port != (443 if source.kind == "https" else 80):
            host += f":{source.port}"
        lines = [f"GET {source.target} HTTP/1.1", f"Host: {host}", f"User-Agent: ddns-edge/{__version__}",
                 "Accept: text/plain", "Connection: close"]
        if source.auth is not None:
            lines.append("Authorization: Basic " + base64.b64encode(":".join(source.auth).encode()).decode())
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        raw = b""
        while True:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = sock.recv(4096)
            raw += data
            answer = parse_http(raw, family, eof=not data)
            if answer is not None:
                return answer
    finally:
        sock.close()


def _ask_dns(source: Source, family: int, device: str | None, timeout: float) -> Answer:
    import socket
    import time

    import dns.message

    deadline = time.monotonic() + timeout
    rtype = source.rtype or TYPE_OF_FAMILY[family]
    server = _address_of(source.host, family, timeout)
    query = dns.message.make_query(source.name, rtype)
    sock = _socket(family, socket.SOCK_DGRAM, device)
    try:
        sock.connect((server, source.port))
        sock.send(query.to_wire())
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        wire = sock.recv(4096)
    finally:
        sock.close()
    return parse_dns(wire, query.id, source.name, rtype, family)


def _ask_exec(source: Source, family: int, device: str | None, timeout: float) -> Answer:
    import os
    import selectors
    import signal
    import subprocess
    import time

    deadline = time.monotonic() + timeout
    env = dict(os.environ, DDNS_EDGE_FAMILY=str(family), DDNS_EDGE_TYPE=TYPE_OF_FAMILY[family], DDNS_EDGE_DEVICE=device or "")
    proc = subprocess.Popen(["/bin/sh", "-c", source.command], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, start_new_session=True, close_fds=True)
    out = {proc.stdout: b"", proc.stderr: b""}
    limits = {proc.stdout: MAX_BODY + 1, proc.stderr: 1024}
    try:
        with selectors.DefaultSelector() as sel:
            for pipe in out:
                sel.register(pipe, selectors.EVENT_READ)
            while sel.get_map():
                left = deadline - time.monotonic()
                if left <= 0:
                    return parse_exec(b"", None, family)
                for key, _ in sel.select(left):
                    data = os.read(key.fd, 4096)
                    if not data:
                        sel.unregister(key.fileobj)
                        continue
                    out[key.fileobj] = (out[key.fileobj] + data)[: limits[key.fileobj]]
                    if len(out[proc.stdout]) > MAX_BODY:
                        return parse_exec(out[proc.stdout], 0, family)
        try:
            status = proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            status = None
        return parse_exec(out[proc.stdout], status, family, out[proc.stderr])
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the command and whatever it started (ssh, ...)
        except OSError:
            pass
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
