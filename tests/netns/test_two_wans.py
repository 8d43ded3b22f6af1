"""Two WANs (issue 23): the record follows the WAN that carries traffic (`policy failover`),
or names every online one (`policy all`), against a real BIND.

The router has two WANs through two ISPs, each with its own way to the DNS server
(tools/netns/twowan.py). A WAN fails the way mwan3 sees and the kernel does not: its ISP
stops forwarding while the link, the address and the main table's routes stay as they were.
mwan3 itself cannot run here (it needs procd, ubusd, rpcd, hotplug-call and its iptables
rules): twowan.Mwan3 stands in for it, doing what mwan3track does on a failover and
nothing else (the status that `ubus call mwan3 status` reports, then the iface hotplug
scripts with ACTION=disconnected/connected, INTERFACE and DEVICE: the package's own
95-ddns-edge, which signals the agent through a ubus stand-in for procd). The agent, the
kernel, the routes and BIND are real: an UPDATE that left by the dead ISP would never land.
"""

from __future__ import annotations

import os
import time

import pytest

from tools.netns.agentlib import EXE, Daemon, wait_for, write_config
from tools.netns.twowan import Mwan3, Ubus, add_second_wan

WAN, WANB = "198.51.100.2", "203.0.113.2"


def record(policy, **options):
    lines = ["config record 'www'", "\toption name 'www.example.com'", "\tlist interface 'wan'", "\tlist interface 'wanb'",
             f"\toption policy '{policy}'", "\toption zone 'example.com'", "\toption server '192.0.2.53'"]
    lines += [f"\toption {k} '{v}'" for k, v in options.items()]
    return "\n".join(lines) + "\n"


def published(world):
    return sorted(world.dig("www.example.com", "A"))


def wait_published(world, want, timeout=15.0):
    want = sorted(want)
    return wait_for(lambda: published(world) == want, timeout, f"www.example.com A = {want} at BIND")


@pytest.fixture
def two(world, tmp_path):
    second = add_second_wan(world)
    ubus = Ubus(str(tmp_path / "ubus"))
    ubus.network("wan", "wan0")
    ubus.network("wanb", "wan1")
    return world, second, ubus


def start(world, tmp_path, ubus, policy, **options):
    conf = write_config(tmp_path / "c", world, record(policy, **options),
                        agent={"state_dir": world.state_dir("twowan"), "log_level": "debug"})
    agent = Daemon(world, conf, env=ubus.env)
    ubus.agent(agent.proc.pid)
    return agent


@pytest.mark.netns
def test_failover_follows_mwan3_and_comes_back(two, tmp_path):
    world, second, ubus = two
    mwan3 = Mwan3(ubus, {"wan": ("wan0", "online"), "wanb": ("wan1", "online")})
    with start(world, tmp_path, ubus, "failover") as agent:
        wait_published(world, [WAN])
        agent.wait_log("mwan3: wan online, wanb online")
        serial = world.serial()

        world_isp = world.isp_ns
        second.cut(world_isp)  # the primary's upstream stops forwarding; wan0 stays up, with its routes
        mwan3.set("wan", "offline")
        wait_published(world, [WANB])
        assert world.serial() == serial + 1  # one UPDATE: the whole RRset swapped
        agent.wait_log("default route is via wan0, which mwan3 calls offline: the update leaves by wan1")

        second.mend(world_isp)
        mwan3.set("wan", "online")
        wait_published(world, [WAN])
        assert world.serial() == serial + 2
        assert world.history("www.example.com") == [WAN, WANB, WAN]  # nothing else, even for a moment

        # the backup's address changes while it is the backup: nothing to publish
        second.set_address("203.0.113.77/24")
        agent.wait_log("wan1")  # (the kernel's event reached it)
        time.sleep(0.5)
        assert published(world) == [WAN] and world.serial() == serial + 2

        # both WANs down: the record is left as it is, and the state file says why
        second.cut(world_isp)
        second.cut(second.isp_ns)
        mwan3.set("wan", "offline")
        mwan3.set("wanb", "offline")
        agent.wait_log("mwan3: wan offline, wanb offline")
        time.sleep(0.5)
        assert published(world) == [WAN] and world.serial() == serial + 2
        status = world.exec([agent.proc.args[-4], "-c", agent.proc.args[-2], "status"])  # ddns-edge -c CONF status
        assert "WANs (failover): failover of wan, wanb: no WAN online: wan (wan0) offline (mwan3: offline)" in status.stdout, status

        # the backup comes back first, with its new address
        second.mend(second.isp_ns)
        mwan3.set("wanb", "online")
        wait_published(world, ["203.0.113.77"])
        second.mend(world_isp)
        mwan3.set("wan", "online")
        wait_published(world, [WAN])


