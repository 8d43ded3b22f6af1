"""The WAN clients routers run, for real, in the world's namespaces: the isp side serves, the
router side is the client, and the router's addresses and routes are what the client makes.

    Pppoe   rp-pppoe's pppoe-server (isp) and its pppoe client (rtr); pppd is a stand-in,
            tools/netns/pppd_standin.py, since this kernel has no PPP (its docstring says
            exactly what it does and why). A `pppoe-wan` device per connection, the address
            from the server's pool (198.51.100.101-104, in turn), the peer 198.51.100.1.
            defaultroute=True: pppd's own default route; False: OpenWrt's way, pppd with
            `nodefaultroute ipparam wan` and its ip-up and ip-down scripts OpenWrt's ppp-up and
            ppp-down, whose updates netifd applies (tools/netns/netifd_standin.py): the address
            is pppd's (netifd leaves it alone), the default route via the peer is netifd's,
            added when ppp-up's update reaches it (no sleep: the script's own run time).
    Dhcp4   dnsmasq (isp), busybox udhcpc (rtr) under OpenWrt's dhcp.script and netifd
            (tools/netns/netifd_standin.py: their updates, in netifd's order and timing): on
            deconfig (a NAK, a release) the address goes, and the kernel takes the default
            route with it; on bound the new address, and its default route (source: the
            address) in the same update, microseconds later. move_lease() re-homes the router
            (dnsmasq's dhcp-hostsfile, SIGHUP): the next renew is NAKed, udhcpc deconfigures,
            waits its 3 s and binds the new lease.
    Slaac   radvd (isp), the kernel's SLAAC on the router: DAD on, use_tempaddr=2, the
            default route from the RA. renumber() announces a new prefix and the old one with
            preferred lifetime 0 (deprecated).
    Dhcp6   radvd (M flag, no autonomous prefix) and Kea's kea-dhcp6 (isp), dhcpcd (rtr): an
            IA_NA /128 with DAD, the default route from the RA, added by dhcpcd once it has a
            global address. move_lease() changes the router's reservation (Kea SIGHUP): the
            next renew gets the new address and the old one with lifetime 0.

Everything runs in the world's namespaces and files in its directory; the world's close()
ends it all (its namespaces' processes are killed, the devices go with the namespaces).
dhcpcd's fixed paths (/run/dhcpcd, /var/lib/dhcpcd) are bind mounts of the world's own
directories, in the mount namespace `ip netns exec` gives it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import contextlib
import signal
import subprocess
import sys

from tools.netns.agentlib import Daemon, record, wait_dig, wait_for, write_config
from tools.netns.world import ISP_RTR, World, _run

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.path.join(HERE, "pppd_standin.py")
NETIFD = os.path.join(HERE, "netifd_standin.py")

PPPOE_LOCAL = "198.51.100.1"  # the access concentrator's side of every session (-L)
PPPOE_POOL = [f"198.51.100.{n}" for n in range(101, 105)]  # -R 198.51.100.101 -N 4
DHCP4_RANGE = ("198.51.100.100", "198.51.100.199")
SLAAC_PREFIX, SLAAC_PREFIX2 = "2001:db8:1::/64", "2001:db8:2::/64"
DHCP6_POOL = ("2001:db8:1::1000", "2001:db8:1::1fff")

def _write(path: str, text: str, mode: int = 0o644) -> str:
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


class WanClient:
    """A client on the router's WAN and its server at the isp, in a built World."""

    name = "client"

    def __init__(self, world):
        self.world = world
        self.dir = os.path.join(world.dir, self.name)
        os.makedirs(self.dir, exist_ok=True)
        self.procs: list[subprocess.Popen] = []

    def _spawn(self, ns: str, args, log: str, env=None) -> subprocess.Popen:
        out = open(os.path.join(self.dir, log), "a")
        proc = self.world.popen_in(ns, list(args), stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, env=env)
        out.close()
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def addr_info(self, dev: str | None = None) -> list[dict]:
        """`ip -j addr` of the client's device (none: [])."""
        proc = _run(["ip", "-n", self.world.rtr_ns, "-j", "addr", "show", "dev", dev or self.world.wan], check=False)
        try:
            return [a for link in json.loads(proc.stdout) for a in link.get("addr_info", [])]
        except ValueError:
            return []

    def address(self) -> str | None:
        """The client's address once usable, with the default route there too (None: not yet)."""
        raise NotImplementedError

    def diagnostics(self) -> str:
        return ""

    def wait_address(self, other_than: str | None, timeout: float = 20) -> str:
        """Wait for the client to have an address other than `other_than`; returns it."""
        try:
            return wait_for(lambda: (a := self.address()) and a != other_than and a, timeout,
                            f"{self.name}: an address other than {other_than}")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.diagnostics()}") from None

    def default_routes(self, family: int) -> list[dict]:
        out = _run(["ip", "-n", self.world.rtr_ns, "-j", f"-{family}", "route", "show", "default"]).stdout
        return json.loads(out)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


