"""The bench in the namespace world: sockets inside namespaces, the poller, counters, the agent and ddclient."""

from __future__ import annotations

import contextlib
import functools
import sys
import ctypes
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import dns.flags
import dns.message
from pyroute2 import IPRoute

from tools.netns.agentlib import Daemon, record, wait_for, write_config
from tools.netns.replayproxy import Proxy
from tools.bench.stamps import Stamps
from tools.bench.report import (
    BENCH_TABLE,
    DECOY,
    MB,
    RECORD,
    STATS_PORT,
    ZONE,
    BenchError,
    answer_addresses,
    delta,
    fmt_mb,
    fmt_seconds,
    parse_addr_events,
    percentile,
    published_wrong,
    route_after,
    stratified_phases,
    summarize,
    usable_since,
    wan_address,
    without_address,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

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
        return self._poll(name, rtype, lambda found: found == want, timeout, interval,
                          f"BIND did not answer {name} {rtype} {sorted(want)} within {timeout:g} s")[0]

    def wait_change(self, name: str, old: Iterable[str], timeout: float, interval: float = 0.001,
                    rtype: str = "A") -> tuple[Seen, frozenset]:
        """Poll every `interval` until BIND answers something else than `old` (and not nothing)."""
        old = frozenset(old)
        return self._poll(name, rtype, lambda found: bool(found) and found != old, timeout, interval,
                          f"BIND still answers {name} {rtype} {sorted(old)} after {timeout:g} s")

    def _poll(self, name, rtype, done, timeout, interval, failure) -> tuple[Seen, frozenset]:
        deadline = time.monotonic() + timeout
        before, polls = None, 0
        while True:
            found, sent, got = self.query(name, rtype)
            polls += 1
            if done(found):
                return Seen(got, before if before is not None else sent, polls), found
            before = sent
            if got > deadline:
                raise BenchError(f"{failure} (last answer: {sorted(found) if found is not None else 'none'})")
            pause = sent + interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)


class AddrListener:
    """The bench's own rtnetlink listener in the router namespace: every address event and the
    main table's route events, stamped with time.monotonic() as a thread blocked in recv() reads
    them (rtnetlink carries no timestamp of its own: SO_TIMESTAMPNS gives none on netlink sockets)."""

    RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR, RTMGRP_IPV4_ROUTE, RTMGRP_IPV6_ROUTE = 0x10, 0x100, 0x40, 0x400

    def __init__(self, world):
        with netns(world.rtr_ns):
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((0, self.RTMGRP_IPV4_IFADDR | self.RTMGRP_IPV6_IFADDR | self.RTMGRP_IPV4_ROUTE | self.RTMGRP_IPV6_ROUTE))
        self.sock.settimeout(0.2)
        self.events: list = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="addr-listener", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                data = self.sock.recv(1 << 16)
            except socket.timeout:
                continue
            except OSError:  # ENOBUFS: an overflow; the bench then misses an event and says so
                continue
            at = time.monotonic()
            self.events.extend((at, e) for e in parse_addr_events(data))

    def usable_since(self, address: str, after: float) -> float | None:
        return usable_since(list(self.events), address, after)

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.sock.close()


class Wan:
    """Changes the router's WAN IPv4 address through a netlink socket opened in its namespace,
    as netifd applies a DHCP lease: the new address, the old one deleted (the kernel drops the default
    route with the last address of its subnet), then the default route (replaced each time, as
    udhcpc's script and netifd do), via the isp's 203.0.113.254, outside the addresses used."""

    GATEWAY = "203.0.113.254"

    def __init__(self, world):
        with netns(world.rtr_ns):
            self.ipr = IPRoute()
        self.world = world
        self.index = self.ipr.link_lookup(ifname=world.wan)[0]
        world.ns_exec(world.isp_ns, ["ip", "addr", "replace", f"{self.GATEWAY}/24", "dev", "to-rtr"])
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
        if self.world.routes == "client" and new.startswith("203.0.113."):
            self.ipr.route("replace", dst="0.0.0.0/0", gateway=self.GATEWAY, oif=self.index)
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


