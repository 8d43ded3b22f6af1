"""sync.py: records grouped into one sync_zone per zone, server and key; what landed said; outcomes
(the failures are the caller's to say: schedule.py for `run`, cli.py for `once`).

dnsupdate's discovery and sync_zone are handed in (their own tests, and the netns tests,
run them against real servers); here they are recording stand-ins."""

import ipaddress
import logging

import pytest

from ddns_edge import config, dnsupdate
from ddns_edge.errors import UpdateError
from ddns_edge.model import Addresses, Current, Outcome, Wanted
from ddns_edge.sync import Targets, sync

ip = ipaddress.ip_address  # addresses are values, from the kernel to the wire


def one(address):
    """A record's one address, as it travels (model.Addresses)."""
    return Addresses.of(ipaddress.ip_address(address))

S256 = "Wi28mLDG6l5YrDIg27zPh5tvG2jWR4GBt1Sq3WUUop8="
TEXT = (
    f"config key 'home'\n\toption secret '{S256}'\n"
    f"config key 'other'\n\toption name 'other-key'\n\toption secret '{S256}'\n"
    "config record 'www'\n\toption name 'www.example.com'\n\toption device 'wan0'\n\toption key 'home'\n"
    "config record 'mail'\n\toption name 'mail.example.com'\n\toption device 'wan0'\n\toption key 'home'\n"
    "config record 'ftp'\n\toption name 'ftp.example.com'\n\toption device 'wan0'\n\toption key 'other'\n"
    "config record 'net'\n\toption name 'www.example.net'\n\toption device 'wan0'\n\toption key 'home'\n"
)
CFG = config.parse(TEXT, "/etc/config/ddns-edge")
WWW, MAIL, FTP, NET = CFG.records


class Server:
    """Records each sync_zone call; answers from `results` (name -> Outcome fields)."""

    def __init__(self, **results):
        self.calls = []
        self.timeouts = []
        self.results = results

    def __call__(self, target, key, wants, timeout, clock=None):
        self.calls.append((target.zone, key.name, [r.name for r, _ in wants]))
        self.timeouts.append(timeout)
        return [Outcome(w.address, server=str(target), **self.results.get(r.name, {"changed": True, "old": Current(frozenset({ip("192.0.2.9")}), 60)}))
                for r, w in wants]


def discover(found):
    def run(record, resolver):
        found.append(record.name)
        zone = record.name.split(".", 1)[1]
        return dnsupdate.Target(zone, "192.0.2.53")
    return run


def test_one_call_per_zone_server_and_key(oplog):
    found, server = [], Server()
    out = sync(CFG, {r: Wanted(one("198.51.100.2")) for r in CFG.records}, Targets(discover(found)), server)
    assert sorted(server.calls) == [
        ("example.com", "home", ["www.example.com", "mail.example.com"]),
        ("example.com", "other-key", ["ftp.example.com"]),
        ("example.net", "home", ["www.example.net"]),
    ]
    assert all(o == Outcome(one("198.51.100.2"), True, Current(frozenset({ip("192.0.2.9")}), 60), server="192.0.2.53") for o in out.values())
    assert "www.example.com A: now 198.51.100.2 (was 192.0.2.9)" in oplog.text


def test_a_ttl_only_correction_is_said_as_a_ttl_change(oplog):
    """It used to read "now 198.51.100.2 (was 198.51.100.2)"."""
    server = Server(**{"www.example.com": {"changed": True, "old": Current(frozenset({ip("198.51.100.2")}), 300)}})
    out = sync(CFG, {WWW: Wanted(one("198.51.100.2"))}, Targets(discover([])), server)
    assert out[WWW].ok and out[WWW].changed
    assert "www.example.com A: TTL now 60 (was 300); the address 198.51.100.2 is unchanged" in oplog.text
    assert "(was 198.51.100.2)" not in oplog.text


def test_the_timeout_goes_down_to_each_exchange():
    server = Server()
    sync(CFG, {WWW: Wanted(one("198.51.100.2"))}, Targets(discover([])), server)
    sync(CFG, {WWW: Wanted(one("198.51.100.2"))}, Targets(discover([])), server, timeout=lambda records: 20.0)
    assert server.timeouts == [dnsupdate.TIMEOUT, 20.0]


def test_already_right_is_said_and_sends_nothing_more(oplog):
    server = Server(**{"www.example.com": {"changed": False, "old": Current(frozenset({ip("198.51.100.2")}), 60)}})
    out = sync(CFG, {WWW: Wanted(one("198.51.100.2"))}, Targets(discover([])), server)
    assert out[WWW].ok and not out[WWW].changed
    assert "www.example.com A: already 198.51.100.2 at the server; nothing sent" in oplog.text