# ================================================================ the agent with a client


@contextlib.contextmanager
def serve(client_class, **options):
    """A world (routes="client", BIND serving example.com) with `client_class` started in it:
    yields the client; the world goes at the end."""
    with World(routes="client") as world:
        world.start_bind()
        client = client_class(world, **options)
        client.start()
        yield client


def start_agent(world, tmp_path, rtype: str, device: str, address: str, name: str = "www.example.com") -> Daemon:
    """`ddns-edge run` for one record on `device`, once BIND answers `address` for it."""
    daemon = Daemon(world, agent_config(world, tmp_path / "ddns-edge", rtype, device, str(tmp_path / "state"), name))
    wait_dig(world, name, rtype, [address])
    return daemon


def agent_config(world, path, rtype: str, device: str, state_dir: str, name: str = "www.example.com") -> str:
    """A config for one record on `device`, with zone and server given (the server over the
    record's family: a router on an IPv6-only WAN reaches BIND over IPv6)."""
    server = world.bind_addr6 if rtype == "AAAA" else world.bind_addr4
    return write_config(path, world, record("www", name, rtype, device, zone=world.zones[0], server=server),
                        agent={"state_dir": state_dir})


def trouble(log: str) -> list[str]:
    """The agent's warning, error and backoff (retry) lines: none is due to the normal order of
    a WAN client's work (issues 11 and 19)."""
    return [line for line in log.splitlines() if line.startswith(("warning:", "error:")) or ": retry " in line]


def netifd_script(path: str, memory: str, script: str, log: str | None = None) -> str:
    """An executable at `path` that runs netifd_standin.py's `script` (dhcp.script, ppp-up,
    ppp-down) with its arguments, netifd's memory of the interface in `memory`; `log`: a line
    per call (time, arguments) there first."""
    line = f'echo "$(date +%s.%N) $* ip=$ip router=$router" >> "{log}"\n' if log else ""
    return _write(path, f"#!/bin/sh\n{line}exec {sys.executable} {NETIFD} {memory} {script} \"$@\"\n", 0o755)


# ================================================================ PPPoE


