"""The router's dhcpcd script: what netifd and odhcpd do on OpenWrt with a delegated prefix.

dhcpcd (the real DHCPv6 client, see lan.py) runs this on each of its events, with the lease
in its environment (new_dhcp6_ia_pd1_prefix1=..., _length, _pltime, _vltime; a prefix the
server took back comes with vltime 0). Only the standard library: it runs in the router
namespace under dhcpcd, as `python lan_hook.py STATE_DIR BRIDGE`.

What it does to the kernel, in netifd's order (netifd's interface-ip.c,
interface_update_prefix and interface_set_prefix_address):

1. Each delegated prefix the lease holds: its first /64 goes on the bridge as <prefix>::1/64
   (netifd's default ip6assign/ip6ifaceid), `noprefixroute`, with the prefix's preferred and
   valid lifetimes (`ip addr replace`: a renewal refreshes them, as netifd does), and the
   /64 route on the bridge.
2. Then each /64 it assigned before whose prefix is gone from the lease (the server gave it
   back with lifetime 0, or the lease expired): the route is deleted and the address is
   replaced with preferred lifetime 0 and valid lifetime min(what is left, 2 hours): it
   stays, deprecated, and the kernel removes it when that runs out.
3. odhcpd's part: the router advertisement. radvd's prefixes are rewritten from the bridge's
   global addresses as the kernel has them, with the lifetimes left (odhcpd sends exactly
   that: TIME_LEFT of each address, 0 preferred for a deprecated one), plus each /64 that
   left the bridge with lifetimes 0 (odhcpd's "invalid prefixes"), and radvd is told to
   reload (SIGHUP), which sends an RA at once (odhcpd: 1 s after the address change).

dhcpcd's own reject route for the delegated prefix (netifd's unreachable route) is dhcpcd's.
Events other than a lease (PREINIT, CARRIER, STOPPED, ...) change nothing: with `persistent`
a stopping dhcpcd leaves the LAN as it is. Every action is logged to STATE_DIR/lan-hook.log.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import time

LEASE_REASONS = ("BOUND6", "RENEW6", "REBIND6", "REBOOT6")
GONE_REASONS = ("EXPIRE6", "RELEASE6")
RA_MIN_INTERVAL, RA_MAX_INTERVAL = 10, 30  # radvd's unsolicited RAs, seconds (odhcpd's defaults: 200, 600)
DEPRECATED_VALID_CAP = 7200  # netifd: a withdrawn prefix stays valid at most 2 hours
FOREVER = 0xFFFFFFFF


def lease_prefixes(env: dict) -> dict[str, tuple[int, int]]:
    """The delegated prefixes of the new lease that are still valid: {"P/len": (pltime, vltime)}."""
    found = {}
    for ia in range(1, 10):
        for n in range(1, 100):
            key = f"new_dhcp6_ia_pd{ia}_prefix{n}"
            if key not in env:
                break
            net = ipaddress.ip_network(f"{env[key]}/{env[key + '_length']}", strict=False)
            pltime, vltime = int(env.get(key + "_pltime", 0)), int(env.get(key + "_vltime", 0))
            if vltime > 0 and net.prefixlen <= 64:
                found[str(net)] = (min(pltime, vltime), vltime)
    return found


def first_64(prefix: str) -> ipaddress.IPv6Network:
    return next(ipaddress.ip_network(prefix).subnets(new_prefix=64))


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def addresses(bridge: str) -> list[dict]:
    out = ip("-j", "-6", "addr", "show", "dev", bridge, "scope", "global").stdout
    return [a for link in json.loads(out or "[]") for a in link.get("addr_info", []) if "local" in a]


class Hook:
    def __init__(self, state_dir: str, bridge: str):
        self.dir, self.bridge = state_dir, bridge
        self.state_path = os.path.join(state_dir, "lan-hook.json")
        try:
            with open(self.state_path) as f:
                self.state = json.load(f)
        except FileNotFoundError:
            self.state = {"assigned": [], "withdrawn": []}
        self.log_file = open(os.path.join(state_dir, "lan-hook.log"), "a")

    def log(self, text: str) -> None:
        self.log_file.write(f"{time.time():.3f} {text}\n")
        self.log_file.flush()

    def save(self) -> None:
        tmp = f"{self.state_path}.{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(self.state, f)
        os.replace(tmp, self.state_path)

    def assign(self, lease: dict[str, tuple[int, int]]) -> None:
        wanted = {}
        for prefix, (pltime, vltime) in lease.items():
            wanted[str(first_64(prefix))] = (pltime, vltime)
        for net, (pltime, vltime) in wanted.items():  # 1: the new, or renewed, prefixes
            address = f"{ipaddress.ip_network(net)[1]}/64"
            ip("-6", "addr", "replace", address, "dev", self.bridge, "noprefixroute",
               "preferred_lft", str(pltime), "valid_lft", str(vltime))
            ip("-6", "route", "replace", net, "dev", self.bridge, "proto", "static")
            self.log(f"assigned {address} preferred {pltime} valid {vltime}")
            if net in self.state["withdrawn"]:
                self.state["withdrawn"].remove(net)
        left = {a["local"]: a for a in addresses(self.bridge)}
        for net in [n for n in self.state["assigned"] if n not in wanted]:  # 2: the withdrawn ones
            address = str(ipaddress.ip_network(net)[1])
            ip("-6", "route", "del", net, "dev", self.bridge, check=False)
            info = left.get(address)
            if info is not None:
                valid = min(info.get("valid_life_time", FOREVER), DEPRECATED_VALID_CAP)
                ip("-6", "addr", "replace", f"{address}/64", "dev", self.bridge, "noprefixroute",
                   "preferred_lft", "0", "valid_lft", str(valid))
                self.log(f"deprecated {address}/64 valid {valid}")
            self.state["withdrawn"].append(net)
        self.state["assigned"] = list(wanted)
        self.save()

    def advertise(self) -> None:
        """radvd's prefixes from the bridge's addresses (odhcpd's RA), then SIGHUP radvd."""
        pios, seen = [], set()
        for a in addresses(self.bridge):
            if a.get("prefixlen", 128) > 64:
                continue
            net = str(ipaddress.ip_network(f"{a['local']}/64", strict=False))
            if net in seen:
                continue
            seen.add(net)
            pios.append((net, a.get("preferred_life_time", FOREVER), a.get("valid_life_time", FOREVER)))
        for net in self.state["withdrawn"]:
            if net not in seen:
                pios.append((net, 0, 0))
        write_radvd_conf(os.path.join(self.dir, "radvd.conf"), self.bridge, pios)
        self.log("radvd: " + ", ".join(f"{n} {p}/{v}" for n, p, v in pios))
        try:
            with open(os.path.join(self.dir, "radvd.pid")) as f:
                os.kill(int(f.read().split()[0]), signal.SIGHUP)
        except (FileNotFoundError, ValueError, IndexError, ProcessLookupError):
            self.log("radvd not running: not reloaded")


def _lifetime(seconds: int) -> str:
    return "infinity" if seconds >= FOREVER else str(seconds)


def write_radvd_conf(path: str, bridge: str, pios) -> None:
    """radvd.conf for `bridge`: one prefix block per (net, preferred, valid).

    Lifetimes count down between reloads (DecrementLifetimes), as the kernel's do, except
    for a deprecated prefix: radvd stops sending a decremented prefix once its preferred
    lifetime is 0, and odhcpd keeps announcing it.
    """
    lines = [f"interface {bridge} {{", "    AdvSendAdvert on;",
             f"    MinRtrAdvInterval {RA_MIN_INTERVAL};", f"    MaxRtrAdvInterval {RA_MAX_INTERVAL};"]
    for net, preferred, valid in pios:
        lines.append(f"    prefix {net} {{ AdvOnLink on; AdvAutonomous on; "
                     f"AdvPreferredLifetime {_lifetime(preferred)}; AdvValidLifetime {_lifetime(valid)};"
                     + (" DecrementLifetimes on;" if 0 < preferred and valid < FOREVER else "")
                     + " };")
    lines.append("};")
    tmp = f"{path}.{os.getpid()}"  # two hooks may run at once (lan.py's ADVERTISE)
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    state_dir, bridge = argv[1], argv[2]
    reason = os.environ.get("reason", "")
    hook = Hook(state_dir, bridge)
    if reason in LEASE_REASONS:
        lease = lease_prefixes(dict(os.environ))
    elif reason in GONE_REASONS:
        lease = {}
    elif reason == "ADVERTISE":  # not a dhcpcd reason: lan.py asks for the first RA this way
        hook.advertise()
        return 0
    else:
        return 0
    hook.log(f"{reason} on {os.environ.get('interface', '?')}: {lease or 'no prefix'}")
    hook.assign(lease)
    hook.advertise()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
