"""The echo's rounds: ask services outside the NAT which address they see, and trust only agreement.

Theory of operation. A record whose device holds only a private address (CGNAT, double
NAT), or that says `source echo`, takes its address from echo sources: `http://` and
`https://` URLs that answer with the address as text, `dns://SERVER/NAME[/TYPE]` (A, AAAA
or TXT answers, as whoami-style names give) and `exec:COMMAND` (the first address the
command prints). One *round* asks them for one address family, pinned: the query for an A
record leaves over IPv4, for AAAA over IPv6, bound to the record's device when it has one.

Two rules keep a round honest:
- an answer counts only when it is exactly one public address of the round's family
  (echo_wire.py parses and checks every answer); anything else (HTML, empty, private,
  garbage, too large, too slow) is rejected with a reason the operator can read;
- an address is taken only when `quorum` sources agree on it (and more than on any other),
  so one lying or stale source cannot move a record.

The round asks the sources in order, healthy ones first (a source that failed lately is
backed off to the end of the line), and stops as soon as an address has its quorum, or
when no address can reach it any more, or when its time budget is spent.

Down to "I/O" everything is pure (agreement, the round's decisions); when a round is due,
and how each source has fared (Health, a value handed in and returned), are echo_checks.py's.
The transports below are thin and bounded in time and bytes.
"""

from __future__ import annotations

import base64
import os
import random
import selectors
import signal
import socket
import ssl
import subprocess
import time
from typing import Callable, Sequence

import dns.exception
import dns.message
import dns.resolver

from ddns_edge import __version__
from ddns_edge.echo_wire import (
    FAMILY_NAMES,
    MAX_BODY,
    TYPE_OF_FAMILY,
    applies,
    parse_dns,
    parse_exec,
    parse_http,
    parse_source,
    reject,
)
from ddns_edge.addresses import ip_literal
from ddns_edge.echo_checks import NO_HEALTH, Health
from ddns_edge.errors import no_route
from ddns_edge.model import Agent, Agreement, Answer, EchoSource, IPAddress

# Built-in sources, used when the config has no `list echo`. See the README ("The echo")
# for why each is here. HTTPS first: TLS means no one on the path can forge the answer.
DEFAULT_SOURCES = tuple(parse_source(text) for text in (
    "https://icanhazip.com/",
    "https://api64.ipify.org/",
    "dns://ns1.google.com/o-o.myaddr.l.google.com/TXT",
    "dns://resolver1.opendns.com/myip.opendns.com",
))

ROUND_BUDGET = 5.0  # seconds one round may block the agent, all sources together
TIMEOUTS = {"http": 2.0, "https": 3.0, "dns": 2.0, "exec": ROUND_BUDGET}  # per source, within the budget


def sources_of(agent: Agent) -> tuple[tuple[EchoSource, ...], int]:
    """The sources to use and the quorum (the built-in list when the config has none)."""
    sources = agent.echo or DEFAULT_SOURCES
    quorum = agent.echo_quorum or (2 if len(sources) >= 2 else 1)
    return sources, quorum


# ------------------------------------------------------------------ agreement (pure)



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


class Round:
    """One round's decisions (pure): which source to ask next, and the outcome so far.

    `backed_off`: sources that failed lately; asked only after every healthy one.
    """

    def __init__(self, sources: Sequence[EchoSource], family: int, quorum: int, backed_off: Callable[[EchoSource], bool] = lambda s: False):
        usable = [s for s in sources if applies(s, family)]
        self.family = family
        self.quorum = quorum
        self.queue = [s for s in usable if not backed_off(s)] + [s for s in usable if backed_off(s)]
        self.answers: list[tuple[str, Answer]] = []
        self.out_of_time = False

    def next(self) -> EchoSource | None:
        """The next source to ask, or None when the round is over."""
        if not self.queue or self.out_of_time:
            return None
        if self.answers and self.answers[-1][1].no_route:
            return None  # no route (yet): the others would fail alike; asked again when one comes
        so_far = agree(self.answers, self.quorum)
        if so_far.address is not None:
            return None
        counts: dict[IPAddress, int] = {}
        for _, answer in self.answers:
            if answer.address is not None:
                counts[answer.address] = counts.get(answer.address, 0) + 1
        best = max(counts.values(), default=0)
        if best + len(self.queue) < self.quorum:
            return None  # not even unanimity from here on could reach the quorum
        return self.queue.pop(0)

    def add(self, source: EchoSource, answer: Answer) -> None:
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


# ------------------------------------------------------------------ I/O