def installed_agent(name: str = "agent-venv", compiled: bool = False, deps_compiled: bool = True) -> str:
    """`ddns-edge` from a plain (not editable) install of this checkout, in bench/NAME: what a
    router runs. The checkout's own .venv has an editable install, whose import finder loads
    pathlib and friends into every process (about 1.5 MB of RSS a router never has).

    Its modules are copied without byte code (`compiled`: compiled for this Python, as the SDK
    or a post-install step leaves them); run without PYTHONDONTWRITEBYTECODE, the first start
    writes it. dnspython and pyroute2 come from that .venv through a .pth path entry, as from a
    system's site-packages, compiled as the feed's packages are; with `deps_compiled` False
    they are copied beside it as .py files only."""
    venv = os.path.join(ROOT, "bench", name)
    exe = os.path.join(venv, "bin", "ddns-edge")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--clear", venv], check=True)
    python = os.path.join(venv, "bin", "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    deps = os.path.dirname(os.path.dirname(dns.message.__file__))  # this .venv's site-packages
    no_bytecode = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(os.path.join(ROOT, "ddns_edge"), os.path.join(site, "ddns_edge"), ignore=no_bytecode)
    if deps_compiled:
        with open(os.path.join(site, "deps.pth"), "w") as f:
            f.write(deps + "\n")
    else:
        for entry in os.listdir(deps):
            if entry in ("dns", "pyroute2") or entry.startswith(("dnspython-", "pyroute2-")):
                shutil.copytree(os.path.join(deps, entry), os.path.join(site, entry), ignore=no_bytecode)
    if compiled:
        subprocess.run([python, "-m", "compileall", "-q", os.path.join(site, "ddns_edge")], check=True)
    with open(exe, "w") as f:
        f.write(f"#!{python}\nimport sys\nfrom ddns_edge.cli import main\nsys.exit(main())\n")
    os.chmod(exe, 0o755)
    return exe


# start-up as a router pays it: (key, what is installed how) for Bench.startup_cost
STARTUP_INSTALLS = (
    ("compiled", dict(compiled=True)),
    ("source", dict(compiled=False)),
    ("source_all", dict(compiled=False, deps_compiled=False)),
)


def run_to_exit(world, args: Sequence[str], env: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + sys) of `args` run in the router namespace to its end."""
    t0 = time.monotonic()
    proc = world.popen(list(args), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(args)} exited with {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


class Bench:
    def __init__(self, world, args):
        self.world = world
        self.args = args
        self.rng = random.Random(args.seed)
        exe = installed_agent()
        self.Daemon = functools.partial(Daemon, exe=exe)  # the agent as a package installs it (RSS: no editable-install finder)
        self.record, self.write_config = record, write_config
        self.poller = Poller(world)
        self.wan = Wan(world)
        self.counters = Counters(world)
        self.stamps = Stamps(netns, world.rtr_ns, world.wan)
        self.state_dirs: dict[str, str] = {}
        self.agent = None

    def say(self, message: str) -> None:
        print(f"[{time.monotonic() - self.args.t0:6.1f}s] {message}", flush=True)

    def config(self, name: str, records: Sequence[str] | None = None, **options) -> str:
        path = os.path.join(self.world.dir, f"{name}.conf")
        state = self.state_dirs.setdefault(name, self.world.state_dir(name))
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

    def startup_cost(self) -> dict:
        """Start-up as a router pays it (issue 19): wall time and CPU (user + sys) from the command
        to the first record synced (BIND answering; the CPU once the agent has confirmed it), zone
        and server given, for each of STARTUP_INSTALLS: the agent's byte code compiled; without
        it, as OpenWrt's python3 runs a package of .py files (it never writes byte code: every
        start compiles them in RAM; PYTHONDONTWRITEBYTECODE=1 here); and dnspython and pyroute2
        without byte code too. Beside them `python3 -c pass` and `python3 -c 'import dns.message,
        pyroute2'`, run the same way (`ip netns exec`, the same interpreter), so that the cost on
        a slower CPU can be estimated from its own `python3 -c pass`."""
        runs = self.args.startup_runs
        config = self.config("startup-cost", zone=ZONE, server=self.world.bind_addr4)
        state = os.path.join(self.state_dirs["startup-cost"], "state.json")
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        out, python = {}, None
        for key, how in STARTUP_INSTALLS:
            exe = installed_agent(f"agent-{key.replace('_', '-')}", **how)
            python = python or os.path.join(os.path.dirname(exe), "python")
            walls, cpus = [], []
            for _ in range(runs):
                self.decoy()
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(state)  # the last run's says the address is confirmed
                t0 = time.monotonic()
                daemon = self.Daemon(self.world, config, env=env, exe=exe)
                try:
                    seen = self.poller.wait_for(RECORD, [self.wan.address], timeout=20)
                    self.wait_confirmed(self.wan.address, 10, "startup-cost")
                    cpus.append(proc_stats(daemon.proc.pid)["cpu_s"])
                except BenchError as e:
                    raise BenchError(f"{key}: {e}; agent log:\n{daemon.log()[-1500:]}") from None
                finally:
                    daemon.stop()
                walls.append(seen.at - t0)
            out[key] = {"wall": summarize(walls), "cpu": summarize(cpus)}
            self.say(f"start-up ({key}): wall p50 {fmt_seconds(out[key]['wall']['p50'])}, CPU p50 "
                     f"{fmt_seconds(out[key]['cpu']['p50'])} over {runs} starts")
        for key, args in (("python_pass", [python, "-c", "pass"]),
                          ("python_imports", [python, "-c", "import dns.message, pyroute2"]), ("netns_exec", ["/bin/true"])):
            walls, cpus = zip(*(run_to_exit(self.world, args, env) for _ in range(runs)), strict=True)
            out[key] = {"wall": summarize(walls), "cpu": summarize(cpus)}
            self.say(f"{' '.join(args)}: wall p50 {fmt_seconds(out[key]['wall']['p50'])}, CPU p50 {fmt_seconds(out[key]['cpu']['p50'])}")
        return out

    def start_main(self) -> dict:
        self.decoy()
        self.agent, took = self.start(self.config("main", zone=ZONE, server=self.world.bind_addr4))
        time.sleep(0.2)  # let it write its state file and settle
        stats = proc_stats(self.agent.proc.pid)
        self.say(f"agent started (pid {self.agent.proc.pid}) in {fmt_seconds(took)}, RSS {fmt_mb(stats['rss_kib'])}")
        return {"startup": took, "stats": stats}

    def one_change(self, timeout: float = 10, stamp: bool = True) -> tuple[float, float, float | None]:
        """One WAN change, waited for at BIND and then in the agent's state file; returns
        (latency, resolution, the agent's own time from the kernel's event to its UPDATE leaving).

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
        return seen.at - at, seen.at - max(seen.after, at), self.stamps.agent_time(at) if stamp else None

    def wait_confirmed(self, address: str, timeout: float, name: str) -> None:
        """Until the state file of the agent run with config `name` says it confirmed `address` for RECORD."""
        path = os.path.join(self.state_dirs[name], "state.json")
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
        latencies, resolutions, per_change, agent_times = [], [], [], []
        before = self.counters.snapshot()
        previous = before
        for _ in range(n):
            lat, res, agent_time = self.one_change()
            latencies.append(lat)
            resolutions.append(res)
            if agent_time is not None:
                agent_times.append(agent_time)
            time.sleep(self.rng.uniform(0.02, 0.06))
            now = self.counters.snapshot()  # the agent is idle again: its messages for this change are all in
            per_change.append(delta(previous, now))
            previous = now
        spaced = delta(before, previous)
        rss_mid = proc_stats(self.agent.proc.pid)["rss_kib"]
        self.say(f"latency over {n} spaced changes: p50 {fmt_seconds(percentile(latencies, 50))}, p99 {fmt_seconds(percentile(latencies, 99))}, "
                 f"max {fmt_seconds(max(latencies))}; the agent's own time, event to UPDATE sent: p50 "
                 f"{fmt_seconds(percentile(agent_times, 50) if agent_times else None)}")
        back = []
        rss_trace = [(0, rss_start_kib), (n, rss_mid)]
        t0 = time.monotonic()
        for i in range(n + 1, total + 1):
            back.append(self.one_change(stamp=False)[0])
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
            "agent_time": summarize(agent_times) if agent_times else None,
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

    def check(self) -> dict:
        """The replay defence's cost after the changes: the one read the agent makes once no
        copy of its last UPDATE can land any more (plan.replay_window after it)."""
        last = time.monotonic()
        before = self.counters.snapshot()
        deadline = last + 60
        while time.monotonic() < deadline:
            d = delta(before, self.counters.snapshot())
            if d["packets"]:
                break
            time.sleep(0.05)
        waited = time.monotonic() - last
        time.sleep(1)
        d = delta(before, self.counters.snapshot())
        self.say(f"the check after the last change: {d['reads']} read(s), {d['updates']} UPDATE(s), {waited:.1f} s after it")
        return {"reads": d["reads"], "updates": d["updates"], "after_s": waited}

    def replay(self) -> dict:
        """A late copy and a replayed UPDATE (A->B landing after B->A, through a man in the
        middle in the isp, tools/netns/replayproxy.py): how long the record stays wrong, and
        the messages the agent spends setting it back."""
        out = {}
        proxy = Proxy(self.world)
        try:
            for case in ("late copy", "replay"):
                a = self.wan.address
                proxy.command("hold" if case == "late copy" else "capture")
                b, _ = self.wan.next()
                if case == "late copy":
                    proxy.expect("held")
                self.poller.wait_for(RECORD, [b], timeout=20)
                self.wait_confirmed(b, 20, "main")
                self.wan.change(a)
                self.poller.wait_for(RECORD, [a], timeout=20)
                self.wait_confirmed(a, 20, "main")
                before = proxy.stats()
                proxy.command("release" if case == "late copy" else "replay")
                landed = time.monotonic()
                answer = proxy.expect("released" if case == "late copy" else "replayed")
                if answer.split("=")[1] != "0":
                    raise BenchError(f"{case}: BIND did not take the copy ({answer}): nothing to set back")
                seen = self.poller.wait_for(RECORD, [a], timeout=60, interval=0.01)
                time.sleep(1)
                after = proxy.stats()
                out[case] = {"wrong_s": seen.at - landed, "reads": after["queries"] - before["queries"],
                             "updates": after["updates"] - before["updates"]}
                self.say(f"{case}: BIND held the wrong address for {out[case]['wrong_s']:.1f} s; the agent set it back with "
                         f"{out[case]['reads']} read(s) and {out[case]['updates']} UPDATE(s)")
                proxy.command("capture")  # (harmless when already capturing)
        finally:
            proxy.close()
        out["wrong_s_max"] = max(v["wrong_s"] for v in out.values())
        return out

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

    def records_startup(self, count: int) -> dict:
        """`count` A records in one zone, in a config as LuCI writes it (about 230 bytes a
        record), none of them at BIND yet: from the spawn to all answering the WAN address,
        the messages that took (reads + UPDATEs, and the UPDATEs' sizes as BIND got them over
        UDP or TCP), the agent's RSS then; and the replay defence's check after the last
        UPDATE's window (one read a record)."""
        prefix = f"n{count}-"
        names = [f"{prefix}{i:05d}.{ZONE}" for i in range(count)]
        sections = [self.record(f"cfg{count:05x}{i:05x}", name, "A", self.world.wan, enabled=1, source="auto", key="home",
                                ttl=60, zone=ZONE, server=self.world.bind_addr4, port=53) for i, name in enumerate(names)]
        config = self.config(f"records{count}", sections)
        size = os.path.getsize(config)
        before = self.counters.snapshot()
        t0 = time.monotonic()
        self.agent = self.Daemon(self.world, config)
        try:
            took = self._all_visible(names, names[-1], self.wan.address, t0, timeout=max(60.0, count * 0.06))
            time.sleep(0.5)
            started = delta(before, self.counters.snapshot())
            rss = proc_stats(self.agent.proc.pid)["rss_kib"]
            self.say(f"{count} records ({size / 1e6:.1f} MB of config): all visible {fmt_seconds(took)} after start, with "
                     f"{started['reads']} reads and {started['updates']} UPDATEs; RSS {fmt_mb(rss)}")
            check = self._check_reads(before, started["reads"], count)
        finally:
            self.stop_agent()
        return {"records": count, "config_bytes": size, "startup_s": took, "reads": started["reads"], "updates": started["updates"],
                "tcp_packets": started["tcp_packets"], "reads_per_record": started["reads"] / count, "rss_kib": rss,
                "check_reads": check}

    def _check_reads(self, before: dict, started_reads: int, count: int) -> int:
        """The reads of the replay defence's check after start-up (about 12 s after the last
        UPDATE): counted once they have begun and then stopped for 2 s."""
        deadline = time.monotonic() + 30 + count * 0.01
        reads, steady = started_reads, 0
        while time.monotonic() < deadline and steady < 2:
            time.sleep(1)
            now = delta(before, self.counters.snapshot())["reads"]
            steady = steady + 1 if now == reads and now > started_reads else 0
            reads = now
        return reads - started_reads

    def _all_visible(self, names: Sequence[str], sentinel: str, address: str | Mapping[str, str], since: float,
                     timeout: float, rtype: str = "A") -> float:
        """Seconds from `since` until every name answers `address` (or its own, from a mapping):
        the sentinel is polled, then every name checked; if all already answer, the sentinel's
        time stands (one atomic UPDATE)."""
        want = address if isinstance(address, Mapping) else dict.fromkeys(names, address)
        try:
            seen = self.poller.wait_for(sentinel, [want[sentinel]], timeout=timeout, rtype=rtype)
        except BenchError as e:
            raise BenchError(f"{e}; agent log tail:\n{self.agent.log()[-1500:]}") from None
        last = seen.at
        pending = [n for n in names if n != sentinel]
        first_pass = True
        deadline = time.monotonic() + timeout
        while pending:
            still = []
            for name in pending:
                found, _, got = self.poller.query(name, rtype)
                if found == {want[name]}:
                    if not first_pass:
                        last = max(last, got)
                else:
                    still.append(name)
            if still and time.monotonic() > deadline:
                raise BenchError(f"{len(still)} records never answered {want[still[0]]}, e.g. {still[0]}")
            if still:
                first_pass = False
                time.sleep(0.001)
            pending = still
        return last - since

    def close(self) -> None:
        self.stop_agent()
        self.poller.close()
        self.wan.close()
        self.stamps.close()


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