@pytest.mark.parametrize("unanswered", [True, False])
def test_the_retry_of_an_unanswered_update_finding_it_landed_is_the_change_it_was(oplog, unanswered):
    """Issue 24: the retry after a timeout is the same swap; when the first copy landed after
    all (its answer lost, or queued at a slow primary), the retry finds the record at its
    address: that is the change, said as one (and its hook run), not "already"."""
    server = Server(**{"www.example.com": {"changed": False, "old": Current(frozenset({ip("198.51.100.2")}), 60), "sent": True}})
    was = Current(frozenset({ip("198.51.100.9")}), 60)
    out = sync(CFG, {WWW: Wanted(one("198.51.100.2"), was, unanswered)}, Targets(discover([])), server)
    assert out[WWW].ok and out[WWW].changed == unanswered
    assert out[WWW].old == (was if unanswered else Current(frozenset({ip("198.51.100.2")}), 60))
    said = "www.example.com A: now 198.51.100.2 (was 198.51.100.9)" if unanswered else "already 198.51.100.2 at the server"
    assert said in oplog.text


def test_a_failure_is_returned_and_not_said_and_the_target_is_kept(oplog):
    found = []
    targets = Targets(discover(found))
    server = Server(**{"www.example.com": {"error": "www.example.com A: update: no answer within 5 s", "sent": True, "window": 12.0}})
    out = sync(CFG, {WWW: Wanted(one("198.51.100.2"))}, targets, server)
    assert out[WWW] == Outcome(one("198.51.100.2"), error="www.example.com A: update: no answer within 5 s", sent=True, window=12.0,
                               server="192.0.2.53", unanswered=True)  # a timeout: a warning for 30 s (issue 24)
    assert oplog.records == []  # the schedule says it (once, then "still failing"), or `once` does
    sync(CFG, {WWW: Wanted(one("198.51.100.2"))}, targets, server)
    assert found == ["www.example.com"]  # found once: whether to find it afresh is the schedule's to say
    targets.forget(WWW)
    sync(CFG, {WWW: Wanted(one("198.51.100.2"))}, targets, server)
    assert found == ["www.example.com", "www.example.com"]


def test_a_record_whose_target_cannot_be_found_fails_alone(oplog):
    def discover_some(record, resolver):
        if record.name == "mail.example.com":
            raise UpdateError("mail.example.com A: cannot find its zone")
        return dnsupdate.Target("example.com", "192.0.2.53")

    server = Server()
    out = sync(CFG, {WWW: Wanted(one("198.51.100.2")), MAIL: Wanted(one("198.51.100.2"))}, Targets(discover_some), server)
    assert out[MAIL] == Outcome(one("198.51.100.2"), error="mail.example.com A: cannot find its zone") and out[WWW].ok
    assert server.calls == [("example.com", "home", ["www.example.com"])]
    assert "cannot find its zone" not in oplog.text  # the caller's to say


@pytest.mark.parametrize("options, looks_up", [
    ("", True),
    ("\toption zone 'example.com'\n\toption server '192.0.2.53'\n", False),
    ("\toption zone 'example.com'\n\toption server 'ns1.example.com'\n", True),  # the server's name
])
def test_a_resolver_only_when_something_must_be_looked_up(options, looks_up):
    cfg = config.parse(f"config key 'home'\n\toption secret '{S256}'\nconfig record 'r'\n\toption name 'www.example.com'\n"
                       f"\toption device 'wan0'\n{options}", "/c")
    given = []
    targets = Targets(lambda record, resolver: given.append(resolver) or dnsupdate.Target("example.com", "192.0.2.53"))
    try:
        targets(cfg.records[0])
    except UpdateError as e:  # a machine without /etc/resolv.conf: said as such, and only when one is needed
        assert looks_up and "no resolver in /etc/resolv.conf" in str(e)
        return
    assert (given[0] is not None) is looks_up
    targets(cfg.records[0])
    assert len(given) == 1  # found once


def test_a_zone_that_fails_in_a_way_no_one_foresaw_fails_alone(oplog):
    """An exception out of one zone's sync (80 records over 65,535 bytes gave OverflowError)
    used to end the whole round: a traceback for `once`, every zone failing at every retry
    for `run`. Now it is that zone's failure, and the others land."""
    server = Server()

    def sync_zone(target, key, wants, timeout, clock=None):
        if target.zone == "example.net":
            raise OverflowError("int too big to convert")
        return server(target, key, wants, timeout, clock)

    out = sync(CFG, {r: Wanted(one("198.51.100.2")) for r in CFG.records}, Targets(discover([])), sync_zone)
    assert out[NET].error == ("zone example.net at 192.0.2.53: unexpected error (OverflowError: int too big to convert); "
                              "this is a bug, please report it")
    assert all(out[r].ok and out[r].changed for r in (WWW, MAIL, FTP))
    assert [r.levelno for r in oplog.records if "example.net" in r.getMessage()] == [logging.DEBUG]  # with the traceback
    assert out[NET].error not in oplog.text  # the caller says it, once (the schedule, or `once`)


def test_each_zone_has_its_own_timeout_and_those_not_failing_go_first():
    """One thread, one zone after the other: a zone being retried (its timeout grown with its
    failures) must not hold up, or lend its long timeout to, a zone that is not."""
    server = Server()
    failing = {"www.example.net"}
    sync(CFG, {r: Wanted(one("198.51.100.2")) for r in CFG.records}, Targets(discover([])), server,
         timeout=lambda records: 20.0 if any(r.name in failing for r in records) else 5.0)
    assert [zone for zone, _, _ in server.calls] == ["example.com", "example.com", "example.net"]
    assert server.timeouts == [5.0, 5.0, 20.0]
