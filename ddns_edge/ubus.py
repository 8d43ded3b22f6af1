"""OpenWrt's network names (`option interface 'wan'`) to kernel devices, through netifd's ubus.

`ubus call network.interface.wan status` says which L3 device carries the network now
(`pppoe-wan` while PPPoE is up, `eth1` for DHCP, ...). netifd may re-create that device, or
change it, so the agent asks again whenever a link appears or disappears.
"""

from __future__ import annotations

import json
import subprocess

from ddns_edge import report

UBUS = "ubus"
TIMEOUT = 3.0


def parse_status(text: str) -> str | None:
    """The L3 device from `ubus call network.interface.NAME status` output (pure); None when down."""
    try:
        status = json.loads(text)
    except ValueError:
        return None
    if not isinstance(status, dict):
        return None
    for key in ("l3_device", "device"):
        value = status.get(key)
        if isinstance(value, str) and value:
            return value
    return None


class Resolver:
    """Resolves network names with ubus; remembers the last answer of each and says changes once."""

    def __init__(self, run=subprocess.run):
        self._run = run
        self.devices: dict[str, str | None] = {}

    def __call__(self, interface: str) -> str | None:
        device = self._ask(interface)
        if self.devices.get(interface, "") != device:
            if device is None:
                report.log.warning("network %s: no device now (down, or unknown to netifd)", interface)
            else:
                report.log.info("network %s is on device %s", interface, device)
        self.devices[interface] = device
        return device

    def _ask(self, interface: str) -> str | None:
        try:
            proc = self._run(
                [UBUS, "call", f"network.interface.{interface}", "status"],
                capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            report.log.error("network %s: ubus is not here (not OpenWrt?); use option device with the kernel interface name", interface)
            return None
        except subprocess.TimeoutExpired:
            report.log.error("network %s: ubus did not answer within %g s", interface, TIMEOUT)
            return None
        if proc.returncode != 0:
            return None
        return parse_status(proc.stdout)