class Pppoe(WanClient):
    """pppoe-server at the isp, `pppd pty "pppoe -I wan0" ifname pppoe-wan` on the router."""

    name = "pppoe"

    def __init__(self, world, *, defaultroute: bool = True, ifname: str = "pppoe-wan"):
        super().__init__(world)
        self.defaultroute = defaultroute
        self.ifname = ifname
        self.client = None

    def start(self, timeout: float = 20) -> dict:
        """Start the server and the client; returns the first connection (see connection())."""
        w = self.world
        w.strip_wan()
        wrapper = _write(os.path.join(self.dir, "pppd"),
                         f"#!/bin/sh\nexec {sys.executable} {STANDIN} \"$@\"\n", 0o755)
        options = _write(os.path.join(self.dir, "pppoe-server-options"),
                         f"noauth\nlcp-restart 1\nipcp-restart 1\nlogfile {self.dir}/pppd-isp.log\n")
        self._spawn(w.isp_ns, ["pppoe-server", "-F", "-I", ISP_RTR, "-L", PPPOE_LOCAL, "-R", PPPOE_POOL[0],
                               "-N", str(len(PPPOE_POOL)), "-q", wrapper, "-O", options], "pppoe-server.log")
        args = [sys.executable, STANDIN, "pty", f"pppoe -I {w.wan}", "ifname", self.ifname, "noipdefault",
                "persist", "holdoff", "0", "maxfail", "0", "lcp-restart", "1", "ipcp-restart", "1",
                "logfile", os.path.join(self.dir, "pppd.log")]
        if self.defaultroute:
            args.append("defaultroute")
        else:
            # OpenWrt's ppp.sh: pppd ... ipparam wan nodefaultroute ip-up-script /lib/netifd/ppp-up
            # ip-down-script /lib/netifd/ppp-down; netifd applies what those scripts send
            memory = os.path.join(self.dir, "netifd-wan")
            up = netifd_script(os.path.join(self.dir, "ppp-up"), memory, "ppp-up")
            down = netifd_script(os.path.join(self.dir, "ppp-down"), memory, "ppp-down")
            args += ["nodefaultroute", "ipparam", "wan", "ip-up-script", up, "ip-down-script", down]
        self.client = self._spawn(w.rtr_ns, args, "pppd.stderr")
        return self.wait_connected(None, timeout)

    def connection(self) -> dict | None:
        """The pppoe-wan device when it is up with an address and a default route through it:
        {"ifindex", "address", "peer"}; else None."""
        proc = _run(["ip", "-n", self.world.rtr_ns, "-j", "addr", "show", "dev", self.ifname], check=False)
        try:
            link = json.loads(proc.stdout)[0]
        except (ValueError, IndexError):  # no such device (yet, or any more)
            return None
        addrs = [a for a in link.get("addr_info", []) if a["family"] == "inet"]
        if "UP" not in link["flags"] or not addrs:
            return None
        if not any(r.get("dev") == self.ifname for r in self.default_routes(4)):
            return None
        return {"ifindex": link["ifindex"], "address": addrs[0]["local"], "peer": addrs[0].get("address")}

    def wait_connected(self, old: dict | None, timeout: float = 20) -> dict:
        """Wait for a connection other than `old` (a new ifindex); returns it."""
        def ready():
            c = self.connection()
            return c if c and (old is None or c["ifindex"] != old["ifindex"]) else None
        try:
            return wait_for(ready, timeout, f"{self.ifname} up with an address and a default route")
        except AssertionError as e:
            raise AssertionError(f"{e}\npppd log:\n{self.log('pppd.log')[-2000:]}\nisp pppd log:\n"
                             f"{self.log('pppd-isp.log')[-1000:]}\n{self.log('pppd.stderr')[-1000:]}") from None

    def _isp_pppds(self) -> list[int]:
        pids = _run(["ip", "netns", "pids", self.world.isp_ns], check=False).stdout.split()
        found = []
        for pid in pids:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().split(b"\0")
            except OSError:
                continue
            if any(part.endswith(b"pppd_standin.py") for part in cmd):
                found.append(int(pid))
        return found

    def hangup(self) -> None:
        """The ISP ends the session (its pppd terminates the link: LCP Terminate, then PADT)."""
        pids = self._isp_pppds()
        if not pids:
            raise AssertionError("no session at the isp to hang up")
        for pid in pids:
            os.kill(pid, signal.SIGTERM)

    def reconnect(self, timeout: float = 20) -> dict:
        """The ISP hangs up; the router's pppd (persist, holdoff 0) connects again: a new
        pppoe-wan device and the next address of the pool. Returns the new connection."""
        old = self.connection()
        self.hangup()
        return self.wait_connected(old, timeout)


# ================================================================ DHCPv4

