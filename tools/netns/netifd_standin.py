"""A stand-in for OpenWrt's netifd where its daemons cannot run: what a lease or a PPP link does
to the kernel through netifd, in netifd's order.

Why a stand-in: netifd runs only with ubus, procd and OpenWrt's shell libraries around it
(netifd-proto.sh, jshn.sh, functions.sh) and drives every WAN protocol through them; none
of that is on this machine, and the project copies no upstream OpenWrt code. Everything
around it is real: busybox udhcpc with dnsmasq as the ISP, rp-pppoe with pppd's kernel side
stood in (tools/netns/pppd_standin.py). This program is what udhcpc's and pppd's scripts
run in the place of OpenWrt's, and it does to the kernel what netifd does when such a script
sends its update (`proto_send_update`, ubus `network.interface notify_proto`).

The scripts it stands in for, and the update each sends (OpenWrt's own files):

    dhcp.script (udhcpc -s)   bound, renew: link-up 1, the lease's address with its subnet mask
                              (proto_add_ipv4_address "$ip" "$subnet"), for each router a host
                              route to it when it is outside the address's subnet, then the
                              default route via it, both with the address as their source
                              (proto_add_ipv4_route 0.0.0.0 0 "$router" "$ip"), then the
                              classless static routes (staticroutes, msstaticroutes) via their
                              gateways with the same source. deconfig: link-up 0. (nak, leasefail:
                              nothing.) udhcpc runs the script and waits for it.
    ppp-up (ip-up-script)     only with `ipparam` set: link-up 1 for IFNAME, the addresses
                              external (pppd set them: proto_init_update "$IFNAME" 1 1), keep
                              (proto_set_keep 1), the address IPLOCAL/32 with the peer IPREMOTE,
                              the default route via IPREMOTE (no source). pppd starts it and does
                              not wait; it runs no ip-up while an ip-down runs, nor the reverse.
    ppp-down (ip-down-script) link-up 0.

What netifd does with an update (proto-ext.c proto_ext_update_link; interface.c
interface_proto_event_cb, mark_interface_down; interface-ip.c; system-linux.c system_addr,
system_rt), one update at a time (its one loop):

- link-up 0 (IFPEV_LINK_LOST), when the interface is up: mark_interface_down, which disables
  its IP settings (interface_ip_set_enabled(proto_ip, false)): each address netifd added is
  deleted (RTM_DELADDR: the kernel drops with it the subnet's route and the routes whose
  source is that address, the default route among them), then each route is deleted
  (RTM_DELROUTE: those are mostly gone already); then all of it is forgotten
  (interface_ip_flush) and the interface waits in SETUP, its IP settings disabled. On an
  interface that is not up, nothing.
- link-up 1: interface_update_start makes everything it holds stale (unless `keep` and the
  interface is up: then nothing is stale). Then the update is read: each address as it is
  read is added at once (vlist_add -> interface_update_proto_addr -> system_add_address:
  RTM_NEWADDR, NLM_F_CREATE|NLM_F_REPLACE, with its broadcast, or its peer), unless it is
  external or netifd already holds the same one (then the kernel is not touched); each
  route likewise (__interface_update_route -> system_add_route: RTM_NEWROUTE,
  NLM_F_CREATE|NLM_F_REPLACE, proto static, scope link without a gateway, the source as
  RTA_PREFSRC), but only while the IP settings are enabled (not after a link loss), and a
  route with the same key (route_cmp: prefix, metric, table, source) and another gateway is
  deleted before its successor is added. Then interface_update_complete flushes what is
  stale: the routes first, then the addresses (interface_ip_update_complete:
  vlist_flush(route), then vlist_flush(addr)). Then IFPEV_UP: an interface that was not up
  enables its IP settings, adding the routes held back (interface_ip_set_enabled(proto_ip,
  true)), and is up.

So within one update the kernel sees the new address, the new routes, the stale routes, then
the stale addresses; and a DHCP renumbering (a NAK: udhcpc runs deconfig, waits 3 s,
discovers, binds) is down, then up: the old address goes, and the default route with it; the
new address comes seconds later, and its default route less than a millisecond after it.
All of one update goes to the kernel through one `ip -force -batch -` process, as netifd
sends it from one process: microseconds apart, in that order, each error ignored (netifd marks
the item failed and goes on).

What differs, and why it does not matter to what the kernel shows: no ubus (the scripts run
this program, which keeps what netifd holds for the interface in a file of its own, updated
under a lock: one update at a time); no hotplug events, DNS servers, firewall zones or IPv6;
the interface's metric is 0 and its table main (netifd's defaults). This program's own start
(a Python process, some 20-30 ms here) stands where the script's own work and the ubus call
are on a router (a shell sourcing netifd-proto.sh and jshn.sh, a `ubus call`: tens of ms on
a router's CPU): between the event and the kernel's first change, with no sleep added.

    netifd_standin.py MEMORY dhcp.script ACTION   (udhcpc's environment: interface, ip, subnet,
                                                  mask, router, staticroutes, msstaticroutes)
    netifd_standin.py MEMORY ppp-up IFNAME TTY SPEED LOCAL REMOTE IPPARAM   (pppd's arguments;
    netifd_standin.py MEMORY ppp-down IFNAME ...                             IPLOCAL, IPREMOTE too)
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Addr:
    """An address as netifd holds it (struct device_addr): its key is its place in the update
    and what it is (addr_cmp)."""

    address: str  # "198.51.100.150/24"
    peer: str | None = None
    external: bool = False

    def ip(self, verb: str, device: str) -> str:
        iface = ipaddress.ip_interface(self.address)
        words = [f"address {verb} {self.address}"]
        if self.peer:
            words.append(f"peer {self.peer}")
        elif verb == "replace" and iface.version == 4:  # netifd computes the broadcast (255.255.255.255 from /31)
            bcast = "255.255.255.255" if iface.network.prefixlen >= 31 else str(iface.network.broadcast_address)
            words.append(f"broadcast {bcast}")
        return " ".join(words + [f"dev {device}"])


@dataclass(frozen=True)
class Route:
    """A route as netifd holds it (struct device_route)."""

    target: str  # "0.0.0.0/0"
    via: str | None = None
    source: str | None = None

    @property
    def key(self) -> tuple:  # route_cmp: prefix, metric (0), flags, table (main), source, target
        return ipaddress.ip_network(self.target).prefixlen, self.source or "", self.target

    def ip(self, verb: str, device: str) -> str:
        words = [f"route {verb} {self.target}"] + ([f"via {self.via}"] if self.via else [])
        words.append(f"dev {device} proto static")
        if verb == "replace" and not self.via:
            words.append("scope link")
        if self.source:
            words.append(f"src {self.source}")
        return " ".join(words)


def _order(routes) -> list:
    """netifd walks its routes in its tree's order: the longest prefix first (route_cmp)."""
    return sorted(routes, key=lambda r: -ipaddress.ip_network(r["route"].target).prefixlen)


