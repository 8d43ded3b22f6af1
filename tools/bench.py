#!/usr/bin/env python3
"""`make bench`: ddns-edge's figures from the namespace world, side by side with ddclient.

Run as root: `make bench` (or `.venv/bin/python tools/bench.py [--quick]`). It builds the
world of tests/netns/world.py (rtr -> isp -> srv with a real BIND), runs `ddns-edge run` in
the router namespace as a user would, prints a table and writes bench/results.json (and
the table as bench/results.txt). Benchmarks report figures; nothing here is a timed test.

How each figure is measured (the same words are printed under the table):

- Change time. The bench process holds a netlink socket opened inside the router namespace
  (pyroute2, made after setns(2) into it) and changes the WAN address itself: it adds the
  new address, then deletes the old one. The change time is taken just before the delete,
  the moment the new address becomes the only one (until then the address rules keep the
  published address, so the agent rightly does nothing on the add).
- Visible time. A UDP socket opened inside the server namespace asks BIND for the record
  (no recursion, straight to BIND, never through the isp, so it is not counted) about
  every millisecond, and only while a change is pending; the answer is checked on the
  wire, without a DNS library (polling costs about 9 % of a core here, and BIND 7 %).
  The figure is the time the first answer with the new address arrived: an upper bound.
  The flip happened after BIND answered the previous poll, so the true value is at most
  one poll interval plus one round trip lower; the table gives that resolution.
- Latency: spaced changes, each made 20-60 ms after the previous one was confirmed, with
  the agent idle. Memory: then back-to-back changes up to 1,000 in all, each made as soon
  as the previous one is visible at BIND and confirmed in the agent's state file (so every
  one is processed, none coalesced, and no UPDATE response is sent to an address already
  gone); RSS (VmRSS of the agent) after start, after the spaced changes, every 100 changes
  and at the end.
- Start-up: from just before the process is spawned (`ip netns exec ... ddns-edge run`, as
  an init system in a namespace would) to BIND answering the WAN address, with the record
  set to another address beforehand so the first sync is an UPDATE that shows. Measured
  with the config leaving zone and server out (found by SOA through resolv.conf) and with
  both given; the cost of `ip netns exec` itself is given too.
- Messages. Packets from the router to BIND are the isp's nftables counters (world.py);
  an extra nftables table in the isp splits UDP DNS messages by the opcode in their
  header (@th,81,4: 0 QUERY, 5 UPDATE). UPDATE messages are also counted by BIND itself
  (its statistics channel, opcode counters: UDP and TCP alike, for large UPDATEs go over
  TCP); the bench's own queries are QUERYs from inside srv and never UPDATEs.
- No-op: kernel events that must not change the record (the current address re-added,
  a private address and an IPv6 address added and removed on the WAN, an address on
  another link); packets counted, and the agent's context switches show it woke for them.
- Idle: nothing changes for 60 s; the agent's CPU time (sum of its threads' schedstat
  run time, in ns), wakeups (context switches) and packets to BIND.
- Scale: 100 A records on the WAN; after one change, the time until all 100 answer the new
  address (a sentinel record is polled, then every record checked) and the messages sent.
- ddclient (the Debian package; protocol=nsupdate, daemon=60, its minimum) in the same
  world, on the same kind of change. It polls: a change waits for its next poll. Changes
  are made at stratified phases of its 60 s cycle, so its latency spreads over 0-60 s; its
  figure is bounded by its polling interval, not by its work. It runs with use=if (not
  usev4=ifv4) and min-error-interval=0: see measure_ddclient for why (3.10's nsupdate
  bookkeeping would otherwise add a poll to each change and resend unchanged addresses).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime
import json
import math
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Iterable, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "netns"))

RECORD = "www.example.com"
ZONE = "example.com"
DECOY = "192.0.2.99"  # what the record is set to before a start-up run
BENCH_TABLE = "ddns_bench"
STATS_PORT = 8053
MB = 1_000_000


class BenchError(RuntimeError):
    """A phase could not be measured; the message says what was waited for."""


# ================================================================ pure helpers


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank q-th percentile (0 < q <= 100): always a value that was observed."""
    if not values:
        raise ValueError("no values")
    if not 0 < q <= 100:
        raise ValueError(f"percentile {q} is not in (0, 100]")
    ordered = sorted(values)
    rank = math.ceil(q / 100 * len(ordered))
    return ordered[max(0, rank - 1)]


def summarize(values: Sequence[float]) -> dict:
    """n, min, p50, p95, p99, max and mean of `values`."""
    return {
        "n": len(values),
        "min": min(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values),
        "mean": sum(values) / len(values),
    }


def stratified_phases(n: int, period: float, rng: random.Random, margin: float = 0.5) -> list[float]:
    """`n` phases in [margin, period - margin): one uniformly random phase in each of n equal
    strata, in random order, so that a few samples still cover the whole cycle."""
    width = (period - 2 * margin) / n
    phases = [margin + (i + rng.random()) * width for i in range(n)]
    rng.shuffle(phases)
    return phases


def wan_address(i: int) -> str:
    """The i-th WAN address the bench sets: consecutive ones always differ."""
    return f"203.0.113.{1 + i % 250}"


def _skip_name(wire: bytes, at: int) -> int:
    """The offset just past the (possibly compressed) name at `at`."""
    while True:
        length = wire[at]
        if length == 0:
            return at + 1
        if length & 0xC0 == 0xC0:  # a pointer ends the name
            return at + 2
        at += 1 + length


