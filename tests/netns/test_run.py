"""`ddns-edge run` following real kernel events in the router namespace, against a real BIND."""

from __future__ import annotations

import json
import os
import signal
import time

from tools.netns.agentlib import Daemon, ddns_edge, record, wait_dig, wait_for, write_config

WHERE = dict(zone="example.com", server="192.0.2.53")


def agent_conf(world, tmp_path, *records, **agent):
    agent.setdefault("state_dir", str(tmp_path / "state"))
    return write_config(tmp_path / "ddns-edge", world, *(records or [record("www", **WHERE)]), agent=agent)


def test_follows_an_address_change(world, tmp_path):
    conf = agent_conf(world, tmp_path)
    with Daemon(world, conf) as agent:
        wait_dig(world, "www.example.com", "A", ["198.51.100.2"])
        serial = world.serial()
        world.set_wan("198.51.100.77/24")
        wait_dig(world, "www.example.com", "A", ["198.51.100.77"])
        assert world.serial() == serial + 1
        agent.wait_log("now 198.51.100.77 (was 198.51.100.2)")


def test_follows_the_device_deleted_and_recreated_with_a_new_index(world, tmp_path):
    conf = agent_conf(world, tmp_path)
    with Daemon(world, conf) as agent:
        wait_dig(world, "www.example.com", "A", ["198.51.100.2"])
        old_index = world.wan_ifindex
        world.delete_wan()
        agent.wait_log("no such device")
        assert world.dig("www.example.com", "A") == ["198.51.100.2"]  # left as it is
        world.recreate_wan(addresses=["198.51.100.9/24"])
        assert world.wan_ifindex != old_index
        wait_dig(world, "www.example.com", "A", ["198.51.100.9"])


def test_an_address_removed_without_replacement_leaves_the_record(world, tmp_path):
    conf = agent_conf(world, tmp_path)
    with Daemon(world, conf) as agent:
        wait_dig(world, "www.example.com", "A", ["198.51.100.2"])
        serial = world.serial()
        world.del_addr("198.51.100.2/24")
        agent.wait_log("record left as it is (198.51.100.2)")
        assert world.dig("www.example.com", "A") == ["198.51.100.2"] and world.serial() == serial


def test_ipv6_choice_skips_link_local_ula_deprecated_and_tentative(world, tmp_path):
    world.del_addr("2001:db8:1::2/64")
    world.add_addr("fd00::2/64", nodad=True)
    world.add_addr("2001:db8:1::99/64", deprecated=True, nodad=True)
    conf = agent_conf(world, tmp_path, record("www6", rtype="AAAA", **WHERE))
    with Daemon(world, conf) as agent:
        agent.wait_log("only a private address (fd00::2)")
        assert world.dig("www.example.com", "AAAA") == []
        # a new global address goes through DAD (tentative) first: published once valid
        world.add_addr("2001:db8:1::5/64")
        wait_dig(world, "www.example.com", "AAAA", ["2001:db8:1::5"])
        assert "2001:db8:1::99" not in agent.log()
        # the published address deprecated, a fresh one beside it: move to the fresh one
        world.add_addr("2001:db8:1::6/64", nodad=True)
        world.add_addr("2001:db8:1::5/64", deprecated=True, replace=True, nodad=True)
        wait_dig(world, "www.example.com", "AAAA", ["2001:db8:1::6"])


def test_a_burst_of_200_changes_ends_on_the_last_with_one_update(world, tmp_path):
    conf = agent_conf(world, tmp_path)
    with Daemon(world, conf) as agent:
        wait_dig(world, "www.example.com", "A", ["198.51.100.2"])
        serial = world.serial()
        # hold the agent still while the kernel queues 200 changes: it must wake to all of
        # them at once and make a single update to the final address
        agent.signal(signal.SIGSTOP)
        lines = []
        for i in range(200):
            lines += [f"address add 203.0.113.{i % 250 + 1}/24 dev wan0", f"address del {'198.51.100.2' if i == 0 else f'203.0.113.{(i - 1) % 250 + 1}'}/24 dev wan0"]
        world.ns_exec(world.rtr_ns, ["ip", "-batch", "-"], input="\n".join(lines) + "\n")
        assert world.wan_addresses(4) == ["203.0.113.200/24"]
        agent.signal(signal.SIGCONT)
        wait_dig(world, "www.example.com", "A", ["203.0.113.200"])
        time.sleep(0.5)
        assert world.serial() == serial + 1


