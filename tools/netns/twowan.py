"""A second WAN through a second ISP, and an mwan3 stand-in, on top of a World.

    rtr  wan0  198.51.100.2/24 -- isp  (the world's)  -- srv eth0 192.0.2.53 (BIND)
         wan1  203.0.113.2/24  -- isp2 to-rtr 203.0.113.1/24
                                       to-srv 10.53.2.1/30 -- srv eth1 10.53.2.2/30

Each WAN has its own way to the DNS server: srv answers 198.51.100.0/24 by its default
route (isp) and 203.0.113.0/24 by isp2. The router's main table holds a default route by
each WAN, wan0's first (metric 0) and wan1's after it (metric 20), as netifd installs them
on a router that runs mwan3 (mwan3 asks for a distinct metric per WAN). cut(isp) makes an
ISP drop what it would forward while every link stays up: the failure mwan3track finds by
its pings and the kernel never sees. IPv4 only.

Mwan3 (below) stands in for mwan3; Ubus for the ubus calls the agent and the hotplug script
make. Neither is the real thing, which needs OpenWrt's procd, ubusd, rpcd and hotplug-call.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

WAN2_ADDR4 = "203.0.113.2/24"
ISP2_RTR_ADDR4 = "203.0.113.1/24"
ISP2_SRV, SRV2 = "10.53.2.1/30", "10.53.2.2/30"
METRIC2 = 20
CUT_TABLE = "ddns_edge_cut"
SHELL = ("busybox", "sh") if shutil.which("busybox") else ("sh",)  # hotplug-call's shell on OpenWrt: busybox ash
HOTPLUG = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       "openwrt", "files", "ddns-edge.hotplug")


class SecondWan:
    """wan1 through isp2 (the module's drawing); made by add_second_wan()."""

    def __init__(self, world, device: str = "wan1"):
        self.world = world
        self.device = device
        self.isp_ns = world.add_namespace("isp2")
        w = world
        subprocess.run(["ip", "link", "add", device, "netns", w.rtr_ns, "type", "veth", "peer", "name", "to-rtr", "netns", self.isp_ns], check=True)
        subprocess.run(["ip", "link", "add", "to-srv", "netns", self.isp_ns, "type", "veth", "peer", "name", "eth1", "netns", w.srv_ns], check=True)
        w.ns_exec(self.isp_ns, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        w._ip(self.isp_ns, f"addr add {ISP2_RTR_ADDR4} dev to-rtr", "link set to-rtr up", f"addr add {ISP2_SRV} dev to-srv", "link set to-srv up",
              f"route add 192.0.2.0/24 via {SRV2.split('/')[0]}")
        w._ip(w.srv_ns, f"addr add {SRV2} dev eth1", "link set eth1 up", f"route add 203.0.113.0/24 via {ISP2_SRV.split('/')[0]}")
        w._ip(w.rtr_ns, f"addr add {WAN2_ADDR4} dev {device}", f"link set {device} up",
              f"route add default via {ISP2_RTR_ADDR4.split('/')[0]} dev {device} metric {METRIC2}")

    @property
    def address(self) -> str:
        return self.world.wan_addresses(4, dev=self.device)[0].split("/")[0]

    def set_address(self, cidr: str) -> None:
        """The ISP gives wan1 another address in its subnet (a DHCP client's order: the new
        address, the old one gone, the default route put back)."""
        old = self.world.wan_addresses(4, dev=self.device)
        self.world._ip(self.world.rtr_ns, f"addr add {cidr} dev {self.device}", *[f"addr del {a} dev {self.device}" for a in old],
                       f"route replace default via {ISP2_RTR_ADDR4.split('/')[0]} dev {self.device} metric {METRIC2}")

    def cut(self, ns: str) -> None:
        """ISP namespace `ns` forwards nothing more; its links stay up."""
        self.world.ns_exec(ns, ["nft", "-f", "-"], input=f"table inet {CUT_TABLE} {{\n chain forward {{\n  type filter hook forward priority -10; policy drop;\n }}\n}}\n")

    def mend(self, ns: str) -> None:
        self.world.ns_exec(ns, ["nft", "delete", "table", "inet", CUT_TABLE])


def add_second_wan(world, device: str = "wan1") -> SecondWan:
    return SecondWan(world, device)


UBUS = """#!/bin/sh
# Stand-in for OpenWrt's ubus (tools/netns/twowan.py): the calls the agent and its hotplug
# script make, answered as ubusd with netifd, rpcd's mwan3 plugin and procd would.
case "$1 $2" in
  "call mwan3")
    section=$(printf '%s' "$4" | sed -n 's/.*"section" *: *"\\([a-z]*\\)".*/\\1/p')
    cat "$UBUS_STUB/mwan3.${section:-all}" 2>/dev/null || { echo "Command failed: Not found" >&2; exit 4; } ;;
  "call service")
    # procd's service signal: the signal to every instance of the service named
    [ "$3" = signal ] || exit 2
    sig=$(printf '%s' "$4" | sed -n 's/.*"signal" *: *\\([0-9]*\\).*/\\1/p')
    kill -"$sig" $(cat "$UBUS_STUB/pid.ddns-edge") 2>/dev/null || exit 4 ;;
  "call network.interface."*)
    cat "$UBUS_STUB/status.${2#network.interface.}" 2>/dev/null || exit 4 ;;
  "listen "*) exec tail -n 0 -f "$UBUS_STUB/events" ;;
  *) exit 1 ;;
esac
"""


class Ubus:
    """A directory with the ubus stand-in (first on the agent's PATH: `env`) and its answers:
    netifd's status of each network, mwan3's status, the agent's pid for procd's signal."""

    def __init__(self, directory: str):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, "ubus")
        with open(path, "w") as f:
            f.write(UBUS)
        os.chmod(path, 0o755)
        open(os.path.join(directory, "events"), "w").close()
        self.env = {"PATH": f"{directory}:{os.environ['PATH']}", "UBUS_STUB": directory}

    def write(self, name: str, text: str) -> None:
        tmp = os.path.join(self.dir, f".{name}.tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, os.path.join(self.dir, name))  # whole, as an answer is

    def network(self, network: str, device: str | None) -> None:
        self.write(f"status.{network}", json.dumps({"up": device is not None, "l3_device": device} if device else {"up": False}))

    def agent(self, pid: int) -> None:
        self.write("pid.ddns-edge", str(pid))

    def forget_mwan3(self) -> None:
        for name in ("mwan3.interfaces", "mwan3.policies"):
            try:
                os.unlink(os.path.join(self.dir, name))
            except FileNotFoundError:
                pass


class Mwan3:
    """Stands in for mwan3 (openwrt/packages net/mwan3, 2.12): mwan3track's verdicts and
    mwan3's ubus status, nothing else.

    When mwan3track finds a WAN offline (its pings through it fail) or online again, its state
    files change (which rpcd's mwan3 plugin reads for `ubus call mwan3 status`), and then it
    runs `env -i ACTION=disconnected|connected INTERFACE=<network> DEVICE=<device>
    /sbin/hotplug-call iface`: hotplug-call sources each script of /etc/hotplug.d/iface in
    name order, each in a subshell. set() does that, in that order: the status first, then
    the scripts (here: the package's own 95-ddns-edge, with the ubus stand-in on PATH). The
    pings themselves are the test's: it cuts an ISP (SecondWan.cut) and then calls set(), as
    mwan3track would after its `down` failed pings. mwan3 changes no address and no route of
    the main table (only its own fwmark tables and rules, which nothing here needs: the
    agent binds its exchange to a device); neither does this.

    `interfaces`: network -> (device, status); `policies`: name -> [network, ...] in the
    order of their metric (the active member first, with percent 100, as a failover policy
    shows it)."""

    def __init__(self, ubus: Ubus, interfaces: dict[str, tuple[str, str]], policies: dict[str, list[str]] | None = None,
                 hotplug: str = HOTPLUG):
        self.ubus = ubus
        self.interfaces = dict(interfaces)
        self.policies = dict(policies or {})
        self.hotplug_dir = os.path.join(ubus.dir, "hotplug.d", "iface")
        os.makedirs(self.hotplug_dir, exist_ok=True)
        with open(hotplug) as src, open(os.path.join(self.hotplug_dir, "95-ddns-edge"), "w") as dst:
            dst.write(src.read())
        self._write()

    def _write(self) -> None:
        now = 1000
        self.ubus.write("mwan3.interfaces", json.dumps({"interfaces": {
            name: {"enabled": True, "running": True, "tracking": "active", "up": True, "status": status, "score": 10 if status == "online" else 0,
                   "lost": 0 if status == "online" else 5, "turn": 0, "age": 1, "online": now if status == "online" else 0,
                   "offline": 0 if status == "online" else now, "uptime": now, "track_ip": []}
            for name, (_, status) in self.interfaces.items()}}))
        policies = {}
        for name, members in self.policies.items():
            online = [m for m in members if self.interfaces.get(m, ("", ""))[1] == "online"]
            policies[name] = [{"interface": m, "percent": 100 if online and m == online[0] else 0} for m in members]
        self.ubus.write("mwan3.policies", json.dumps({"policies": {"ipv4": policies, "ipv6": {}}}))

    def set(self, network: str, status: str) -> None:
        """mwan3track's verdict on `network`: "offline" (ACTION=disconnected) or "online"
        (ACTION=connected): the status, then the hotplug scripts."""
        device, _ = self.interfaces[network]
        self.interfaces[network] = (device, status)
        self._write()
        action = "connected" if status == "online" else "disconnected"
        env = {"ACTION": action, "INTERFACE": network, "DEVICE": device, "PATH": self.ubus.env["PATH"], "UBUS_STUB": self.ubus.dir}
        self.event_at = time.monotonic()  # the event (the bench times from here)
        for script in sorted(os.listdir(self.hotplug_dir)):
            subprocess.run([*SHELL, "-c", '. "$0"', os.path.join(self.hotplug_dir, script)], env=env, check=False, timeout=10)
