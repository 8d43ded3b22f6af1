"""The LAN side of the namespace world: real DHCPv6 prefix delegation, br-lan, LAN hosts.

    srv                                      (BIND, "the internet")
     |
    isp   to-rtr  Kea DHCPv6 (kea-dhcp6) delegates a /56 from POOL_SPACE to the router,
     |            and routes it there (fe80::2) while the router holds it
    rtr   wan0    dhcpcd asks for the prefix (IA_PD) and holds the lease (renew, rebind)
          br-lan  a bridge: <prefix>::1/64 from the lease, a ULA (ULA_PREFIX ::1), radvd
           |  |
          h-nas h-tv ...   LAN hosts, one namespace each, a veth into br-lan; SLAAC
                           addresses (EUI-64, stable-privacy, temporary) from radvd's RAs

What runs, and why it is faithful to an OpenWrt router. OpenWrt uses odhcp6c (the DHCPv6
client), netifd (puts a /64 of the delegated prefix on br-lan) and odhcpd (RAs on the LAN);
Debian ships none of them. Here:

- Kea (kea-dhcp6-server) is the ISP's DHCPv6 server, with a pd-pool (a /48 handing out
  /56s), a fixed server DUID and a lease file that survive a reconfiguration, as an ISP's
  do. Its run_script hook library routes each delegated prefix to the client holding it
  and drops the route of the one it took back (a BNG's job: see _ISP_ROUTES), so the old
  prefix is not routed to the router after a renumbering.
- dhcpcd (dhcpcd-base) is the router's client: Solicit, Request, Renew at T1 (or on SIGUSR1,
  as odhcp6c renews on SIGUSR1), Rebind, the lease's lifetimes, and the reject route for the
  delegated prefix (netifd's unreachable route). It is told to delegate to no interface:
  dhcpcd's own delegation deletes a /64 whose prefix the server took back, where netifd
  keeps it, deprecated; the kernel must see what OpenWrt does.
- lan_hook.py, dhcpcd's script, does netifd's and odhcpd's part, in their order: <prefix>::1/64
  on br-lan (noprefixroute, the lease's preferred and valid lifetimes, refreshed on each
  renewal) and its route; on renumbering, the new /64 first, then the old one deprecated
  (preferred 0, valid at most 2 h, its route gone), to be removed by the kernel when it runs
  out. It rewrites radvd's prefixes from br-lan's addresses with the lifetimes left, as
  odhcpd builds each RA, plus withdrawn /64s with lifetimes 0 (odhcpd's "invalid
  prefixes"), and reloads radvd (an RA goes out at once).
- radvd sends the RAs; the hosts are plain Linux hosts (the kernel's SLAAC, DAD, temporary
  addresses), and the router's neighbour table is the kernel's, filled by real traffic.

Where it differs, and why that does not matter here: the client asks for IA_PD only (OpenWrt
asks for an IA_NA too; the world's WAN address is static); unsolicited RAs go every 10-30 s
(odhcpd: 200-600 s) and the hosts' solicitations are answered at once either way; br-lan
has a port that is always up (lan1, into a namespace of its own: OpenWrt's switch port or
Wi-Fi), since a bridge without one has no carrier, no link-local address and no DAD.

Renumbering (renumber()) is the ISP's: the pool changes (Kea's config-reload, leases kept);
at the client's next Renew (T1; renumber() skips the wait with SIGUSR1) Kea answers with the
old prefix at lifetime 0 and a new one (RFC 8415 18.3.4), dhcpcd runs the hook, and the LAN
follows.

Everything carries the world's name and goes with World.close(): the processes run in the
world's namespaces (World.popen), the hosts are World.add_namespace() namespaces, and every
file (Kea's config, leases and socket, dhcpcd's DUID and lease, radvd's config) is in the
world's directory: dhcpcd's fixed /run/dhcpcd and /var/lib/dhcpcd are bind mounts of it in
its own mount namespace (the one `ip netns exec` makes), so worlds never share them.

Needs what world.py needs (its WAN clients use the same: kea-dhcp6-server, dhcpcd-base, radvd, busybox).
"""

