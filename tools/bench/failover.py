"""The failover phase of the bench (issue 23): a record on two WANs follows mwan3's verdicts.

In a world of its own with a second WAN through a second ISP (tools/netns/twowan.py) and the
mwan3 stand-in there (mwan3track's status, then the iface hotplug scripts: the package's
95-ddns-edge, which signals the agent through the ubus stand-in for procd). One record,
`list interface 'wan'`, `list interface 'wanb'`, policy failover, zone and server given.

20 failovers and 20 returns (5 each with --quick): the primary's ISP stops forwarding (its
link and routes stay up), mwan3 says wan is offline (ACTION=disconnected); later the ISP
forwards again and mwan3 says wan is online (ACTION=connected).
- Failover / return: from the event (the moment the stand-in runs the hotplug scripts, after
  mwan3's status changed, as mwan3track does) to BIND answering the other WAN's address (the
  bench's poller in the server namespace, about every millisecond).
- UPDATEs per failover: BIND's own opcode counter over each failover (target 1).
- Wrong addresses: everything BIND's journal shows published that is not one of the two
  WANs' addresses, and each UPDATE beyond one per event (target 0).
"""

from __future__ import annotations

import os
import time

from tools.bench.measure import RECORD, Counters, Poller
from tools.bench.report import BenchError, Target, check_targets, delta, fmt_seconds, published_wrong, summarize
from tools.netns.agentlib import Daemon, write_config
from tools.netns.twowan import Mwan3, Ubus, add_second_wan

FAILOVER_TARGETS = (
    Target("failover: backup's address at BIND after mwan3's disconnected, p50", "failover.failover.p50", 0.020, False, "<= 20 ms"),
    Target("failover: UPDATEs per failover (max)", "failover.updates_max", 1, False, "1"),
    Target("failover: wrong addresses published", "failover.wrong_count", 0, False, "0"),
)


def measure_failover(args, say) -> dict:
    from tools.netns.world import World

    with World(prefix="ddnsbench-", routes="client") as world:
        world.start_bind()
        second = add_second_wan(world)
        counters = Counters(world)
        poller = Poller(world)
        ubus = Ubus(os.path.join(world.dir, "ubus"))
        ubus.network("wan", world.wan)
        ubus.network("wanb", second.device)
        mwan3 = Mwan3(ubus, {"wan": (world.wan, "online"), "wanb": (second.device, "online")})
        primary, backup = world.wan_addresses(4)[0].split("/")[0], second.address
        record = (f"config record 'www'\n\toption name '{RECORD}'\n\tlist interface 'wan'\n\tlist interface 'wanb'\n"
                  f"\toption policy 'failover'\n\toption zone 'example.com'\n\toption server '{world.bind_addr4}'\n\toption ttl '60'\n")
        conf = write_config(os.path.join(world.dir, "failover.conf"), world, record,
                            agent={"log_level": "info", "state_dir": world.state_dir("failover")})
        daemon = Daemon(world, conf, env=ubus.env)
        ubus.agent(daemon.proc.pid)
        try:
            poller.wait_for(RECORD, [primary], timeout=20)
            failover, back, updates = [], [], []
            for _ in range(args.failovers):
                for status, want, times in (("offline", backup, failover), ("online", primary, back)):
                    time.sleep(0.3)
                    before = counters.snapshot()
                    (second.cut if status == "offline" else second.mend)(world.isp_ns)
                    mwan3.set("wan", status)
                    seen = poller.wait_for(RECORD, [want], timeout=10)
                    times.append(seen.at - mwan3.event_at)
                    time.sleep(0.3)
                    updates.append(delta(before, counters.snapshot())["updates"])
        except BenchError as e:
            raise BenchError(f"{e}; agent log:\n{daemon.log()[-2000:]}") from None
        finally:
            daemon.stop()
        history = world.history(RECORD)
        wrong = published_wrong(history, {primary, backup})
        extra = sum(max(0, u - 1) for u in updates)
    out = {
        "failovers": len(failover), "returns": len(back),
        "failover": summarize(failover), "return": summarize(back),
        "updates_per_event": updates, "updates_max": max(updates),
        "wrong": wrong, "extra_updates": extra, "wrong_count": len(wrong) + extra,
    }
    say(f"failover: backup's address at BIND p50 {fmt_seconds(out['failover']['p50'])} after mwan3's disconnected; "
        f"return p50 {fmt_seconds(out['return']['p50'])}; UPDATEs per event max {out['updates_max']}")
    return out


def failover_targets(edge: dict) -> list[dict]:
    return check_targets(edge, FAILOVER_TARGETS)


def render_failover(f: dict | None) -> list[str]:
    """The failover phase's lines under the bench's table."""
    if not f:
        return []
    fo, back = f["failover"], f["return"]
    return [f"Two WANs (issue 23): policy failover, mwan3 stand-in; {f['failovers']} failovers and {f['returns']} returns",
            f"  from mwan3's disconnected to BIND answering the backup's address, p50 / max: {fmt_seconds(fo['p50'])} / "
            f"{fmt_seconds(fo['max'])} (target p50 <= 20 ms); from connected back to the primary's: {fmt_seconds(back['p50'])} / "
            f"{fmt_seconds(back['max'])}",
            f"  UPDATEs per failover or return (max): {f['updates_max']} (target 1); wrong addresses published (BIND's journal, "
            f"and UPDATEs beyond one an event): {f['wrong_count']} (target 0)"]
