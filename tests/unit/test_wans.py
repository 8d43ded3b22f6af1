"""Two WANs: the config's rules (errors at file:line), mwan3's answers, and which address(es)
a record publishes (wans.py), as tables."""

from __future__ import annotations

import ipaddress
import json

import pytest

from ddns_edge import config, plan, updatewire, wans
from ddns_edge.errors import ConfigError
from ddns_edge.model import Address, Addresses, Current, Device, Key
from ddns_edge.wans import Mwan3, Wan

PATH = "/etc/config/ddns-edge"
KEY = "config key 'home'\n\toption secret 'Wi28mLDG6l5YrDIg27zPh5tvG2jWR4GBt1Sq3WUUop8='\n"  # lines 1-2


def parse(*lines):
    text = KEY + "config record 'www'\n\toption name 'www.example.com'\n" + "".join(f"\t{line}\n" for line in lines)
    return config.parse(text, PATH)  # the record's lines start at 5


def test_two_wans_in_order_with_a_policy():
    r = parse("list interface 'wan'", "list interface 'wanb'", "option mwan3_policy 'wan_wanb'").records[0]
    assert (r.wans, r.wans_are, r.policy, r.mwan3_policy, r.device, r.interface) == (("wan", "wanb"), "interface", "failover", "wan_wanb", None, None)
    r = parse("list device 'wan0'", "list device 'wan1'", "list device 'lte0'", "option policy 'all'").records[0]
    assert (r.wans, r.wans_are, r.policy) == (("wan0", "wan1", "lte0"), "device", "all")


def test_one_wan_is_as_ever_as_option_or_list():
    assert parse("option device 'wan0'").records[0].device == "wan0"
    r = parse("list interface 'wan'").records[0]
    assert (r.interface, r.wans, r.policy) == ("wan", (), "failover")


REFUSED = [
    (("option device 'wan0'", "option policy 'all'"), 6, "option policy: needs two WANs or more"),
    (("list interface 'wan'", "option mwan3_policy 'p'"), 6, "option mwan3_policy: needs two WANs or more"),
    (("list interface 'wan'", "list interface 'wanb'", "list interface 'wan'"), 7, "interface 'wan' is named twice (first at line 5)"),
    (("list device 'wan0'", "list interface 'wanb'"), 6, "names its WANs both by device and by interface"),
    (("list device 'wan0'", "list device 'wan1'", "option source 'echo'"), 6, "names 2 WANs and option source 'echo'"),
    (("list device 'wan0'", "list device 'wan1'", "option mwan3_policy 'p'"), 7, "mwan3 ranks networks"),
    (("list interface 'wan'", "list interface 'wanb'", "option policy 'all'", "option mwan3_policy 'p'"), 8, "only with option policy 'failover'"),
    (("list interface 'wan'", "list interface 'wanb'", "option policy 'first'"), 7, "option policy: 'first' is not allowed; allowed: failover | all"),
    (("list interface 'wan'", "list interface 'wan-b'"), 6, "option interface: 'wan-b' is not an OpenWrt network name"),
    (("list device 'wan0'", "list device 'a/b'"), 6, "option device: 'a/b' is not a kernel interface name"),
    (("type 'AAAA'", "list device 'wan0'", "list device 'wan1'", "option host_id '::1'"), 8, "a host behind the router is on one device"),
]


@pytest.mark.parametrize("lines,line,message", REFUSED)
def test_check_refuses_what_cannot_work_at_its_line(lines, line, message):
    lines = tuple(f"option {x}" if x.startswith("type") else x for x in lines)
    with pytest.raises(ConfigError) as e:
        parse(*lines)
    assert (e.value.line, e.value.path) == (line, PATH)
    assert message in e.value.message


# ------------------------------------------------------------------ mwan3's answers

STATUS = {"interfaces": {"wan": {"status": "offline", "tracking": "active", "up": True, "online": 0, "offline": 12},
                         "wanb": {"status": "online", "tracking": "active", "up": True, "online": 300, "offline": 0},
                         "odd": {"status": 5}}}
POLICIES = {"policies": {"ipv4": {"wan_wanb": [{"interface": "wanb", "percent": 0}, {"interface": "wan", "percent": 100}],
                                  "balanced": [{"interface": "wan", "percent": 50}, {"interface": "wanb", "percent": 50}]},
                         "ipv6": {"wan_wanb": [{"interface": "wan6", "percent": 100}]}}}


def test_mwan3_status_is_read():
    assert wans.parse_interfaces(json.dumps(STATUS)) == {"wan": "offline", "wanb": "online"}
    assert wans.parse_interfaces("Command failed: Not found") is None
    assert wans.parse_interfaces("[]") is None
    assert wans.parse_policies(json.dumps(POLICIES)) == {("wan_wanb", 4): ("wan", "wanb"), ("balanced", 4): ("wan", "wanb"),
                                                         ("wan_wanb", 6): ("wan6",)}
    assert wans.parse_policies("{") == {}


# ------------------------------------------------------------------ which address

def dev(name, *texts, up=True):
    return Device(name, up, tuple(Address(ipaddress.ip_address(t), 24 if ":" not in t else 64) for t in texts))