def answer_addresses(wire: bytes, rtype: int = 1) -> frozenset[str] | None:
    """The addresses (A: type 1, AAAA: type 28) in the answer section of a DNS response, read
    straight from the wire: the poller's check costs microseconds, not a dnspython parse, so
    polling every millisecond takes little CPU from the agent and BIND. None when `wire` is
    not a NOERROR response or is cut short."""
    import ipaddress

    try:
        if len(wire) < 12 or not wire[2] & 0x80 or wire[3] & 0x0F:
            return None
        qdcount, ancount = int.from_bytes(wire[4:6], "big"), int.from_bytes(wire[6:8], "big")
        at = 12
        for _ in range(qdcount):
            at = _skip_name(wire, at) + 4
        found = set()
        for _ in range(ancount):
            at = _skip_name(wire, at)
            kind, rdlength = int.from_bytes(wire[at:at + 2], "big"), int.from_bytes(wire[at + 8:at + 10], "big")
            at += 10
            rdata = wire[at:at + rdlength]
            if len(rdata) != rdlength:
                return None
            if kind == rtype and rdlength in (4, 16):
                found.add(str(ipaddress.ip_address(rdata)))
            at += rdlength
        return frozenset(found)
    except IndexError:
        return None


def delta(before: dict, after: dict) -> dict:
    """after - before, key by key (keys of `after`)."""
    return {k: after[k] - before.get(k, 0) for k in after}


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 0.001:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    if s < 100:
        return f"{s:.2f} s"
    return f"{s:.0f} s"


def fmt_mb(kib: float | None) -> str:
    return "-" if kib is None else f"{kib * 1024 / MB:.1f} MB"


def fmt_megabytes(mb: float | None, sign: bool = False) -> str:
    if mb is None:
        return "-"
    return f"{mb:+.2f} MB" if sign else f"{mb:.1f} MB"


