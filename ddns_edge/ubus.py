"""OpenWrt's network names (`option interface 'wan'`) to kernel devices, through netifd's ubus.

`ubus call network.interface.wan status` says which L3 device carries the network now
(`pppoe-wan` while PPPoE is up, `eth1` for DHCP, ...). netifd may re-create that device, or
change it, so the agent asks again on netifd's own ifup/ifdown events (`ubus listen`) and
whenever a link appears or disappears.
"""

from __future__ import annotations

import json
import logging
import os
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
        self.once = report.Once()

    def __call__(self, interface: str) -> str | None:
        device = self._ask(interface)
        if device is None:
            self.once.say(logging.WARNING, f"network {interface}: no device now (down, or unknown to netifd)", interface)
        else:
            self.once.say(logging.INFO, f"network {interface} is on device {device}", interface)
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


def parse_event(line: str) -> str | None:
    """The network named by one line of `ubus listen network.interface` (pure), if any."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    body = event.get("network.interface") if isinstance(event, dict) else None
    name = body.get("interface") if isinstance(body, dict) else None
    return name if isinstance(name, str) else None


class Listener:
    """`ubus listen network.interface`: netifd's ifup/ifdown events, as a file for select()."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [UBUS, "listen", "network.interface"],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, close_fds=True,
        )
        assert self.proc.stdout is not None  # stdout=PIPE
        self._out = self.proc.stdout
        os.set_blocking(self._out.fileno(), False)
        self._partial = b""

    def fileno(self) -> int:
        return self._out.fileno()

    def read(self) -> tuple[set[str], bool]:
        """The networks named by what arrived, and whether ubus is still there."""
        names = set()
        alive = True
        while True:
            try:
                chunk = os.read(self.fileno(), 65536)
            except BlockingIOError:
                break
            if not chunk:
                alive = False
                break
            self._partial += chunk
        *lines, self._partial = self._partial.split(b"\n")
        for line in lines:
            name = parse_event(line.decode("utf-8", "replace"))
            if name:
                names.add(name)
        return names, alive

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


def mwan3_status(section: str, run=subprocess.run) -> str | None:
    """`ubus call mwan3 status '{"section": SECTION}'` (interfaces, policies): its output, or
    None when mwan3 does not answer (not installed, not running, no ubus)."""
    try:
        proc = run([UBUS, "call", "mwan3", "status", json.dumps({"section": section})],
                   capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None
