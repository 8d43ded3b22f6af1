"""The pure parts of the LAN world (tools/netns/lan.py, lan_hook.py) and its bench phase
(tools/bench/lan.py): no namespace, no root."""

from tools.netns import lan_hook
from tools.netns.lan import eui64, interface_id, pool
from tools.bench import lan as bench_lan


def test_eui64_flips_the_universal_local_bit_and_inserts_fffe():
    assert eui64("aa:bb:cc:dd:ee:ff", "2001:db8:8000::/64") == "2001:db8:8000:0:a8bb:ccff:fedd:eeff"
    assert eui64("02:dd:ed:00:20:01", "fd5e:dd9e:14::/64") == "fd5e:dd9e:14:0:dd:edff:fe00:2001"
    assert interface_id("2001:db8:8000:0:a8bb:ccff:fedd:eeff") == "::a8bb:ccff:fedd:eeff"


def test_each_generation_has_its_own_pool():
    assert [str(pool(g)) for g in range(3)] == ["2001:db8:8000::/48", "2001:db8:8001::/48", "2001:db8:8002::/48"]


def test_the_hook_reads_dhcpcds_lease_and_drops_what_the_server_took_back():
    env = {  # dhcpcd's environment for RENEW6 after Kea moved the pool
        "new_dhcp6_ia_pd1_prefix1": "2001:db8:8001::", "new_dhcp6_ia_pd1_prefix1_length": "56",
        "new_dhcp6_ia_pd1_prefix1_pltime": "3600", "new_dhcp6_ia_pd1_prefix1_vltime": "7200",
        "new_dhcp6_ia_pd1_prefix2": "2001:db8:8000::", "new_dhcp6_ia_pd1_prefix2_length": "56",
        "new_dhcp6_ia_pd1_prefix2_pltime": "0", "new_dhcp6_ia_pd1_prefix2_vltime": "0",
        "old_dhcp6_ia_pd1_prefix1": "2001:db8:8000::",
    }
    assert lan_hook.lease_prefixes(env) == {"2001:db8:8001::/56": (3600, 7200)}
    assert str(lan_hook.first_64("2001:db8:8001::/56")) == "2001:db8:8001::/64"
    assert lan_hook.lease_prefixes({}) == {}


def test_radvd_conf_counts_down_only_what_is_preferred(tmp_path):
    path = tmp_path / "radvd.conf"
    lan_hook.write_radvd_conf(str(path), "br-lan", [("2001:db8:8001::/64", 3600, 7200), ("2001:db8:8000::/64", 0, 7100),
                                                    ("fd5e:dd9e:14::/64", lan_hook.FOREVER, lan_hook.FOREVER)])
    lines = path.read_text().splitlines()
    assert lines[0] == "interface br-lan {" and lines[-1] == "};"
    new, old, ula = (line for line in lines if "prefix" in line)
    assert "AdvPreferredLifetime 3600; AdvValidLifetime 7200; DecrementLifetimes on;" in new
    assert "AdvPreferredLifetime 0; AdvValidLifetime 7100; };" in old
    assert "AdvPreferredLifetime infinity; AdvValidLifetime infinity; };" in ula


def test_the_lan_phase_says_not_supported_yet_or_gives_its_figures():
    assert bench_lan.render_lan(None) == []
    assert bench_lan.render_lan({"supported": False, "reason": "unknown option 'host_id'"}) == [
        "LAN host records (issue 14): not supported yet: unknown option 'host_id'"]
    figures = {"supported": True, "records": 20, "renumberings": 10, "startup": 0.3, "reads_per_renumbering": 0,
               "latency": {"p50": 0.008, "max": 0.015}, "latency_from_usable": {"p50": -1.1},
               "updates_per_renumbering": [1] * 10, "updates_max": 1, "published_wrong": [], "published_wrong_count": 0}
    text = "\n".join(bench_lan.render_lan(figures))
    assert "8.0 ms / 15.0 ms" in text and "[1, 1, 1, 1, 1, 1, 1, 1, 1, 1]" in text and "passed DAD: -1.10 s" in text
    assert "wrong addresses published (BIND's journal): 0 (target 0)" in text
    assert [row["met"] for row in bench_lan.lan_targets({"lan": figures})] == [True, True, True]
    worse = {**figures, "updates_max": 20, "published_wrong": ["fd5e:dd9e:14::1"], "published_wrong_count": 1}
    assert [row["met"] for row in bench_lan.lan_targets({"lan": worse})] == [True, False, False]
    assert "1 (target 0): fd5e:dd9e:14::1" in "\n".join(bench_lan.render_lan(worse))