def fmt_number(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "-"
    if float(x).is_integer():
        return f"{int(x)}"
    return f"{x:.{digits}f}"


def fmt_ratio(theirs: float | None, ours: float | None) -> str:
    """How many times ddclient's figure is ddns-edge's ("-" when not comparable)."""
    if theirs is None or ours is None:
        return "-"
    if ours == 0:
        return "-" if theirs == 0 else "∞"
    r = theirs / ours
    return f"{r:,.0f}×" if r >= 10 else f"{r:.1f}×"


def dig(data: dict, path: str):
    """data["a"]["b"] for path "a.b"; None when any step is missing."""
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


@dataclass(frozen=True)
class Target:
    label: str
    path: str  # where the figure is in results["ddns_edge"]
    limit: float
    strict: bool  # True: value < limit; False: value <= limit
    shown: str  # the target as the issue states it


# The issue's targets (x86_64, veth between namespaces); growth is "< 1 MB", the rest "<=".
TARGETS = (
    Target("latency p50", "latency.p50", 0.010, False, "<= 10 ms"),
    Target("latency p99", "latency.p99", 0.050, False, "<= 50 ms"),
    Target("start-up", "startup.discovery.p50", 1.0, False, "<= 1 s"),
    Target("RSS after 1,000 changes", "memory.rss_end_mb", 40, False, "<= 40 MB"),
    Target("RSS growth", "memory.growth_mb", 1, True, "< 1 MB"),
    Target("idle packets / min", "idle.packets_per_min", 0, False, "0"),
    Target("idle CPU / min", "idle.cpu_s_per_min", 0.01, True, "< 0.01 s"),
    Target("messages per change", "cost.max_messages_one_change", 2, False, "<= 2"),
    Target("messages per no-op", "noop.packets", 0, False, "0"),
    Target("UPDATEs for 100 records", "scale.updates_per_change_max", 1, False, "1 per zone"),
)


def check_targets(edge: dict) -> list[dict]:
    """One row per target: the measured value, the target, and whether it is met (None: not measured)."""
    rows = []
    for t in TARGETS:
        value = dig(edge, t.path)
        met = None if value is None else (value < t.limit if t.strict else value <= t.limit)
        rows.append({"what": t.label, "path": t.path, "value": value, "target": t.shown, "met": met})
    return rows


def verdict(met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "not measured"}[met]


def render_table(results: dict) -> str:
    """The table printed at the end (pure: everything comes from `results`)."""
    e = results.get("ddns_edge", {})
    d = results.get("ddclient", {})
    m = results.get("machine", {})
    targets = {row["path"]: row for row in results.get("targets", [])}
    dd_note = "*"
    rows: list[tuple[str, str, str, str, str]] = []

    def row(label, ours, target_path=None, theirs="", ratio=""):
        t = targets.get(target_path) if target_path else None
        shown = f"{t['target']} {verdict(t['met'])}" if t else ""
        rows.append((label, ours, shown, theirs, ratio))

    lat, dlat = e.get("latency") or {}, d.get("latency") or {}
    for p in ("p50", "p95", "p99", "max", "mean"):
        theirs = fmt_seconds(dlat.get(p)) + f" {dd_note}" if dlat else ""
        row(f"latency {p}", fmt_seconds(lat.get(p)), f"latency.{p}", theirs, fmt_ratio(dlat.get(p), lat.get(p)) if dlat else "")
    if lat:
        row(f"  (n = {lat.get('n')}; resolution p50)", fmt_seconds(lat.get("resolution_p50")), None,
            f"n = {dlat.get('n')}" if dlat else "")
    b2b = e.get("latency_back_to_back") or {}
    if b2b:
        row(f"  back-to-back p50 / p99 (n = {b2b.get('n')})", f"{fmt_seconds(b2b.get('p50'))} / {fmt_seconds(b2b.get('p99'))}")
    st = e.get("startup") or {}
    disc = st.get("discovery") or {}
    theirs = d.get("startup")
    row("start-up p50 (zone found by SOA)", fmt_seconds(disc.get("p50")), "startup.discovery.p50",
        fmt_seconds(theirs) if theirs is not None else "", fmt_ratio(theirs, disc.get("p50")) if theirs is not None else "")
    if st.get("zone_server"):
        row("  start-up p50 / max (zone, server given)", f"{fmt_seconds(st['zone_server'].get('p50'))} / {fmt_seconds(st['zone_server'].get('max'))}")
    if disc:
        row("  start-up max (zone found by SOA)", fmt_seconds(disc.get("max")))
    if st.get("ip_netns_exec"):
        row("  of which `ip netns exec` (p50)", fmt_seconds(st["ip_netns_exec"].get("p50")))
    idle = e.get("idle") or {}
    didle = d.get("idle") or {}
    if idle:
        row(f"idle packets / min ({idle.get('seconds') or 0:.0f} s)", fmt_number(idle.get("packets_per_min")), "idle.packets_per_min",
            fmt_number(didle.get("packets_per_min")) if didle else "")
        row("idle CPU / min", fmt_seconds(idle.get("cpu_s_per_min")), "idle.cpu_s_per_min",
            fmt_seconds(didle.get("cpu_s_per_min")) + " †" if didle else "", fmt_ratio(didle.get("cpu_s_per_min"), idle.get("cpu_s_per_min")) if didle else "")
        row("  idle wakeups / min", fmt_number(idle.get("wakeups_per_min")))
    mem = e.get("memory") or {}
    if mem:
        row("RSS after start", fmt_megabytes(mem.get("rss_start_mb")), None,
            fmt_megabytes(d.get("rss_mb")) if d.get("rss_mb") else "", fmt_ratio(d.get("rss_mb"), mem.get("rss_start_mb")) if d.get("rss_mb") else "")
        row(f"RSS after {mem.get('changes') or 0:,} changes", fmt_megabytes(mem.get("rss_end_mb")), "memory.rss_end_mb")
        row("RSS growth", fmt_megabytes(mem.get("growth_mb"), sign=True), "memory.growth_mb")
    cost = e.get("cost") or {}
    if cost:
        row("messages per change (mean / max)", f"{fmt_number(cost.get('messages_per_change'))} / {fmt_number(cost.get('max_messages_one_change'))}",
            "cost.max_messages_one_change", fmt_number(d.get("messages_per_change")) + " ‡" if d.get("messages_per_change") is not None else "")
        row("  reads / UPDATEs per change", f"{fmt_number(cost.get('reads_per_change'))} / {fmt_number(cost.get('updates_per_change'))}", None,
            f"{fmt_number(d.get('reads_per_change'))} / {fmt_number(d.get('updates_per_change'))}" if d.get("messages_per_change") is not None else "")
    noop = e.get("noop") or {}
    if noop:
        row(f"messages per no-op ({noop.get('events')} no-ops)", fmt_number(noop.get("packets")), "noop.packets")
    sc = e.get("scale") or {}
    if sc:
        row(f"{sc.get('records')} records: all visible after a change (p50 / max)", f"{fmt_seconds(sc.get('change_p50'))} / {fmt_seconds(sc.get('change_max'))}")
        row("  UPDATE messages per change (max)", fmt_number(sc.get("updates_per_change_max")), "scale.updates_per_change_max")
        row("  reads per change", fmt_number(sc.get("reads_per_change")))
        row("  start-up to all visible", fmt_seconds(sc.get("startup")))
        row("  start-up messages: queries (discovery, reads) + UPDATEs", f"{fmt_number(sc.get('startup_queries'))} + {fmt_number(sc.get('startup_updates'))}")

    head = ("", "ddns-edge", "target", "ddclient" + (f" {d.get('version')}" if d.get("version") else ""), "ratio")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(5)]
    lines = [f"ddns-edge bench, {m.get('date', '?')}: {m.get('cpu', '?')} ({m.get('cpus', '?')} CPUs{', VM' if m.get('virtual') else ''}), "
             f"Linux {m.get('kernel', '?')} {m.get('arch', '')}, Python {m.get('python', '?')}, {m.get('bind', 'BIND ?')}",
             f"command: {results.get('command', '?')}",
             ""]
    fmt = "  ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths))
    lines.append(fmt.format(*head).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    lines += [fmt.format(*r).rstrip() for r in rows]
    lines.append("")
    if d and d.get("latency"):
        lines.append("ratio: ddclient's figure divided by ddns-edge's.")
        lines.append(f"* ddclient polls every {d.get('interval', 60)} s (daemon=60, its minimum): its latency is bounded by its polling "
                     "interval, not by its work; changes were made at stratified phases of its cycle.")
        lines.append("  Run with use=if and min-error-interval=0: with usev4=ifv4, 3.10's nsupdate support records no good "
                     "status, lands each change a poll late (60-120 s) and resends an unchanged address every other poll.")
    if didle:
        lines.append("† ddclient's CPU per idle poll cycle (one cycle a minute), its children (ip, nsupdate) included, in clock ticks.")
    if d.get("messages_per_change") is not None:
        lines.append("‡ ddclient sends a blind delete-and-add UPDATE (no read, no prerequisite).")
    if d.get("skipped"):
        lines.append(f"ddclient not measured: {d['skipped']}")
    for phase, error in (results.get("errors") or {}).items():
        lines.append(f"ERROR in {phase}: {error}")
    load = m.get("loadavg_start"), m.get("loadavg_end")
    if all(load):
        lines.append(f"load average at start / end: {load[0]} / {load[1]} (a shared machine: figures are noisy)")
    return "\n".join(lines)


# ================================================================ namespaces, sockets, processes

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    if hasattr(os, "setns"):  # Python 3.12
        os.setns(fd, CLONE_NEWNET)
    elif _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"setns: {os.strerror(e)}")


