"""The LAN phase of the bench (issue 14): records for hosts behind the router, followed
through renumberings of the delegated prefix.

In the bench's world, with tools/netns/lan.py's LAN (Kea delegates, dhcpcd asks, br-lan and
radvd as on OpenWrt): 20 EUI-64 hosts on br-lan and 20 AAAA records, one each, by interface
identifier (`option host_id`, as tests/netns/test_lan_records.py assumes), all in one zone.
The prefix is renumbered 10 times (3 with --quick), the ISP's way (lan.Lan.renumber()).

- From the new prefix on the bridge: the bench's rtnetlink listener in the router namespace
  (measure.AddrListener) gives the moment the router's address in the new prefix is usable
  on br-lan (DAD done: before that no address may be published) and, for reference, the
  moment it first appeared (tentative).
- To all visible: the bench's poller in the server namespace (about every millisecond, a
  sentinel record, then every record checked) until each of the 20 answers its host's
  address in the new prefix.
- UPDATEs: BIND's own opcode counter, per renumbering (the target: 1, one zone). Wrong
  addresses: everything BIND's journal shows published that is not a host's address in a
  delegated prefix (a ULA, the router's own, anything else).

Until the agent accepts the options, `ddns-edge check` of the config fails and the phase
reports "not supported yet" with the check's message: nothing else is built.
"""

from __future__ import annotations

import time

from tools.netns.agentlib import EXE
from tools.netns.lan import Lan, eui64, interface_id
from tools.bench.measure import AddrListener, Bench
from tools.bench.report import (ZONE, AddrEvent, BenchError, Target, check_targets, delta, fmt_number, fmt_seconds,
                                published_wrong, summarize)

HOSTS = 20
LAN_TARGETS = (
    Target("LAN: all records visible after a renumbering, p50", "lan.latency.p50", 0.020, False, "<= 20 ms"),
    Target("LAN: UPDATE messages per renumbering (max)", "lan.updates_max", 1, False, "1 per zone"),
    Target("LAN: ULA, temporary or deprecated addresses published", "lan.published_wrong_count", 0, False, "0"),
)

def host_macs(n: int = HOSTS) -> list[str]:
    return [f"02:dd:ed:00:20:{i:02x}" for i in range(1, n + 1)]


def lan_records(bench: Bench) -> tuple[str, dict[str, str]]:
    """The config with one AAAA record per host, and {name: host_id}."""
    ids = {f"h{i:02d}.{ZONE}": interface_id(eui64(mac, "2001:db8::/64")) for i, mac in enumerate(host_macs(), 1)}
    records = [bench.record(name.split(".")[0], name, "AAAA", "br-lan", ttl=60, host_id=host_id)
               for name, host_id in ids.items()]
    return bench.config("lan", records), ids


def supported(bench: Bench, config: str) -> str | None:
    """None when `ddns-edge check` accepts the config, else its message."""
    proc = bench.world.exec([EXE, "-c", config, "check"], timeout=60)
    return None if proc.returncode == 0 else (proc.stderr.strip() or proc.stdout.strip() or f"exit status {proc.returncode}")


