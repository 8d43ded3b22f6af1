"""`option interface 'wan'`: the device of an OpenWrt network, from netifd through ubus.

netifd and ubus exist only on OpenWrt. Here a stand-in `ubus` (first on the agent's PATH)
answers `ubus call network.interface.NAME status` from a file the test writes, and
`ubus listen` from an events file the test appends to, as netifd would announce ifup.
Everything else is real: the kernel's links and addresses, and BIND.
"""

from __future__ import annotations

import json
import os

import pytest

from tools.netns.agentlib import EXE, Daemon, record, wait_dig, write_config

STUB = """#!/bin/sh
# stand-in for OpenWrt's ubus: `call network.interface.NAME status` and `listen`
case "$1" in
  call) cat "$UBUS_STUB/status.${2#network.interface.}" 2>/dev/null || exit 4 ;;
  listen) exec tail -n 0 -f "$UBUS_STUB/events" ;;
  *) exit 1 ;;
esac
"""


@pytest.fixture
def netifd(tmp_path):
    stub = tmp_path / "ubus-stub"
    stub.mkdir()
    (stub / "ubus").write_text(STUB)
    (stub / "ubus").chmod(0o755)
    (stub / "events").write_text("")

    class Netifd:
        env = {"PATH": f"{stub}:{os.environ['PATH']}", "UBUS_STUB": str(stub)}

        def status(self, network, **status):
            (stub / f"status.{network}").write_text(json.dumps(status))

        def event(self, network, action):
            with open(stub / "events", "a") as f:
                f.write(json.dumps({"network.interface": {"action": action, "interface": network}}) + "\n")

    return Netifd()


def test_detect_and_once_find_the_device_of_the_network(world, tmp_path, netifd):
    netifd.status("wan", up=True, l3_device="wan0", device="wan0")
    conf = write_config(tmp_path / "c", world, record("www", device=None, interface="wan", zone="example.com", server="192.0.2.53"))
    p = world.exec([EXE, "-c", conf, "detect"], env=dict(os.environ, **netifd.env))
    assert p.stdout.splitlines()[0] == "www.example.com A 198.51.100.2 (interface wan0: public address on the interface)", p.stderr
    p = world.exec([EXE, "-c", conf, "once"], env=dict(os.environ, **netifd.env))
    assert p.returncode == 0, p.stderr
    assert world.dig("www.example.com", "A") == ["198.51.100.2"]


def test_an_unknown_network_is_said(world, tmp_path, netifd):
    conf = write_config(tmp_path / "c", world, record("www", device=None, interface="wan", zone="example.com", server="192.0.2.53"))
    p = world.exec([EXE, "-c", conf, "once"], env=dict(os.environ, **netifd.env))
    assert p.returncode == 1
    assert "network wan: netifd names no device for it now" in p.stderr, p.stderr


def test_run_follows_the_network_onto_a_new_device(world, tmp_path, netifd):
    netifd.status("wan", up=True, l3_device="wan0", device="wan0")
    conf = write_config(tmp_path / "c", world, record("www", device=None, interface="wan", zone="example.com", server="192.0.2.53"), agent={"state_dir": str(tmp_path / "state")})
    with Daemon(world, conf, env=netifd.env) as agent:
        wait_dig(world, "www.example.com", "A", ["198.51.100.2"])
        # PPPoE comes up: netifd's L3 device for wan is now pppoe-wan, with a new address
        netifd.status("wan", up=False, device="wan0")
        netifd.event("wan", "ifdown")
        world.recreate_wan(name="pppoe-wan", addresses=["198.51.100.44/24"])
        netifd.status("wan", up=True, l3_device="pppoe-wan", device="wan0")
        netifd.event("wan", "ifup")
        wait_dig(world, "www.example.com", "A", ["198.51.100.44"])
        agent.wait_log("network wan is on device pppoe-wan")