@contextlib.contextmanager
def netns(name: str):
    """Run the block in network namespace `name` (this thread only): sockets made there stay there."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    there = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        _setns(there)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(there)
        os.close(home)


@dataclass(frozen=True)
class Seen:
    """When a poll first showed the wanted answer: `at` (answer received), `after` (the send
    time of the poll before, which still showed the old one), `polls` sent."""

    at: float
    after: float
    polls: int


class Poller:
    """Asks BIND for records from inside the server namespace: not counted at the isp."""

    def __init__(self, world):
        with netns(world.srv_ns):
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect((world.bind_addr4, 53))
        self.sock.settimeout(0.5)
        self._id = random.randrange(1 << 16)
        self._wires: dict = {}

    def close(self) -> None:
        self.sock.close()

    def _wire(self, name: str, rtype: str) -> bytes:
        key = (name, rtype)
        if key not in self._wires:
            import dns.flags
            import dns.message

            query = dns.message.make_query(name, rtype)
            query.flags &= ~dns.flags.RD
            self._wires[key] = query.to_wire()
        return self._wires[key]

    def query(self, name: str, rtype: str = "A") -> tuple[frozenset | None, float, float]:
        """(the answer's addresses or None on timeout, send time, receive time)."""
        self._id = (self._id + 1) & 0xFFFF
        wire = self._id.to_bytes(2, "big") + self._wire(name, rtype)[2:]
        sent = time.monotonic()
        self.sock.send(wire)
        while True:
            try:
                raw = self.sock.recv(4096)
            except socket.timeout:
                return None, sent, time.monotonic()
            if raw[:2] == wire[:2]:
                break
        got = time.monotonic()
        return answer_addresses(raw, 28 if rtype == "AAAA" else 1), sent, got

    def wait_for(self, name: str, want: Iterable[str], timeout: float, interval: float = 0.001, rtype: str = "A") -> Seen:
        """Poll every `interval` until BIND answers exactly `want`."""
        want = frozenset(want)
        deadline = time.monotonic() + timeout
        before = None
        polls = 0
        while True:
            found, sent, got = self.query(name, rtype)
            polls += 1
            if found == want:
                return Seen(got, before if before is not None else sent, polls)
            before = sent
            if got > deadline:
                raise BenchError(f"BIND did not answer {name} {rtype} {sorted(want)} within {timeout:g} s (last answer: {sorted(found) if found is not None else 'none'})")
            pause = sent + interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)


class Wan:
    """Changes the router's WAN IPv4 address through a netlink socket opened in its namespace."""

    def __init__(self, world):
        from pyroute2 import IPRoute

        with netns(world.rtr_ns):
            self.ipr = IPRoute()
        self.world = world
        self.index = self.ipr.link_lookup(ifname=world.wan)[0]
        current = world.wan_addresses(4)
        if len(current) != 1:
            raise BenchError(f"the WAN should have one IPv4 address, it has {current}")
        self.address, prefix = current[0].split("/")
        self.prefix = int(prefix)
        self.count = 0

    def change(self, new: str, prefix: int = 24) -> float:
        """Add `new`, delete the old address; returns the monotonic time just before the delete."""
        self.ipr.addr("add", index=self.index, address=new, prefixlen=prefix)
        at = time.monotonic()
        self.ipr.addr("del", index=self.index, address=self.address, prefixlen=self.prefix)
        self.address, self.prefix = new, prefix
        return at

    def next(self) -> tuple[str, float]:
        """Change to the next bench address; returns (the address, the change time)."""
        address = wan_address(self.count)
        self.count += 1
        if address == self.address:
            address = wan_address(self.count)
            self.count += 1
        return address, self.change(address)

    def close(self) -> None:
        self.ipr.close()


