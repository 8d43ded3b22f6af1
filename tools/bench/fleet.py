"""The fleet (issue 24): many agents, one primary, its secondary; a burst when the ISP renumbers.

N agents, each `ddns-edge run` with its own config, record (fNNNN.example.com A) and key (one
per router, granted only its own name by update-policy), all in the router namespace and
following its one WAN device: one address change is N UPDATEs in the same second. The
primary is the world's BIND; its secondary a second named (NOTIFY without delay, IXFR).

- Messages: an AF_PACKET socket on the router's WAN takes every outgoing IPv4 UDP datagram to
  port 53 with the kernel's time stamp (SO_TIMESTAMPNS); the agent is the record its message
  names (a read's question, an UPDATE's prerequisite and update sections), the kind its
  opcode. The isp's nftables counters (TCP included) are summed beside it as a check.
- Right: two UDP sockets in the server namespace (not counted) ask the primary and the
  secondary for every record not yet right, every POLL_INTERVAL; the first answer with the
  new address is the record's time (an upper bound: the resolution is printed).
- The primary's CPU: utime + stime of its named from /proc/<pid>/stat, over the burst (the
  change until the replay checks' reads are done; the polls are in it too).
- Errors, warnings, retries: the agents' `error:`, `warning:` and `retry` lines from the change on.
- Slow primary: named gets SIGSTOP just before the change and SIGCONT STOP_S later;
  convergence is timed from its return.
- Capacity: a load generator in the server namespace (dnspython, not counted) keeps WINDOW
  signed UPDATEs in flight to the primary, each replacing an A record of one zone (signed
  beforehand), for 2 s; the NOERROR answers per second, the best of three runs (the machine
  is shared: the generator and named compete with whatever else runs).
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import socket
import threading
import time

import dns.message
import dns.rcode
import dns.tsigkeyring
import dns.update

from tools.netns.agentlib import Daemon
from tools.netns.world import World, Zone
from tools.bench.measure import Wan, netns, proc_cpu_ticks
from tools.bench.report import ZONE, answer_addresses, fleet_scenario, fmt_number, fmt_seconds
from tools.bench.stamps import ETH_P_IP, PACKET_OUTGOING, kernel_stamp, outgoing

POLL_INTERVAL = 0.05
QUOTA_LINE = "too many DNS UPDATEs queued"  # named's log: an UPDATE dropped, unanswered, beyond update-quota
STOP_S = 10.0
WINDOW = 64
LABEL = re.compile(rb"\x05f(\d{4})(?:\x07example|[\xc0-\xff])")


def name(i: int) -> str:
    return f"f{i:04d}.{ZONE}"


class Sent:
    """Every DNS datagram the router sends (IPv4, UDP, port 53): (agent, kernel time, opcode)."""

    def __init__(self, world):
        self.pk = outgoing(netns, world.rtr_ns, world.wan)
        self.pk.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.to_monotonic = time.monotonic() - time.time()
        self.sends: list[tuple[int, float, int]] = []
        self.unnamed = 0
        self.lock = threading.Lock()
        self.stop_r, self.stop_w = socket.socketpair()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            ready = select.select([self.pk, self.stop_r], [], [])[0]
            if self.stop_r in ready:
                return
            data, ancillary, _, address = self.pk.recvmsg(4096, 64)
            if address[1] != ETH_P_IP or address[2] != PACKET_OUTGOING or len(data) < 20 or data[0] >> 4 != 4 or data[9] != 17:
                continue
            ihl = (data[0] & 0xF) * 4
            if int.from_bytes(data[ihl + 2:ihl + 4], "big") != 53 or len(data) < ihl + 20:
                continue
            dns_wire = data[ihl + 8:]
            stamp = kernel_stamp(ancillary, self.to_monotonic) or time.monotonic()
            m = LABEL.search(dns_wire, 12)
            with self.lock:
                if m is None:
                    self.unnamed += 1
                else:
                    self.sends.append((int(m[1]), stamp, (dns_wire[2] >> 3) & 0xF))

    def since(self, t: float) -> list[tuple[int, float, int]]:
        with self.lock:
            return [s for s in self.sends if s[1] >= t]

    def last(self) -> float:
        with self.lock:
            return self.sends[-1][1] if self.sends else 0.0

    def close(self) -> None:
        self.stop_w.send(b"x")
        self.thread.join(2)
        for s in (self.pk, self.stop_r, self.stop_w):
            s.close()


class Right:
    """When each record is first right at a server: queries from inside srv, many in flight."""

    def __init__(self, world, server: str):
        with netns(world.srv_ns):
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect((server, 53))
        self.sock.setblocking(False)
        self.id = 0

    def pass_(self, pending: dict[int, str], want: str, right: dict[int, float]) -> None:
        """Ask for every pending record once; those answering `want` leave `pending` for `right`."""
        asked = {}
        for agent in list(pending):
            self.id = (self.id + 1) & 0xFFFF
            q = dns.message.make_query(pending[agent], "A")
            q.id = self.id
            q.flags = 0
            asked[self.id] = agent
            try:
                self.sock.send(q.to_wire())
            except BlockingIOError:
                break
        deadline = time.monotonic() + 0.5
        while asked and time.monotonic() < deadline:
            if not select.select([self.sock], [], [], 0.05)[0]:
                continue
            while True:
                try:
                    raw = self.sock.recv(4096)
                except BlockingIOError:
                    break
                agent = asked.pop(int.from_bytes(raw[:2], "big"), None)
                if agent is not None and answer_addresses(raw) == {want}:
                    right[agent] = time.monotonic()
                    pending.pop(agent, None)

    def close(self) -> None:
        self.sock.close()


def capacity(world: World, seconds: float = 3.0, window: int = WINDOW) -> dict:
    """Signed UPDATEs per second the primary answers NOERROR, WINDOW in flight (from srv)."""
    keyring = dns.tsigkeyring.from_text({world.key_name: (world.key_algorithm, world.key_secret)})
    with netns(world.srv_ns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((world.bind_addr4, 53))
    sock.setblocking(False)

    def message(i: int) -> bytes:
        u = dns.update.UpdateMessage(ZONE, keyring=keyring, keyalgorithm=world.key_algorithm)
        u.replace(f"load{i % 1000:03d}", 60, "A", f"198.18.{i // 256 % 256}.{i % 256}")
        u.id = i & 0xFFFF
        return u.to_wire()

    messages = [message(i) for i in range(int(seconds * 3000))]  # signed beforehand: the generator only sends
    ok = failed = sent = 0
    inflight: set[int] = set()
    start = time.monotonic()
    end = start + seconds
    while time.monotonic() < end and sent < len(messages):
        while len(inflight) < window and sent < len(messages):
            sock.send(messages[sent])
            inflight.add(sent & 0xFFFF)
            sent += 1
        if select.select([sock], [], [], 1.0)[0]:
            while True:
                try:
                    raw = sock.recv(4096)
                except BlockingIOError:
                    break
                ident = int.from_bytes(raw[:2], "big")
                if ident in inflight:
                    inflight.discard(ident)
                    if raw[3] & 0xF == dns.rcode.NOERROR:
                        ok += 1
                    else:
                        failed += 1
        else:
            inflight.clear()  # lost: send more
    took = time.monotonic() - start
    sock.close()
    return {"per_s": ok / took, "failed": failed, "window": window, "seconds": took}


def agent_config(world: World, i: int, path: str, state: str) -> str:
    key = f"f{i:04d}-key"
    text = (f"config agent 'agent'\n\toption log_level 'info'\n\toption state_dir '{state}'\n\n"
            f"config key 'home'\n\toption name '{key}'\n\toption algorithm '{world.key_algorithm}'\n"
            f"\toption secret '{world.keys[key]}'\n\n"
            f"config record 'r'\n\toption name '{name(i)}'\n\toption type 'A'\n\toption device '{world.wan}'\n"
            f"\toption ttl '60'\n\toption zone '{ZONE}'\n\toption server '{world.bind_addr4}'\n\toption key 'home'\n")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


class Fleet:
    def __init__(self, world: World, agents: int, say):
        self.world, self.n, self.say = world, agents, say
        self.sent = Sent(world)
        self.wan = Wan(world)
        self.primary = Right(world, world.bind_addr4)
        self.secondary = Right(world, world.secondary_addr4)
        self.daemons: list[Daemon] = []
        for i in range(agents):
            config = agent_config(world, i, os.path.join(world.dir, f"fleet{i:04d}.conf"), world.state_dir(f"f{i:04d}"))
            self.daemons.append(Daemon(world, config))
        self.wait_right(self.wan.address, time.monotonic(), timeout=60 + agents * 0.5)
        self.say(f"fleet: {agents} agents started, all right at the primary and the secondary")
        self.settle()

    def close(self) -> None:
        for d in self.daemons:
            if d.proc.poll() is None:
                d.proc.send_signal(signal.SIGTERM)
        for d in self.daemons:
            d.stop()
        for x in (self.sent, self.wan, self.primary, self.secondary):
            x.close()

    def wait_right(self, address: str, since: float, timeout: float) -> tuple[dict[int, float], dict[int, float], float]:
        """Poll both servers until every record is right (or `timeout`): the times, and the poll resolution."""
        right_p: dict[int, float] = {}
        right_s: dict[int, float] = {}
        pend_p = {i: name(i) for i in range(self.n)}
        pend_s = dict(pend_p)
        deadline = since + timeout
        passes = []
        while (pend_p or pend_s) and time.monotonic() < deadline:
            t = time.monotonic()
            if pend_p:
                self.primary.pass_(pend_p, address, right_p)
            if pend_s:
                self.secondary.pass_(pend_s, address, right_s)
            passes.append(time.monotonic() - t)
            time.sleep(max(0.0, t + POLL_INTERVAL - time.monotonic()))
        resolution = max(POLL_INTERVAL, sorted(passes)[len(passes) // 2]) if passes else POLL_INTERVAL
        return right_p, right_s, resolution

    def settle(self, quiet: float = 4.0, after_last: float = 20.0, cap: float = 120.0) -> None:
        """Wait for the agents' replay checks: no message for `quiet` s and `after_last` s past the last UPDATE."""
        deadline = time.monotonic() + cap
        while time.monotonic() < deadline:
            sends = self.sent.since(0)
            last = sends[-1][1] if sends else 0.0
            last_update = max((s[1] for s in sends if s[2] == 5), default=0.0)
            now = time.monotonic()
            if now - last >= quiet and now - last_update >= after_last:
                return
            time.sleep(0.5)

    def burst(self, stop: float = 0.0) -> dict:
        """One address change for all; `stop`: seconds the primary is stopped from just before it."""
        offsets = [os.path.getsize(d.log_path) for d in self.daemons]
        pid = self.world.named_pid
        cpu0 = proc_cpu_ticks(pid)
        packets0 = self.world.dns_packets()
        drops0 = udp_drops(self.world)
        quota0 = self.world.named_log().count(QUOTA_LINE)
        mark = time.monotonic()
        address = self.wan.address
        new = "203.0.113.%d" % (7 if address != "203.0.113.7" else 8)
        if stop:
            os.kill(pid, signal.SIGSTOP)
            stopped_at = time.monotonic()
        try:
            change_at = self.wan.change(new)
            since = change_at
            if stop:
                time.sleep(max(0.0, stopped_at + stop - time.monotonic()))
        finally:
            if stop:
                os.kill(pid, signal.SIGCONT)
                since = time.monotonic()
        right_p, right_s, resolution = self.wait_right(new, since, timeout=120)
        self.settle()
        cpu = proc_cpu_ticks(pid) - cpu0
        packets = self.world.dns_packets() - packets0
        drops = udp_drops(self.world) - drops0
        quota = self.world.named_log().count(QUOTA_LINE) - quota0
        logs = {}
        for i, d in enumerate(self.daemons):
            with open(d.log_path, errors="replace") as f:
                f.seek(offsets[i])
                logs[i] = f.read()
        sends = [s for s in self.sent.since(mark)]
        got = fleet_scenario(self.n, change_at, since, sends, right_p, right_s, logs)
        got.update(resolution=resolution, primary_cpu_s=cpu, isp_packets_per_agent=packets / self.n, server_drops=drops, quota_drops=quota,
                   unnamed=self.sent.unnamed, stop_s=stop, address=new)
        self.say(f"fleet {'stopped ' + format(stop, 'g') + ' s' if stop else 'healthy'}: right at the primary p50 / last "
                 f"{fmt_seconds(got['primary']['p50'])} / {fmt_seconds(got['primary']['last'])}, secondary "
                 f"{fmt_seconds(got['secondary']['p50'])} / {fmt_seconds(got['secondary']['last'])}; messages per agent "
                 f"{fmt_number(got['messages_per_agent'])} (isp: {fmt_number(packets / self.n)}); errors {got['error_lines']}")
        return got