class Interface:
    """What netifd holds for one interface (its proto_ip settings), kept in a file between runs."""

    def __init__(self, path: str):
        self.path = path
        try:
            with open(path) as f:
                data = json.load(f)
        except FileNotFoundError:
            data = {}
        self.up = data.get("up", False)
        self.enabled = data.get("enabled", True)  # a new interface's IP settings are enabled
        self.device = data.get("device")
        self.addresses = [dict(a, addr=Addr(**a["addr"])) for a in data.get("addresses", [])]
        self.routes = [dict(r, route=Route(**r["route"])) for r in data.get("routes", [])]
        self.batch: list[str] = []

    def save(self) -> None:
        data = {"up": self.up, "enabled": self.enabled, "device": self.device,
                "addresses": [dict(a, addr=asdict(a["addr"])) for a in self.addresses],
                "routes": [dict(r, route=asdict(r["route"])) for r in self.routes]}
        with open(self.path + ".new", "w") as f:
            json.dump(data, f)
        os.replace(self.path + ".new", self.path)

    # -- link-up 0

    def link_lost(self) -> None:
        if not self.up:
            return
        for a in self.addresses:  # interface_ip_set_enabled(proto_ip, false): the addresses ...
            if a["enabled"] and not a["addr"].external:
                self.batch.append(a["addr"].ip("del", self.device))
        for r in _order(self.routes):  # ... then the routes
            if r["enabled"]:
                self.batch.append(r["route"].ip("del", self.device))
        self.addresses, self.routes = [], []  # interface_ip_flush
        self.up, self.enabled = False, False

    # -- link-up 1

    def update(self, device: str, addresses: list[Addr], routes: list[Route], keep: bool = False) -> None:
        keep = keep and self.up
        if not keep:
            self.device = device
        stale_addrs = {} if keep else {(i, a["addr"]): a for i, a in enumerate(self.addresses)}
        stale_routes = {} if keep else {r["route"].key: r for r in self.routes}
        held_addrs = list(self.addresses) if keep else []
        held_routes = {r["route"].key: r for r in self.routes} if keep else {}
        for i, addr in enumerate(addresses):  # interface_update_proto_addr, as each is read
            old = stale_addrs.pop((i, addr), None)
            if old is not None:
                held_addrs.append(old)  # the same: the kernel is not touched
                continue
            if any(a["addr"] == addr for a in held_addrs):
                continue
            if not addr.external:
                self.batch.append(addr.ip("replace", self.device))
            held_addrs.append({"addr": addr, "enabled": True})
        for route in routes:  # __interface_update_route, as each is read
            old = stale_routes.pop(route.key, None) or held_routes.get(route.key)
            if old is not None and old["route"].via == route.via:
                held_routes[route.key] = old  # the same: the kernel is not touched
                continue
            if old is not None and old["enabled"]:
                self.batch.append(old["route"].ip("del", self.device))
            if self.enabled:
                self.batch.append(route.ip("replace", self.device))
            held_routes[route.key] = {"route": route, "enabled": self.enabled}
        for r in _order(stale_routes.values()):  # interface_update_complete: stale routes ...
            if r["enabled"]:
                self.batch.append(r["route"].ip("del", self.device))
        for a in stale_addrs.values():  # ... then stale addresses
            if a["enabled"] and not a["addr"].external:
                self.batch.append(a["addr"].ip("del", self.device))
        self.addresses, self.routes = held_addrs, list(held_routes.values())
        if not self.up:  # IFPEV_UP: interface_ip_set_enabled(proto_ip, true)
            for r in _order(self.routes):
                if not r["enabled"]:
                    self.batch.append(r["route"].ip("replace", self.device))
                    r["enabled"] = True
            self.up, self.enabled = True, True

    def apply(self) -> None:
        """The update's kernel calls, in order, from one process."""
        if self.batch:
            subprocess.run(["ip", "-force", "-batch", "-"], input="\n".join(self.batch) + "\n", text=True,
                           stdout=subprocess.DEVNULL, check=False)