class Dhcp4(WanClient):
    """dnsmasq at the isp, busybox udhcpc on the router under OpenWrt's dhcp.script and netifd."""

    name = "dhcp4"

    def start(self, timeout: float = 20) -> str:
        w = self.world
        w.strip_wan()
        self.mac = _run(["ip", "netns", "exec", w.rtr_ns, "cat", f"/sys/class/net/{w.wan}/address"]).stdout.strip()
        self.hosts = _write(os.path.join(self.dir, "hosts"), "")
        self.server = self._spawn(w.isp_ns, [
            "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0", f"--interface={ISP_RTR}",
            "--bind-interfaces", f"--dhcp-range={DHCP4_RANGE[0]},{DHCP4_RANGE[1]},255.255.255.0,2m",
            "--dhcp-authoritative", "--no-ping", f"--dhcp-leasefile={self.dir}/leases",
            f"--dhcp-hostsfile={self.hosts}", f"--pid-file={self.dir}/dnsmasq.pid", "--user=root",
            "--log-dhcp", f"--log-facility={self.dir}/dnsmasq.log"], "dnsmasq.out")
        script = netifd_script(os.path.join(self.dir, "dhcp.script"), os.path.join(self.dir, "netifd-wan"),
                               "dhcp.script", log=os.path.join(self.dir, "events.log"))
        # OpenWrt's proto dhcp: udhcpc -f -t 0 -i DEV -s /lib/netifd/dhcp.script -C -R
        # (and here -T 1: a discover a second, not every 3 s, to keep the tests short)
        self.client = self._spawn(w.rtr_ns, ["busybox", "udhcpc", "-f", "-t", "0", "-T", "1", "-i", w.wan,
                                             "-s", script, "-C", "-R"], "udhcpc.log")
        return self.wait_address(None, timeout)

    def address(self) -> str | None:
        """The WAN's IPv4 address once the default route is there too."""
        addrs = [a["local"] for a in self.addr_info() if a["family"] == "inet" and a.get("scope") == "global"]
        if len(addrs) != 1 or not self.default_routes(4):
            return None
        return addrs[0]

    def diagnostics(self) -> str:
        return f"udhcpc:\n{self.log('udhcpc.log')[-1500:]}\ndnsmasq:\n{self.log('dnsmasq.log')[-1500:]}"

    def move_lease(self, address: str) -> None:
        """The ISP re-homes the router: its lease is now `address` (a dhcp-host, reloaded)."""
        _write(self.hosts, f"{self.mac},{address}\n")
        before = self.log("dnsmasq.log").count(f"read {self.hosts}")
        self.server.send_signal(signal.SIGHUP)
        wait_for(lambda: self.log("dnsmasq.log").count(f"read {self.hosts}") > before, 5,
                   "dnsmasq to read its hosts file again")

    def renew(self) -> None:
        """udhcpc renews now (SIGUSR1): a moved lease is NAKed, then it discovers again."""
        self.client.send_signal(signal.SIGUSR1)

    def release(self) -> None:
        """udhcpc releases its lease (SIGUSR2): deconfig, the address goes."""
        self.client.send_signal(signal.SIGUSR2)


# ================================================================ SLAAC

RADVD_IFACE = """interface {iface} {{
    AdvSendAdvert on;
    MinRtrAdvInterval 3;
    MaxRtrAdvInterval 10;
    AdvManagedFlag {managed};
{prefixes}}};
"""
RADVD_PREFIX = """    prefix {prefix} {{
        AdvOnLink on;
        AdvAutonomous {autonomous};
        AdvPreferredLifetime {preferred};
        AdvValidLifetime {valid};
    }};
"""


def radvd_conf(prefixes, managed: bool = False, autonomous: bool = True) -> str:
    """`prefixes`: [(prefix, preferred, valid)]."""
    body = "".join(RADVD_PREFIX.format(prefix=p, preferred=pl, valid=vl, autonomous="on" if autonomous else "off")
                   for p, pl, vl in prefixes)
    return RADVD_IFACE.format(iface=ISP_RTR, managed="on" if managed else "off", prefixes=body)