class Counters:
    """DNS messages from the router: the isp's nftables counters, and BIND's own opcode counters."""

    def __init__(self, world):
        self.world = world
        rules = []
        for v, net, addr in ((4, "ip", world.bind_addr4), (6, "ip6", world.bind_addr6)):
            for opcode, name in ((0, "query"), (5, "update")):
                rules.append(f'    iifname "to-rtr" {net} daddr {addr} udp dport 53 @th,81,4 {opcode} counter name "udp_{name}{v}"')
        names = [f"udp_{n}{v}" for n in ("query", "update") for v in (4, 6)]
        ruleset = (f"table inet {BENCH_TABLE} {{\n" + "".join(f"  counter {n} {{ }}\n" for n in names)
                   + "  chain forward {\n    type filter hook forward priority -10; policy accept;\n"
                   + "\n".join(rules) + "\n  }\n}\n")
        world.ns_exec(world.isp_ns, ["nft", "-f", "-"], input=ruleset)
        # BIND's statistics channel, on the server's loopback: read from inside srv
        with open(world.named_conf, "a") as f:
            f.write(f"statistics-channels {{ inet 127.0.0.1 port {STATS_PORT} allow {{ 127.0.0.1; }}; }};\n")
        world.restart_bind()

    def _bind_stats(self) -> dict:
        with netns(self.world.srv_ns):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        with sock:
            sock.settimeout(5)
            sock.connect(("127.0.0.1", STATS_PORT))
            sock.sendall(b"GET /json/v1/server HTTP/1.0\r\nHost: localhost\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        return json.loads(data.split(b"\r\n\r\n", 1)[1])

    def snapshot(self) -> dict:
        out = self.world.ns_exec(self.world.isp_ns, ["nft", "-j", "list", "counters"]).stdout
        c = {x["counter"]["name"]: x["counter"]["packets"] for x in json.loads(out)["nftables"] if "counter" in x}
        stats = self._bind_stats()
        return {
            "packets": sum(c.get(n, 0) for n in ("dns_udp4", "dns_tcp4", "dns_udp6", "dns_tcp6")),
            "tcp_packets": c.get("dns_tcp4", 0) + c.get("dns_tcp6", 0),
            "reads": c.get("udp_query4", 0) + c.get("udp_query6", 0),
            "udp_updates": c.get("udp_update4", 0) + c.get("udp_update6", 0),
            "updates": stats["opcodes"]["UPDATE"],
            "updates_done": stats.get("nsstats", {}).get("UpdateDone", 0),
        }


def messages(d: dict) -> int:
    """DNS messages in a counter delta: UDP queries, and UPDATEs as BIND counted them (UDP or TCP)."""
    return d["reads"] + d["updates"]


def proc_stats(pid: int) -> dict:
    """RSS and peak RSS (KiB), CPU time (s, from schedstat: ns resolution) and context switches,
    summed over the process's threads."""
    status = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            status[key] = value.strip()
    cpu_ns = switches = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                cpu_ns += int(f.read().split()[0])
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        switches += int(line.split()[1])
        except FileNotFoundError:  # a thread that ended meanwhile
            pass
    return {
        "rss_kib": int(status["VmRSS"].split()[0]),
        "hwm_kib": int(status["VmHWM"].split()[0]),
        "cpu_s": cpu_ns / 1e9,
        "switches": switches,
    }


def proc_cpu_ticks(pid: int) -> float:
    """utime + stime + cutime + cstime of `pid` in seconds (children it waited for included)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


# ================================================================ the agent in the world


class Bench:
    def __init__(self, world, args):
        from agentlib import Daemon, record, write_config

        self.world = world
        self.args = args
        self.rng = random.Random(args.seed)
        self.Daemon, self.record, self.write_config = Daemon, record, write_config
        self.poller = Poller(world)
        self.wan = Wan(world)
        self.counters = Counters(world)
        self.agent = None

    def say(self, message: str) -> None:
        print(f"[{time.monotonic() - self.args.t0:6.1f}s] {message}", flush=True)

    def config(self, name: str, records: Sequence[str] | None = None, **options) -> str:
        path = os.path.join(self.world.dir, f"{name}.conf")
        state = os.path.join(self.world.dir, f"state-{name}")
        records = records or [self.record("www", RECORD, "A", self.world.wan, ttl=60, **options)]
        return self.write_config(path, self.world, *records, agent={"log_level": "info", "state_dir": state})

    def decoy(self, names: Sequence[str] = (RECORD,)) -> None:
        """Set records to DECOY from inside srv (not counted), so the agent's first sync shows."""
        lines = [f"zone {ZONE}"] + [f"update delete {n} A\nupdate add {n} 60 A {DECOY}" for n in names]
        proc = self.world.nsupdate(lines)
        if proc.returncode != 0:
            raise BenchError(f"nsupdate of the decoy failed: {proc.stderr.strip()}")

    def start(self, config: str):
        """Start `ddns-edge run`; returns (daemon, seconds until BIND answers the WAN address).

        Returns once the agent has also confirmed it (its state file), so that a stop that
        follows finds it idle, not in the middle of its exchange.
        """
        t0 = time.monotonic()
        daemon = self.Daemon(self.world, config)
        try:
            seen = self.poller.wait_for(RECORD, [self.wan.address], timeout=20)
            self.wait_confirmed(self.wan.address, 10, os.path.splitext(os.path.basename(config))[0])
        except BenchError as e:
            daemon.stop()
            raise BenchError(f"{e}; agent log:\n{daemon.log()[-2000:]}") from None
        return daemon, seen.at - t0

    # ------------------------------------------------------------ phases

    def startup(self) -> dict:
        runs = self.args.startup_runs
        out = {}
        for variant, options in (("discovery", {}), ("zone_server", {"zone": ZONE, "server": self.world.bind_addr4})):
            config = self.config(f"startup-{variant}", **options)
            times = []
            for _ in range(runs):
                self.decoy()
                daemon, took = self.start(config)
                daemon.stop()
                times.append(took)
            out[variant] = summarize(times)
            self.say(f"start-up ({variant}): p50 {fmt_seconds(out[variant]['p50'])}, max {fmt_seconds(out[variant]['max'])} over {runs} starts")
        spawn = []
        for _ in range(runs):
            t0 = time.monotonic()
            self.world.popen(["/bin/true"]).wait()
            spawn.append(time.monotonic() - t0)
        out["ip_netns_exec"] = summarize(spawn)
        return out

    def start_main(self) -> dict:
        self.decoy()
        self.agent, took = self.start(self.config("main"))
        time.sleep(0.2)  # let it write its state file and settle
        stats = proc_stats(self.agent.proc.pid)
        self.say(f"agent started (pid {self.agent.proc.pid}) in {fmt_seconds(took)}, RSS {fmt_mb(stats['rss_kib'])}")
        return {"startup": took, "stats": stats}

    def one_change(self, timeout: float = 10) -> tuple[float, float]:
        """One WAN change, waited for at BIND and then in the agent's state file; returns
        (latency, resolution).

        The second wait matters: BIND answers the new address as soon as it commits, before
        its UPDATE response is back at the router. Changing the address again in between
        would delete the address that response is sent to, and the agent would wait out its
        exchange timeout: a stall the bench would have caused, not measured.
        """
        address, at = self.wan.next()
        try:
            seen = self.poller.wait_for(RECORD, [address], timeout=timeout)
            self.wait_confirmed(address, timeout, "main")
        except BenchError as e:
            raise BenchError(f"{e}; agent log tail:\n{self.agent.log()[-1500:]}") from None
        return seen.at - at, seen.at - max(seen.after, at)

    def wait_confirmed(self, address: str, timeout: float, name: str) -> None:
        """Until the state file of the agent run with config `name` says it confirmed `address` for RECORD."""
        path = os.path.join(self.world.dir, f"state-{name}", "state.json")
        deadline = time.monotonic() + timeout
        while True:
            try:
                with open(path) as f:
                    records = json.load(f)["records"]
                if any(r["name"] == RECORD and r["address"] == address for r in records):
                    return
            except (OSError, ValueError, KeyError):
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"the agent's state file does not show {address} confirmed after {timeout:g} s")
            time.sleep(0.0005)

    def latency_and_memory(self, rss_start_kib: int) -> dict:
        n, total = self.args.latency_changes, self.args.changes
        latencies, resolutions, per_change = [], [], []
        before = self.counters.snapshot()
        previous = before
        for _ in range(n):
            lat, res = self.one_change()
            latencies.append(lat)
            resolutions.append(res)
            time.sleep(self.rng.uniform(0.02, 0.06))
            now = self.counters.snapshot()  # the agent is idle again: its messages for this change are all in
            per_change.append(delta(previous, now))
            previous = now
        spaced = delta(before, previous)
        rss_mid = proc_stats(self.agent.proc.pid)["rss_kib"]
        self.say(f"latency over {n} spaced changes: p50 {fmt_seconds(percentile(latencies, 50))}, p99 {fmt_seconds(percentile(latencies, 99))}, "
                 f"max {fmt_seconds(max(latencies))}")
        back = []
        rss_trace = [(0, rss_start_kib), (n, rss_mid)]
        t0 = time.monotonic()
        for i in range(n + 1, total + 1):
            back.append(self.one_change()[0])
            if i % 100 == 0:
                rss_trace.append((i, proc_stats(self.agent.proc.pid)["rss_kib"]))
        took = time.monotonic() - t0
        time.sleep(0.5)
        end = proc_stats(self.agent.proc.pid)
        after = self.counters.snapshot()
        b2b = delta(previous, after)
        self.say(f"{total - n} back-to-back changes in {took:.1f} s ({(total - n) / took:.0f}/s); RSS {fmt_mb(end['rss_kib'])}")
        lat = summarize(latencies)
        lat["resolution_p50"] = percentile(resolutions, 50)
        lat["resolution_max"] = max(resolutions)
        msgs = [messages(d) for d in per_change]
        return {
            "latency": lat,
            "latency_back_to_back": summarize(back) if back else None,
            "memory": {
                "changes": total,
                "rss_start_kib": rss_start_kib,
                "rss_after_spaced_kib": rss_mid,
                "rss_end_kib": end["rss_kib"],
                "hwm_kib": end["hwm_kib"],
                "rss_start_mb": rss_start_kib * 1024 / MB,
                "rss_end_mb": end["rss_kib"] * 1024 / MB,
                "growth_mb": (end["rss_kib"] - rss_start_kib) * 1024 / MB,
                "growth_back_to_back_mb": (end["rss_kib"] - rss_mid) * 1024 / MB,
                "back_to_back_seconds": took,
                "rss_trace_kib": rss_trace,  # (changes so far, RSS) every 100 changes
            },
            "cost": {
                "changes": n,
                "packets_per_change": spaced["packets"] / n,
                "messages_per_change": sum(msgs) / n,
                "max_messages_one_change": max(msgs),
                "reads_per_change": spaced["reads"] / n,
                "updates_per_change": spaced["updates"] / n,
                "tcp_packets": spaced["tcp_packets"],
                "back_to_back": {"changes": total - n, "messages_per_change": messages(b2b) / max(1, total - n),
                                 "updates_per_change": b2b["updates"] / max(1, total - n)},
            },
        }

    def noop(self) -> dict:
        w, reps, wan = self.world, self.args.noop_reps, self.wan
        w.ns_exec(w.rtr_ns, ["ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lan0p"])
        w.ns_exec(w.rtr_ns, ["ip", "link", "set", "lan0", "up"])
        kinds = {
            "the WAN address re-added (ip addr replace)": lambda: w.add_addr(f"{wan.address}/{wan.prefix}", replace=True),
            "a private address added and removed on the WAN": lambda: (w.add_addr("10.99.0.1/24"), w.del_addr("10.99.0.1/24")),
            "an IPv6 address added and removed on the WAN": lambda: (w.add_addr("2001:db8:1::99/64", nodad=True), w.del_addr("2001:db8:1::99/64")),
            "an address added and removed on another link": lambda: (w.add_addr("203.0.113.200/24", dev="lan0"), w.del_addr("203.0.113.200/24", dev="lan0")),
        }
        time.sleep(0.3)
        out = {"events": 0, "packets": 0, "by_kind": {}}
        for kind, act in kinds.items():
            before, stats0 = self.counters.snapshot(), proc_stats(self.agent.proc.pid)
            for _ in range(reps):
                act()
                time.sleep(0.02)
            time.sleep(0.5)
            d, stats1 = delta(before, self.counters.snapshot()), proc_stats(self.agent.proc.pid)
            out["by_kind"][kind] = {"events": reps, "packets": d["packets"], "agent_woke": stats1["switches"] - stats0["switches"]}
            out["events"] += reps
            out["packets"] += d["packets"]
        self.say(f"no-ops: {out['packets']} packets over {out['events']} no-op events")
        answer = self.poller.query(RECORD)[0]
        if answer != {wan.address}:
            raise BenchError(f"after the no-ops BIND answers {sorted(answer or [])}, not {wan.address}")
        return out

    def idle(self) -> dict:
        seconds = self.args.idle
        time.sleep(1)
        before, s0, t0 = self.counters.snapshot(), proc_stats(self.agent.proc.pid), time.monotonic()
        self.say(f"idle for {seconds:g} s ...")
        time.sleep(seconds)
        after, s1, t1 = self.counters.snapshot(), proc_stats(self.agent.proc.pid), time.monotonic()
        per_min = 60 / (t1 - t0)
        d = delta(before, after)
        out = {
            "seconds": t1 - t0,
            "packets": d["packets"],
            "cpu_s": s1["cpu_s"] - s0["cpu_s"],
            "wakeups": s1["switches"] - s0["switches"],
            "packets_per_min": d["packets"] * per_min,
            "cpu_s_per_min": (s1["cpu_s"] - s0["cpu_s"]) * per_min,
            "wakeups_per_min": (s1["switches"] - s0["switches"]) * per_min,
        }
        self.say(f"idle: {out['packets']} packets, CPU {fmt_seconds(out['cpu_s'])}, {out['wakeups']} wakeups")
        return out

    def stop_agent(self) -> None:
        if self.agent is not None:
            self.agent.stop()
            self.agent = None

    def scale(self) -> dict:
        count = self.args.records
        names = [f"r{i:03d}.{ZONE}" for i in range(count)]
        records = [self.record(f"r{i:03d}", name, "A", self.world.wan, ttl=60) for i, name in enumerate(names)]
        config = self.config("scale", records)
        sentinel = names[-1]
        before = self.counters.snapshot()
        t0 = time.monotonic()
        self.agent = self.Daemon(self.world, config)
        startup = self._all_visible(names, sentinel, self.wan.address, t0, timeout=60)
        time.sleep(0.3)
        start_msgs = delta(before, self.counters.snapshot())
        self.say(f"{count} records: all visible {fmt_seconds(startup)} after start")
        times, updates, reads, tcp = [], [], [], []
        for _ in range(self.args.scale_changes):
            time.sleep(0.2)
            before = self.counters.snapshot()
            address, at = self.wan.next()
            times.append(self._all_visible(names, sentinel, address, at, timeout=60))
            time.sleep(0.3)
            d = delta(before, self.counters.snapshot())
            updates.append(d["updates"])
            reads.append(d["reads"])
            tcp.append(d["tcp_packets"])
        self.say(f"{count} records: all visible after a change in p50 {fmt_seconds(percentile(times, 50))}; UPDATEs per change {updates}")
        self.stop_agent()
        return {
            "records": count,
            "startup": startup,
            "startup_queries": start_msgs["reads"],
            "startup_updates": start_msgs["updates"],
            "change_s": times,
            "change_p50": percentile(times, 50),
            "change_max": max(times),
            "updates_per_change": updates,
            "updates_per_change_max": max(updates),
            "reads_per_change": sum(reads) / len(reads),
            "tcp_packets_per_change": sum(tcp) / len(tcp),
        }

    def _all_visible(self, names: Sequence[str], sentinel: str, address: str, since: float, timeout: float) -> float:
        """Seconds from `since` until every name answers `address`: the sentinel is polled, then
        every name checked; if all already answer, the sentinel's time stands (one atomic UPDATE)."""
        try:
            seen = self.poller.wait_for(sentinel, [address], timeout=timeout)
        except BenchError as e:
            raise BenchError(f"{e}; agent log tail:\n{self.agent.log()[-1500:]}") from None
        last = seen.at
        pending = [n for n in names if n != sentinel]
        first_pass = True
        deadline = time.monotonic() + timeout
        while pending:
            still = []
            for name in pending:
                found, _, got = self.poller.query(name)
                if found == {address}:
                    if not first_pass:
                        last = max(last, got)
                else:
                    still.append(name)
            if still and time.monotonic() > deadline:
                raise BenchError(f"{len(still)} records never answered {address}, e.g. {still[0]}")
            if still:
                first_pass = False
                time.sleep(0.001)
            pending = still
        return last - since

    def close(self) -> None:
        self.stop_agent()
        self.poller.close()
        self.wan.close()


