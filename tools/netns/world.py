"""A small world in network namespaces, with a real BIND, for integration tests and the demo.

Three namespaces joined by two veth pairs (names get a per-world suffix):

    rtr  wan0   198.51.100.2/24  2001:db8:1::2/64  -- the router; its WAN address is under test
           |
    isp  to-rtr 198.51.100.1/24  2001:db8:1::1/64  -- forwards (v4 and v6), counts DNS packets
         to-srv 192.0.2.1/24     2001:db8:53::1/64
           |
    srv  eth0   192.0.2.53/24    2001:db8:53::53/64 -- BIND (`named`), started by start_bind()
                192.0.2.54/24    2001:db8:53::54/64 -- a second `named`, the primary's secondary
                                                       (NOTIFY, IXFR): start_bind(secondary=True)
                192.0.2.80/24    2001:db8:53::80/64 -- "the internet": HTTP, HTTPS and DNS echo
                                                       servers, started by start_echo()

The LAN behind the router (br-lan, real DHCPv6 prefix delegation from the isp, LAN hosts in
namespaces of their own): lan.py, on top of a world.

Carrier-grade NAT: cgnat() gives the router a private WAN address (100.64.0.2/10) and makes
the isp SNAT it (nftables) to a public one on the way to srv; move_nat() changes that public
address, as an ISP moving its NAT does. BIND stays reachable from the router through the NAT.

Rules the code below keeps:
- The WAN address may become anything (another prefix, a private address) without touching
  the isp: the isp routes every address it has no better route for out of its `to-rtr`
  link. The router keeps no route artificially (routes="client", the default): its
  default routes come and go as a WAN client makes them: IPv4 via the isp's address in
  the WAN's subnet (added to the isp when missing), put back after each address change, as
  busybox udhcpc's stock script does (ifconfig, then `route add default`); IPv6 via the isp's
  link-local address, as a Router Advertisement installs it. strip_wan() leaves the link bare
  for a real client (tools/netns/wanclients.py: PPPoE, DHCPv4, SLAAC, DHCPv6).
  `World(routes="onlink")` gives the router `onlink` default routes that survive every
  address change instead: kinder than a router, kept for the bench's comparison.
- No address is ever tentative unless a test asks for DAD: the infrastructure links carry
  fixed link-local addresses and every infrastructure IPv6 address is `nodad`.
- The isp's DNS counters see only what the router sends: `dig()`, `serial()` and
  `nsupdate()` ask BIND from inside `srv`, so they never count.
- Everything a world makes carries its unique name (prefix, pid, random), and close()
  removes it all: processes, namespaces (and so the veths), /etc/netns/<rtr>, the temp dir.

Needs root, iproute2, nftables and bind9 (named, dig, nsupdate, tsig-keygen), and for the WAN
clients pppoe, dnsmasq-base, busybox, radvd, kea-dhcp6-server and dhcpcd-base. Importable
from pytest (tests/netns/conftest.py) and from a script (tools/demo.py, python -m tools.demo).
"""

from __future__ import annotations

import atexit
import base64
import ctypes
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Iterable, Sequence

PREFIX = "ddnsedge-"

RTR_ADDR4, RTR_ADDR6 = "198.51.100.2/24", "2001:db8:1::2/64"
ISP_RTR_ADDR4, ISP_RTR_ADDR6 = "198.51.100.1/24", "2001:db8:1::1/64"
ISP_SRV_ADDR4, ISP_SRV_ADDR6 = "192.0.2.1/24", "2001:db8:53::1/64"
SRV_ADDR4, SRV_ADDR6 = "192.0.2.53/24", "2001:db8:53::53/64"
SEC_ADDR4, SEC_ADDR6 = "192.0.2.54/24", "2001:db8:53::54/64"  # the secondary (start_bind(secondary=True))
GATEWAY4, GATEWAY6 = (a.split("/")[0] for a in (ISP_RTR_ADDR4, ISP_RTR_ADDR6))
ISP_LINK_LOCAL = "fe80::1"  # the isp's link-local address on to-rtr: where IPv6 routes from RAs point

ISP_RTR, ISP_SRV, SRV_IF = "to-rtr", "to-srv", "eth0"  # link names inside their namespaces
NFT_TABLE = "ddns_edge"
DNS_COUNTERS = ("dns_udp4", "dns_tcp4", "dns_udp6", "dns_tcp6")

TOOLS = ("ip", "nft", "named", "dig", "nsupdate", "tsig-keygen", "named-journalprint", "openssl",
         # the WAN clients (wanclients.py)
         "pppoe-server", "pppoe", "dnsmasq", "busybox", "radvd", "kea-dhcp6", "dhcpcd")

ECHO_ADDR4, ECHO_ADDR6 = "192.0.2.80/24", "2001:db8:53::80/64"
NAT_TABLE = "ddns_edge_nat"
CGNAT_PRIVATE, CGNAT_PUBLIC = "100.64.0.2/10", "203.0.113.5"

# Debian confines /usr/sbin/named with AppArmor: it may write below /var/cache/bind, not /tmp.
_NAMED_WRITABLE = "/var/cache/bind"


class WorldError(RuntimeError):
    """The world could not be built or driven; the message carries the command and its output."""


