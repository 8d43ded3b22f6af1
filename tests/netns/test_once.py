"""`ddns-edge once` and `check` against a real BIND, run in the router namespace as a user would."""

from __future__ import annotations

import re

from tools.netns.agentlib import ddns_edge, record, write_config
from tools.netns.world import Zone


def test_sets_a_and_aaaa_then_a_rerun_sends_nothing(world, tmp_path):
    where = dict(zone="example.com", server="192.0.2.53")
    conf = write_config(tmp_path / "ddns-edge", world, record("www4", rtype="A", **where), record("www6", rtype="AAAA", **where))
    p = ddns_edge(world, conf, "once")
    assert p.returncode == 0, p.stderr
    assert world.dig("www.example.com", "A") == ["198.51.100.2"]
    assert world.dig("www.example.com", "AAAA") == ["2001:db8:1::2"]
    assert "www.example.com A: now 198.51.100.2 (was nothing)" in p.stderr
    serial = world.serial()
    assert serial == 2  # both records of the zone in one UPDATE
    packets = world.dns_packets()
    p = ddns_edge(world, conf, "once")
    assert p.returncode == 0, p.stderr
    assert "already 198.51.100.2" in p.stderr and "already 2001:db8:1::2" in p.stderr
    assert world.serial() == serial  # a no-op rerun leaves the zone alone
    assert world.dns_packets() - packets == 2  # two signed reads, no UPDATE


def test_zone_and_primary_are_found_through_the_system_resolver(world, tmp_path):
    # no option zone/server: SOA via /etc/resolv.conf (the world's BIND), primary = SOA MNAME
    conf = write_config(tmp_path / "c", world, record("www", name="deep.sub.example.com"))
    p = ddns_edge(world, conf, "once")
    assert p.returncode == 0, p.stderr
    assert world.dig("deep.sub.example.com", "A") == ["198.51.100.2"]
    # and records found in the zone by discovery share one UPDATE with those configured by hand
    conf = write_config(tmp_path / "c2", world, record("a", name="a.example.com"), record("b", name="b.example.com", zone="example.com", server="192.0.2.53"))
    serial = world.serial()
    assert ddns_edge(world, conf, "once").returncode == 0
    assert world.serial() == serial + 1


def test_the_record_is_swapped_from_what_the_server_holds(world, tmp_path):
    world.nsupdate(["update add www.example.com 300 A 203.0.113.7", "update add www.example.com 300 A 203.0.113.8"])
    conf = write_config(tmp_path / "c", world, record("www", ttl="120"))
    p = ddns_edge(world, conf, "once")
    assert p.returncode == 0, p.stderr
    assert "now 198.51.100.2 (was 203.0.113.7, 203.0.113.8)" in p.stderr
    assert world.dig("www.example.com", "A") == ["198.51.100.2"]
    ttl = world.ns_exec(world.srv_ns, ["dig", "+norec", "+noall", "+answer", "@192.0.2.53", "www.example.com", "A"]).stdout.split()[1]
    assert ttl == "120"


def test_a_ttl_change_alone_is_an_update(world, tmp_path):
    world.nsupdate("update add www.example.com 300 A 198.51.100.2")
    conf = write_config(tmp_path / "c", world, record("www", ttl="60"))
    serial = world.serial()
    p = ddns_edge(world, conf, "once")
    assert p.returncode == 0, p.stderr
    assert world.serial() == serial + 1
    assert "www.example.com A: TTL now 60 (was 300); the address 198.51.100.2 is unchanged" in p.stderr, p.stderr


def test_a_key_file_written_by_tsig_keygen_works(world, tmp_path):
    conf = write_config(tmp_path / "c", world, record("www"), key_file=world.key_file_path)
    p = ddns_edge(world, conf, "once")
    assert p.returncode == 0, p.stderr
    assert world.dig("www.example.com", "A") == ["198.51.100.2"]


UNPROVEN = "(said in an answer that is unsigned, so unproven: anyone on the path could send one)"