# ---------------------------------------------------------------- the scripts' updates


def dhcp_script(action: str, env) -> tuple | None:
    """What OpenWrt's dhcp.script sends for udhcpc's `action`: ("down",) for link-up 0, ("up",
    device, addresses, routes) for link-up 1, None for nothing."""
    if action == "deconfig":
        return ("down",)
    if action not in ("bound", "renew"):
        return None
    ip, device = env["ip"], env["interface"]
    iface = ipaddress.ip_interface(f"{ip}/{env.get('subnet') or '255.255.255.0'}")
    routes = []
    for router in env.get("router", "").split():
        if ipaddress.ip_interface(f"{router}/{iface.network.prefixlen}").network != iface.network:
            routes.append(Route(f"{router}/32", None, ip))
        routes.append(Route("0.0.0.0/0", router, ip))
    for name in ("staticroutes", "msstaticroutes"):
        words = env.get(name, "").split()
        for target, via in zip(words[::2], words[1::2], strict=False):  # an odd word out is ignored, as the script does
            routes.append(Route(str(ipaddress.ip_network(target, strict=False)), via, ip))
    return "up", device, [Addr(str(iface))], routes


def main(argv: list[str]) -> int:
    memory, script, args = argv[0], argv[1], argv[2:]
    with open(memory + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one update at a time, in the order they come
        iface = Interface(memory)
        if script == "dhcp.script":
            update = dhcp_script(args[0], os.environ)
            if update == ("down",):
                iface.link_lost()
            elif update is not None:
                iface.update(*update[1:])
        elif script == "ppp-up":
            ifname, local, remote, ipparam = args[0], args[3], args[4], args[5] if len(args) > 5 else ""
            local, remote = os.environ.get("IPLOCAL", local), os.environ.get("IPREMOTE", remote)
            addrs = [Addr(f"{local}/32", remote or "2.2.2.2", external=True)] if ipparam and local else []
            routes = [Route("0.0.0.0/0", remote)] if ipparam and remote else []
            iface.update(ifname, addrs, routes, keep=True)
        elif script == "ppp-down":
            iface.link_lost()
        else:
            print(f"netifd_standin: no script {script!r}", file=sys.stderr)
            return 2
        iface.apply()
        iface.save()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