# ================================================================ the WAN clients


# the order is the table's
CLIENT_LABELS = {
    "veth": "veth, addresses as udhcpc's stock script sets them",
    "pppoe": "PPPoE, pppd defaultroute",
    "pppoe-openwrt": "PPPoE, OpenWrt (nodefaultroute; netifd's route)",
    "dhcp4": "DHCP, netifd (dnsmasq + udhcpc under dhcp.script)",
    "slaac": "SLAAC, radvd + kernel (renumbering)",
    "dhcp6": "DHCPv6 IA_NA, Kea + dhcpcd",
}


def _client_driver(kind: str, world):
    """(rtype, device, first address, change(i) -> (trigger, settle(old) -> new address)) for a client."""
    from tools.netns import wanclients as wc

    if kind == "veth":  # the world's own WAN, routes="client": set_wan as udhcpc's stock script
        def change(i):
            new = f"198.51.100.{3 + i % 200}/24"
            return (lambda: world.set_wan(new)), (lambda old: new.split("/")[0])
        return "A", world.wan, "198.51.100.2", change
    if kind in ("pppoe", "pppoe-openwrt"):
        client = wc.Pppoe(world, defaultroute=kind == "pppoe")
        first = client.start()

        def change(i):
            old = client.connection()
            return client.hangup, (lambda _: client.wait_connected(old, 30)["address"])
        return "A", client.ifname, first["address"], change
    if kind == "dhcp4":
        client = wc.Dhcp4(world)
        first = client.start()

        def change(i):
            client.move_lease(f"198.51.100.{110 + i % 80}")
            if i % 2 == 0:  # a NAK on renew
                return client.renew, (lambda old: client.wait_address(old, 30))

            def release_renew():
                client.release()
                wait_for(lambda: client.address() is None, 10, "the release")
                client.renew()
            return release_renew, (lambda old: client.wait_address(old, 30))
        return "A", world.wan, first, change
    if kind == "slaac":
        client = wc.Slaac(world)
        first = client.start()

        def change(i):
            prefix = f"2001:db8:{0x100 + i:x}::/64"
            return (lambda: client.announce(prefix)), (lambda old: client.wait_stable(prefix, 30))
        return "AAAA", world.wan, first, change
    if kind == "dhcp6":
        client = wc.Dhcp6(world)
        first = client.start()

        def change(i):
            client.move_lease(f"2001:db8:1::e{i:03x}")
            return client.renew, (lambda old: client.wait_address(old, 30))
        return "AAAA", world.wan, first, change
    raise ValueError(kind)