def test_a_kernel_queue_overflow_redumps_and_converges(world, tmp_path):
    conf = agent_conf(world, tmp_path)
    with Daemon(world, conf, env={"DDNS_EDGE_RCVBUF": "4096"}) as agent:
        wait_dig(world, "www.example.com", "A", ["198.51.100.2"])
        agent.signal(signal.SIGSTOP)
        lines = [f"address add 198.51.100.{100 + i}/24 dev wan0" for i in range(100)]
        lines += [f"address del 198.51.100.{100 + i}/24 dev wan0" for i in range(99)]
        lines += ["address del 198.51.100.2/24 dev wan0"]
        world.ns_exec(world.rtr_ns, ["ip", "-batch", "-"], input="\n".join(lines) + "\n")
        agent.signal(signal.SIGCONT)
        agent.wait_log("overflowed (ENOBUFS)")
        wait_dig(world, "www.example.com", "A", ["198.51.100.199"])
        assert agent.proc.poll() is None


def test_catches_up_by_itself_after_the_server_comes_back(world, tmp_path):
    conf = agent_conf(world, tmp_path)
    with Daemon(world, conf) as agent:
        wait_dig(world, "www.example.com", "A", ["198.51.100.2"])
        world.stop_bind()
        world.set_wan("198.51.100.66/24")
        agent.wait_log("retry 2 in")  # failed at least twice, backing off
        assert "Traceback" not in agent.log()
        world.restart_bind()
        wait_dig(world, "www.example.com", "A", ["198.51.100.66"], timeout=30)
        status = json.loads(ddns_edge(world, conf, "status", "--json").stdout)
        (www,) = status["records"]
        assert www["address"] == "198.51.100.66" and www["last_error"] is None


def test_a_new_address_resets_the_backoff(world, tmp_path):
    conf = agent_conf(world, tmp_path)
    with Daemon(world, conf) as agent:
        wait_dig(world, "www.example.com", "A", ["198.51.100.2"])
        world.stop_bind()
        world.set_wan("198.51.100.66/24")
        agent.wait_log("retry 4 in")  # now waiting about 8 s
        world.restart_bind()
        world.set_wan("198.51.100.67/24")  # a new address goes at once, not after the backoff
        wait_dig(world, "www.example.com", "A", ["198.51.100.67"], timeout=4)


def test_sighup_adds_a_record_and_a_bad_config_keeps_the_old(world, tmp_path):
    conf = agent_conf(world, tmp_path)
    with Daemon(world, conf) as agent:
        wait_dig(world, "www.example.com", "A", ["198.51.100.2"])
        good = open(conf).read()
        open(conf, "w").write(good + "config record 'bogus'\n\toption nonsense '1'\n")
        agent.signal(signal.SIGHUP)
        agent.wait_log("config not reloaded, the old one stays in use")
        open(conf, "w").write(good + "\n" + record("mail", name="mail.example.com", **WHERE))
        agent.signal(signal.SIGHUP)
        wait_dig(world, "mail.example.com", "A", ["198.51.100.2"])
        agent.wait_log("config reloaded: 2 record(s)")
        world.set_wan("198.51.100.8/24")  # both followed after the reload
        wait_dig(world, "mail.example.com", "A", ["198.51.100.8"])
        wait_dig(world, "www.example.com", "A", ["198.51.100.8"])


def test_sigterm_exits_0_promptly_even_mid_update(world, tmp_path):
    conf = agent_conf(world, tmp_path)
    agent = Daemon(world, conf)
    wait_dig(world, "www.example.com", "A", ["198.51.100.2"])
    agent.signal(signal.SIGTERM)
    assert agent.proc.wait(5) == 0
    # mid-update: the server swallows everything (nft drop), the agent waits for an answer
    agent = Daemon(world, conf)
    agent.wait_log("following 1 record(s)")
    world.ns_exec(world.isp_ns, ["nft", "add table inet blackhole; add chain inet blackhole drops { type filter hook forward priority -10; }; add rule inet blackhole drops udp dport 53 drop"])
    world.set_wan("198.51.100.3/24")
    agent.wait_log("www.example.com A: 198.51.100.3")
    time.sleep(0.2)
    agent.signal(signal.SIGTERM)
    assert agent.proc.wait(10) == 0
    agent.stop()
    # it left in the middle of the exchange: it did not wait for its 5 s timeout to fail first
    assert "no answer within" not in agent.log() and "stopping" in agent.log()


def test_idle_sends_nothing(world, tmp_path):
    conf = agent_conf(world, tmp_path)
    with Daemon(world, conf) as agent:
        wait_dig(world, "www.example.com", "A", ["198.51.100.2"])
        agent.wait_log("now 198.51.100.2")
        agent.wait_log("already 198.51.100.2 at the server", timeout=30)  # the one read after the UPDATE's replay window
        before = world.dns_packets()
        cpu_before = _cpu_ticks(agent.proc.pid)
        time.sleep(10)
        assert world.dns_packets() == before
        assert _cpu_ticks(agent.proc.pid) - cpu_before <= 1  # no busy loop (ticks of 10 ms)