def measure_lan(bench: Bench) -> dict:
    args, w = bench.args, bench.world
    config, ids = lan_records(bench)
    refused = supported(bench, config)
    if refused is not None:
        bench.say(f"LAN: not supported yet: {refused}")
        return {"supported": False, "reason": refused}
    lan = Lan(w).start()
    hosts = [lan.add_host(f"h{i:02d}", mac=mac) for i, mac in enumerate(host_macs(), 1)]
    for host in hosts:
        host.wait_slaac()
    names = list(ids)

    def wanted(prefix: str) -> dict[str, str]:
        return {name: eui64(mac, prefix) for name, mac in zip(names, host_macs(), strict=True)}
    bench.say(f"LAN: {len(hosts)} hosts on br-lan in {lan.prefix}; starting the agent with {len(names)} records")
    t0 = time.monotonic()
    bench.agent = bench.Daemon(w, config)
    out: dict = {"supported": True, "records": len(names), "zones": 1}
    out["startup"] = bench._all_visible(names, names[-1], wanted(lan.prefix), t0, timeout=60, rtype="AAAA")
    listener = AddrListener(w)  # the bench's rtnetlink listener in the router namespace
    usable, tentative, updates, reads, right = [], [], [], [], set(wanted(lan.prefix).values())
    try:
        for _ in range(args.lan_renumberings):
            time.sleep(0.3)
            before, since = bench.counters.snapshot(), time.monotonic()
            old = lan.prefix
            new = lan.renumber(wait=False)  # the poller starts now, not once the world says it is done
            right |= set(wanted(new).values())
            visible = bench._all_visible(names, names[-1], wanted(new), 0.0, timeout=30, rtype="AAAA")
            if lan.wait_renumbered(old) != new:
                raise BenchError(f"br-lan got {lan.prefix}, not the {new} Kea was to delegate")
            router = lan.router_address
            at_usable = listener.usable_since(router, since)
            at_first = next((at for at, e in list(listener.events)
                             if at >= since and isinstance(e, AddrEvent) and e.new and e.address == router), None)
            if at_usable is None or at_first is None:
                raise BenchError(f"the rtnetlink listener saw no usable {router} on {lan.bridge}")
            usable.append(visible - at_usable)
            tentative.append(visible - at_first)
            time.sleep(0.5)
            d = delta(before, bench.counters.snapshot())
            updates.append(d["updates"])
            reads.append(d["reads"])
    finally:
        listener.close()
        bench.stop_agent()
    wrong = [a for name in names for a in published_wrong(w.history(name, "AAAA"), right)]
    out.update({
        "renumberings": len(usable),
        "latency": summarize(tentative),  # the measure: from the new prefix appearing on the bridge
        "latency_from_usable": summarize(usable),  # from the router's own address there passing DAD (can be < 0)
        "updates_per_renumbering": updates,
        "updates_max": max(updates),
        "reads_per_renumbering": sum(reads) / len(reads),
        "published_wrong": wrong,
        "published_wrong_count": len(wrong),  # BIND's journal: anything but a host's address in a delegated prefix
    })
    bench.say(f"LAN: {len(names)} records visible p50 {fmt_seconds(out['latency']['p50'])} after the new prefix appeared "
              f"on br-lan; UPDATEs per renumbering {updates}")
    return out


def lan_targets(edge: dict) -> list[dict]:
    return check_targets(edge, LAN_TARGETS)


def render_lan(lan: dict | None) -> list[str]:
    """The LAN phase's lines under the bench's table."""
    if not lan:
        return []
    if not lan.get("supported"):
        return [f"LAN host records (issue 14): not supported yet: {lan.get('reason', '?')}"]
    lat, usable = lan["latency"], lan["latency_from_usable"]
    return [f"LAN host records (issue 14): {lan['records']} records by host_id on br-lan, {lan['renumberings']} renumberings",
            f"  all visible after the new prefix appeared on br-lan, p50 / max: {fmt_seconds(lat['p50'])} / "
            f"{fmt_seconds(lat['max'])} (target <= 20 ms); after the router's address there passed DAD: "
            f"{_signed(usable['p50'])} (the agent does not wait for the router's DAD: the host's address is not the router's)",
            f"  UPDATE messages per renumbering: {lan['updates_per_renumbering']} (target 1, one zone); reads per "
            f"renumbering {fmt_number(lan['reads_per_renumbering'])}; start-up to all visible {fmt_seconds(lan['startup'])}",
            f"  wrong addresses published (BIND's journal): {lan['published_wrong_count']} (target 0)"
            + (f": {', '.join(lan['published_wrong'][:3])}" if lan["published_wrong"] else "")]


def _signed(seconds: float) -> str:
    return ("-" if seconds < 0 else "") + fmt_seconds(abs(seconds))