@dataclass(frozen=True)
class Zone:
    """A zone served by the world's BIND.

    `policy`: the update-policy grant lines (with or without the trailing ';'), None for
    the world's default; `{key}` and `{zone}` are replaced by the key and zone names.
    `records`: extra zone-file lines, e.g. "www 60 IN A 203.0.113.9".
    """

    name: str = "example.com"
    policy: Sequence[str] | None = None
    records: Sequence[str] = ()


DEFAULT_POLICY = ("grant {key} zonesub ANY",)


def missing_tools() -> list[str]:
    """The tools this module runs that are not on PATH (sbin directories included)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return [t for t in TOOLS if shutil.which(t, path=path) is None]


def _run(args: Sequence[str], *, input: str | None = None, check: bool = True,
         timeout: float = 30) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(args), input=input, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise WorldError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL if the test process dies (even by SIGKILL)."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _stop(proc: subprocess.Popen, timeout: float = 5) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _kill_namespace_processes(ns: str) -> None:
    pids = _run(["ip", "netns", "pids", ns], check=False).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def netns_names() -> list[str]:
    return [line.split()[0] for line in _run(["ip", "netns", "list"], check=False).stdout.splitlines() if line.strip()]


def _tmp_base() -> str:
    """Where worlds make their temp dirs: $DDNS_EDGE_WORLD_TMP, else where named may write."""
    if os.environ.get("DDNS_EDGE_WORLD_TMP"):
        return os.environ["DDNS_EDGE_WORLD_TMP"]
    if os.path.isdir(_NAMED_WRITABLE) and os.access(_NAMED_WRITABLE, os.W_OK):
        return _NAMED_WRITABLE
    return tempfile.gettempdir()


class World:
    """Three namespaces (rtr, isp, srv), the links between them and, on demand, BIND in srv.

    Use as a context manager (`with World() as w: w.start_bind(); ...`), or call build()
    and close() yourself. With `handle_signals=True` (for scripts) SIGTERM and SIGHUP raise
    SystemExit, so the world is torn down as on any exception; SIGINT already raises
    KeyboardInterrupt. close() is idempotent and also runs at interpreter exit.
    """

    bind_addr4 = SRV_ADDR4.split("/")[0]
    bind_addr6 = SRV_ADDR6.split("/")[0]

    def __init__(self, prefix: str = PREFIX, wan: str = "wan0", handle_signals: bool = False,
                 routes: str = "client"):
        if routes not in ("onlink", "client"):
            raise ValueError(f"routes must be 'onlink' or 'client', not {routes!r}")
        self.routes = routes
        self.name = f"{prefix}{os.getpid()}-{secrets.token_hex(2)}"
        self.rtr_ns, self.isp_ns, self.srv_ns = (f"{self.name}-{n}" for n in ("rtr", "isp", "srv"))
        self.wan = wan
        self.dir: str | None = None
        self.zones: list[str] = []
        self.key_name: str | None = None
        self.key_algorithm: str | None = None
        self.key_secret: str | None = None
        self.key_file_path: str | None = None
        self._key_clause: str | None = None
        self._named: subprocess.Popen | None = None
        self._named_log = None
        self._named_rc: int | None = None
        self.keys: dict[str, str] = {}  # start_bind(keys=...): key name -> secret (the world's algorithm)
        self._secondary: subprocess.Popen | None = None
        self._secondary_log = None
        self._procs: list[subprocess.Popen] = []
        self._extra_ns: list[str] = []  # add_namespace(): LAN hosts and the like
        self._echo: subprocess.Popen | None = None
        self.echo_ca: str | None = None
        self._saved_wan: list[str] | None = None
        self._run_dirs: list[str] = []
        self._handle_signals = handle_signals
        self._old_handlers: dict[int, object] = {}
        self._built = self._closed = False

    # -- life cycle ------------------------------------------------------------------------

    def __enter__(self) -> "World":
        self.build()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def build(self) -> "World":
        """Create the namespaces, links, addresses, routes, counters and resolv.conf."""
        if self._built:
            return self
        self._built = True
        atexit.register(self.close)
        if self._handle_signals:
            self._old_handlers = {sig: signal.getsignal(sig) for sig in _SIGNALS}
            signal.signal(signal.SIGTERM, _raise_exit)
            signal.signal(signal.SIGHUP, _raise_exit)
        try:
            self.dir = tempfile.mkdtemp(prefix=self.name + "-", dir=_tmp_base())
            for ns in (self.rtr_ns, self.isp_ns, self.srv_ns):
                _run(["ip", "netns", "add", ns])
            # promote_secondaries: deleting the first of two WAN addresses in one subnet
            # must not delete the second (set_wan adds the new one, then deletes the old).
            self.ns_exec(self.rtr_ns, ["sysctl", "-qw", "net.ipv4.conf.all.promote_secondaries=1"])
            self.ns_exec(self.isp_ns, ["sysctl", "-qw", "net.ipv4.ip_forward=1",
                                       "net.ipv6.conf.all.forwarding=1"])
            _run(["ip", "link", "add", ISP_SRV, "netns", self.isp_ns, "type", "veth",
                  "peer", "name", SRV_IF, "netns", self.srv_ns])
            self._ip(self.isp_ns, "link set lo up",
                     *_link_lines(ISP_SRV, "fe80::1/64", ISP_SRV_ADDR4, ISP_SRV_ADDR6))
            self._ip(self.srv_ns, "link set lo up",
                     *_link_lines(SRV_IF, "fe80::53/64", SRV_ADDR4, SRV_ADDR6),
                     f"route add default via {ISP_SRV_ADDR4.split('/')[0]}",
                     f"route add ::/0 via {ISP_SRV_ADDR6.split('/')[0]}")
            self._make_wan([RTR_ADDR4, RTR_ADDR6])
            self.ns_exec(self.isp_ns, ["nft", "-f", "-"], input=self._nft_ruleset())
            os.makedirs(self._netns_etc, exist_ok=True)
            with open(os.path.join(self._netns_etc, "resolv.conf"), "w") as f:
                f.write(f"nameserver {self.bind_addr4}\n")
            self.wait_no_tentative()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop every process of the world and remove everything it made. Idempotent."""
        if self._closed or not self._built:
            return
        self._closed = True
        atexit.unregister(self.close)
        for sig in self._old_handlers:  # a second signal must not cut the cleanup short
            signal.signal(sig, signal.SIG_IGN)
        try:
            for proc in self._procs:
                _stop(proc)
            self.stop_bind()
            self.stop_secondary()
            existing = netns_names()
            for ns in (self.rtr_ns, self.isp_ns, self.srv_ns, *self._extra_ns):
                if ns in existing:
                    _kill_namespace_processes(ns)
                    _run(["ip", "netns", "del", ns], check=False)
            shutil.rmtree(self._netns_etc, ignore_errors=True)
            if self.dir:
                shutil.rmtree(self.dir, ignore_errors=True)
            for run_dir in self._run_dirs:
                shutil.rmtree(run_dir, ignore_errors=True)
        finally:
            for sig, old in self._old_handlers.items():
                signal.signal(sig, old)

    @classmethod
    def sweep(cls, prefix: str = PREFIX) -> list[str]:
        """Remove what worlds of dead processes left behind (a runner killed with SIGKILL).

        Returns the world names removed; worlds of live processes are left alone.
        """
        name = re.compile(re.escape(prefix) + r"(?P<pid>\d+)-[0-9a-f]+-")  # then rtr, isp, srv or mkdtemp's
        removed = set()
        for ns in netns_names():
            m = name.match(ns)
            if m and not _pid_alive(int(m["pid"])):
                _kill_namespace_processes(ns)
                _run(["ip", "netns", "del", ns], check=False)
                shutil.rmtree(os.path.join("/etc/netns", ns), ignore_errors=True)
                removed.add(m[0].rstrip("-"))
        for base in {_tmp_base(), "/tmp"}:
            for entry in os.listdir(base):
                m = name.match(entry)
                if m and not _pid_alive(int(m["pid"])):
                    shutil.rmtree(os.path.join(base, entry), ignore_errors=True)
                    removed.add(m[0].rstrip("-"))
        return sorted(removed)

    def state_dir(self, label: str) -> str:
        """A state_dir for an agent in this world, where `check` takes one (a directory of its
        own below /tmp; the world's own directory is below /var/cache/bind), removed by close()."""
        path = tempfile.mkdtemp(prefix=f"{self.name}-state-{label}-", dir="/tmp")
        self._run_dirs.append(path)
        return path

    @property
    def _netns_etc(self) -> str:
        return os.path.join("/etc/netns", self.rtr_ns)

    # -- running commands ------------------------------------------------------------------

    def ns_exec(self, ns: str, args: Sequence[str], *, input: str | None = None,
                check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run `args` inside namespace `ns`; raise WorldError when `check` and it fails."""
        return _run(["ip", "netns", "exec", ns, *args], input=input, check=check, timeout=timeout)

    def exec(self, args: Sequence[str], **kw) -> subprocess.CompletedProcess:
        """subprocess.run(args) inside rtr; output captured as text unless told otherwise."""
        kw.setdefault("capture_output", "stdout" not in kw and "stderr" not in kw)
        kw.setdefault("text", True)
        return subprocess.run(["ip", "netns", "exec", self.rtr_ns, *args], **kw)

    def popen(self, args: Sequence[str], **kw) -> subprocess.Popen:
        """subprocess.Popen(args) inside rtr; close() stops it if it still runs."""
        return self.popen_in(self.rtr_ns, args, **kw)

    def popen_in(self, ns: str, args: Sequence[str], **kw) -> subprocess.Popen:
        """subprocess.Popen(args) inside the world's namespace `ns`; close() stops it."""
        kw.setdefault("preexec_fn", _die_with_parent)
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *args], **kw)
        self._procs.append(proc)
        return proc

    def add_namespace(self, suffix: str) -> str:
        """Create namespace <world name>-<suffix> with lo up; close() (and sweep()) remove it."""
        ns = f"{self.name}-{suffix}"
        _run(["ip", "netns", "add", ns])
        self._extra_ns.append(ns)
        self._ip(ns, "link set lo up")
        return ns

    def del_namespace(self, ns: str) -> None:
        """Kill the processes of a namespace made by add_namespace() and delete it (its links go too)."""
        _kill_namespace_processes(ns)
        _run(["ip", "netns", "del", ns])
        self._extra_ns.remove(ns)

    def _ip(self, ns: str, *lines: str) -> None:
        """Run `ip` commands (one a line, without the leading `ip`) in namespace `ns`."""
        _run(["ip", "-n", ns, "-batch", "-"], input="\n".join(lines) + "\n")

    # -- the router's WAN ------------------------------------------------------------------

    def _make_wan(self, addresses: Iterable[str]) -> None:
        _run(["ip", "link", "add", self.wan, "netns", self.rtr_ns, "type", "veth",
              "peer", "name", ISP_RTR, "netns", self.isp_ns])
        # Every address without a better route lives behind the router: the WAN may change freely.
        self._ip(self.isp_ns, *_link_lines(ISP_RTR, f"{ISP_LINK_LOCAL}/64", ISP_RTR_ADDR4, ISP_RTR_ADDR6),
                 f"route add default dev {ISP_RTR}", f"route add ::/0 dev {ISP_RTR}")
        lines = ["link set lo up", *_link_lines(self.wan, "fe80::2/64")]
        lines += [f"addr add {a} dev {self.wan}" + (" nodad" if ":" in a else "") for a in addresses]
        if self.routes == "onlink":
            lines += [f"route replace default via {GATEWAY4} dev {self.wan} onlink",
                      f"route replace ::/0 via {GATEWAY6} dev {self.wan} onlink"]
            self._ip(self.rtr_ns, *lines)
            return
        self._ip(self.rtr_ns, *lines)
        routes = [self._client_route(ipaddress.ip_interface(a)) for a in addresses]
        if any(ipaddress.ip_interface(a).version == 6 for a in addresses):
            routes.append(f"route replace ::/0 via {ISP_LINK_LOCAL} dev {self.wan}")
        if any(routes):
            self._ip(self.rtr_ns, *[r for r in routes if r])

    def _client_route(self, iface) -> str | None:
        """routes="client": the IPv4 default route a DHCP client adds for `iface`, via the
        isp's address in its subnet (given to the isp first when it has none there)."""
        if iface.version != 4 or iface.network.prefixlen >= 31:
            return None
        hosts = iface.network.hosts()
        gateway = next(hosts)
        if gateway == iface.ip:
            gateway = next(hosts)
        if f"{gateway}/{iface.network.prefixlen}" not in self._isp_wan_addresses():
            self._ip(self.isp_ns, f"addr add {gateway}/{iface.network.prefixlen} dev {ISP_RTR}")
        return f"route replace default via {gateway} dev {self.wan}"

    def _isp_wan_addresses(self) -> list[str]:
        out = _run(["ip", "-n", self.isp_ns, "-j", "addr", "show", "dev", ISP_RTR]).stdout
        return [f"{a['local']}/{a['prefixlen']}" for link in json.loads(out) for a in link.get("addr_info", [])]

    def strip_wan(self) -> None:
        """Leave the WAN link bare for a WAN client: no global address, no default route.

        The world is then routes="client": what routes the router has, the client made.
        """
        self.routes = "client"
        for family, default in (("-4", "0.0.0.0/0"), ("-6", "::/0")):
            _run(["ip", "-n", self.rtr_ns, family, "route", "flush", "dev", self.wan, "exact", default])
        self._ip(self.rtr_ns, f"addr flush dev {self.wan} scope global")

    def set_wan(self, cidr: str, family: int | None = None) -> None:
        """Make `cidr` the WAN's only global address of its family (4 or 6).

        The new address is added first (IPv6: nodad), then the others of that family are
        deleted, so the link never goes without one (netlink shows an add, then deletes).
        With routes="client", IPv4 goes as busybox udhcpc's stock script does it: the old
        address goes (the kernel drops the default route with it), the new one comes, then
        the default route via the isp's address in the new subnet; the IPv6 default route
        (via the isp's link-local address, as from an RA) is left alone.
        """
        iface = ipaddress.ip_interface(cidr)
        if family is not None and family != iface.version:
            raise ValueError(f"{cidr} is not an IPv{family} address")
        family, cidr = iface.version, str(iface)
        current = self.wan_addresses(family)
        if self.routes == "client" and family == 4:
            # as busybox udhcpc's stock script: `ifconfig` swaps the address (the kernel
            # drops the routes with the last one), then `route add default gw`
            self._ip(self.rtr_ns, *[f"addr del {a} dev {self.wan}" for a in current if a != cidr],
                     *([] if cidr in current else [f"addr add {cidr} dev {self.wan}"]))
            route = self._client_route(iface)
            if route:
                self._ip(self.rtr_ns, route)
            return
        if cidr not in current:
            self.add_addr(cidr, nodad=family == 6)
        old = [a for a in current if a != cidr]
        lines = [f"addr del {a} dev {self.wan}" for a in old]
        gw = f"default via {GATEWAY4}" if family == 4 else f"::/0 via {GATEWAY6}"
        if self.routes == "client":
            self._ip(self.rtr_ns, *lines)
            return
        self._ip(self.rtr_ns, *lines, f"route replace {gw} dev {self.wan} onlink")

    def add_addr(self, cidr: str, *, dev: str | None = None, nodad: bool = False,
                 preferred_lft: int | str | None = None, valid_lft: int | str | None = None,
                 deprecated: bool = False, replace: bool = False, **flags: object) -> None:
        """Add an address to the WAN (or `dev`) in rtr.

        `deprecated=True` sets preferred_lft 0. `replace=True` uses `ip addr replace`, which
        also changes the lifetimes of an address already there. Other `flags` are passed to
        `ip addr`: `name=True` adds the word (noprefixroute, home, mngtmpaddr, ...), any
        other value adds `name value`. IPv6 addresses without nodad go through DAD (see
        wait_no_tentative()).
        """
        if deprecated:
            preferred_lft = 0
        words = [f"addr {'replace' if replace else 'add'} {cidr} dev {dev or self.wan}"]
        if nodad:
            words.append("nodad")
        if preferred_lft is not None:
            words.append(f"preferred_lft {preferred_lft}")
        if valid_lft is not None:
            words.append(f"valid_lft {valid_lft}")
        for name, value in flags.items():
            if value is True:
                words.append(name)
            elif value not in (False, None):
                words.append(f"{name} {value}")
        self._ip(self.rtr_ns, " ".join(words))

    def del_addr(self, cidr: str, *, dev: str | None = None) -> None:
        """Delete an address from the WAN (or `dev`) in rtr."""
        self._ip(self.rtr_ns, f"addr del {cidr} dev {dev or self.wan}")

    def wan_addresses(self, family: int | None = None, *, dev: str | None = None) -> list[str]:
        """The WAN's global addresses as "address/prefix", optionally of one family."""
        return [f"{a['local']}/{a['prefixlen']}" for a in self.wan_addr_info(dev=dev)
                if a.get("scope") == "global" and family in (None, 4 if a["family"] == "inet" else 6)]

    def wan_addr_info(self, *, dev: str | None = None) -> list[dict]:
        """`ip -j addr show` of the WAN (or `dev`): one dict an address, flags included."""
        out = _run(["ip", "-n", self.rtr_ns, "-j", "addr", "show", "dev", dev or self.wan]).stdout
        return [a for link in json.loads(out) for a in link.get("addr_info", [])]

    @property
    def wan_ifindex(self) -> int:
        out = _run(["ip", "-n", self.rtr_ns, "-j", "link", "show", "dev", self.wan]).stdout
        return json.loads(out)[0]["ifindex"]

    def delete_wan(self) -> None:
        """Delete the WAN link (and its isp end), remembering its global addresses."""
        self._saved_wan = self.wan_addresses()
        self._ip(self.rtr_ns, f"link del {self.wan}")

    def recreate_wan(self, name: str | None = None, addresses: Sequence[str] | None = None) -> None:
        """Build the WAN link again, as a pppoe-wan reconnect does: new link, new ifindex.

        `name`: the new link name (default: the current one). `addresses`: its global
        addresses (default: those it had when deleted, else the initial ones). Deletes the
        current link first if it still exists.
        """
        if self.wan in self._links(self.rtr_ns):
            self.delete_wan()
        self.wan = name or self.wan
        if addresses is None:
            addresses = self._saved_wan if self._saved_wan is not None else [RTR_ADDR4, RTR_ADDR6]
        self._make_wan(addresses)

    def _links(self, ns: str) -> list[str]:
        out = _run(["ip", "-n", ns, "-j", "link", "show"]).stdout
        return [link["ifname"] for link in json.loads(out)]

    def wait_no_tentative(self, timeout: float = 5) -> None:
        """Wait until no IPv6 address in the world is tentative (DAD done)."""
        deadline = time.monotonic() + timeout
        while True:
            busy = {ns: out for ns in (self.rtr_ns, self.isp_ns, self.srv_ns)
                    if (out := _run(["ip", "-n", ns, "-6", "addr", "show", "tentative"]).stdout.strip())}
            if not busy:
                return
            if time.monotonic() > deadline:
                raise WorldError(f"addresses still tentative after {timeout}s: {busy}")
            time.sleep(0.05)

    # -- DNS packets counted at the isp ----------------------------------------------------

    def _nft_ruleset(self) -> str:
        counters = "\n".join(f"  counter {c} {{ }}" for c in DNS_COUNTERS)
        rules = "\n".join(
            f'    iifname "{ISP_RTR}" {net} daddr {addr} {proto} dport 53 counter name "dns_{proto}{v}"'
            for v, net, addr in ((4, "ip", self.bind_addr4), (6, "ip6", self.bind_addr6))
            for proto in ("udp", "tcp"))
        return (f"table inet {NFT_TABLE} {{\n{counters}\n"
                f"  chain forward {{\n    type filter hook forward priority 0; policy accept;\n"
                f"{rules}\n  }}\n}}\n")

    def dns_counters(self) -> dict[str, int]:
        """Packets forwarded from rtr to BIND so far, by counter (dns_udp4, dns_tcp6, ...)."""
        out = self.ns_exec(self.isp_ns, ["nft", "-j", "list", "counters", "table", "inet", NFT_TABLE]).stdout
        return {c["counter"]["name"]: c["counter"]["packets"]
                for c in json.loads(out)["nftables"] if "counter" in c}

    def dns_packets(self) -> int:
        """Packets forwarded from rtr to BIND so far (UDP and TCP port 53, v4 and v6)."""
        return sum(self.dns_counters().values())

    # -- BIND ------------------------------------------------------------------------------

    def start_bind(self, zones: Iterable[str | Zone] = ("example.com",), key: str = "ddns-key",
                   *, algorithm: str = "hmac-sha256", policy: Sequence[str] | None = None,
                   keys: Sequence[str] = (), options: Sequence[str] = (), secondary: bool = False,
                   timeout: float = 10) -> None:
        """Generate a TSIG key, zones and named.conf, start named in srv, wait until it answers.

        `policy`: default update-policy grant lines for zones that give none (see Zone);
        the default grants the key `zonesub ANY`.
        `keys`: more key names (same algorithm), e.g. one per router as a provider gives them;
        their secrets in `keys`, their grants are the zones' policy lines (name them there).
        `options`: more lines for named.conf's options block (e.g. "minimal-responses yes;").
        `secondary`: a second named on SEC_ADDR4/SEC_ADDR6 (start_secondary()), secondary for
        every zone, kept current by NOTIFY (no delay) and IXFR from this primary.
        """
        if self._named is not None:
            raise WorldError("BIND is already running; stop_bind() first")
        assert self.dir, "build() the world first"
        zones = [z if isinstance(z, Zone) else Zone(z) for z in zones]
        self.zones = [z.name.rstrip(".") for z in zones]
        self._key_clause = _run(["tsig-keygen", "-a", algorithm, key]).stdout
        self.key_name, self.key_algorithm = key, algorithm
        self.key_secret = re.search(r'secret "([^"]+)"', self._key_clause)[1]
        self.key_file_path = os.path.join(self.dir, f"{key}.key")
        # more keys: a secret as tsig-keygen makes one (random bytes as long as the hash's output)
        size = {"hmac-sha512": 64, "hmac-sha384": 48, "hmac-sha224": 28, "hmac-sha1": 20, "hmac-md5": 16}.get(algorithm, 32)
        self.keys = {name: base64.b64encode(secrets.token_bytes(size)).decode() for name in keys}
        clauses = self._key_clause + "".join(f'key "{name}" {{\n\talgorithm {algorithm};\n\tsecret "{secret}";\n}};\n'
                                             for name, secret in self.keys.items())
        fd = os.open(self.key_file_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(clauses)
        conf = [_named_options(self.dir, self.bind_addr4, self.bind_addr6, options),
                f'include "{self.key_file_path}";']
        notify = ""
        if secondary:
            notify = (f"\n    notify explicit;\n    also-notify {{ {self.secondary_addr4}; }};\n    notify-delay 0;"
                      f"\n    notify-source {self.bind_addr4};\n    allow-transfer {{ any; }};")
        for zone in zones:
            name = zone.name.rstrip(".")
            with open(os.path.join(self.dir, f"{name}.db"), "w") as f:
                f.write(_zone_file(name, self.bind_addr4, self.bind_addr6, zone.records))
            grants = zone.policy if zone.policy is not None else (policy or DEFAULT_POLICY)
            grants = "".join(f"\n        {g.format(key=key, zone=name).rstrip(';')};" for g in grants)
            conf.append(f'zone "{name}" {{\n    type primary;\n    file "{name}.db";{notify}\n'
                        f"    update-policy {{{grants}\n    }};\n}};")
        with open(self.named_conf, "w") as f:
            f.write("\n".join(conf) + "\n")
        self._spawn_named(timeout)
        if secondary:
            self.start_secondary(timeout)

    # -- the secondary ---------------------------------------------------------------------

    secondary_addr4 = SEC_ADDR4.split("/")[0]
    secondary_addr6 = SEC_ADDR6.split("/")[0]

    @property
    def secondary_dir(self) -> str:
        return os.path.join(self.dir or "", "secondary")

    @property
    def secondary_pid(self) -> int | None:
        return self._secondary.pid if self._secondary is not None and self._secondary.poll() is None else None

    def start_secondary(self, timeout: float = 10) -> None:
        """A second named in srv on SEC_ADDR4/SEC_ADDR6, secondary for the primary's zones:
        it transfers them (IXFR once it has a copy) when the primary NOTIFYs it. Waits until
        it answers each zone's SOA with the primary's serial."""
        if self._secondary is not None:
            raise WorldError("the secondary already runs")
        if not os.path.isdir(self.secondary_dir):
            self._ip(self.srv_ns, *[f"addr add {a} dev {SRV_IF}" + (" nodad" if ":" in a else "")
                                    for a in (SEC_ADDR4, SEC_ADDR6)])
            os.makedirs(self.secondary_dir)
        d = self.secondary_dir
        conf = [_named_options(d, self.secondary_addr4, self.secondary_addr6,
                               [f"allow-notify {{ {self.bind_addr4}; {self.bind_addr6}; }};",
                                f"transfer-source {self.secondary_addr4};"])]
        for name in self.zones:
            conf.append(f'zone "{name}" {{\n    type secondary;\n    file "{name}.sec.db";\n'
                        f"    primaries {{ {self.bind_addr4}; }};\n}};")
        path = os.path.join(d, "named.conf")
        with open(path, "w") as f:
            f.write("\n".join(conf) + "\n")
        self._secondary_log = open(os.path.join(d, "named.log"), "a")
        self._secondary = subprocess.Popen(
            ["ip", "netns", "exec", self.srv_ns, "named", "-g", "-c", path],
            stdin=subprocess.DEVNULL, stdout=self._secondary_log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        for zone in self.zones:
            want = self.serial(zone)
            while True:
                soa = self._dig_short(zone, "SOA", self.secondary_addr4, time=1, check=False)
                if soa and int(soa[0].split()[2]) >= want:
                    break
                if self._secondary.poll() is not None or time.monotonic() > deadline:
                    with open(os.path.join(d, "named.log"), errors="replace") as f:
                        log = f.read()
                    self.stop_secondary()
                    raise WorldError(f"the secondary did not serve {zone} within {timeout}s; its log:\n{log}")
                time.sleep(0.05)

    def stop_secondary(self) -> None:
        if self._secondary is not None:
            _stop(self._secondary)
            self._secondary = None
        if self._secondary_log is not None:
            self._secondary_log.close()
            self._secondary_log = None

    @property
    def named_conf(self) -> str:
        return os.path.join(self.dir or "", "named.conf")

    @property
    def named_log_path(self) -> str:
        return os.path.join(self.dir or "", "named.log")

    @property
    def named_pid(self) -> int | None:
        return self._named.pid if self._named is not None and self._named.poll() is None else None

    def named_log(self) -> str:
        try:
            with open(self.named_log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def _spawn_named(self, timeout: float) -> None:
        self._named_log = open(self.named_log_path, "a")
        self._named = subprocess.Popen(
            ["ip", "netns", "exec", self.srv_ns, "named", "-g", "-c", self.named_conf],
            stdin=subprocess.DEVNULL, stdout=self._named_log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        pending = [(z, server) for z in self.zones for server in (self.bind_addr4, self.bind_addr6)]
        while pending:
            if self._named.poll() is not None:
                log = self.named_log()
                self.stop_bind()
                raise WorldError(f"named exited with status {self._named_rc} while starting; its log:\n{log}")
            if time.monotonic() > deadline:
                log = self.named_log()
                self.stop_bind()
                raise WorldError(f"named did not answer SOA {pending[0][0]} at {pending[0][1]} "
                                 f"within {timeout}s; its log:\n{log}")
            zone, server = pending[0]
            if self._dig_short(zone, "SOA", server, time=1, check=False):
                pending.pop(0)
            else:
                time.sleep(0.02)

    def stop_bind(self) -> None:
        """Stop named (SIGTERM, then SIGKILL after 5 s). Zone files and journals stay."""
        if self._named is not None:
            _stop(self._named)
            self._named_rc = self._named.returncode
            self._named = None
        if self._named_log is not None:
            self._named_log.close()
            self._named_log = None

    def restart_bind(self, timeout: float = 10) -> None:
        """Stop named and start it again: same config, key, zone files, journals, addresses."""
        self.stop_bind()
        self._spawn_named(timeout)

    def key_clause(self) -> str:
        """The key as a BIND `key "NAME" { algorithm ...; secret "..."; };` clause."""
        if self._key_clause is None:
            raise WorldError("no key yet: start_bind() first")
        return self._key_clause

    # -- asking BIND directly (from srv: not counted, no cache, no recursion) ---------------

    def _dig_short(self, name: str, rtype: str, server: str, *, time: int = 2,
                   check: bool = True) -> list[str]:
        proc = self.ns_exec(self.srv_ns, ["dig", "+short", "+norec", f"+time={time}", "+tries=1",
                                          f"@{server}", name, rtype], check=False)
        lines = proc.stdout.splitlines()
        failed = proc.returncode != 0 or any(line.startswith(";;") for line in lines)
        if failed:
            if check:
                raise WorldError(f"dig @{server} {name} {rtype} failed: {proc.stdout.strip()} {proc.stderr.strip()}")
            return []
        return lines

    def dig(self, name: str, rtype: str = "A", *, server: str | None = None) -> list[str]:
        """The answer's records (dig +short) for `name`/`rtype`, asked at BIND itself."""
        return self._dig_short(name, rtype, server or self.bind_addr4)

    def serial(self, zone: str | None = None) -> int:
        """The zone's SOA serial as BIND has it now."""
        soa = self.dig(zone or self.zones[0], "SOA")
        if not soa:
            raise WorldError(f"no SOA for {zone or self.zones[0]}")
        return int(soa[0].split()[2])

    def history(self, name: str, rtype: str = "A", zone: str | None = None) -> list[str]:
        """Every address BIND ever added to `name`/`rtype` through an UPDATE, in order (its
        journal, read with named-journalprint): what was published, even for a moment."""
        zone = (zone or self.zones[0]).rstrip(".")
        journal = os.path.join(self.dir or "", f"{zone}.db.jnl")
        if not os.path.exists(journal):
            return []
        out = _run(["named-journalprint", journal]).stdout
        owner = name.rstrip(".") + "."
        return [f[-1] for f in (line.split() for line in out.splitlines())
                if len(f) >= 6 and f[0] == "add" and f[1] == owner and f[-2] == rtype]

    def nsupdate(self, commands: str | Sequence[str], *, key_file: str | None = None,
                 server: str | None = None) -> subprocess.CompletedProcess:
        """Run nsupdate in srv (not counted) with the world's key; the caller checks returncode.

        `commands`: nsupdate lines; `server` (default: BIND's IPv4 address) and a final
        `send` are added when absent.
        """
        lines = [commands] if isinstance(commands, str) else list(commands)
        lines = [line for chunk in lines for line in chunk.splitlines()]
        if not any(line.split()[:1] == ["server"] for line in lines):
            lines.insert(0, f"server {server or self.bind_addr4}")
        if not any(line.strip() == "send" for line in lines):
            lines.append("send")
        args = ["nsupdate", "-k", key_file or self.key_file_path]
        return self.ns_exec(self.srv_ns, args, input="\n".join(lines) + "\n", check=False)

    # -- carrier-grade NAT at the isp ------------------------------------------------------

    def cgnat(self, public: str = CGNAT_PUBLIC, private: str = CGNAT_PRIVATE) -> None:
        """Put the router behind CGNAT: WAN `private`, SNAT to `public` towards srv."""
        self.ns_exec(self.isp_ns, ["nft", "-f", "-"], input=(
            f"table ip {NAT_TABLE} {{\n  chain post {{\n"
            "    type nat hook postrouting priority srcnat; policy accept;\n  }\n}\n"))
        self.move_nat(public)
        self.set_wan(private)

    def move_nat(self, public: str) -> None:
        """Make the isp's NAT use `public` for new connections (as an ISP re-homing its NAT)."""
        self.ns_exec(self.isp_ns, ["nft", "-f", "-"], input=(
            f"flush chain ip {NAT_TABLE} post\n"
            f'add rule ip {NAT_TABLE} post oifname "{ISP_SRV}" ip saddr 100.64.0.0/10 snat to {public}\n'))

    # -- echo servers in srv ("the internet") ----------------------------------------------

    echo_addr4 = ECHO_ADDR4.split("/")[0]
    echo_addr6 = ECHO_ADDR6.split("/")[0]

    def start_echo(self, timeout: float = 10) -> None:
        """Start HTTP (80), HTTPS (443) and DNS (53) echo servers on srv's echo addresses.

        See echoservers.py for what they answer. The HTTPS certificate is issued by a CA
        made here: `echo_ca` is its file, for SSL_CERT_FILE.
        """
        assert self.dir, "build() the world first"
        if self._echo is not None:
            raise WorldError("the echo servers already run")
        self._ip(self.srv_ns, *[f"addr add {a} dev {SRV_IF}" + (" nodad" if ":" in a else "")
                                for a in (ECHO_ADDR4, ECHO_ADDR6)])
        cert, key = self._make_echo_cert()
        addrs = [self.echo_addr4, self.echo_addr6]
        conf = {"log": os.path.join(self.dir, "echo.log"), "cert": cert, "key": key,
                "http": [[a, 80] for a in addrs], "https": [[a, 443] for a in addrs],
                "dns": [[a, 53] for a in addrs]}
        conf_path = os.path.join(self.dir, "echo.json")
        with open(conf_path, "w") as f:
            json.dump(conf, f)
        open(conf["log"], "w").close()
        server = os.path.join(os.path.dirname(os.path.abspath(__file__)), "echoservers.py")
        self._echo = subprocess.Popen(
            ["ip", "netns", "exec", self.srv_ns, sys.executable, server, conf_path],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            preexec_fn=_die_with_parent)
        self._procs.append(self._echo)
        deadline = time.monotonic() + timeout
        line = ""
        while not line.startswith("ready"):
            if time.monotonic() > deadline or self._echo.poll() is not None:
                raise WorldError(f"the echo servers did not start: {line}{self._echo.stdout.read() if self._echo.poll() is not None else ''}")
            line = self._echo.stdout.readline()
        self._echo_log = conf["log"]

    def _make_echo_cert(self) -> tuple[str, str]:
        """A test CA (echo_ca) and a certificate for the echo addresses signed by it."""
        d = self.dir
        ca_key, ca, key, csr, cert, ext = (os.path.join(d, n) for n in
                                           ("echo-ca.key", "echo-ca.pem", "echo.key", "echo.csr", "echo.pem", "echo.ext"))
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        _run(["openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2",
              "-subj", "/CN=ddns-edge test CA", "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        _run(["openssl", "req", "-new", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=echo"])
        with open(ext, "w") as f:
            f.write(f"basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    f"extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\n"
                    f"authorityKeyIdentifier=keyid\n"
                    f"subjectAltName=IP:{self.echo_addr4},IP:{self.echo_addr6}\n")
        _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
              "-out", cert, "-days", "2", "-extfile", ext])
        self.echo_ca = ca
        return cert, key

    def echo_requests(self) -> list[dict]:
        """What the echo servers were asked so far: {"kind", "what", "client"} per request."""
        with open(self._echo_log) as f:
            return [json.loads(line) for line in f if line.strip()]


_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _link_lines(dev: str, link_local: str, *addresses: str) -> list[str]:
    """`ip` batch lines: a link up with a fixed link-local and its addresses, none tentative."""
    return ([f"link set {dev} addrgenmode none", f"link set {dev} up",
             f"addr add {link_local} dev {dev} nodad"]
            + [f"addr add {a} dev {dev}" + (" nodad" if ":" in a else "") for a in addresses])


def _named_options(directory: str, addr4: str, addr6: str, extra: Sequence[str] = ()) -> str:
    more = "".join(f"\n    {line}" for line in extra)
    return f"""options {{
    directory "{directory}";
    pid-file "{directory}/named.pid";
    lock-file none;
    session-keyfile "{directory}/session.key";
    managed-keys-directory "{directory}";
    dump-file "{directory}/named_dump.db";
    statistics-file "{directory}/named.stats";
    listen-on port 53 {{ {addr4}; }};
    listen-on-v6 port 53 {{ {addr6}; }};
    recursion no;
    dnssec-validation no;
    notify no;
    allow-query {{ any; }};{more}
}};
controls {{ }};"""


def _zone_file(zone: str, addr4: str, addr6: str, records: Iterable[str]) -> str:
    lines = [
        f"$ORIGIN {zone}.",
        "$TTL 300",
        f"@ IN SOA ns1.{zone}. hostmaster.{zone}. 1 3600 600 86400 60",
        f"@ IN NS ns1.{zone}.",
        f"ns1 IN A {addr4}",
        f"ns1 IN AAAA {addr6}",
        *records,
    ]
    return "\n".join(lines) + "\n"
