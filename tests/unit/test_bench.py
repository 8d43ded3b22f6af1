"""The benchmark's pure helpers (tools/bench/report.py): percentiles, phases, the poller's wire check,
BIND log parsing, targets and the table. No namespace, no root."""

import ipaddress
import random
import socket
import struct

import dns.message
import dns.rrset
import pytest

from tools.bench import report as bench


@pytest.mark.parametrize(
    "values, q, want",
    [
        ([5], 50, 5),
        ([5], 99, 5),
        ([1, 2, 3, 4], 50, 2),  # nearest rank: ceil(0.5 * 4) = 2nd
        ([1, 2, 3, 4], 75, 3),
        ([1, 2, 3, 4], 100, 4),
        (list(range(1, 101)), 95, 95),
        (list(range(1, 101)), 99, 99),
        (list(range(1, 201)), 99, 198),
        ([3, 1, 2], 50, 2),  # order does not matter
    ],
)
def test_percentile_is_nearest_rank(values, q, want):
    assert bench.percentile(values, q) == want


@pytest.mark.parametrize("values, q", [([], 50), ([1], 0), ([1], 101)])
def test_percentile_refuses(values, q):
    with pytest.raises(ValueError):
        bench.percentile(values, q)


def test_summarize():
    s = bench.summarize([0.004, 0.002, 0.003, 0.010])
    assert s == {"n": 4, "min": 0.002, "p50": 0.003, "p95": 0.010, "p99": 0.010, "max": 0.010, "mean": pytest.approx(0.00475)}