def test_a_wrong_secret_exits_1_naming_the_key_and_not_the_secret(world, tmp_path):
    """BIND's BADSIG comes unsigned (it cannot sign with a key it does not share): told
    after a short grace, with no resend, and said as unproven. It used to be waited past
    until the exchange's deadline (5 s, and two resends: three packets)."""
    wrong = "A" * 43 + "="
    conf = write_config(tmp_path / "c", world, record("www", zone="example.com", server=world.bind_addr4), secret=wrong)
    p = ddns_edge(world, conf, "once")
    assert p.returncode == 1
    assert f"www.example.com A: read at 192.0.2.53 with key ddns-key: signature rejected (BADSIG); the secret differs from the server's for key ddns-key {UNPROVEN}" in p.stderr, p.stderr
    assert world.dns_packets() == 1  # the read; no resend
    assert wrong not in p.stderr + p.stdout and world.key_secret not in p.stderr + p.stdout
    assert "Traceback" not in p.stderr
    assert world.dig("www.example.com", "A") == []


def test_an_unknown_key_name_is_badkey(world, tmp_path):
    conf = write_config(tmp_path / "c", world, record("www", zone="example.com", server=world.bind_addr4))
    text = open(conf).read().replace(f"option name '{world.key_name}'", "option name 'other-key'")
    open(conf, "w").write(text)
    p = ddns_edge(world, conf, "once")
    assert p.returncode == 1
    assert f"with key other-key: the server does not know this key (BADKEY); check that key name other-key and algorithm hmac-sha256 match the server's key clause {UNPROVEN}" in p.stderr, p.stderr
    assert world.dns_packets() == 1


def test_a_name_the_policy_refuses_exits_1_with_refused(make_world, tmp_path):
    world = make_world(zones=[Zone("example.com", policy=["grant {key} name www.example.com A"])])
    conf = write_config(tmp_path / "c", world, record("www"), record("mail", name="mail.example.com", zone="example.com", server="192.0.2.53"))
    p = ddns_edge(world, conf, "once")
    assert p.returncode == 1
    assert re.search(r"^error: mail\.example\.com A: update at .*192\.0\.2\.53.* with key ddns-key: refused \(REFUSED\); check that the zone's update-policy", p.stderr, re.M), p.stderr
    assert world.dig("mail.example.com", "A") == []
    # the name the policy allows still lands, although both share the zone
    assert world.dig("www.example.com", "A") == ["198.51.100.2"]
    assert "www.example.com A: now 198.51.100.2" in p.stderr