class _Radvd:
    def _start_radvd(self, conf: str) -> None:
        self.radvd_conf = _write(os.path.join(self.dir, "radvd.conf"), conf)
        self.radvd = self._spawn(self.world.isp_ns, ["radvd", "-n", "-C", self.radvd_conf, "-p",
                                                    os.path.join(self.dir, "radvd.pid"), "-m", "stderr"], "radvd.log")

    def _reload_radvd(self, conf: str) -> None:
        _write(self.radvd_conf, conf)
        self.radvd.send_signal(signal.SIGHUP)


class Slaac(WanClient, _Radvd):
    """radvd at the isp; the router's kernel autoconfigures (DAD on, temporary addresses)."""

    name = "slaac"

    def start(self, timeout: float = 20) -> str:
        w = self.world
        w.strip_wan()
        w.ns_exec(w.rtr_ns, ["sysctl", "-qw", f"net.ipv6.conf.{w.wan}.accept_ra=2", f"net.ipv6.conf.{w.wan}.autoconf=1",
                             f"net.ipv6.conf.{w.wan}.use_tempaddr=2", f"net.ipv6.conf.{w.wan}.accept_dad=1",
                             f"net.ipv6.conf.{w.wan}.dad_transmits=1",
                             # each renumbering leaves a deprecated prefix (2 addresses) valid for an hour: the
                             # kernel's default cap of 16 autoconfigured addresses would stop SLAAC after 7
                             f"net.ipv6.conf.{w.wan}.max_addresses=256"])
        self.prefix = SLAAC_PREFIX
        self._start_radvd(radvd_conf([(SLAAC_PREFIX, 1800, 3600)]))
        return self.wait_stable(SLAAC_PREFIX, timeout)

    def addresses(self) -> list[dict]:
        return [a for a in self.addr_info() if a["family"] == "inet6" and a.get("scope") == "global"]

    def stable(self, prefix: str) -> str | None:
        """The prefix's SLAAC (non-temporary) address once DAD is done and it is preferred,
        the default route there too."""
        net = ipaddress.ip_network(prefix)
        for a in self.addresses():
            if (ipaddress.ip_address(a["local"]) in net and not a.get("temporary") and not a.get("tentative")
                    and a.get("preferred_life_time", 1) > 0 and self.default_routes(6)):
                return a["local"]
        return None

    def wait_stable(self, prefix: str, timeout: float = 20) -> str:
        try:
            return wait_for(lambda: self.stable(prefix), timeout, f"a usable SLAAC address in {prefix}")
        except AssertionError as e:
            raise AssertionError(f"{e}; addresses: {self.addresses()}\nradvd:\n{self.log('radvd.log')[-1500:]}") from None

    def temporary(self) -> list[str]:
        return [a["local"] for a in self.addresses() if a.get("temporary")]

    def announce(self, new: str) -> str:
        """radvd announces `new` and the current prefix deprecated (preferred lifetime 0);
        returns the old prefix."""
        old, self.prefix = self.prefix, new
        self._reload_radvd(radvd_conf([(old, 0, 3600), (new, 1800, 3600)]))
        return old

    def renumber(self, new: str = SLAAC_PREFIX2, timeout: float = 20) -> str:
        """announce() `new`; returns the new stable address once usable and the old ones
        deprecated."""
        old = self.announce(new)
        address = self.wait_stable(new, timeout)
        wait_for(lambda: not self.stable(old), timeout, f"the addresses in {old} deprecated")
        return address


# ================================================================ DHCPv6