from __future__ import annotations

import glob
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass

from tools.netns.agentlib import wait_for
from tools.netns.lan_hook import RA_MAX_INTERVAL
from tools.netns.world import ISP_RTR, World, WorldError

POOL_SPACE = "2001:db8:8000::/33"  # every pool the ISP delegates from
DELEGATED_LEN = 56
ULA_PREFIX = "fd5e:dd9e:14::/64"   # br-lan's ULA (OpenWrt gives the LAN one from its ula_prefix)
BRIDGE_MAC = "02:dd:ed:00:00:01"   # br-lan's own MAC (a bridge would take its lowest port's)
ROUTER_LL = "fe80::2"              # the router's link-local on the WAN (world.py): Kea's hook routes via it

_HOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lan_hook.py")
_FORGE_NS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "forge_ns.py")

# Kea's run_script hook library (kea-common) runs this on each committed lease: the ISP routes
# a delegated prefix to the client that holds it, via the link-local the request came from,
# and drops the route of the prefix the binding held before (Kea gave it back at lifetime 0).
# That is a BNG's job; Kea has none of its own. One prefix per binding (DUID, IAID), as Kea
# delegates; a binding that expires keeps its route (the world's router never goes away).
_ISP_ROUTES = """#!/bin/sh
[ "$1" = leases6_committed ] || exit 0
state={state}
mkdir -p "$state"
i=0
while [ "$i" -lt "${{LEASES6_SIZE:-0}}" ]; do
    eval "type=\\$LEASES6_AT${{i}}_TYPE prefix=\\$LEASES6_AT${{i}}_ADDRESS/\\$LEASES6_AT${{i}}_PREFIX_LEN"
    eval "valid=\\$LEASES6_AT${{i}}_VALID_LIFETIME binding=\\$LEASES6_AT${{i}}_DUID-\\$LEASES6_AT${{i}}_IAID"
    i=$((i + 1))
    [ "$type" = IA_PD ] && [ "$valid" != 0 ] || continue
    binding="$state/$(echo "$binding" | tr : _)"
    ip -6 route replace "$prefix" via "$QUERY6_REMOTE_ADDR" dev "$QUERY6_IFACE_NAME" proto dhcp
    old=$(cat "$binding" 2>/dev/null)
    [ -n "$old" ] && [ "$old" != "$prefix" ] && ip -6 route del "$old"
    echo "$prefix" > "$binding"
done
"""


def _run_script_library() -> str:
    found = glob.glob("/usr/lib/*/kea/hooks/libdhcp_run_script.so") + glob.glob("/usr/lib/kea/hooks/libdhcp_run_script.so")
    if not found:
        raise WorldError("Kea's run_script hook library (libdhcp_run_script.so, package kea-common) is missing")
    return found[0]


def pool(generation: int) -> ipaddress.IPv6Network:
    """The ISP's pool for the `generation`th prefix: 2001:db8:8000::/48, 2001:db8:8001::/48, ..."""
    base = ipaddress.ip_network(POOL_SPACE)
    return ipaddress.ip_network((int(base.network_address) + (generation << 80), 48))


def eui64(mac: str, prefix: str) -> str:
    """The modified EUI-64 address of `mac` in /64 `prefix` (RFC 4291 appendix A)."""
    b = bytes.fromhex(mac.replace(":", ""))
    iid = bytes([b[0] ^ 0x02]) + b[1:3] + b"\xff\xfe" + b[3:6]
    net = ipaddress.ip_network(prefix)
    return str(ipaddress.ip_address(int(net.network_address) | int.from_bytes(iid, "big")))


def interface_id(address: str) -> str:
    """The host part (low 64 bits) of an address, as `::a8bb:ccff:fedd:eeff`."""
    return str(ipaddress.ip_address(int(ipaddress.ip_address(address)) & ((1 << 64) - 1)))


def in_prefix(address: str, prefix: str) -> bool:
    return ipaddress.ip_address(address.split("/")[0]) in ipaddress.ip_network(prefix)