def measure_client(kind: str, changes: int, say) -> dict:
    """One client in its own world: `changes` address changes made by the client, each timed from
    the address appearing (usable) in the kernel to BIND answering it; the agent's error and
    retry lines over them; what BIND was given that never was the right address."""
    from tools.netns.wanclients import agent_config, trouble
    from tools.netns.world import World

    label = CLIENT_LABELS[kind]
    with World(prefix="ddnsbench-", routes="client") as world:
        world.start_bind()
        listener = AddrListener(world)
        poller = Poller(world)
        daemon = None
        try:
            rtype, device, first, change = _client_driver(kind, world)
            conf = agent_config(world, os.path.join(world.dir, "agent.conf"), rtype, device, world.state_dir("client"))
            daemon = Daemon(world, conf, exe=installed_agent())
            poller.wait_for(RECORD, [first], timeout=30, rtype=rtype)
            time.sleep(0.3)
            start = len(daemon.log())
            right, latencies, resolutions, gaps, routes, current = {first}, [], [], [], [], first
            for i in range(changes):
                trigger, settle = change(i)
                t0 = time.monotonic()
                worker = threading.Thread(target=trigger)
                worker.start()
                seen, answer = poller.wait_change(RECORD, [current], timeout=60, rtype=rtype)
                worker.join()
                new = settle(current)
                if answer != {new}:
                    raise BenchError(f"BIND answered {sorted(answer)}, the client's address is {new}")
                at = listener.usable_since(new, t0)
                if at is None:
                    raise BenchError(f"the listener saw no event making {new} usable")
                latencies.append(seen.at - at)
                resolutions.append(seen.at - max(seen.after, at))
                events = list(listener.events)
                gaps.append(without_address(events, current, t0, at))
                route = route_after(events, 6 if rtype == "AAAA" else 4, at, seen.at)
                if route is not None:
                    routes.append(route)
                right.add(new)
                current = new
                time.sleep(0.3)  # the agent idle again before the next change
            log = daemon.log()[start:]
        except BenchError as e:
            raise BenchError(f"{label}: {e}; agent log tail:\n{daemon.log()[-1500:] if daemon else ''}") from None
        finally:
            if daemon is not None:
                daemon.stop()
            listener.close()
            poller.close()
        lines = trouble(log)
        out = {
            "label": label,
            "rtype": rtype,
            "latency": summarize(latencies),
            "latency_each": latencies,
            "resolution_p50": percentile(resolutions, 50),
            "without_address": summarize(gaps),
            "without_address_each": gaps,
            "route_after": summarize(routes) if routes else {"n": 0},
            "error_lines": sum(1 for line in lines if line.startswith("error:")),
            "warning_lines": sum(1 for line in lines if line.startswith("warning:")),
            "retry_lines": sum(1 for line in lines if not line.startswith(("error:", "warning:"))),
            "published_wrong": published_wrong(world.history(RECORD, rtype), right),
            "example_error": next((line for line in lines if line.startswith("error:")), None),
        }
    say(f"{label}: p50 {fmt_seconds(out['latency']['p50'])}, max {fmt_seconds(out['latency']['max'])} over "
        f"{changes} changes; no address for up to {fmt_seconds(out['without_address']['max'])}; "
        f"{out['error_lines']} error lines, {out['warning_lines']} warnings, {out['retry_lines']} retries")
    return out