class Dhcp6(WanClient, _Radvd):
    """radvd (managed) and kea-dhcp6 at the isp, dhcpcd on the router: an IA_NA /128."""

    name = "dhcp6"
    FIRST = "2001:db8:1::d001"

    def start(self, timeout: float = 20) -> str:
        w = self.world
        w.strip_wan()
        # dhcpcd handles RAs itself (it sets accept_ra 0 too): no kernel route before it runs
        w.ns_exec(w.rtr_ns, ["sysctl", "-qw", f"net.ipv6.conf.{w.wan}.accept_ra=0", f"net.ipv6.conf.{w.wan}.accept_dad=1",
                             f"net.ipv6.conf.{w.wan}.dad_transmits=1"])
        mac = _run(["ip", "netns", "exec", w.rtr_ns, "cat", f"/sys/class/net/{w.wan}/address"]).stdout.strip()
        self.duid = "00:03:00:01:" + mac  # DUID-LL, written for dhcpcd below
        self.kea_conf = os.path.join(self.dir, "kea-dhcp6.json")
        self._write_kea(self.FIRST)
        self._start_radvd(radvd_conf([(SLAAC_PREFIX, 1800, 3600)], managed=True, autonomous=False))
        env = dict(os.environ, KEA_PIDFILE_DIR=self.dir, KEA_LOCKFILE_DIR="none")
        self.server = self._spawn(w.isp_ns, ["kea-dhcp6", "-c", self.kea_conf], "kea.log", env=env)
        run_dir, lib_dir = os.path.join(self.dir, "run"), os.path.join(self.dir, "lib")
        os.makedirs(run_dir)
        os.makedirs(lib_dir)
        _write(os.path.join(lib_dir, "duid"), self.duid + "\n")
        script = _write(os.path.join(self.dir, "dhcpcd-script"),
                        f"#!/bin/sh\necho \"$(date +%s.%N) $reason $new_dhcp6_ia_na1_ia_addr1\" >> {self.dir}/events.log\n", 0o755)
        conf = _write(os.path.join(self.dir, "dhcpcd.conf"), f"ipv6only\nia_na 1\nscript {script}\n")
        self.client = self._spawn(w.rtr_ns, ["sh", "-c", (
            f"mkdir -p /run/dhcpcd /var/lib/dhcpcd && mount --bind {run_dir} /run/dhcpcd && "
            f"mount --bind {lib_dir} /var/lib/dhcpcd && exec dhcpcd -B -d -f {conf} -6 {w.wan}")], "dhcpcd.log")
        return self.wait_address(None, timeout)

    def _write_kea(self, reserved: str) -> None:
        conf = {"Dhcp6": {
            "interfaces-config": {"interfaces": [ISP_RTR]},
            "data-directory": self.dir,
            "lease-database": {"type": "memfile", "persist": True, "name": os.path.join(self.dir, "leases6.csv"),
                               "lfc-interval": 0},
            "preferred-lifetime": 1800, "valid-lifetime": 3600, "renew-timer": 900, "rebind-timer": 1440,
            "subnet6": [{"id": 1, "subnet": SLAAC_PREFIX, "interface": ISP_RTR,
                         "pools": [{"pool": f"{DHCP6_POOL[0]}-{DHCP6_POOL[1]}"}],
                         "reservations": [{"duid": self.duid, "ip-addresses": [reserved]}]}],
            "loggers": [{"name": "kea-dhcp6", "output_options": [{"output": "stdout"}], "severity": "INFO"}]}}
        _write(self.kea_conf, json.dumps(conf, indent=1))

    def address(self) -> str | None:
        """The IA_NA address (a /128) once DAD is done and the default route is there."""
        for a in self.addr_info():
            if (a["family"] == "inet6" and a.get("scope") == "global" and a["prefixlen"] == 128
                    and not a.get("tentative") and self.default_routes(6)):
                return a["local"]
        return None

    def diagnostics(self) -> str:
        return (f"addresses: {self.addr_info()}\ndhcpcd:\n{self.log('dhcpcd.log')[-1500:]}\n"
                f"kea:\n{self.log('kea.log')[-1500:]}")

    def move_lease(self, address: str) -> None:
        """The ISP reserves `address` for the router instead (Kea reloads on SIGHUP)."""
        self._write_kea(address)
        before = self.log("kea.log").count("DHCP6_DYNAMIC_RECONFIGURATION_SUCCESS")
        self.server.send_signal(signal.SIGHUP)
        wait_for(lambda: self.log("kea.log").count("DHCP6_DYNAMIC_RECONFIGURATION_SUCCESS") > before, 10,
                   "kea-dhcp6 to reload")

    def renew(self) -> None:
        """dhcpcd renews now (SIGUSR1)."""
        self.client.send_signal(signal.SIGUSR1)
