"""ubus answers to devices. ubus and netifd exist only on OpenWrt: these tests feed the
JSON that `ubus call network.interface.NAME status` prints there, and a stand-in runner."""

import os
import select
import subprocess
import time
from types import SimpleNamespace

import pytest

from ddns_edge.ubus import Listener, Resolver, parse_event, parse_status

PPPOE_UP = '{"up": true, "l3_device": "pppoe-wan", "device": "eth1", "proto": "pppoe"}'
DHCP_UP = '{"up": true, "l3_device": "eth1", "device": "eth1", "proto": "dhcp"}'
PPPOE_DOWN = '{"up": false, "device": "eth1", "proto": "pppoe"}'


@pytest.mark.parametrize(
    "text, device",
    [
        (PPPOE_UP, "pppoe-wan"),
        (DHCP_UP, "eth1"),
        (PPPOE_DOWN, "eth1"),  # down: the base device is all there is
        ("{}", None),
        ("", None),
        ("not json", None),
        ("[1, 2]", None),
        ('{"l3_device": 7}', None),
    ],
)
def test_parse_status(text, device):
    assert parse_status(text) == device


def test_resolver_asks_ubus_and_follows_changes(oplog):
    answers = [PPPOE_UP, DHCP_UP]
    calls = []

    def run(args, **kw):
        calls.append(args)
        return SimpleNamespace(returncode=0, stdout=answers.pop(0))

    resolve = Resolver(run)
    assert resolve("wan") == "pppoe-wan"
    assert calls[0] == ["ubus", "call", "network.interface.wan", "status"]
    assert resolve("wan") == "eth1"


def test_an_unknown_network_is_none():
    resolve = Resolver(lambda args, **kw: SimpleNamespace(returncode=4, stdout=""))
    assert resolve("nope") is None


def test_no_ubus_is_a_clear_error(oplog):
    def run(args, **kw):
        raise FileNotFoundError(args[0])

    assert Resolver(run)("wan") is None
    assert "ubus is not here (not OpenWrt?); use option device" in oplog.text


def test_a_hanging_ubus_times_out(oplog):
    def run(args, **kw):
        raise subprocess.TimeoutExpired(args, kw["timeout"])

    assert Resolver(run)("wan") is None
    assert "did not answer" in oplog.text


@pytest.mark.parametrize(
    "line, network",
    [
        ('{ "network.interface": {"action": "ifup", "interface": "wan"} }', "wan"),
        ('{"network.interface": {"action": "ifdown", "interface": "wan6"}}', "wan6"),
        ('{"network.interface": {"action": "ifup"}}', None),
        ('{"other.event": {"interface": "wan"}}', None),
        ("", None),
        ("{", None),
        ("[]", None),
    ],
)
def test_parse_event(line, network):
    assert parse_event(line) == network


def test_listener_reads_netifds_events_as_they_come(tmp_path, monkeypatch):
    # a stand-in `ubus listen` (OpenWrt's cannot run here) printing two events, in pieces
    stub = tmp_path / "ubus"
    stub.write_text(
        "#!/bin/sh\n"
        "printf '{\"network.interface\": {\"action\": \"ifup\", \"interf'\n"
        "sleep 0.2\n"
        "printf 'ace\": \"wan\"}}\\n{\"network.interface\": {\"action\": \"ifdown\", \"interface\": \"wan6\"}}\\n'\n"
    )
    stub.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    listener = Listener()
    seen, alive = set(), True
    deadline = time.monotonic() + 10
    while alive and time.monotonic() < deadline:
        select.select([listener], [], [], 1)
        names, alive = listener.read()
        seen |= names
    listener.close()
    assert seen == {"wan", "wan6"} and not alive
