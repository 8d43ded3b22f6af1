"""`python -m tools.bench`: run every phase, print the table, write bench/results.{json,txt}."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from importlib.metadata import version

import tools.bench
from tools.netns.world import World, missing_tools
from tools.bench.failover import failover_targets, measure_failover, render_failover
from tools.bench.lan import lan_targets, measure_lan, render_lan
from tools.bench.measure import CLIENT_LABELS, ROOT, Bench, measure_client, measure_ddclient
from tools.bench.fleet import measure_fleet
from tools.bench.report import check_targets, fleet_targets, render_fleet, render_table


def machine() -> dict:
    cpu, flags = "?", ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and cpu == "?":
                cpu = " ".join(line.split(":", 1)[1].split())
            if line.startswith("flags") and not flags:
                flags = line
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


PHASES = ("startup", "startup_cost", "main", "latency", "check", "noop", "idle", "replay", "scale", "records", "clients", "ddclient", "lan",
          "failover")


def run(args) -> dict:
    results: dict = {"command": args.command, "machine": machine(), "ddns_edge": {}, "ddclient": {}, "clients": {}, "errors": {},
                     "method": tools.bench.__doc__.split("How each figure is measured (the same words are printed under the table):")[1].strip()}
    edge = results["ddns_edge"]
    if args.only_fleet:
        return run_fleet(args, results)
    World.sweep(prefix="ddnsbench-")  # what a killed bench left behind
    if args.only_failover:
        edge["failover"] = _failover(args, results)
        results["machine"]["loadavg_end"] = f"{os.getloadavg()[0]:.2f}"
        results["targets"] = failover_targets(edge) if edge.get("failover") else []
        return results
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

            if not (args.only_clients or args.only_lan or args.only_records):
                veth_phases(bench, phase, edge)
            if not (args.only_clients or args.only_lan):
                edge["records"] = {str(n): phase(f"records {n}", lambda n=n: bench.records_startup(n)) for n in args.record_counts}
            for kind in [] if (args.only_lan or args.only_records) else args.clients:  # each in a world of its own, routes as the client makes them
                got = phase(f"client {kind}", lambda kind=kind: measure_client(kind, args.client_changes, bench.say))
                results["clients"][kind] = got or {"label": CLIENT_LABELS[kind], "error": results["errors"].get(f"client {kind}")}
            if args.no_ddclient or args.only_clients or args.only_lan or args.only_records:
                results["ddclient"] = {"skipped": "--no-ddclient" if args.no_ddclient else "--only-clients" if args.only_clients
                                       else "--only-lan" if args.only_lan else "--only-records"}
            else:
                results["ddclient"] = phase("ddclient", lambda: measure_ddclient(bench)) or {}
            if not (args.no_lan or args.only_clients or args.only_records):  # last: its LAN (Kea, dhcpcd, radvd, 20 hosts) stays up
                edge["lan"] = phase("lan", lambda: measure_lan(bench))
                bench.stop_agent()
        finally:
            bench.close()
    if not (args.no_failover or args.only_clients or args.only_lan or args.only_records):  # a world of its own
        edge["failover"] = _failover(args, results)
    if args.fleet and not (args.only_clients or args.only_lan or args.only_records):
        return run_fleet(args, results)
    results["machine"]["loadavg_end"] = f"{os.getloadavg()[0]:.2f}"
    results["targets"] = (check_targets(edge) + (lan_targets(edge) if edge.get("lan") else [])
                          + (failover_targets(edge) if edge.get("failover") else []))
    return results


def _sayer(args):
    """How a phase says where it is: with the seconds since the bench began."""
    def say(message: str) -> None:
        print(f"[{time.monotonic() - args.t0:6.1f}s] {message}", flush=True)
    return say


def _failover(args, results: dict) -> dict | None:
    say = _sayer(args)
    try:
        return measure_failover(args, say)
    except Exception as e:  # one phase failing must not lose the others' figures
        results["errors"]["failover"] = f"{type(e).__name__}: {e}"
        say(f"failover: {e}")
        return None


def run_fleet(args, results: dict) -> dict:
    """The fleet phase (issue 24), in a world of its own: once for each size in --fleet."""
    edge = results["ddns_edge"]
    say = _sayer(args)
    edge["fleet"] = {}
    for n in args.fleet:
        try:
            options = (f"update-quota {args.fleet_update_quota};",) if args.fleet_update_quota else ()
            edge["fleet"][str(n)] = measure_fleet(n, say, args.fleet_stop, options)
        except Exception as e:  # one size failing must not lose the others' figures
            results["errors"][f"fleet {n}"] = f"{type(e).__name__}: {e}"
            say(f"fleet {n}: {e}")
    results["machine"]["loadavg_end"] = f"{os.getloadavg()[0]:.2f}"
    results["targets"] = (check_targets(edge) + (lan_targets(edge) if edge.get("lan") else [])
                          + (failover_targets(edge) if edge.get("failover") else []))
    for n, fleet in edge["fleet"].items():
        results["targets"] += [dict(row, what=f"fleet {n}: {row['what']}", path=f"fleet.{n}.{row['path']}") for row in fleet_targets(fleet)]
    return results


def veth_phases(bench, phase, edge: dict) -> None:
    """The phases on the world's WAN veth (routes as a DHCP client makes them): start-up, latency and memory, the
    replay defence's check, no-ops, idle, late and replayed UPDATEs, scale."""
    edge["startup"] = phase("startup", bench.startup)
    edge["startup_cost"] = phase("startup_cost", bench.startup_cost)
    main = phase("main", bench.start_main)
    if main is not None:
        got = phase("latency", lambda: bench.latency_and_memory(main["stats"]["rss_kib"]))
        if got:
            edge.update(got)
        edge["check"] = phase("check", bench.check)
        edge["noop"] = phase("noop", bench.noop)
        edge["idle"] = phase("idle", bench.idle)
        edge["replay"] = phase("replay", bench.replay)
        bench.stop_agent()
    edge["scale"] = phase("scale", bench.scale)
    bench.stop_agent()


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m tools.bench", description="ddns-edge benchmark in the namespace world (root)")
    p.add_argument("--quick", action="store_true", help="fewer iterations: a quick look, not figures for the README")
    p.add_argument("--out", default=os.path.join(ROOT, "bench"), help="directory for results.json and results.txt (default: bench/)")
    p.add_argument("--no-ddclient", action="store_true", help="skip the ddclient comparison (about 5 minutes)")
    p.add_argument("--seed", type=int, default=None, help="seed for the random gaps and phases")
    p.add_argument("--clients", default=",".join(CLIENT_LABELS),
                   help=f"the WAN clients to measure, comma-separated (default: all of {','.join(CLIENT_LABELS)}; '' for none)")
    p.add_argument("--only-clients", action="store_true", help="measure the WAN clients only (no veth phases, no ddclient)")
    p.add_argument("--no-lan", action="store_true", help="skip the LAN phase (issue 14: 20 records for hosts behind "
                   "the router, the delegated prefix renumbered 10 times)")
    p.add_argument("--only-lan", action="store_true", help="the LAN phase only")
    p.add_argument("--only-records", action="store_true", help="the start-up of 1,000 and 10,000 records only (issue 21)")
    p.add_argument("--no-failover", action="store_true", help="skip the failover phase (issue 23: two WANs, mwan3's verdicts)")
    p.add_argument("--only-failover", action="store_true", help="the failover phase only")
    p.add_argument("--fleet", nargs="?", const="100", default="",
                   help="the fleet phase (issue 24): N agents, one primary and its secondary, a renumbering burst with the primary "
                        "healthy and stopped; comma-separated sizes (bare --fleet: 100)")
    p.add_argument("--only-fleet", action="store_true", help="the fleet phase only (with --fleet's sizes, default 100)")
    p.add_argument("--fleet-stop", type=float, default=10.0, help="seconds the primary is stopped in the fleet's second burst (default 10)")
    p.add_argument("--fleet-update-quota", type=int, default=0, help="the fleet's primary with this update-quota (BIND's default: 100)")
    p.add_argument("--record-counts", default="1000,10000", help="the record counts of the records phase (default: 1000,10000)")
    args = p.parse_args(argv)
    for a, b in (("only_failover", "no_failover"), ("only_failover", "only_lan"), ("only_failover", "only_clients"),
                 ("only_failover", "only_records"), ("only_clients", "only_lan"), ("no_lan", "only_lan"), ("only_records", "only_clients"), ("only_records", "only_lan")):
        if getattr(args, a) and getattr(args, b):
            p.error(f"--{a.replace('_', '-')} and --{b.replace('_', '-')} exclude each other")
    args.clients = [c for c in args.clients.split(",") if c]
    unknown = [c for c in args.clients if c not in CLIENT_LABELS]
    if unknown:
        p.error(f"unknown client {', '.join(unknown)}: choose from {', '.join(CLIENT_LABELS)}")
    full = dict(latency_changes=200, changes=1000, startup_runs=7, noop_reps=20, idle=60.0, records=100,
                scale_changes=5, ddclient_changes=4, ddclient_idle=True, client_changes=20, lan_renumberings=10, failovers=20)
    quick = dict(latency_changes=100, changes=1000, startup_runs=3, noop_reps=5, idle=15.0, records=100,
                 scale_changes=2, ddclient_changes=2, ddclient_idle=False, client_changes=5, lan_renumberings=3, failovers=5)
    for k, v in (quick if args.quick else full).items():
        setattr(args, k, v)
    args.record_counts = [int(n) for n in args.record_counts.split(",") if n]
    args.fleet = [int(n) for n in (args.fleet or ("100" if args.only_fleet else "")).split(",") if n]
    args.command = ("python -m tools.bench" + (" --quick" if args.quick else "") + (" --no-ddclient" if args.no_ddclient else "")
                    + (" --only-clients" if args.only_clients else "") + (" --only-lan" if args.only_lan else "")
                    + (" --only-records" if args.only_records else "")
                    + (f" --record-counts {','.join(map(str, args.record_counts))}" if args.record_counts != [1000, 10000] else "")
                    + (" --no-lan" if args.no_lan else "")
                    + (" --only-failover" if args.only_failover else "") + (" --no-failover" if args.no_failover else "")
                    + (" --only-fleet" if args.only_fleet else "")
                    + (f" --fleet {','.join(map(str, args.fleet))}" if args.fleet else "")
                    + (f" --fleet-update-quota {args.fleet_update_quota}" if args.fleet_update_quota else "")
                    + (f" --clients {','.join(args.clients)}" if args.clients != list(CLIENT_LABELS) else ""))
    args.t0 = time.monotonic()
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench: needs root (network namespaces, nftables, BIND): run `sudo make bench`", file=sys.stderr)
        return 2
    if missing_tools():
        print(f"bench: missing {', '.join(missing_tools())}: run `make bench` as root to install them", file=sys.stderr)
        return 2
    results = run(args)
    fleets = [line for fleet in (results["ddns_edge"].get("fleet") or {}).values() for line in render_fleet(fleet)]
    head = render_table(results)
    if args.only_fleet:  # the veth table would be all dashes: its heading and the load average only
        head = "\n".join([*head.splitlines()[:2], "", *[line for line in head.splitlines() if line.startswith("load average")]])
    table = "\n".join([head, *render_lan(results["ddns_edge"].get("lan")),
                       *render_failover(results["ddns_edge"].get("failover")), *fleets])
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

