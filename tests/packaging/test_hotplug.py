"""The package's iface hotplug script (/etc/hotplug.d/iface/95-ddns-edge), sourced as
OpenWrt's hotplug-call sources it (busybox sh when here, else sh), with a ubus that records
its calls: mwan3track's connected and disconnected signal the agent through procd (SIGUSR1,
by the number of the architecture's signal); nothing else does anything."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "openwrt", "files", "ddns-edge.hotplug")
SIGNAL = 'call service signal {"name":"ddns-edge","signal":%d}' % signal.SIGUSR1
SHELLS = [s for s in (("busybox", "sh"), ("sh",), ("bash", "--posix")) if shutil.which(s[0])]


@pytest.mark.parametrize("shell", SHELLS, ids=[s[0] for s in SHELLS])
@pytest.mark.parametrize("action, calls", [
    ("disconnected", [SIGNAL]), ("connected", [SIGNAL]),
    ("connecting", []), ("disconnecting", []), ("ifup", []), ("ifdown", []), ("ifupdate", []),
])
def test_connected_and_disconnected_signal_the_agent(tmp_path, shell, action, calls):
    log = tmp_path / "calls"
    (tmp_path / "ubus").write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    (tmp_path / "ubus").chmod(0o755)
    env = {"ACTION": action, "INTERFACE": "wan", "DEVICE": "eth1", "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    proc = subprocess.run([*shell, "-c", '( . "$0" ); echo "after $?"', SCRIPT], env=env, capture_output=True, text=True, timeout=10)
    assert proc.stdout == "after 0\n" and proc.stderr == "", proc  # hotplug-call's next script still runs
    assert (log.read_text().splitlines() if log.exists() else []) == calls