@pytest.mark.parametrize("n", [1, 2, 4, 7])
def test_stratified_phases_one_in_each_stratum(n):
    phases = bench.stratified_phases(n, 60, random.Random(1))
    assert len(phases) == n
    width = 59 / n
    assert sorted(int((p - 0.5) // width) for p in phases) == list(range(n))
    assert all(0.5 <= p < 59.5 for p in phases)


def test_wan_addresses_never_repeat_back_to_back():
    seq = [bench.wan_address(i) for i in range(1000)]
    assert all(a != b for a, b in zip(seq, seq[1:], strict=False))
    assert all(a.startswith("203.0.113.") and a != "203.0.113.0" for a in seq)


def _response(name, rtype, addresses, extra_ns=True):
    query = dns.message.make_query(name, rtype)
    answer = dns.message.make_response(query)
    if addresses:
        answer.answer.append(dns.rrset.from_text(name, 60, "IN", rtype, *addresses))
    if extra_ns:  # what BIND adds: authority and glue, which the check must skip
        answer.authority.append(dns.rrset.from_text("example.com.", 300, "IN", "NS", "ns1.example.com."))
        answer.additional.append(dns.rrset.from_text("ns1.example.com.", 300, "IN", "A", "192.0.2.53"))
    return answer.to_wire()


@pytest.mark.parametrize(
    "rtype, addresses",
    [
        ("A", ["203.0.113.7"]),
        ("A", ["203.0.113.7", "198.51.100.2"]),
        ("A", []),
        ("AAAA", ["2001:db8::7"]),
    ],
)
def test_answer_addresses_reads_the_answer_section_only(rtype, addresses):
    wire = _response("www.example.com.", rtype, addresses)
    assert bench.answer_addresses(wire, 28 if rtype == "AAAA" else 1) == frozenset(addresses)


def test_answer_addresses_refuses_errors_and_short_wire():
    query = dns.message.make_query("www.example.com.", "A")
    nx = dns.message.make_response(query)
    nx.set_rcode(dns.rcode.NXDOMAIN)
    assert bench.answer_addresses(nx.to_wire()) is None
    assert bench.answer_addresses(query.to_wire()) is None  # not a response
    wire = _response("www.example.com.", "A", ["203.0.113.7"], extra_ns=False)
    assert bench.answer_addresses(wire[:-2]) is None
    assert bench.answer_addresses(b"\x00") is None


def test_delta():
    assert bench.delta({"a": 1, "b": 5}, {"a": 4, "b": 5, "c": 2}) == {"a": 3, "b": 0, "c": 2}


@pytest.mark.parametrize(
    "seconds, text",
    [(None, "-"), (0.0000004, "0 µs"), (0.0042, "4.2 ms"), (0.25, "250.0 ms"), (31.234, "31.23 s"), (120, "120 s")],
)
def test_fmt_seconds(seconds, text):
    assert bench.fmt_seconds(seconds) == text


@pytest.mark.parametrize(
    "theirs, ours, text",
    [(30.0, 0.008, "3,750×"), (2.0, 1.0, "2.0×"), (None, 1.0, "-"), (0, 0, "-"), (1.0, 0, "∞")],
)
def test_fmt_ratio(theirs, ours, text):
    assert bench.fmt_ratio(theirs, ours) == text


def _edge(**over):
    edge = {
        "latency": {"p50": 0.003, "p99": 0.008},
        "agent_time": {"p50": 0.0008, "p99": 0.002},
        "startup": {"discovery": {"p50": 0.4}},
        "memory": {"rss_end_mb": 41.0, "growth_mb": 0.3},
        "idle": {"packets_per_min": 0, "cpu_s_per_min": 0.0},
        "cost": {"max_messages_one_change": 1},
        "check": {"reads": 1, "after_s": 12.1},
        "replay": {"late copy": {"wrong_s": 11.0, "reads": 1, "updates": 1}, "replay": {"wrong_s": 9.5, "reads": 1, "updates": 1},
                   "wrong_s_max": 11.0},
        "noop": {"packets": 0},
        "scale": {"updates_per_change_max": 1},
    }
    edge.update(over)
    return edge


def test_check_targets():
    rows = {r["what"]: r for r in bench.check_targets(_edge())}
    assert len(rows) == len(bench.TARGETS)
    assert rows["latency p50"]["met"] is True
    assert rows["RSS after 1,000 changes"]["met"] is False
    assert rows["RSS growth"]["met"] is True
    assert rows["idle CPU / min"]["met"] is True
    assert rows["agent time p50"]["met"] is True and rows["replay: record wrong for"]["met"] is True
    assert rows["messages per change"]["met"] is True
    assert {r["what"]: r for r in bench.check_targets(_edge(cost={"max_messages_one_change": 2}))}["messages per change"]["met"] is False


def test_check_targets_edges_and_missing():
    rows = {r["what"]: r for r in bench.check_targets(_edge(memory={"rss_end_mb": 40, "growth_mb": 1}, latency={}))}
    assert rows["RSS after 1,000 changes"]["met"] is True  # <= 40
    assert rows["RSS growth"]["met"] is False  # < 1, strictly
    assert rows["latency p50"]["met"] is None  # not measured


def test_render_table_marks_misses_and_ddclient():
    results = {
        "command": "tools/bench.py",
        "machine": {"date": "2026-11-25 07:00 UTC", "cpu": "Some CPU", "cpus": 2, "kernel": "6.1", "python": "3.11.7", "bind": "BIND 9.18"},
        "ddns_edge": _edge(),
        "ddclient": {"version": "3.10.0-2", "interval": 60, "latency": {"n": 4, "p50": 30.0, "p95": 55.0, "p99": 55.0, "max": 55.0}},
    }
    results["targets"] = bench.check_targets(results["ddns_edge"])
    text = bench.render_table(results)
    assert "<= 40 MB MISSED" in text
    assert "<= 4 ms met" in text and "<= 10 ms met" in text
    assert "late copy of an UPDATE: record wrong for / messages to set it back" in text and "11.00 s / 1 + 1" in text
    assert "800 µs / 2.0 ms" in text  # the agent's own time
    assert "30.00 s *" in text and "10,000×" in text
    assert "bounded by its polling" in text


# ---------------------------------------------------------------- the WAN clients' phases


def _attr(kind, value):
    raw = struct.pack("=HH", 4 + len(value), kind) + value
    return raw + b"\0" * (-len(raw) % 4)


def _addr_msg(kind, family, index, address, *, local=None, flags=0, ifa_flags=None, preferred=None):
    attrs = _attr(bench.IFA_ADDRESS, ipaddress.ip_address(address).packed)
    if local:
        attrs += _attr(bench.IFA_LOCAL, ipaddress.ip_address(local).packed)
    if ifa_flags is not None:
        attrs += _attr(bench.IFA_FLAGS, struct.pack("=I", ifa_flags))
    if preferred is not None:
        attrs += _attr(bench.IFA_CACHEINFO, struct.pack("=IIII", preferred, 3600, 0, 0))
    body = struct.pack("=BBBBI", family, 32 if family == socket.AF_INET else 64, flags, 0, index) + attrs
    return struct.pack("=IHHII", 16 + len(body), kind, 0, 0, 0) + body


def test_parse_addr_events_takes_the_local_side_of_a_point_to_point_address():
    data = (_addr_msg(bench.RTM_NEWADDR, socket.AF_INET, 7, "198.51.100.1", local="198.51.100.101")
            + struct.pack("=IHHII", 20, 16, 0, 0, 0) + b"\0" * 4  # a link message: skipped
            + _addr_msg(bench.RTM_DELADDR, socket.AF_INET6, 2, "2001:db8::5", preferred=0))
    assert bench.parse_addr_events(data) == [
        bench.AddrEvent(True, 7, "198.51.100.101", 0, None),
        bench.AddrEvent(False, 2, "2001:db8::5", 0, 0),
    ]


def _route_msg(kind, family, dst_len, *, table=254, oif=None, table_attr=None):
    attrs = _attr(bench.RTA_OIF, struct.pack("=I", oif)) if oif is not None else b""
    if table_attr is not None:
        attrs += _attr(bench.RTA_TABLE, struct.pack("=I", table_attr))
    body = struct.pack("=BBBBBBBBI", family, dst_len, 0, 0, table, 4, 0, 1, 0) + attrs
    return struct.pack("=IHHII", 16 + len(body), kind, 0, 0, 0) + body


def test_parse_addr_events_reads_the_main_tables_routes_too():
    data = (_route_msg(bench.RTM_NEWROUTE, socket.AF_INET, 0, oif=2)
            + _route_msg(bench.RTM_NEWROUTE, socket.AF_INET, 32, table=255)  # the local table: skipped
            + _route_msg(bench.RTM_DELROUTE, socket.AF_INET6, 64, table=252, table_attr=254)  # RTA_TABLE wins
            + _addr_msg(bench.RTM_NEWADDR, socket.AF_INET, 2, "198.51.100.7"))
    assert bench.parse_addr_events(data) == [
        bench.RouteEvent(True, 4, True, 2),
        bench.RouteEvent(False, 6, False, None),
        bench.AddrEvent(True, 2, "198.51.100.7", 0, None),
    ]
    for cut in range(len(data) - 1):
        bench.parse_addr_events(data[:cut])  # never raises


def test_parse_addr_events_survives_truncation():
    data = _addr_msg(bench.RTM_NEWADDR, socket.AF_INET6, 2, "2001:db8::5")
    for cut in range(len(data)):
        assert bench.parse_addr_events(data[:cut]) == []


@pytest.mark.parametrize("event, usable", [
    (bench.AddrEvent(True, 2, "2001:db8::5", 0, 1800), True),
    (bench.AddrEvent(True, 2, "2001:db8::5", bench.IFA_F_TENTATIVE, 1800), False),
    (bench.AddrEvent(True, 2, "2001:db8::5", bench.IFA_F_DADFAILED, 1800), False),
    (bench.AddrEvent(True, 2, "2001:db8::5", bench.IFA_F_DEPRECATED, 0), False),
    (bench.AddrEvent(True, 2, "2001:db8::5", 0, 0), False),
    (bench.AddrEvent(False, 2, "2001:db8::5", 0, 1800), False),
    (bench.AddrEvent(True, 3, "198.51.100.101", 0, None), True),
])
def test_usable_is_what_the_address_rules_may_take(event, usable):
    assert event.usable is usable


def test_usable_since_is_the_end_of_dad_and_not_before_the_change():
    a = "2001:db8:2::5"
    events = [(1.0, bench.AddrEvent(True, 2, a, 0, 1800)),  # before the change: ignored
              (5.0, bench.AddrEvent(True, 2, a, bench.IFA_F_TENTATIVE, 1800)),
              (5.1, bench.AddrEvent(True, 2, "2001:db8:2::9", 0, 1800)),
              (6.0, bench.AddrEvent(True, 2, a, 0, 1800))]
    assert bench.usable_since(events, a, after=4.0) == 6.0
    assert bench.usable_since(events, "2001:db8:3::1", after=0) is None


NEW, OLD = "198.51.100.150", "198.51.100.114"


def _up(address, flags=0, preferred=None):
    return bench.AddrEvent(True, 2, address, flags, preferred)


def _down(address):
    return bench.AddrEvent(False, 2, address, 0, None)


@pytest.mark.parametrize("old, events, want", [
    # netifd's DHCP renumbering: the old address goes at the NAK, the new one 3.1 s later
    (OLD, [(10.0, _down(OLD)), (13.1, _up(NEW))], 3.1),
    # a new address first, then the old one goes: never without
    (OLD, [(10.0, _up(NEW)), (10.0, _down(OLD))], 0.0),
    # SLAAC: the old address deprecated, the new one tentative, usable after DAD
    ("2001:db8:1::5", [(10.0, _up("2001:db8:1::5", bench.IFA_F_DEPRECATED, 0)),
                       (10.0, _up("2001:db8:2::5", bench.IFA_F_TENTATIVE, 1800)), (11.0, _up("2001:db8:2::5", 0, 1800))], 1.0),
    # another family's events do not count; before the change neither
    (OLD, [(5.0, _down(OLD)), (6.0, _up(OLD)), (10.0, _down("2001:db8:1::5")), (12.0, _up(NEW))], 0.0),
    # gone, back, gone again: from the last time
    (OLD, [(10.0, _down(OLD)), (10.5, _up(OLD)), (11.0, _down(OLD)), (12.0, _up(NEW))], 1.0),
], ids=["netifd NAK", "new first", "SLAAC DAD", "other family", "last gap"])
def test_without_address(old, events, want):
    new_at = events[-1][0]
    events = events + [(new_at + 1, _down(NEW))]  # after the new one: never counted
    assert bench.without_address(events, old, after=7.0, new_at=new_at) == pytest.approx(want)


def test_route_after_is_the_first_default_route_of_the_family_between_the_address_and_bind():
    events = [(9.0, bench.RouteEvent(True, 4, True, 2)),  # before the address: not it
              (10.0, _up(NEW)),
              (10.00005, bench.RouteEvent(True, 4, False, 2)),  # the subnet's route
              (10.00006, bench.RouteEvent(True, 6, True, 2)),  # another family
              (10.00007, bench.RouteEvent(False, 4, True, 2)),  # a deletion
              (10.0001, bench.RouteEvent(True, 4, True, 2)),
              (10.2, bench.RouteEvent(True, 4, True, 2))]
    assert bench.route_after(events, 4, since=10.0, until=10.005) == pytest.approx(0.0001)
    assert bench.route_after(events, 4, since=10.0, until=10.00009) is None  # there before: none came
    assert bench.route_after(events, 6, since=10.0, until=11) == pytest.approx(0.00006)


def test_published_wrong_and_client_verdicts():
    assert bench.published_wrong(["198.51.100.101", "198.51.100.1", "198.51.100.102"],
                                 {"198.51.100.101", "198.51.100.102"}) == ["198.51.100.1"]
    good = {"latency": {"p50": 0.005, "max": 0.09}, "error_lines": 0, "retry_lines": 0, "published_wrong": []}
    assert bench.client_verdicts(good) == []
    bad = {"latency": {"p50": 1.05, "max": 1.9}, "error_lines": 3, "warning_lines": 2, "retry_lines": 3, "published_wrong": ["x"]}
    assert bench.client_verdicts(bad) == ["p50 <= 10 ms", "max <= 100 ms", "0 error lines", "0 warnings", "0 retries",
                                         "0 wrong addresses published"]


def test_render_table_labels_veth_and_lists_each_client():
    results = {"ddns_edge": _edge(), "clients": {
        "dhcp4": {"label": "DHCPv4", "latency": {"n": 3, "p50": 1.05, "p99": 1.2, "max": 1.2},
                  "without_address": {"n": 3, "p50": 3.1, "max": 3.14}, "route_after": {"n": 3, "p50": 0.00005, "max": 0.00008},
                  "error_lines": 3, "warning_lines": 1, "retry_lines": 3, "published_wrong": []},
        "slaac": {"label": "SLAAC", "latency": {"n": 2, "p50": 0.002, "p99": 0.003, "max": 0.003},
                  "without_address": {"n": 2, "p50": 0.0, "max": 0.0}, "route_after": {"n": 0},
                  "error_lines": 0, "warning_lines": 0, "retry_lines": 0, "published_wrong": []},
        "pppoe": {"label": "PPPoE", "error": "BenchError: no session"}}}
    text = bench.render_table(results)
    assert "latency p50 (veth, routes as a client's)" in text
    dhcp = next(line for line in text.splitlines() if line.startswith("DHCPv4"))
    assert "1.05 s" in dhcp and "3.14 s" in dhcp and "50 µs / 80 µs" in dhcp and "0 error lines" in dhcp and "0 warnings" in dhcp
    slaac = next(line for line in text.splitlines() if line.startswith("SLAAC"))
    assert "- (there before)" in slaac and slaac.endswith("none")
    assert "NOT MEASURED: BenchError: no session" in text


def _cost(wall, cpu):
    return {"wall": {"n": 7, "p50": wall}, "cpu": {"n": 7, "p50": cpu}}


COST = {"compiled": _cost(0.150, 0.120), "source": _cost(0.450, 0.420), "source_all": _cost(1.2, 1.17),
        "python_pass": _cost(0.015, 0.012), "python_imports": _cost(0.075, 0.060)}


def test_startup_ratios_are_of_the_medians():
    r = bench.startup_ratios(COST)
    assert list(r) == ["compiled", "source", "source_all", "python_pass", "python_imports"]
    assert r["compiled"]["wall_x_pass"] == pytest.approx(10) and r["compiled"]["cpu_x_pass"] == pytest.approx(10)
    assert r["source"]["wall_x_imports"] == pytest.approx(6) and r["source"]["cpu_x_imports"] == pytest.approx(7)
    assert r["python_pass"]["wall_x_pass"] == pytest.approx(1)
    partial = bench.startup_ratios({"compiled": _cost(0.150, 0.120), "python_pass": _cost(0.015, 0)})
    assert partial["compiled"]["cpu_x_pass"] is None and partial["compiled"]["wall_x_imports"] is None


def test_render_startup_cost_in_the_table():
    results = {"ddns_edge": dict(_edge(), startup_cost=COST)}
    text = bench.render_table(results)
    compiled = next(line for line in text.splitlines() if line.startswith("ddns-edge run, byte code compiled"))
    assert "150.0 ms" in compiled and "120.0 ms" in compiled and "10.0× / 10.0×" in compiled and "2.0× / 2.0×" in compiled
    source = next(line for line in text.splitlines() if line.startswith("ddns-edge run, its modules .py only"))
    assert "30.0× / 35.0×" in source
    assert "Start-up as a router pays it (7 runs each" in text
    assert bench.render_startup_cost(None) == [] and bench.render_startup_cost({}) == []


def test_render_table_gives_each_record_counts_start_up_and_checks_reads_per_record():
    rows = {"records": {"1000": {"records": 1000, "config_bytes": 232000, "startup_s": 0.9, "reads": 1000, "updates": 2,
                                 "tcp_packets": 12, "reads_per_record": 1.0, "rss_kib": 30000, "check_reads": 1000},
                        "10000": {"records": 10000, "config_bytes": 2320000, "startup_s": 9.5, "reads": 19000, "updates": 13,
                                  "tcp_packets": 90, "reads_per_record": 1.9, "rss_kib": 52000, "check_reads": 10000}}}
    results = {"ddns_edge": _edge(**rows)}
    results["targets"] = bench.check_targets(results["ddns_edge"])
    text = bench.render_table(results)
    assert "1,000 records in one zone (0.2 MB of config): start-up to all visible" in text
    lines = text.splitlines()
    big = lines.index(next(line for line in lines if line.startswith("10,000 records in one zone (2.3 MB of config)")))
    assert "9.50 s" in lines[big]
    assert "19,000 + 13" in lines[big + 1] and "<= 1 a record MISSED" in lines[big + 1]
    assert "10,000" in lines[big + 2] and "53.2 MB" in lines[big + 3]
    assert "1,000 + 2" in text and "<= 1 a record met" in text
    missing = bench.render_table({"ddns_edge": _edge(records={"1000": None})})  # a phase that failed: no row, no crash
    assert "1,000 records" not in missing


def test_the_failover_row_and_its_targets():
    from tools.bench.failover import failover_targets, render_failover

    f = {"failovers": 20, "returns": 20, "failover": bench.summarize([0.012, 0.018, 0.030]), "return": bench.summarize([0.011, 0.013]),
         "updates_per_event": [1] * 40, "updates_max": 1, "wrong": [], "extra_updates": 0, "wrong_count": 0}
    lines = render_failover(f)
    assert lines[0] == "Two WANs (issue 23): policy failover, mwan3 stand-in; 20 failovers and 20 returns"
    assert "p50 / max: 18.0 ms / 30.0 ms (target p50 <= 20 ms)" in lines[1]
    assert [r["met"] for r in failover_targets({"failover": f})] == [True, True, True]
    late = dict(f, failover=bench.summarize([0.025]), updates_max=2, wrong_count=1)
    assert [r["met"] for r in failover_targets({"failover": late})] == [False, False, False]
    assert render_failover(None) == []
# ------------------------------------------------------------------ the fleet (issue 24)


def _burst():
    """Three agents, the change at 100.0: agent 0 sends its UPDATE and the check's read; agent 1
    an UPDATE, its retry and two reads; agent 2 nothing (its record never right)."""
    U, Q = bench.UPDATE, bench.QUERY
    sends = [(1, 100.02, U), (0, 100.01, U), (1, 106.1, U), (1, 110.2, Q), (0, 112.0, Q), (1, 122.3, Q)]
    logs = {0: "notice: f0000.example.com A: now 203.0.113.7 (was 198.51.100.2)\n",
            1: "warning: f0001 ...: no answer within 5 s\ninfo: f0001.example.com A: retry 1 in 1.1 s\n",
            2: "error: f0002 ...: refused (REFUSED)\nerror: f0002 ...: again\n"}
    return bench.fleet_scenario(3, 100.0, 100.0, sends, {0: 100.3, 1: 110.5}, {0: 100.4}, logs)


def test_fleet_scenario_counts_messages_per_agent_and_bins_the_later_ones():
    got = _burst()
    assert got["messages_per_agent"] == 2 and got["messages_max"] == 4
    assert got["updates_per_agent"] == 1 and got["reads_per_agent"] == 1
    assert got["messages_histogram"] == {"0": 1, "2": 1, "4": 1}
    assert got["retries"] == 4  # every message but each agent's first
    assert got["retry_bins"] == {"6": 1, "10": 1, "12": 1, "22": 1} and got["retry_bin_max"] == 1


def test_fleet_scenario_times_each_server_and_counts_the_lines():
    got = _burst()
    assert got["primary"] == {"right": 2, "p50": pytest.approx(0.3), "last": pytest.approx(10.5)}
    assert got["secondary"] == {"right": 1, "p50": pytest.approx(0.4), "last": pytest.approx(0.4)}
    assert (got["error_lines"], got["agents_with_error"], got["warning_lines"], got["retry_lines"]) == (2, 1, 1, 1)
    assert got["early_agents_with_error"] == 0  # agent 2 never landed: its errors are not the target's


def test_fleet_scenario_says_which_erring_agents_had_landed_within_30_s():
    logs = {0: "error: f0000 ...: no answer within 5 s\n", 1: "error: f0001 ...\n"}
    got = bench.fleet_scenario(2, 0.0, 10.0, [(0, 0.0, bench.UPDATE), (1, 0.0, bench.UPDATE)], {0: 12.0, 1: 31.0}, {}, logs)
    assert got["agents_with_error"] == 2 and got["early_agents_with_error"] == 1
    assert got["primary"]["last"] == pytest.approx(21.0)  # timed from `since` (the primary's return)
    with pytest.raises(ValueError):
        bench.fleet_scenario(0, 0.0, 0.0, [], {}, {}, {})


def test_fleet_targets_and_lines():
    healthy = dict(_burst(), resolution=0.05, primary_cpu_s=0.1)
    healthy["primary"] = healthy["secondary"] = {"right": 3, "p50": 0.3, "last": 0.7}
    stopped = dict(_burst(), resolution=0.05, primary_cpu_s=0.2)
    fleet = {"agents": 3, "stop_s": 10, "capacity": {"per_s": 1400.0, "window": 64, "runs": [1400, 1200, 900]},
             "rss_kib_per_agent": 20000, "healthy": healthy, "stopped": stopped, "loadavg": "1.00 2.00 3.00"}
    rows = {r["what"]: r for r in bench.fleet_targets(fleet)}
    assert rows["healthy: all right at the secondary"]["met"] is True
    assert rows["healthy: messages per agent"]["met"] is True
    assert rows["stopped 10 s: all right after its return"]["met"] is False  # 10.5 s, and a record never right
    assert rows["stopped 10 s: error lines, landed within 30 s"]["met"] is False  # 0 errors, but a record lost misses all
    text = "\n".join(bench.render_fleet(fleet))
    assert "3 agents" in text and "load average 1.00 2.00 3.00" in text and "1400 signed UPDATEs/s" in text
    assert "(2/3); at the secondary" in text and "MISSED" in text
    assert bench.render_fleet(None) == []