@pytest.mark.netns
def test_all_publishes_every_online_wan_in_one_rrset(two, tmp_path):
    world, second, ubus = two
    mwan3 = Mwan3(ubus, {"wan": ("wan0", "online"), "wanb": ("wan1", "online")})
    with start(world, tmp_path, ubus, "all") as agent:
        wait_published(world, [WAN, WANB])
        serial = world.serial()
        assert world.serial() == serial

        second.cut(world.isp_ns)
        mwan3.set("wan", "offline")
        wait_published(world, [WANB])
        assert world.serial() == serial + 1
        agent.wait_log("the update leaves by wan1")

        second.mend(world.isp_ns)
        mwan3.set("wan", "online")
        wait_published(world, [WAN, WANB])
        assert world.serial() == serial + 2

        # the backup's address changes: the RRset follows, in one UPDATE
        second.set_address("203.0.113.77/24")
        wait_published(world, [WAN, "203.0.113.77"])
        assert world.serial() == serial + 3

        second.cut(world.isp_ns)
        second.cut(second.isp_ns)
        mwan3.set("wan", "offline")
        mwan3.set("wanb", "offline")
        agent.wait_log("mwan3: wan offline, wanb offline")
        time.sleep(0.5)
        assert published(world) == [WAN, "203.0.113.77"] and world.serial() == serial + 3


@pytest.mark.netns
def test_mwan3_policy_ranks_the_wans(two, tmp_path):
    world, second, ubus = two
    # the record lists wan first, mwan3's policy prefers wanb
    mwan3 = Mwan3(ubus, {"wan": ("wan0", "online"), "wanb": ("wan1", "online")}, {"wanb_wan": ["wanb", "wan"]})
    with start(world, tmp_path, ubus, "failover", mwan3_policy="wanb_wan"):
        wait_published(world, [WANB])
        second.cut(second.isp_ns)
        mwan3.set("wanb", "offline")
        wait_published(world, [WAN])


@pytest.mark.netns
def test_without_mwan3_a_wan_is_online_with_its_address_and_default_route(two, tmp_path):
    world, second, ubus = two  # no mwan3: `ubus call mwan3 status` fails, as where it is not installed
    with start(world, tmp_path, ubus, "failover") as agent:
        wait_published(world, [WAN])
        agent.wait_log("mwan3 does not answer")
        world._ip(world.rtr_ns, "route del default dev wan0")
        wait_published(world, [WANB])  # (the UPDATE leaves by wan1: the only default route left)
        world._ip(world.rtr_ns, "route add default via 198.51.100.1 dev wan0")
        wait_published(world, [WAN])


@pytest.mark.netns
def test_detect_and_once_decide_two_wans_too(two, tmp_path):
    world, second, ubus = two
    mwan3 = Mwan3(ubus, {"wan": ("wan0", "online"), "wanb": ("wan1", "offline")})
    conf = write_config(tmp_path / "c", world, record("all"))
    env = dict(os.environ, **ubus.env)
    p = world.exec([EXE, "-c", conf, "detect"], env=env)
    assert p.stdout.splitlines()[0] == ("www.example.com A 198.51.100.2 (all online WANs (wan): wan (wan0) online (mwan3: online); "
                                        "wanb (wan1) offline (mwan3: offline))"), p.stderr
    mwan3.interfaces["wanb"] = ("wan1", "online")
    mwan3.set("wanb", "online")
    p = world.exec([EXE, "-c", conf, "once"], env=env)
    assert p.returncode == 0, p.stderr
    assert published(world) == [WAN, WANB]