def measure_fleet(agents: int, say, stop_s: float = STOP_S, options: tuple[str, ...] = ()) -> dict:
    """The fleet phase: capacity, then a healthy burst and a burst with the primary stopped.
    `options`: more lines for the primary's options (e.g. "update-quota 1000;")."""
    keys = [f"f{i:04d}-key" for i in range(agents)]
    grants = ["grant {key} zonesub ANY"] + [f"grant {k} name {name(i)}. A" for i, k in enumerate(keys)]
    World.sweep(prefix="ddnsfleet-")
    with World(prefix="ddnsfleet-", handle_signals=True) as world:
        world.start_bind([Zone(ZONE, policy=grants)], keys=keys, secondary=True, options=options)
        runs = [capacity(world, 2.0) for _ in range(3)]  # a shared machine: the best of three is the capacity
        result: dict = {"agents": agents, "stop_s": stop_s, "options": list(options), "capacity": dict(max(runs, key=lambda r: r["per_s"]),
                                                                              runs=[round(r["per_s"]) for r in runs])}
        say(f"fleet: primary capacity {result['capacity']['per_s']:.0f} signed UPDATEs/s")
        fleet = Fleet(world, agents, say)
        try:
            result["rss_kib_per_agent"] = sum(_rss(d.proc.pid) for d in fleet.daemons) / agents
            result["healthy"] = fleet.burst()
            result["stopped"] = fleet.burst(stop=stop_s)
            result["loadavg"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        finally:
            fleet.close()
            keep = os.environ.get("DDNS_EDGE_FLEET_LOGS")  # a directory to keep the agents' logs in
            if keep:
                os.makedirs(keep, exist_ok=True)
                for i, d in enumerate(fleet.daemons):
                    shutil.copy(d.log_path, os.path.join(keep, f"agent{i:04d}.log"))
    return result


def udp_drops(world: World) -> int:
    """Datagrams the server namespace's kernel dropped for a full socket buffer (UDP
    RcvbufErrors, /proc/net/snmp): what a stopped named could not queue."""
    lines = [line.split() for line in world.ns_exec(world.srv_ns, ["cat", "/proc/net/snmp"]).stdout.splitlines() if line.startswith("Udp:")]
    return int(dict(zip(lines[0], lines[1], strict=True))["RcvbufErrors"])


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
    except (OSError, StopIteration):
        return 0


if __name__ == "__main__":  # a quick look: python -m tools.bench.fleet [N]
    import json
    import sys
    from tools.bench.report import render_fleet
    t0 = time.monotonic()
    got = measure_fleet(int(sys.argv[1]) if len(sys.argv) > 1 else 10,
                        lambda m: print(f"[{time.monotonic() - t0:6.1f}s] {m}", flush=True))
    if "-v" in sys.argv:
        print(json.dumps(got, indent=1, default=str))
    print("\n".join(render_fleet(got)))