def _cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_hook_gets_the_change_in_its_environment_and_a_hanging_one_is_killed(world, tmp_path):
    out = tmp_path / "hook.out"
    hook = tmp_path / "hook"
    hook.write_text(f'#!/bin/sh\nprintf "%s %s %s %s\\n" "$DDNS_EDGE_NAME" "$DDNS_EDGE_TYPE" "$DDNS_EDGE_OLD" "$DDNS_EDGE_NEW" >> {out}\n[ "$DDNS_EDGE_NEW" = 198.51.100.5 ] && sleep 60\nexit 0\n')
    hook.chmod(0o755)
    conf = agent_conf(world, tmp_path, hook=str(hook), hook_timeout="1")
    with Daemon(world, conf) as agent:
        wait_for(lambda: out.exists() and "www.example.com A  198.51.100.2" in out.read_text(), what="first hook run")
        world.set_wan("198.51.100.4/24")
        wait_for(lambda: "www.example.com A 198.51.100.2 198.51.100.4" in out.read_text(), what="hook run")
        world.set_wan("198.51.100.5/24")
        agent.wait_log("still running after 1 s; killed")
        world.set_wan("198.51.100.6/24")  # hooks never hold up updates
        wait_dig(world, "www.example.com", "A", ["198.51.100.6"])


def test_status_prints_the_state_for_people_and_scripts(world, tmp_path):
    conf = agent_conf(world, tmp_path)
    with Daemon(world, conf) as agent:
        wait_dig(world, "www.example.com", "A", ["198.51.100.2"])
        agent.wait_log("now 198.51.100.2")
        wait_for(lambda: "198.51.100.2" in open(tmp_path / "state" / "state.json").read(), what="state file")
        p = ddns_edge(world, conf, "status")
        assert p.returncode == 0 and "www.example.com A: 198.51.100.2 (from interface wan0)" in p.stdout
        data = json.loads(ddns_edge(world, conf, "status", "--json").stdout)
        assert data["records"][0]["address"] == "198.51.100.2" and data["pid"] == agent.proc.pid
        assert os.stat(tmp_path / "state" / "state.json").st_mode & 0o777 == 0o644


def test_sigterm_is_never_lost_whatever_the_agent_is_doing(world, tmp_path):
    # SIGTERM at many moments around an update: parsing, logging, writing state; each
    # time the agent exits 0 (a signal swallowed on the way must not keep it running)
    conf = agent_conf(world, tmp_path)
    for i in range(20):
        agent = Daemon(world, conf)
        agent.wait_log("following 1 record(s)")
        world.set_wan(f"198.51.100.{100 + i}/24")
        time.sleep(0.002 * i)
        agent.signal(signal.SIGTERM)
        try:
            code = agent.proc.wait(10)
        finally:
            agent.stop()
        assert code == 0, f"round {i}: {agent.log()}"
        assert "Logging error" not in agent.log() and "Traceback" not in agent.log()


def test_a_name_that_is_a_cname_at_the_server_is_backed_off_never_a_loop(make_world, tmp_path):
    """`run` used to send a read and an UPDATE every 12 s without end, each with a false
    warning about a replayed UPDATE (and the hook ran each time). Now: one error, retries
    backed off (1, 2, 4 s ...), reminders at info, no warning, no hook."""
    from tests.netns.test_once import CNAME_LINE, CNAME_ZONE

    world = make_world(zones=[CNAME_ZONE])
    out, hook = tmp_path / "hook.out", tmp_path / "hook"
    hook.write_text(f'#!/bin/sh\necho "$DDNS_EDGE_NAME" >> {out}\n')
    hook.chmod(0o755)
    conf = agent_conf(world, tmp_path, record("www", **WHERE), hook=str(hook))
    with Daemon(world, conf) as agent:
        agent.wait_log("www.example.com A: retry 4 in", timeout=40)
        log = agent.log()
        assert log.count(f"error: {CNAME_LINE}") == 1
        assert log.count(f"info: still failing: {CNAME_LINE}") == 3
        delays = [float(line.split(" in ")[1].split()[0]) for line in log.splitlines() if ": retry " in line]
        assert delays == sorted(delays) and delays[-1] > 4  # backed off: 1, 2, 4, 8 s with jitter
        assert "delayed or replayed" not in log and "now 198.51.100.2" not in log
        assert not out.exists()