def ask(sources: Sequence[EchoSource], family: int, device: str | None, quorum: int,
        health: Health = NO_HEALTH, budget: float = ROUND_BUDGET,
        clock: Callable[[], float] = time.monotonic, rand: Callable[[], float] = random.random,
        asker: Callable[[EchoSource, int, str | None, float], Answer] | None = None) -> tuple[Agreement, Health]:
    """Run one round over `family`, bound to `device` when given; blocks at most `budget` s.

    `health` is how the sources fared in earlier rounds (sources backed off are asked last);
    returned with the outcome as it is after this round. `clock`, `rand` and `asker`
    (ask_one by default) are for tests."""
    asker = asker or ask_one
    start = clock()
    deadline = start + budget
    rnd = Round(sources, family, quorum, lambda s: health.backed_off(s, start))
    while (source := rnd.next()) is not None:
        left = deadline - clock()
        if left <= 0.05:
            rnd.out_of_time = True
            break
        answer = asker(source, family, device, min(left, TIMEOUTS.get(source.kind, 2.0)))
        rnd.add(source, answer)
        health = health.after(source, answer, clock(), rand())
    return rnd.outcome(), health


def ask_one(source: EchoSource, family: int, device: str | None, timeout: float) -> Answer:
    """Ask one source; every failure is a rejection with its reason, never an exception."""
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
        return reject(_os_error(e), no_route=no_route(e))
    except _Failed as e:
        return reject(str(e))
    except ValueError as e:  # a host name that TLS cannot encode, ...
        return reject(f"cannot be asked: {e}")


class _Failed(Exception):
    """A source failed before it answered (its host has no address of the family, ...)."""


def _os_error(e: OSError) -> str:

    if isinstance(e, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {e.verify_message}"
    if isinstance(e, ssl.SSLError):
        return f"TLS failed: {e.reason or e}"
    return e.strerror or str(e) or type(e).__name__


def _address_of(host: str, family: int, timeout: float) -> str:
    """`host` as an address of `family`, asking the system's resolvers within `timeout`."""
    literal = ip_literal(host)
    if literal is not None:
        if literal.version != family:
            raise _Failed(f"{host} is not an {FAMILY_NAMES[family]} address")
        return str(literal)

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


def _socket(family: int, kind: int, device: str | None) -> socket.socket:

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


def _tls() -> ssl.SSLContext:
    """The default TLS context: the system's CAs (SSL_CERT_FILE / SSL_CERT_DIR honoured), host names checked."""
    global _tls_context
    if _tls_context is None:
        _tls_context = ssl.create_default_context()
    return _tls_context


def _ask_http(source: EchoSource, family: int, device: str | None, timeout: float) -> Answer:
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


def _ask_dns(source: EchoSource, family: int, device: str | None, timeout: float) -> Answer:
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


def _ask_exec(source: EchoSource, family: int, device: str | None, timeout: float) -> Answer:
    """Run the command; its answer is what it printed by the time it exited. A background
    child that keeps stdout open (ssh's ControlPersist master, `sleep 30 &`) is not waited
    for: the exit is watched on its own (a pidfd), not through the end of the output. Its
    error output goes nowhere: it may hold a secret, and the log never shows it."""
    deadline = time.monotonic() + timeout
    env = dict(os.environ, DDNS_EDGE_FAMILY=str(family), DDNS_EDGE_TYPE=TYPE_OF_FAMILY[family], DDNS_EDGE_DEVICE=device or "")
    proc = subprocess.Popen(["/bin/sh", "-c", source.command], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env, start_new_session=True, close_fds=True)
    assert proc.stdout is not None  # stdout=PIPE
    stdout = proc.stdout
    fd = stdout.fileno()
    os.set_blocking(fd, False)
    exited = _pidfd(proc.pid)
    output = bytearray()
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            if exited is not None:
                sel.register(exited, selectors.EVENT_READ)
            while proc.poll() is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return parse_exec(b"", None, family)
                ready = sel.select(left if exited is not None else min(left, EXIT_POLL))
                if any(key.fd == fd for key, _ in ready) and _read_some(fd, output) == b"":
                    sel.unregister(fd)  # stdout closed: the exit is still to come
                if len(output) > MAX_BODY:
                    return parse_exec(bytes(output), 0, family)
        while len(output) <= MAX_BODY and _read_some(fd, output):  # what it printed before it exited
            pass
        return parse_exec(bytes(output), proc.returncode, family)
    finally:
        if exited is not None:
            os.close(exited)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the command and whatever it started (ssh, ...)
        except OSError:
            pass
        proc.wait()
        stdout.close()


EXIT_POLL = 0.05  # seconds between looks at a command's exit where the kernel has no pidfd (Linux < 5.3)


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when `pid` exits, or None where there is none."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _read_some(fd: int, output: bytearray) -> bytes | None:
    """Add what the pipe holds now to `output` and return it: b"" at its end, None when
    nothing is there yet."""
    try:
        data = os.read(fd, 4096)
    except BlockingIOError:
        return None
    output += data
    return data