def test_a_stopped_server_is_one_clear_line_and_exit_1(world, tmp_path):
    conf = write_config(tmp_path / "c", world, record("www", zone="example.com", server="192.0.2.53"))
    world.stop_bind()
    p = ddns_edge(world, conf, "once")
    assert p.returncode == 1
    lines = [line for line in p.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "read at 192.0.2.53 with key ddns-key" in lines[0], p.stderr
    assert "Traceback" not in p.stderr


def test_a_zone_the_server_does_not_serve_is_notauth(world, tmp_path):
    conf = write_config(tmp_path / "c", world, record("www", name="www.example.org", zone="example.org", server="192.0.2.53"))
    p = ddns_edge(world, conf, "once")
    assert p.returncode == 1
    assert "example.org" in p.stderr and ("NOTAUTH" in p.stderr or "REFUSED" in p.stderr), p.stderr


def test_a_bad_option_exits_2_at_its_file_and_line(world, tmp_path):
    conf = write_config(tmp_path / "c", world, record("www", ttl="soon"))
    p = ddns_edge(world, conf, "once")
    assert p.returncode == 2
    lineno = open(conf).read().splitlines().index("\toption ttl 'soon'") + 1
    assert p.stderr.startswith(f"ddns-edge: {conf}:{lineno}: option ttl"), p.stderr
    assert len(p.stderr.splitlines()) == 1


def test_check_online_proves_the_key_and_names_a_bad_one(world, tmp_path):
    conf = write_config(tmp_path / "c", world, record("www"))
    p = ddns_edge(world, conf, "check", "--online")
    assert p.returncode == 0, p.stderr
    assert "key ddns-key: accepted by ns1.example.com (192.0.2.53) for zone example.com (serial 1)" in p.stdout
    bad = write_config(tmp_path / "bad", world, record("www"), secret="B" * 43 + "=")
    p = ddns_edge(world, bad, "check", "--online")
    assert p.returncode == 1 and "BADSIG" in p.stderr


def detected(world, tmp_path) -> list[str]:
    """What `detect` prints for an A and an AAAA record on the WAN."""
    conf = write_config(tmp_path / "c", world, record("www4"), record("www6", rtype="AAAA"))
    p = ddns_edge(world, conf, "detect")
    assert p.returncode == 0, p.stderr
    return p.stdout.splitlines()


ON_WAN = "(interface wan0: public address on the interface)"


def test_detect_says_where_each_address_comes_from(world, tmp_path):
    world.add_addr("fd00::2/64", nodad=True)
    world.add_addr("2001:db8:1::99/64", deprecated=True, nodad=True)
    assert detected(world, tmp_path) == [f"www.example.com A 198.51.100.2 {ON_WAN}", f"www.example.com AAAA 2001:db8:1::2 {ON_WAN}"]


def test_an_address_with_a_peer_is_published_and_never_the_peer(world, tmp_path):
    """For IPv6 as for IPv4 the kernel gives the address as IFA_LOCAL and the peer as
    IFA_ADDRESS; IPv6 used to read IFA_ADDRESS, and published the peer."""
    world.del_addr("2001:db8:1::2/64")
    world.add_addr("2001:db8:2::2/128", nodad=True, peer="2001:db8:2::99/128")
    world.add_addr("198.51.100.7/32", peer="198.51.100.99/32")
    world.del_addr("198.51.100.2/24")
    assert detected(world, tmp_path) == [f"www.example.com A 198.51.100.7 {ON_WAN}", f"www.example.com AAAA 2001:db8:2::2 {ON_WAN}"]


CNAME_ZONE = Zone("example.com", records=["www 300 IN CNAME elsewhere.example.net.", "*.wild 300 IN CNAME ns1.example.com."])
CNAME_LINE = ("www.example.com A: update at 192.0.2.53 with key ddns-key: the name is a CNAME (to elsewhere.example.net) at the "
              "server, which keeps nothing else beside it and ignored the A record; remove the CNAME from zone example.com, or "
              "give the record a name of its own")


def test_a_name_that_is_a_cname_at_the_server_is_one_clear_error(make_world, tmp_path):
    """BIND ignores an add beside a CNAME ("attempt to add non-CNAME alongside CNAME
    ignored") and answers NOERROR: `once` used to say "now 198.51.100.2 (was nothing)" and
    exit 0. The read after the UPDATE shows the add did not happen. A wildcard's CNAME is
    no obstacle: the add makes the name exist, and the wildcard no longer answers for it."""
    world = make_world(zones=[CNAME_ZONE])
    conf = write_config(tmp_path / "c", world, record("www", zone="example.com", server=world.bind_addr4),
                        record("wild", name="x.wild.example.com", zone="example.com", server=world.bind_addr4))
    p = ddns_edge(world, conf, "once")
    assert p.returncode == 1, p.stderr
    assert sorted(p.stderr.splitlines()) == [f"error: {CNAME_LINE}", "notice: x.wild.example.com A: now 198.51.100.2 (was nothing)"]
    assert world.dig("x.wild.example.com", "A") == ["198.51.100.2"]
    assert "attempt to add non-CNAME alongside CNAME ignored" in world.named_log()


def test_a_private_only_address_is_never_published(world, tmp_path):
    world.set_wan("100.64.0.2/10")
    conf = write_config(tmp_path / "c", world, record("www"))
    p = ddns_edge(world, conf, "once")
    assert p.returncode == 1
    assert "only a private address (100.64.0.2)" in p.stderr
    assert world.dig("www.example.com", "A") == []