def _addr_info(world: World, ns: str, dev: str, scope: str = "global") -> list[dict]:
    out = world.ns_exec(ns, ["ip", "-j", "-6", "addr", "show", "dev", dev, "scope", scope]).stdout
    return [a for link in json.loads(out or "[]") for a in link.get("addr_info", []) if "local" in a]


def usable(a: dict) -> bool:
    """Not tentative, not DAD-failed, not deprecated (preferred lifetime left)."""
    return not (a.get("tentative") or a.get("dadfailed") or a.get("deprecated")
                or a.get("preferred_life_time", 1) == 0)


@dataclass(frozen=True)
class Lifetimes:
    """What Kea hands out: preferred and valid lifetime, T1 and T2 (RFC 8415: 0.5 and 0.8 of preferred)."""

    preferred: int = 3600
    valid: int = 7200

    @property
    def renew(self) -> int:
        return max(1, self.preferred // 2)

    @property
    def rebind(self) -> int:
        return max(2, self.preferred * 4 // 5)


class Lan:
    """The LAN of a World: Kea in isp, dhcpcd, br-lan and radvd in rtr, hosts on demand.

    `with World() as w: lan = Lan(w).start(); nas = lan.add_host("nas"); ...` -- no close of
    its own: World.close() stops and removes all of it.
    """

    def __init__(self, world: World, *, bridge: str = "br-lan", lifetimes: Lifetimes = Lifetimes(),
                 ula: bool = True):
        assert world.dir, "build() the world first"
        self.world = world
        self.bridge = bridge
        self.lifetimes = lifetimes
        self.ula = ula
        self.generation = 0
        self.hosts: dict[str, Host] = {}
        self.dir = os.path.join(world.dir, "lan")
        self._kea: subprocess.Popen | None = None
        self._dhcpcd: subprocess.Popen | None = None
        self._radvd: subprocess.Popen | None = None

    # -- start -----------------------------------------------------------------------------

    def start(self, timeout: float = 30) -> "Lan":
        """Bring up br-lan, Kea, radvd and dhcpcd; wait until the delegated /64 is usable on br-lan."""
        w = self.world
        os.makedirs(self.dir, exist_ok=True)
        w.ns_exec(w.rtr_ns, ["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"])
        # A bridge without a port that is up has no carrier (no DAD, no link-local): lan1, a
        # port whose other end is up in a namespace of its own, is the router's LAN switch
        # port (or its Wi-Fi) that is always there, whoever comes and goes.
        self.switch_ns = w.add_namespace("lan-switch")
        lines = [f"link add {self.bridge} address {BRIDGE_MAC} type bridge",
                 f"link add lan1 type veth peer name port1 netns {self.switch_ns}",
                 f"link set lan1 master {self.bridge}", "link set lan1 up", f"link set {self.bridge} up"]
        if self.ula:
            lines.append(f"addr add {ipaddress.ip_network(ULA_PREFIX)[1]}/64 dev {self.bridge}")
        w._ip(w.rtr_ns, *lines)
        w._ip(self.switch_ns, "link set port1 addrgenmode none", "link set port1 up")
        self._start_kea(timeout)
        self._start_dhcpcd()  # its Solicit and br-lan's DAD go on side by side
        # radvd sends from br-lan's link-local: wait for its DAD (and the ULA's) first
        wait_for(self._bridge_ready, timeout, f"{self.bridge}'s link-local and ULA to pass DAD", interval=0.05)
        self._run_hook("ADVERTISE")  # radvd.conf from br-lan as it is, unless dhcpcd's hook wrote it
        self._radvd = self._spawn(w.rtr_ns, "radvd", ["radvd", "-n", "-C", self.path("radvd.conf"),
                                                      "-p", self.path("radvd.pid"), "-m", "stderr"])
        wait_for(lambda: os.path.exists(self.path("radvd.pid")) or self._died(self._radvd, "radvd"),
                 timeout, "radvd to start", interval=0.05)
        self._run_hook("ADVERTISE")  # a lease that came while radvd started
        wait_for(lambda: self.prefix_now() or self._died(self._dhcpcd, "dhcpcd"), timeout,
                 f"a delegated prefix usable on {self.bridge}", interval=0.05)
        wait_for(lambda: self.isp_routes(self.prefix), timeout, f"the isp to route {self.prefix} to the router")
        return self

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def _spawn(self, ns: str, name: str, args: list[str], **kw) -> subprocess.Popen:
        """Start `args` in `ns` (World.popen: close() stops it), its output in <name>.log."""
        with open(self.path(f"{name}.log"), "a") as log:
            return self.world.popen_in(ns, args, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, **kw)

    def _died(self, proc: subprocess.Popen | None, name: str) -> bool:
        if proc is not None and proc.poll() is not None:
            raise WorldError(f"{name} exited with status {proc.returncode}: {self.log(name)[-2000:]}")
        return False

    def log(self, name: str) -> str:
        """The log of kea, kea-dhcp6 (Kea's own), dhcpcd, radvd or lan-hook."""
        try:
            with open(self.path(f"{name}.log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def logs(self) -> str:
        return "; ".join(f"{n}: {self.log(n)[-600:]!r}" for n in ("dhcpcd", "lan-hook", "kea-dhcp6"))

    # -- Kea, the ISP's DHCPv6 server ------------------------------------------------------

    def _kea_config(self) -> dict:
        lt = self.lifetimes
        return {"Dhcp6": {
            "interfaces-config": {"interfaces": [ISP_RTR]},
            "control-socket": {"socket-type": "unix", "socket-name": self.path("kea.sock")},
            "lease-database": {"type": "memfile", "persist": True, "name": self.path("kea-leases6.csv"),
                               "lfc-interval": 0},
            # the ISP's DUID (DUID-EN), the same across reloads: renewals name it
            "server-id": {"type": "EN", "enterprise-id": 2495, "identifier": "64646e73", "persist": False},
            "preferred-lifetime": lt.preferred, "valid-lifetime": lt.valid,
            "renew-timer": lt.renew, "rebind-timer": lt.rebind,
            "subnet6": [{"id": 1, "subnet": "2001:db8:1::/64", "interface": ISP_RTR,
                         "pd-pools": [{"prefix": str(pool(self.generation).network_address), "prefix-len": 48,
                                       "delegated-len": DELEGATED_LEN}]}],
            "hooks-libraries": [{"library": _run_script_library(),
                                 "parameters": {"name": self.path("isp-routes.sh"), "sync": False}}],
            "loggers": [{"name": "kea-dhcp6", "severity": "INFO",
                         "output_options": [{"output": self.path("kea-dhcp6.log")}]}],
        }}

    def _write_kea_config(self) -> None:
        with open(self.path("kea.json"), "w") as f:
            json.dump(self._kea_config(), f, indent=1)

    def _start_kea(self, timeout: float) -> None:
        with open(self.path("isp-routes.sh"), "w") as f:
            f.write(_ISP_ROUTES.format(state=self.path("isp-routes")))
        os.chmod(self.path("isp-routes.sh"), 0o755)
        self._write_kea_config()
        env = dict(os.environ, KEA_LOCKFILE_DIR=self.dir, KEA_PIDFILE_DIR=self.dir)
        self._kea = self._spawn(self.world.isp_ns, "kea", ["kea-dhcp6", "-c", self.path("kea.json")], env=env)
        wait_for(lambda: self._kea_alive() or self._died(self._kea, "kea"), timeout, "Kea's control socket")

    def _kea_alive(self) -> bool:
        try:
            return self.kea_command("status-get")["result"] == 0
        except OSError:
            return False

    def kea_command(self, command: str, **arguments) -> dict:
        """One command on Kea's control socket (a unix socket: no namespace needed)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(self.path("kea.sock"))
            s.sendall(json.dumps({"command": command, **({"arguments": arguments} if arguments else {})}).encode())
            data = b""
            while True:
                try:
                    json.loads(data)
                    break
                except ValueError:
                    pass
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        return json.loads(data)

    def isp_routes(self, prefix: str) -> bool:
        """Whether the isp routes `prefix` to the router (Kea's hook did), not just out of to-rtr."""
        out = self.world.ns_exec(self.world.isp_ns, ["ip", "-j", "-6", "route", "show", "proto", "dhcp"]).stdout
        return any(ipaddress.ip_network(prefix).subnet_of(ipaddress.ip_network(r["dst"]))
                   for r in json.loads(out or "[]") if r.get("gateway") == ROUTER_LL)

    def leases(self) -> list[dict]:
        """Kea's leases now, one dict per prefix (address, prefix_len, valid_lifetime,
        pref_lifetime, duid, ...): its lease file is a journal, the last row of a lease wins."""
        try:
            with open(self.path("kea-leases6.csv")) as f:
                rows = [line.rstrip("\n").split(",") for line in f if line.strip()]
        except FileNotFoundError:
            return []
        leases = {}
        for row in rows[1:]:
            lease = dict(zip(rows[0], row, strict=True))
            leases[(lease["address"], lease["prefix_len"])] = lease
        return list(leases.values())

    # -- dhcpcd, the router's DHCPv6 client ------------------------------------------------

    def _start_dhcpcd(self) -> None:
        w = self.world
        hook = self.path("lan-hook.sh")
        with open(hook, "w") as f:
            f.write(f"#!/bin/sh\nexec {sys.executable} {_HOOK} {self.dir} {self.bridge}\n")
        os.chmod(hook, 0o755)
        with open(self.path("dhcpcd.conf"), "w") as f:
            f.write(f"# the router's DHCPv6 client: prefix delegation only, the LAN is the hook's\n"
                    f"script {hook}\nipv6only\nnoipv6rs\nduid\npersistent\nnoipv4ll\n"
                    f"allowinterfaces {w.wan}\ninterface {w.wan}\n  ia_pd 1\n")
        for d in ("dhcpcd-run", "dhcpcd-db"):
            os.makedirs(self.path(d), exist_ok=True)
        # dhcpcd's state directories are fixed: bind the world's own over them, in the mount
        # namespace `ip netns exec` made for this process alone
        setup = (f"mkdir -p /run/dhcpcd /var/lib/dhcpcd && mount --bind {self.path('dhcpcd-run')} /run/dhcpcd "
                 f"&& mount --bind {self.path('dhcpcd-db')} /var/lib/dhcpcd "
                 f"&& exec dhcpcd -f {self.path('dhcpcd.conf')} -B -d")
        self._dhcpcd = self._spawn(w.rtr_ns, "dhcpcd", ["sh", "-c", setup])

    def _run_hook(self, reason: str) -> None:
        self.world.ns_exec(self.world.rtr_ns, ["env", f"reason={reason}", sys.executable, _HOOK,
                                               self.dir, self.bridge])

    @property
    def dhcpcd_pid(self) -> int:
        """dhcpcd's own pid (`ip netns exec` and sh exec it)."""
        assert self._dhcpcd is not None
        return self._dhcpcd.pid

    def renew(self) -> None:
        """Make dhcpcd renew now, as it does at T1 (SIGUSR1; odhcp6c renews on SIGUSR1 too)."""
        os.kill(self.dhcpcd_pid, signal.SIGUSR1)

    # -- br-lan ----------------------------------------------------------------------------

    def addr_info(self) -> list[dict]:
        """br-lan's global addresses (`ip -j addr`), flags and lifetimes included."""
        return _addr_info(self.world, self.world.rtr_ns, self.bridge)

    def _bridge_ready(self) -> bool:
        """br-lan has its link-local address, and it and the ULA are past DAD."""
        own = [a for a in _addr_info(self.world, self.world.rtr_ns, self.bridge, scope="all")
               if not in_prefix(a["local"], POOL_SPACE)]
        return any(a.get("scope") == "link" for a in own) and not any(a.get("tentative") for a in own)

    def delegated(self) -> list[dict]:
        """br-lan's addresses from the delegated prefixes (POOL_SPACE), usable or not."""
        return [a for a in self.addr_info() if in_prefix(a["local"], POOL_SPACE)]

    def prefix_now(self) -> str | None:
        """The usable delegated /64 on br-lan now, or None."""
        found = [a for a in self.delegated() if usable(a)]
        if len(found) > 1:
            raise WorldError(f"more than one usable delegated prefix on {self.bridge}: {found}")
        return str(ipaddress.ip_network(f"{found[0]['local']}/64", strict=False)) if found else None

    @property
    def prefix(self) -> str:
        """The usable delegated /64 on br-lan, e.g. 2001:db8:8000::/64."""
        prefix = self.prefix_now()
        if prefix is None:
            raise WorldError(f"no usable delegated prefix on {self.bridge}: {self.addr_info()}")
        return prefix

    @property
    def router_address(self) -> str:
        """The router's address in the current prefix (<prefix>::1)."""
        return str(ipaddress.ip_network(self.prefix)[1])

    @property
    def ula_prefix(self) -> str:
        return ULA_PREFIX

    def renumber(self, *, renew_now: bool = True, wait: bool = True, timeout: float = 30) -> str:
        """The ISP delegates another prefix; returns the new /64 once it is usable on br-lan.

        Kea's pool moves to the next one (config-reload; its leases stay); at the client's
        Renew (now by SIGUSR1 when `renew_now`, else at T1) Kea gives the old prefix back
        with lifetime 0 and a new one. Waits until the new /64 is usable on br-lan, the old
        one is deprecated (preferred lifetime 0) or gone, and the isp routes the new one.
        With `wait=False`, returns at once the /64 the router will get (Kea hands out the
        first /56 of its new pool); wait_renumbered(old) then waits as above.
        """
        old = self.prefix
        self.generation += 1
        self._write_kea_config()
        answer = self.kea_command("config-reload")
        if answer.get("result") != 0:
            raise WorldError(f"Kea refused the new pool: {answer}")
        if renew_now:
            self.renew()
        if not wait:
            return str(next(pool(self.generation).subnets(new_prefix=64)))
        return self.wait_renumbered(old, timeout)

    def wait_renumbered(self, old: str, timeout: float = 30) -> str:
        """Wait until a /64 other than `old` is usable on br-lan and routed by the isp, and
        `old` is deprecated or gone; returns the new /64."""
        def done():
            new = self.prefix_now()
            if new is None or new == old or not self.isp_routes(new):
                return None
            still = [a for a in self.delegated() if in_prefix(a["local"], old) and usable(a)]
            return None if still else new
        return wait_for(lambda: done() or self._died(self._dhcpcd, "dhcpcd"), timeout,
                     f"a new prefix in place of {old} on {self.bridge} ({self.logs()})")

    # -- the router's neighbour table ------------------------------------------------------

    def neighbours(self) -> list[dict]:
        """The router's IPv6 neighbour table on br-lan (`ip -j -6 neigh`): dst, lladdr, state."""
        out = self.world.ns_exec(self.world.rtr_ns, ["ip", "-j", "-6", "neigh", "show", "dev", self.bridge]).stdout
        return json.loads(out or "[]")

    def neighbour(self, address: str) -> dict | None:
        return next((n for n in self.neighbours() if n["dst"] == address), None)

    def wait_neighbour(self, address: str, states=("REACHABLE", "STALE", "DELAY", "PROBE"),
                       timeout: float = 20) -> dict:
        """Wait until the router's entry for `address` is in one of `states`; returns it."""
        def found():
            n = self.neighbour(address)
            return n if n is not None and set(n.get("state", ())) & set(states) else None
        return wait_for(found, timeout, f"the router's neighbour entry for {address} in {'/'.join(states)}: "
                                     f"{self.neighbour(address)}")

    def probe(self, address: str) -> bool:
        """Send one echo request from the router to `address` (resolving it: neighbour discovery)."""
        return self.world.ns_exec(self.world.rtr_ns, ["busybox", "ping", "-6", "-c", "1", "-W", "1", address],
                                  check=False).returncode == 0

    def wait_failed(self, address: str, timeout: float = 60) -> None:
        """Probe `address` from the router until its neighbour entry fails or goes (a host
        that left: the router's probes go unanswered)."""
        def failed_or_gone():
            self.probe(address)
            entry = self.neighbour(address)
            return entry is None or "FAILED" in entry.get("state", ())
        wait_for(failed_or_gone, timeout, f"the router's neighbour entry for {address} to fail")

    # -- hosts -----------------------------------------------------------------------------

    def add_host(self, name: str, *, mac: str | None = None, addrgen: str = "eui64",
                 token: str | None = None, temporary: bool = False, temp_preferred: int | None = None,
                 temp_valid: int | None = None) -> "Host":
        """A host on br-lan that takes SLAAC addresses from the router's RAs.

        `addrgen`: "eui64" (from the MAC) or "stable-privacy" (RFC 7217, a fixed secret).
        `token`: a fixed host part instead, such as "::1234" (`ip token`: Linux's tokenised
        interface identifiers, what a server with a static host part uses).
        `temporary`: also temporary addresses (use_tempaddr=2, RFC 8981); `temp_preferred`
        and `temp_valid` (seconds) make them rotate quickly (the kernel makes the next one
        a few seconds before the current one's preferred lifetime runs out).
        """
        if name in self.hosts:
            raise WorldError(f"a host {name!r} already exists")
        host = Host(self, name, mac or f"02:dd:ed:00:01:{len(self.hosts) + 1:02x}", addrgen, token,
                    temporary, temp_preferred, temp_valid)
        self.hosts[name] = host
        return host


class Host:
    """A LAN host: its own namespace, `eth0` a veth whose other end is a port of br-lan."""

    def __init__(self, lan: Lan, name: str, mac: str, addrgen: str, token: str | None, temporary: bool,
                 temp_preferred: int | None, temp_valid: int | None):
        if addrgen not in ("eui64", "stable-privacy"):
            raise ValueError(f"addrgen {addrgen!r}: eui64 or stable-privacy")
        self.lan, self.world = lan, lan.world
        self.name, self.mac, self.addrgen, self.token, self.temporary = name, mac.lower(), addrgen, token, temporary
        self.port = f"lan-{name}"[:15]
        w = self.world
        self.ns = w.add_namespace(f"h-{name}")
        w._ip(self.ns, f"link add eth0 address {self.mac} netns {self.ns} type veth peer name {self.port} netns {w.rtr_ns}")
        conf = "net.ipv6.conf.eth0"
        sysctls = []
        if addrgen == "stable-privacy":
            secret = ipaddress.ip_address(int.from_bytes(name.encode().ljust(16, b"\0")[:16], "big"))
            sysctls.append(f"{conf}.stable_secret={secret}")
        if temporary:
            sysctls.append(f"{conf}.use_tempaddr=2")
            if temp_preferred is not None:  # seconds, not a day: keep the random head start small too
                sysctls += [f"{conf}.temp_prefered_lft={temp_preferred}", f"{conf}.max_desync_factor=1"]
            if temp_valid is not None:
                sysctls.append(f"{conf}.temp_valid_lft={temp_valid}")
        if sysctls:
            w.ns_exec(self.ns, ["sysctl", "-qw", *sysctls])
        mode = "stable_secret" if addrgen == "stable-privacy" else "eui64"
        w._ip(self.ns, f"link set eth0 addrgenmode {mode}", *([f"token set {token}/64 dev eth0"] if token else []))
        w._ip(w.rtr_ns, f"link set {self.port} master {lan.bridge}", f"link set {self.port} up")
        w._ip(self.ns, "link set eth0 up")

    def __repr__(self) -> str:
        return (f"Host({self.name!r}, mac={self.mac}, {f'token {self.token}' if self.token else self.addrgen}"
                f"{', temporary' if self.temporary else ''})")

    def addr_info(self) -> list[dict]:
        return _addr_info(self.world, self.ns, "eth0")

    def addresses(self, prefix: str | None = None, *, temporary: bool | None = None,
                  only_usable: bool = True) -> list[str]:
        """Its global addresses (in `prefix`), temporary ones or not, usable ones only by default."""
        return [a["local"] for a in self.addr_info()
                if (prefix is None or in_prefix(a["local"], prefix))
                and (temporary is None or bool(a.get("temporary")) == temporary)
                and (usable(a) or not only_usable)]

    def stable(self, prefix: str | None = None) -> str:
        """Its one non-temporary (EUI-64 or stable-privacy) address in `prefix` (default: the LAN's)."""
        found = self.addresses(prefix or self.lan.prefix, temporary=False, only_usable=False)
        if len(found) != 1:
            raise WorldError(f"{self.name}: {len(found)} non-temporary addresses in {prefix or self.lan.prefix}: {self.addr_info()}")
        return found[0]

    def wait_slaac(self, prefix: str | None = None, timeout: float = RA_MAX_INTERVAL + 10) -> dict[str, str]:
        """Wait until its SLAAC addresses in `prefix` (default: the LAN's) are usable.

        The default covers radvd's longest quiet (MaxRtrAdvInterval) and DAD: the RA a reload
        sends at once is held back when one left less than 3 s before (radvd's
        MIN_DELAY_BETWEEN_RAS), and one lost means the next, up to 30 s later.

        Returns {"stable": address} and, for a host with temporary addresses, "temporary".
        """
        prefix = prefix or self.lan.prefix

        def ready():
            got = {}
            stable = self.addresses(prefix, temporary=False)
            if stable:
                got["stable"] = stable[0]
            if self.temporary:
                temp = self.addresses(prefix, temporary=True)
                if not temp:
                    return None
                got["temporary"] = temp[-1]  # the kernel lists the newest first; any will do
            return got if "stable" in got else None
        return wait_for(ready, timeout, f"{self.name}'s SLAAC addresses in {prefix}: {self.addr_info()}")

    def ping(self, dst: str, src: str | None = None) -> bool:
        """One echo request to `dst`, from `src` or the address the kernel picks."""
        args = ["busybox", "ping", "-6", "-c", "1", "-W", "2"] + (["-I", src] if src else []) + [dst]
        return self.world.ns_exec(self.ns, args, check=False).returncode == 0

    def announce(self, prefix: str | None = None) -> list[str]:
        """Ping the router from each usable global address (in `prefix`): the router's
        neighbour table then holds them all, as it does for a host that talks. Returns them."""
        sent = []
        for address in self.addresses(prefix):
            if not any(self.ping(self.lan.router_address, address) for _ in range(3)):
                raise WorldError(f"{self.name}: no answer from the router to {address} (3 tries)")
            sent.append(address)
        return sent

    def forge_solicitation(self, source: str, mac: str) -> None:
        """Send the router one Neighbor Solicitation from `source` (an address this host
        does not hold) naming `mac` as its link-layer address (forge_ns.py): what any LAN host
        can do, with no MAC spoofing."""
        self.world.ns_exec(self.ns, [sys.executable, _FORGE_NS, source, mac, self.lan.router_address])

    def chatter(self, interval: float = 0.5) -> subprocess.Popen:
        """Keep talking to the internet (BIND's address) from whichever address the kernel
        picks (with temporary addresses: the newest), as a browsing host does. World.close()
        (or leave()) stops it."""
        loop = (f"while :; do busybox ping -6 -c 1 -W 1 {self.world.bind_addr6} >/dev/null 2>&1; "
                f"sleep {interval}; done")
        return self.world.popen_in(self.ns, ["sh", "-c", loop], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def leave(self) -> None:
        """The host goes away: its link first (both ends of the veth go: br-lan loses the port
        at once), then its namespace and whatever ran there."""
        self.world._ip(self.ns, "link del eth0")
        self.world.del_namespace(self.ns)