WAN = Wan("wan", "wan0", dev("wan0", "198.51.100.2"), True)
WANB = Wan("wanb", "wan1", dev("wan1", "203.0.113.2"), True)
FAILOVER = parse("list interface 'wan'", "list interface 'wanb'").records[0]
ALL = parse("list interface 'wan'", "list interface 'wanb'", "option policy 'all'").records[0]
RANKED = parse("list interface 'wanb'", "list interface 'wan'", "option mwan3_policy 'wan_wanb'").records[0]
M_BOTH = Mwan3({"wan": "online", "wanb": "online"})
M_B = Mwan3({"wan": "offline", "wanb": "online"})
M_NONE = Mwan3({"wan": "offline", "wanb": "disconnecting"})

TABLE = [
    # record, wans, mwan3, address, origin
    (FAILOVER, (WAN, WANB), None, "198.51.100.2", "network wan (failover, first)"),
    (FAILOVER, (WAN, WANB), M_BOTH, "198.51.100.2", "network wan (failover, first)"),
    (FAILOVER, (WAN, WANB), M_B, "203.0.113.2", "network wanb (failover, backup)"),  # the link stays up: mwan3 decides
    (FAILOVER, (WAN, WANB), M_NONE, None, "failover of wan, wanb"),
    (FAILOVER, (Wan("wan", "wan0", dev("wan0", "198.51.100.2"), False), WANB), None, "203.0.113.2", "network wanb (failover, backup)"),
    (FAILOVER, (Wan("wan", "wan0", dev("wan0", "198.51.100.2", up=False), True), WANB), None, "203.0.113.2", "network wanb (failover, backup)"),
    (FAILOVER, (Wan("wan", None, None), WANB), None, "203.0.113.2", "network wanb (failover, backup)"),
    (FAILOVER, (Wan("wan", "wan0", dev("wan0", "10.0.0.2"), True), WANB), M_BOTH, "203.0.113.2", "network wanb (failover, backup)"),
    (ALL, (WAN, WANB), None, "198.51.100.2, 203.0.113.2", "all online WANs (wan, wanb)"),
    (ALL, (WAN, WANB), M_B, "203.0.113.2", "all online WANs (wanb)"),
    (ALL, (WAN, WANB), M_NONE, None, "all of wan, wanb"),
    (RANKED, (WANB, WAN), Mwan3({"wan": "online", "wanb": "online"}, {("wan_wanb", 4): ("wan", "wanb")}), "198.51.100.2", "network wan (failover, first)"),
    (RANKED, (WANB, WAN), Mwan3({"wan": "online", "wanb": "online"}), "203.0.113.2", "network wanb (failover, first)"),  # no ranking: as given
    (RANKED, (WANB, WAN), None, "203.0.113.2", "network wanb (failover, first)"),
]


@pytest.mark.parametrize("record,given,mwan3,address,origin", TABLE)
def test_which_address_is_published(record, given, mwan3, address, origin):
    found = wans.detect_wans(record, given, mwan3)
    assert (None if found.address is None else str(found.address), found.origin) == (address, origin), found


def test_why_is_said_per_wan():
    found = wans.detect_wans(FAILOVER, (WAN, WANB), M_B)
    assert found.reason == "wan (wan0) offline (mwan3: offline); wanb (wan1) online (mwan3: online)"
    found = wans.detect_wans(FAILOVER, (Wan("wan", "wan0", dev("wan0", "198.51.100.2"), False), WANB), None)
    assert found.reason.startswith("wan (wan0) offline (no IPv4 default route via wan0); wanb (wan1) online (address and default route)")
    assert str(wans.detect_wans(ALL, (WAN, WANB), M_NONE)).startswith("no address (all of wan, wanb: no WAN online: wan (wan0) offline")


def test_a_backup_address_change_changes_only_all():
    moved = Wan("wanb", "wan1", dev("wan1", "203.0.113.77"), True)
    assert wans.detect_wans(FAILOVER, (WAN, moved), M_BOTH).address == wans.detect_wans(FAILOVER, (WAN, WANB), M_BOTH).address
    assert str(wans.detect_wans(ALL, (WAN, moved), M_BOTH).address) == "198.51.100.2, 203.0.113.77"


# ------------------------------------------------------------------ one RRset, one swap

def test_several_addresses_are_one_rrset_in_one_swap():
    ip = ipaddress.ip_address
    held = Current(frozenset({ip("198.51.100.2")}), 60)
    both = Addresses({ip("203.0.113.2"), ip("198.51.100.2")})
    assert plan.is_right(Current(frozenset({ip("203.0.113.2"), ip("198.51.100.2")}), 60), both, 60)
    assert not plan.is_right(held, both, 60)
    change = plan.needs_change("www.example.com", "A", 60, held, both)
    key = Key("home", "home", "hmac-sha256", b"k" * 32, "x:1")
    wire, _ = updatewire.encode(1, "example.com", [change], key, 10, 1_700_000_000)
    header = wire[:12]
    assert int.from_bytes(header[6:8], "big") == 1  # the prerequisite: exactly the RRset held
    assert int.from_bytes(header[8:10], "big") == 3  # delete the RRset, add both addresses
    assert updatewire.change_size(change) == len(wire) - updatewire.overhead("example.com", key) - 0  # sized as written
    assert str(both) == "198.51.100.2, 203.0.113.2"  # the text of several: sorted, so that the same set is the same text
    assert str(Addresses({ip("2001:db8::1"), ip("203.0.113.2"), ip("198.51.100.10"), ip("198.51.100.9")})) == \
        "198.51.100.9, 198.51.100.10, 203.0.113.2, 2001:db8::1"  # by family, then value