# ================================================================ ddclient


def ddclient_version() -> str | None:
    proc = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "ddclient"], capture_output=True, text=True)
    return (proc.stdout.strip() or None) if proc.returncode == 0 else None


def measure_ddclient(bench: Bench) -> dict:
    """ddclient in the router namespace, in the foreground, on a few changes of the same kind."""
    w, args = bench.world, bench.args
    exe = shutil.which("ddclient", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin"]))
    nsupdate = shutil.which("nsupdate", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/bin"]))
    if exe is None:
        return {"skipped": "ddclient is not installed (apt-get install ddclient, or run `make bench` as root)"}
    interval = 60
    conf = os.path.join(w.dir, "ddclient.conf")
    # ddclient at its best, not as 3.10's nsupdate bookkeeping leaves it: after a success
    # its nsupdate code records `ip` but neither `ipv4` nor a good status (the cache says
    # status=noconnect). With usev4=ifv4 it then sees a change at every poll and, the last
    # attempt "failed", skips it once ("wait at least 5 minutes"): a real change lands a
    # poll late (60-120 s) and an unchanged address is sent again every other poll. The
    # older use=if, which its nsupdate code does track, plus min-error-interval=0, give the
    # plain polling behaviour: a change lands at the next poll, nothing is sent otherwise.
    text = (f"daemon={interval}\nsyslog=no\nssl=no\nmin-error-interval=0\nprotocol=nsupdate\nuse=if\nif={w.wan}\n"
            f"server={w.bind_addr4}\nzone={ZONE}\nlogin={nsupdate}\npassword={w.key_file_path}\n{RECORD}\n")
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    cache = os.path.join(w.dir, "ddclient.cache")
    log_path = os.path.join(w.dir, "ddclient.log")
    out: dict = {"version": ddclient_version(), "interval": interval, "config": text}
    bench.decoy()
    log = open(log_path, "w")
    t0 = time.monotonic()
    proc = w.popen([exe, "-foreground", f"-daemon={interval}", "-file", conf, "-cache", cache, "-verbose"],
                   stdout=log, stderr=subprocess.STDOUT)
    try:
        seen = bench.poller.wait_for(RECORD, [bench.wan.address], timeout=30, interval=0.002)
        out["startup"] = seen.at - t0
        landed = seen.at
        time.sleep(1)
        out["rss_mb"] = proc_stats(proc.pid)["rss_kib"] * 1024 / MB
        bench.say(f"ddclient {out['version']}: first sync {fmt_seconds(out['startup'])} after start; "
                  f"{args.ddclient_changes} changes at stratified phases of its {interval} s cycle ...")
        latencies, per_change = [], []
        for phase in stratified_phases(args.ddclient_changes, interval, bench.rng):
            time.sleep(max(0.0, landed + phase - time.monotonic()))
            before = bench.counters.snapshot()
            address, at = bench.wan.next()
            seen = bench.poller.wait_for(RECORD, [address], timeout=2 * interval + 15, interval=0.01)
            latencies.append(seen.at - at)
            landed = seen.at
            time.sleep(0.5)
            per_change.append(delta(before, bench.counters.snapshot()))
            bench.say(f"  ddclient: change {len(latencies)} at phase {phase:4.1f} s of its cycle, visible after {fmt_seconds(latencies[-1])}")
        out["latency"] = summarize(latencies)
        out["latency_each"] = latencies
        out["messages_per_change"] = sum(messages(d) for d in per_change) / len(per_change)
        out["reads_per_change"] = sum(d["reads"] for d in per_change) / len(per_change)
        out["updates_per_change"] = sum(d["updates"] for d in per_change) / len(per_change)
        if args.ddclient_idle:
            # one whole cycle with nothing changing: starts just after an update landed
            time.sleep(max(0.0, landed + 2 - time.monotonic()))
            before, cpu0, t1 = bench.counters.snapshot(), proc_cpu_ticks(proc.pid), time.monotonic()
            time.sleep(interval)
            after, cpu1, t2 = bench.counters.snapshot(), proc_cpu_ticks(proc.pid), time.monotonic()
            d = delta(before, after)
            out["idle"] = {"seconds": t2 - t1, "packets_per_min": d["packets"] * 60 / (t2 - t1), "cpu_s_per_min": (cpu1 - cpu0) * 60 / (t2 - t1)}
            bench.say(f"  ddclient idle cycle: {d['packets']} packets, CPU {fmt_seconds(cpu1 - cpu0)}")
    except BenchError as e:
        log.flush()
        with open(log_path) as f:
            raise BenchError(f"{e}; ddclient log tail:\n{f.read()[-1500:]}") from None
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)  # it sleeps in 10 s steps and checks its TERM flag between them
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    return out


# ================================================================ the run


def machine() -> dict:
    cpu, flags = "?", ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and cpu == "?":
                cpu = " ".join(line.split(":", 1)[1].split())
            if line.startswith("flags") and not flags:
                flags = line
    from importlib.metadata import version

    def tool(args):
        try:
            return subprocess.run(args, capture_output=True, text=True).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return None

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cpus": len(os.sched_getaffinity(0)),
        "virtual": " hypervisor" in flags,
        "arch": platform.machine(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "dnspython": version("dnspython"),
        "pyroute2": version("pyroute2"),
        "bind": (tool(["named", "-v"]) or "BIND ?").split(" (")[0],
        "loadavg_start": f"{os.getloadavg()[0]:.2f}",
    }


PHASES = ("startup", "main", "latency", "noop", "idle", "scale", "ddclient")


def run(args) -> dict:
    from world import World

    results: dict = {"command": args.command, "machine": machine(), "ddns_edge": {}, "ddclient": {}, "errors": {},
                     "method": __doc__.split("How each figure is measured (the same words are printed under the table):")[1].strip()}
    edge = results["ddns_edge"]
    World.sweep(prefix="ddnsbench-")  # what a killed bench left behind
    with World(prefix="ddnsbench-", handle_signals=True) as world:
        world.start_bind()
        bench = Bench(world, args)
        bench.say(f"world {world.name} with BIND at {world.bind_addr4}; WAN {bench.wan.address}")
        try:
            def phase(name, fn):
                try:
                    return fn()
                except Exception as e:  # one phase failing must not lose the others' figures
                    results["errors"][name] = f"{type(e).__name__}: {e}"
                    bench.say(f"{name}: {e}")
                    return None

            edge["startup"] = phase("startup", bench.startup)
            main = phase("main", bench.start_main)
            if main is not None:
                got = phase("latency", lambda: bench.latency_and_memory(main["stats"]["rss_kib"]))
                if got:
                    edge.update(got)
                edge["noop"] = phase("noop", bench.noop)
                edge["idle"] = phase("idle", bench.idle)
                bench.stop_agent()
            edge["scale"] = phase("scale", bench.scale)
            bench.stop_agent()
            if args.no_ddclient:
                results["ddclient"] = {"skipped": "--no-ddclient"}
            else:
                results["ddclient"] = phase("ddclient", lambda: measure_ddclient(bench)) or {}
        finally:
            bench.close()
    results["machine"]["loadavg_end"] = f"{os.getloadavg()[0]:.2f}"
    results["targets"] = check_targets(edge)
    return results


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="ddns-edge benchmark in the namespace world (root)")
    p.add_argument("--quick", action="store_true", help="fewer iterations: a quick look, not figures for the README")
    p.add_argument("--out", default=os.path.join(ROOT, "bench"), help="directory for results.json and results.txt (default: bench/)")
    p.add_argument("--no-ddclient", action="store_true", help="skip the ddclient comparison (about 5 minutes)")
    p.add_argument("--seed", type=int, default=None, help="seed for the random gaps and phases")
    args = p.parse_args(argv)
    full = dict(latency_changes=200, changes=1000, startup_runs=7, noop_reps=20, idle=60.0, records=100,
                scale_changes=5, ddclient_changes=4, ddclient_idle=True)
    quick = dict(latency_changes=100, changes=1000, startup_runs=3, noop_reps=5, idle=15.0, records=100,
                 scale_changes=2, ddclient_changes=2, ddclient_idle=False)
    for k, v in (quick if args.quick else full).items():
        setattr(args, k, v)
    args.command = "tools/bench.py" + (" --quick" if args.quick else "") + (" --no-ddclient" if args.no_ddclient else "")
    args.t0 = time.monotonic()
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench: needs root (network namespaces, nftables, BIND): run `sudo make bench`", file=sys.stderr)
        return 2
    from world import missing_tools

    if missing_tools():
        print(f"bench: missing {', '.join(missing_tools())}: run `make bench` as root to install them", file=sys.stderr)
        return 2
    results = run(args)
    table = render_table(results)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2, default=str)
        f.write("\n")
    with open(os.path.join(args.out, "results.txt"), "w") as f:
        f.write(table + "\n\nHow it was measured:\n" + results["method"] + "\n")
    print()
    print(table)
    print(f"\nwritten: {os.path.relpath(os.path.join(args.out, 'results.json'), ROOT)}, "
          f"{os.path.relpath(os.path.join(args.out, 'results.txt'), ROOT)} (how each figure is measured: at its end)")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
