"""Tests of the test world itself: topology, BIND, keys and policies, counters, cleanup."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tools.netns.world import World, WorldError, Zone, netns_names


def leftovers(name: str, pids: list[int], paths: list[str]) -> list[str]:
    """What a closed world left behind: namespaces, live processes, files."""
    found = [ns for ns in netns_names() if ns.startswith(name)]
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            continue
        if state != "Z":  # a killed orphan stays a zombie until init reaps it
            found.append(f"pid {pid}")
    return found + [p for p in paths if os.path.exists(p)]


def router_dig(world: World, *args: str) -> list[str]:
    """dig from the router, through its resolv.conf unless an @server is given."""
    proc = world.exec(["dig", "+short", "+time=2", "+tries=1", *args], check=True)
    return proc.stdout.split("\n")[:-1]


# -- BIND ---------------------------------------------------------------------------------


def test_bind_serves_the_zone_on_both_addresses(world):
    for server in (world.bind_addr4, world.bind_addr6):
        soa = world.dig("example.com", "SOA", server=server)
        assert soa == ["ns1.example.com. hostmaster.example.com. 1 3600 600 86400 60"]
        assert world.dig("example.com", "NS", server=server) == ["ns1.example.com."]
        assert world.dig("ns1.example.com", "A", server=server) == ["192.0.2.53"]
        assert world.dig("ns1.example.com", "AAAA", server=server) == ["2001:db8:53::53"]
    assert world.dig("www.example.com") == []
    assert world.serial("example.com") == 1


def test_nsupdate_with_the_key_lands_and_moves_the_serial(world):
    proc = world.nsupdate("update add www.example.com 60 A 198.51.100.2")
    assert proc.returncode == 0, proc.stderr
    assert world.dig("www.example.com", "A") == ["198.51.100.2"]
    assert world.serial() == 2


def test_a_wrong_secret_is_refused(world, tmp_path):
    bad = tmp_path / "bad.key"
    bad.write_text(world.key_clause().replace(world.key_secret, "A" * 43 + "="))
    proc = world.nsupdate("update add www.example.com 60 A 198.51.100.2", key_file=str(bad))
    assert proc.returncode != 0 and "BADSIG" in proc.stderr
    assert world.dig("www.example.com") == []


def test_key_file_is_a_private_bind_key_clause(world):
    assert (os.stat(world.key_file_path).st_mode & 0o777) == 0o600
    with open(world.key_file_path) as f:
        assert f.read() == world.key_clause()
    assert world.key_name == "ddns-key" and world.key_algorithm == "hmac-sha256"
    assert 'key "ddns-key"' in world.key_clause()
    assert f'secret "{world.key_secret}";' in world.key_clause()


def test_a_narrow_policy_refuses_other_names_and_types(make_world):
    w = make_world(policy=["grant {key} name www.example.com A AAAA"])
    assert w.nsupdate("update add www.example.com 60 A 198.51.100.2").returncode == 0
    for update in ("update add mail.example.com 60 A 198.51.100.2",
                   "update add www.example.com 60 TXT nope"):
        proc = w.nsupdate(update)
        assert proc.returncode != 0 and "REFUSED" in proc.stderr
    assert w.serial() == 2


def test_several_zones_with_their_own_policies_and_records(make_world):
    w = make_world(zones=["example.com", Zone("example.net", records=["www 60 IN A 203.0.113.9"]),
                          Zone("dyn.example.org", policy=["grant {key} subdomain host.{zone}"])],
                   key="other-key")
    assert w.zones == ["example.com", "example.net", "dyn.example.org"]
    assert w.dig("example.net", "SOA")[0].startswith("ns1.example.net. ")
    assert w.dig("www.example.net") == ["203.0.113.9"]
    assert w.nsupdate("update add a.host.dyn.example.org 60 A 198.51.100.2").returncode == 0
    assert "REFUSED" in w.nsupdate("update add b.dyn.example.org 60 A 198.51.100.2").stderr
    assert w.nsupdate("update add x.example.com 60 A 198.51.100.2").returncode == 0


def test_restart_keeps_what_was_updated(world):
    assert world.nsupdate("update add www.example.com 60 AAAA 2001:db8:1::2").returncode == 0
    first = world.named_pid
    world.stop_bind()
    assert world.named_pid is None
    with pytest.raises(WorldError):
        world.dig("example.com", "SOA")
    world.restart_bind()
    assert world.named_pid not in (None, first)
    assert world.dig("www.example.com", "AAAA") == ["2001:db8:1::2"]
    assert world.serial() == 2


def test_a_named_that_cannot_start_fails_with_its_log(make_world):
    with pytest.raises(WorldError, match=r"(?s)named exited.*'nosuchrule' unexpected"):
        make_world(policy=["grant {key} nosuchrule ANY"])


# -- the router, the isp and the counters ----------------------------------------------------


def test_no_address_is_tentative_and_routes_are_in_place(world):
    info = world.wan_addr_info()
    assert not any(a.get("tentative") for a in info)
    assert world.wan_addresses() == ["198.51.100.2/24", "2001:db8:1::2/64"]
    assert "default via 198.51.100.1" in world.exec(["ip", "-4", "route"]).stdout
    assert "default via fe80::1 dev wan0" in world.exec(["ip", "-6", "route"]).stdout  # as from an RA


def test_the_router_resolves_through_bind(world):
    assert router_dig(world, "ns1.example.com", "A") == ["192.0.2.53"]
    # As the agent will: dnspython's stub resolver, reading the namespace's resolv.conf.
    code = "import dns.resolver; print(dns.resolver.resolve('example.com', 'SOA')[0].mname)"
    assert world.exec([sys.executable, "-c", code], check=True).stdout == "ns1.example.com.\n"


def test_counters_see_the_router_and_not_the_world(world):
    world.dig("example.com", "SOA")
    world.serial()
    assert world.nsupdate("update add www.example.com 60 A 198.51.100.2").returncode == 0
    time.sleep(0.2)  # nothing in the world talks on its own
    assert world.dns_packets() == 0
    router_dig(world, f"@{world.bind_addr4}", "example.com", "SOA")
    router_dig(world, "+tcp", f"@{world.bind_addr6}", "example.com", "SOA")
    counters = world.dns_counters()
    assert counters["dns_udp4"] == 1 and counters["dns_udp6"] == 0
    assert counters["dns_tcp6"] >= 3 and counters["dns_tcp4"] == 0  # handshake, query, acks
    assert world.dns_packets() == sum(counters.values())


@pytest.mark.parametrize("cidr", ["203.0.113.7/24", "100.64.0.2/10", "2001:db8:99::7/64"])
def test_set_wan_replaces_the_address_and_bind_stays_reachable(world, cidr):
    family = 6 if ":" in cidr else 4
    other = [a for a in world.wan_addresses() if (":" in a) != (family == 6)]
    world.set_wan(cidr, family)
    assert world.wan_addresses(family) == [cidr]
    assert world.wan_addresses(10 - family) == other
    server = world.bind_addr6 if family == 6 else world.bind_addr4
    source = cidr.split("/")[0]
    assert router_dig(world, "-b", source, f"@{server}", "ns1.example.com", "A") == ["192.0.2.53"]


def test_set_wan_twice_with_the_same_address_keeps_it(world):
    world.set_wan("2001:db8:1::2/64")
    world.set_wan("198.51.100.2/24", 4)
    assert world.wan_addresses() == ["198.51.100.2/24", "2001:db8:1::2/64"]
    with pytest.raises(ValueError):
        world.set_wan("198.51.100.9/24", 6)


def test_add_addr_flags_and_lifetimes(world):
    world.add_addr("2001:db8:1::10/64", nodad=True, preferred_lft=100, valid_lft=200)
    world.add_addr("2001:db8:1::11/64", nodad=True, deprecated=True)
    world.add_addr("2001:db8:1::12/64", noprefixroute=True, nodad=True)
    info = {a["local"]: a for a in world.wan_addr_info()}
    assert 0 < info["2001:db8:1::10"]["preferred_life_time"] <= 100
    assert 100 < info["2001:db8:1::10"]["valid_life_time"] <= 200
    world.add_addr("2001:db8:1::10/64", nodad=True, deprecated=True, valid_lft=150, replace=True)
    info = {a["local"]: a for a in world.wan_addr_info()}
    assert info["2001:db8:1::10"]["preferred_life_time"] == 0
    assert 100 < info["2001:db8:1::10"]["valid_life_time"] <= 150
    assert info["2001:db8:1::11"].get("deprecated") and info["2001:db8:1::11"]["preferred_life_time"] == 0
    assert info["2001:db8:1::12"].get("noprefixroute")
    world.del_addr("2001:db8:1::11/64")
    assert "2001:db8:1::11/64" not in world.wan_addresses(6)


def test_an_address_without_nodad_is_tentative_until_dad_is_done(world):
    world.exec(["sysctl", "-qw", f"net.ipv6.neigh.{world.wan}.retrans_time_ms=100",
                f"net.ipv6.conf.{world.wan}.router_solicitation_delay=0"], check=True)
    world.add_addr("2001:db8:1::20/64")
    assert {a["local"]: a for a in world.wan_addr_info()}["2001:db8:1::20"].get("tentative")
    world.wait_no_tentative()
    assert not {a["local"]: a for a in world.wan_addr_info()}["2001:db8:1::20"].get("tentative")


def test_recreate_wan_is_a_new_link_with_the_old_addresses(world):
    world.set_wan("203.0.113.7/24")
    before = world.wan_ifindex
    world.delete_wan()
    assert world.wan not in world.exec(["ip", "link"]).stdout
    world.recreate_wan("pppoe-wan")
    assert world.wan == "pppoe-wan" and world.wan_ifindex != before
    assert world.wan_addresses() == ["203.0.113.7/24", "2001:db8:1::2/64"]
    world.recreate_wan(addresses=["198.51.100.3/24"])
    assert world.wan_addresses() == ["198.51.100.3/24"]
    assert router_dig(world, "ns1.example.com", "AAAA") == ["2001:db8:53::53"]


# -- several worlds, and cleanup ---------------------------------------------------------


def test_two_worlds_live_side_by_side(world, make_world):
    other = make_world(wan="pppoe-wan")
    assert len({world.rtr_ns, world.isp_ns, world.srv_ns, other.rtr_ns, other.isp_ns, other.srv_ns}) == 6
    assert other.nsupdate("update add www.example.com 60 A 203.0.113.1").returncode == 0
    assert other.dig("www.example.com") == ["203.0.113.1"] and world.dig("www.example.com") == []


def test_close_leaves_nothing_and_is_idempotent():
    w = World().build()
    w.start_bind()
    sleeper = w.popen(["sleep", "60"])
    stray = w.exec(["sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!"], check=True)  # not ours to track
    paths = [w.dir, f"/etc/netns/{w.rtr_ns}"]
    pids = [w.named_pid, sleeper.pid, int(stray.stdout)]
    assert all(os.path.exists(p) for p in paths) and len(leftovers(w.name, pids, [])) == 6
    w.close()
    assert leftovers(w.name, pids, paths) == []
    w.close()


def test_an_exception_inside_the_with_block_cleans_up():
    with pytest.raises(ZeroDivisionError):
        with World() as w:
            w.start_bind()
            pid, paths = w.named_pid, [w.dir, f"/etc/netns/{w.rtr_ns}"]
            raise ZeroDivisionError
    assert leftovers(w.name, [pid], paths) == []


def test_a_failed_build_cleans_up():
    w = World(wan="a-name-far-too-long-for-a-link")
    with pytest.raises(WorldError):
        w.build()
    assert leftovers(w.name, [], [f"/etc/netns/{w.rtr_ns}"]) == []


SCRIPT = textwrap.dedent("""
    import time
    from tools.netns.world import World
    with World(handle_signals=True) as w:
        w.start_bind()
        print(w.name, w.named_pid, w.dir, flush=True)
        time.sleep(60)
""")


@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 128 + signal.SIGTERM),
                                         (signal.SIGINT, -signal.SIGINT)])
def test_a_script_torn_down_by_a_signal_cleans_up(sig, status):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True, cwd=root)  # `tests` from the checkout
    name, pid, directory = proc.stdout.readline().split()
    proc.send_signal(sig)
    assert proc.wait(10) == status
    assert leftovers(name, [int(pid)], [directory, f"/etc/netns/{name}-rtr"]) == []


def test_sweep_removes_what_dead_runs_left_and_spares_live_worlds(world):
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = f"ddnsedge-{dead.pid}-abcd"
    subprocess.run(["ip", "netns", "add", f"{stale}-rtr"], check=True)
    os.makedirs(f"/etc/netns/{stale}-rtr")
    stale_dir = os.path.join(os.path.dirname(world.dir), f"{stale}-x1y2z3")
    os.makedirs(stale_dir)
    assert stale in World.sweep()
    assert leftovers(stale, [], [f"/etc/netns/{stale}-rtr", stale_dir]) == []
    assert world.dig("ns1.example.com") == ["192.0.2.53"]
