"""A stand-in for pppd 2.4.9 where the kernel has no PPP: what pppd does to the kernel, in its order.

Why a stand-in: pppd needs the kernel's PPP driver (/dev/ppp, char major 108, and for kernel
PPPoE the AF_PPPOX sockets). This machine's kernel has neither: `pppd` exits with "Couldn't
open the /dev/ppp device", a node made with `mknod /dev/ppp c 108 0` opens with ENXIO, and
socket(AF_PPPOX) fails with EAFNOSUPPORT. Everything around pppd is real: rp-pppoe's
`pppoe-server` runs the discovery, allocates the session and the address from its pool and
starts this program as its pppd (`-q`); rp-pppoe's user-mode `pppoe` client and relay carry
every PPP frame in real PPPoE session packets over the veth, on both sides, as they do under
`pppd pty "pppoe -I wan0"`. This program speaks to them on a pty, as pppd does with `pty`.

What it does, as pppd 2.4.9 does it (main.c, lcp.c, ipcp.c, sys-linux.c):
- per connection, a new unit: pppd's PPPIOCNEWUNIT makes `ppp0` (a new ifindex each time),
  which `ifname NAME` renames with SIOCSIFNAME. Here the unit is a tun device made with
  TUNSETIFF as `ppp%d` (point-to-point, no ARP, like a ppp unit) and renamed the same way;
  like the ppp unit it goes when its file descriptor is closed, at the end of the connection
  (non-demand mode), so a reconnect gives a new device with a new ifindex.
- LCP up: the MTU (SIOCSIFMTU, the peer's MRU: 1492 for PPPoE).
- IPCP up (ipcp_up): sifaddr() while the unit is still DOWN: SIOCSIFADDR (local),
  SIOCSIFDSTADDR (peer), SIOCSIFNETMASK (255.255.255.255); then sifup() (SIOCSIFFLAGS |
  IFF_UP); then, with `defaultroute`, sifdefaultroute(): SIOCADDRT of `default dev IFNAME`
  (no gateway, metric 0), refused as pppd refuses it when another default route exists;
  then the ip-up script (`ip-up-script PATH`), forked, not waited for, with pppd's arguments
  (interface tty speed local remote ipparam) and environment (IFNAME, IPLOCAL, IPREMOTE,
  PPPD_PID); as pppd's ipcp_script_state keeps it, an ip-up never runs while the ip-down
  before it still runs, nor an ip-down while its ip-up runs: each waits for the other to
  end. OpenWrt runs pppd with `nodefaultroute ipparam wan` and its ip-up and ip-down
  (/lib/netifd/ppp-up, ppp-down) hand the link to netifd, which adds the default route via
  the peer (tools/netns/netifd_standin.py; tools/netns/wanclients.py writes the scripts).
- link down (ipcp_down): sifdown() (IFF_UP off: the kernel drops the routes through the
  unit), then cifdefaultroute() (SIOCDELRT, already gone), then cifaddr() (SIOCSIFADDR
  0.0.0.0: the address goes), the ip-down script, then the unit is closed (the device goes).
- the ISP hanging up: an LCP Terminate-Request is acked, then the same teardown; SIGTERM
  (or SIGINT) sends a Terminate-Request first and exits; SIGHUP ends the link and, with
  `persist`, starts another after `holdoff` seconds, as pppd does.

What differs, and why it does not matter to what the kernel shows: LCP and IPCP are
negotiated minimally (MRU, magic number, IP-Address; no authentication, no compression,
no IPv6CP), since both ends are this program; IP packets are relayed between the tun
device and the pty in user space, where the ppp driver would relay them in the kernel.
The unit is a tun device (ARPHRD_NONE), not a ppp unit (ARPHRD_PPP); since the kernel would
give a tun device an IPv6 link-local address and a ppp unit none, its addr_gen_mode is set
to none when it is made (a link event before any address).

Options read (pppd's own syntax; others are accepted and ignored): pty CMD, ifname NAME,
defaultroute, nodefaultroute, persist, holdoff N, maxfail N, LOCAL:REMOTE, noipdefault,
ip-up-script PATH, ip-down-script PATH, ipparam STR, mru N, mtu N, lcp-restart N,
ipcp-restart N, file PATH (more options, one or more a line), logfile PATH, nodetach.
The side given a remote address (`LOCAL:REMOTE`, as pppoe-server gives it) is the server:
it hands the peer that address with an IPCP Configure-Nak.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import time
import tty

# ---------------------------------------------------------------- ioctls (linux/sockios.h, if_tun.h)
SIOCADDRT, SIOCDELRT = 0x890B, 0x890C
SIOCGIFFLAGS, SIOCSIFFLAGS = 0x8913, 0x8914
SIOCSIFADDR, SIOCSIFDSTADDR, SIOCSIFNETMASK = 0x8916, 0x8918, 0x891C
SIOCSIFMTU, SIOCSIFNAME = 0x8922, 0x8923
TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI, IFF_UP = 0x0001, 0x1000, 0x1
RTF_UP = 0x0001

# ---------------------------------------------------------------- PPP
PPP_IP, PPP_LCP, PPP_IPCP = 0x0021, 0xC021, 0x8021
CONFREQ, CONFACK, CONFNAK, CONFREJ, TERMREQ, TERMACK, CODEREJ, PROTREJ, ECHOREQ, ECHOREP = range(1, 11)
LCP_MRU, LCP_MAGIC, IPCP_ADDR = 1, 5, 3

FCS_TABLE = []
for _b in range(256):
    _v = _b
    for _ in range(8):
        _v = (_v >> 1) ^ 0x8408 if _v & 1 else _v >> 1
    FCS_TABLE.append(_v)


def fcs16(data: bytes, fcs: int = 0xFFFF) -> int:
    for byte in data:
        fcs = (fcs >> 8) ^ FCS_TABLE[(fcs ^ byte) & 0xFF]
    return fcs


def hdlc_encode(protocol: int, payload: bytes) -> bytes:
    """One async-HDLC frame (RFC 1662) as pppd writes it to a pty: FF 03, protocol, payload,
    FCS, every control character escaped (default-asyncmap), between 7E flags."""
    frame = b"\xff\x03" + struct.pack("!H", protocol) + payload
    frame += struct.pack("<H", fcs16(frame) ^ 0xFFFF)
    out = bytearray(b"\x7e")
    for byte in frame:
        if byte < 0x20 or byte in (0x7D, 0x7E):
            out += bytes((0x7D, byte ^ 0x20))
        else:
            out.append(byte)
    out.append(0x7E)
    return bytes(out)


class HdlcDecoder:
    """Frames out of the async byte stream from the pty: [(protocol, payload)]; bad FCS dropped."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self.buf += data
        frames = []
        while True:
            end = self.buf.find(b"\x7e")
            if end < 0:
                return frames
            raw, self.buf = bytes(self.buf[:end]), self.buf[end + 1:]
            frame = bytearray()
            escaped = False
            for byte in raw:
                if byte == 0x7D:
                    escaped = True
                    continue
                frame.append(byte ^ 0x20 if escaped else byte)
                escaped = False
            if len(frame) < 6 or fcs16(bytes(frame)) != 0xF0B8:
                continue
            body = bytes(frame[:-2])
            if body[:2] == b"\xff\x03":
                body = body[2:]
            if body[0] & 1:  # a compressed protocol field
                frames.append((body[0], body[1:]))
            else:
                frames.append((struct.unpack("!H", body[:2])[0], body[2:]))


def options_of(data: bytes) -> list[tuple[int, bytes]]:
    out, at = [], 0
    while at + 2 <= len(data):
        kind, length = data[at], data[at + 1]
        if length < 2 or at + length > len(data):
            break
        out.append((kind, data[at + 2:at + length]))
        at += length
    return out


def packet(code: int, ident: int, data: bytes = b"") -> bytes:
    return struct.pack("!BBH", code, ident, 4 + len(data)) + data


def option(kind: int, value: bytes) -> bytes:
    return bytes((kind, 2 + len(value))) + value


# ---------------------------------------------------------------- the kernel side (sys-linux.c)

_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


def _ifreq_addr(name: str, addr: str) -> bytes:
    sin = struct.pack("=HH4s8x", socket.AF_INET, 0, socket.inet_aton(addr))
    return struct.pack("16s16s8x", name.encode(), sin)


def _ioctl(request: int, arg: bytes, what: str) -> bytes:
    try:
        return fcntl.ioctl(_sock, request, arg)
    except OSError as e:
        raise OSError(e.errno, f"ioctl({what}): {os.strerror(e.errno)}") from None


class _Sockaddr(ctypes.Structure):
    _fields_ = [("sa_family", ctypes.c_ushort), ("sa_data", ctypes.c_char * 14)]


class _Rtentry(ctypes.Structure):
    _fields_ = [("rt_pad1", ctypes.c_ulong), ("rt_dst", _Sockaddr), ("rt_gateway", _Sockaddr),
                ("rt_genmask", _Sockaddr), ("rt_flags", ctypes.c_ushort), ("rt_pad2", ctypes.c_short),
                ("rt_pad3", ctypes.c_ulong), ("rt_pad4", ctypes.c_void_p), ("rt_metric", ctypes.c_short),
                ("rt_dev", ctypes.c_char_p), ("rt_mtu", ctypes.c_ulong), ("rt_window", ctypes.c_ulong),
                ("rt_irtt", ctypes.c_ushort)]


def _default_rtentry(ifname: bytes) -> _Rtentry:
    rt = _Rtentry()
    rt.rt_dst.sa_family = rt.rt_genmask.sa_family = socket.AF_INET
    rt.rt_dev = ifname
    rt.rt_metric = 0 + 1  # dfl_route_metric + 1, "for binary compatibility"
    rt.rt_flags = RTF_UP
    return rt


def default_route_exists() -> str | None:
    """The device of a default route in the main table, as pppd reads /proc/net/route."""
    with open("/proc/net/route") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == "00000000" and fields[7] == "00000000":
                return fields[0]
    return None


class Unit:
    """The ppp unit: made per connection, gone when closed."""

    def __init__(self, log):
        self.log = log
        self.fd = os.open("/dev/net/tun", os.O_RDWR)
        res = fcntl.ioctl(self.fd, TUNSETIFF, struct.pack("16sH22x", b"ppp%d", IFF_TUN | IFF_NO_PI))
        self.name = res[:16].rstrip(b"\0").decode()
        # the kernel gives a ppp unit (ARPHRD_PPP) no IPv6 link-local address of its own,
        # but a tun device (ARPHRD_NONE) one: addr_gen_mode 1 (none) keeps the unit's view
        with open(f"/proc/sys/net/ipv6/conf/{self.name}/addr_gen_mode", "w") as f:
            f.write("1")
        self.up = False
        self.default_route = False

    def rename(self, new: str) -> None:
        _ioctl(SIOCSIFNAME, struct.pack("16s16s8x", self.name.encode(), new.encode()), "SIOCSIFNAME")
        self.log(f"Renamed interface {self.name} to {new}")
        self.name = new

    def set_mtu(self, mtu: int) -> None:
        _ioctl(SIOCSIFMTU, struct.pack("16si20x", self.name.encode(), mtu), "SIOCSIFMTU")

    def sifaddr(self, ours: str, his: str) -> None:
        _ioctl(SIOCSIFADDR, _ifreq_addr(self.name, ours), "SIOCSIFADDR")
        _ioctl(SIOCSIFDSTADDR, _ifreq_addr(self.name, his), "SIOCSIFDSTADDR")
        _ioctl(SIOCSIFNETMASK, _ifreq_addr(self.name, "255.255.255.255"), "SIOCSIFNETMASK")

    def _setifstate(self, up: bool) -> None:
        res = _ioctl(SIOCGIFFLAGS, struct.pack("16s24x", self.name.encode()), "SIOCGIFFLAGS")
        flags = struct.unpack_from("H", res, 16)[0]
        flags = flags | IFF_UP if up else flags & ~IFF_UP
        _ioctl(SIOCSIFFLAGS, struct.pack("16sH22x", self.name.encode(), flags), "SIOCSIFFLAGS")

    def sifup(self) -> None:
        self._setifstate(True)
        self.up = True

    def sifdown(self) -> None:
        if self.up:
            self._setifstate(False)
            self.up = False

    def sifdefaultroute(self) -> bool:
        other = default_route_exists()
        if other is not None and other != self.name:
            self.log(f"not replacing existing default route through {other} with metric -1")
            return False
        rt = _default_rtentry(self.name.encode())
        try:
            fcntl.ioctl(_sock, SIOCADDRT, bytes(rt))
        except OSError as e:
            self.log(f"default route ioctl(SIOCADDRT): {os.strerror(e.errno)}")
            return False
        self.default_route = True
        return True

    def cifdefaultroute(self) -> None:
        if self.default_route:
            self.default_route = False
            try:
                fcntl.ioctl(_sock, SIOCDELRT, bytes(_default_rtentry(self.name.encode())))
            except OSError as e:
                if e.errno != errno.ESRCH:
                    self.log(f"default route ioctl(SIOCDELRT): {os.strerror(e.errno)}")

    def cifaddr(self) -> None:
        try:
            _ioctl(SIOCSIFADDR, _ifreq_addr(self.name, "0.0.0.0"), "SIOCSIFADDR")
        except OSError as e:
            self.log(f"Couldn't delete IP address: {e}")

    def close(self) -> None:
        os.close(self.fd)


# ---------------------------------------------------------------- options


class Options:
    def __init__(self, argv: list[str]):
        self.pty = None
        self.ifname = None
        self.defaultroute = False
        self.persist = False
        self.holdoff = 30.0
        self.maxfail = 10
        self.local = self.remote = None
        self.ip_up = self.ip_down = None
        self.ipparam = ""
        self.mru = self.mtu = 1500
        self.restart = 3.0
        self.logfile = None
        self.parse(list(argv))

    def parse(self, args: list[str]) -> None:
        with_arg = {"pty", "ifname", "holdoff", "maxfail", "ip-up-script", "ip-down-script", "ipparam", "mru",
                    "mtu", "lcp-restart", "ipcp-restart", "file", "logfile", "remotenumber", "unit",
                    "lcp-echo-interval", "lcp-echo-failure", "user", "password", "plugin", "connect"}
        while args:
            word = args.pop(0)
            value = args.pop(0) if word in with_arg and args else None
            if word == "pty":
                self.pty = value
            elif word == "ifname":
                self.ifname = value
            elif word == "defaultroute":
                self.defaultroute = True
            elif word == "nodefaultroute":
                self.defaultroute = False
            elif word == "persist":
                self.persist = True
            elif word == "nopersist":
                self.persist = False
            elif word == "holdoff":
                self.holdoff = float(value)
            elif word == "maxfail":
                self.maxfail = int(value)
            elif word == "ip-up-script":
                self.ip_up = value
            elif word == "ip-down-script":
                self.ip_down = value
            elif word == "ipparam":
                self.ipparam = value
            elif word == "mru":
                self.mru = int(value)
            elif word == "mtu":
                self.mtu = int(value)
            elif word in ("lcp-restart", "ipcp-restart"):
                self.restart = float(value)
            elif word == "logfile":
                self.logfile = value
            elif word == "file":
                with open(value) as f:
                    self.parse([w for line in f for w in line.split("#")[0].split()])
            elif ":" in word and word.replace(".", "").replace(":", "").isdigit():
                local, remote = word.split(":", 1)
                self.local, self.remote = local or None, remote or None


# ---------------------------------------------------------------- one connection


_script: subprocess.Popen | None = None  # the last ip-up or ip-down script started (ipcp_script_pid)


class Hangup(Exception):
    """The link ended; the message says why (pppd's words)."""


class Link:
    def __init__(self, opts: Options, log, wake_fd: int):
        self.o, self.log, self.wake_fd = opts, log, wake_fd
        self.server = opts.remote is not None
        self.magic = random.getrandbits(32) or 1
        self.ident = random.randrange(256)
        self.lcp_acked = self.lcp_acking = self.lcp_open = False
        self.ipcp_acked = self.ipcp_acking = self.ipcp_open = False
        self.peer_mru = 1500
        self.ours = opts.local if self.server else "0.0.0.0"
        self.his = opts.remote if self.server else None
        self.decoder = HdlcDecoder()
        self.unit: Unit | None = None
        self.child = None
        self.master = None
        self.last_lcp = self.last_ipcp = 0.0
        self.was_up = False

    # -- frames
    def send(self, protocol: int, payload: bytes) -> None:
        data = hdlc_encode(protocol, payload)
        while data:
            try:
                data = data[os.write(self.master, data):]
            except BlockingIOError:
                select.select([], [self.master], [], 1)

    def next_id(self) -> int:
        self.ident = (self.ident + 1) & 0xFF
        return self.ident

    def lcp_request(self) -> None:
        self.last_lcp = time.monotonic()
        opts = option(LCP_MRU, struct.pack("!H", self.o.mru)) + option(LCP_MAGIC, struct.pack("!I", self.magic))
        self.send(PPP_LCP, packet(CONFREQ, self.next_id(), opts))

    def ipcp_request(self) -> None:
        self.last_ipcp = time.monotonic()
        self.send(PPP_IPCP, packet(CONFREQ, self.next_id(), option(IPCP_ADDR, socket.inet_aton(self.ours))))

    # -- the connection
    def run(self, state) -> str:
        """Connect, negotiate, relay until the link ends; returns why it ended."""
        o = self.o
        self.master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(self.master, False)
        self.child = subprocess.Popen(["/bin/sh", "-c", o.pty], stdin=slave, stdout=slave, stderr=sys.stderr,
                                      start_new_session=True, close_fds=True)
        os.close(slave)
        try:
            self.unit = Unit(self.log)
            self.log(f"Using interface {self.unit.name}")
            if o.ifname:
                self.unit.rename(o.ifname)
            self.log(f"Connect: {self.unit.name} <--> {o.pty}")
            self.lcp_request()
            return self._loop(state)
        finally:
            self.teardown()

    def _loop(self, state) -> str:
        deadline = None
        while True:
            if state.quit and not state.terminating:
                state.terminating = True
                self.send(PPP_LCP, packet(TERMREQ, self.next_id(), b"User request"))
                deadline = time.monotonic() + self.o.restart
            if state.hangup:
                state.hangup = False
                self.send(PPP_LCP, packet(TERMREQ, self.next_id(), b"User request"))
                return "Terminating on signal"
            now = time.monotonic()
            if deadline is not None and now > deadline:
                return "Terminating on signal"
            if not self.lcp_open and now - self.last_lcp > self.o.restart:
                self.lcp_request()
            if self.lcp_open and not self.ipcp_open and now - self.last_ipcp > self.o.restart:
                self.ipcp_request()
            fds = [self.master, self.wake_fd] + ([self.unit.fd] if self.ipcp_open else [])
            ready, _, _ = select.select(fds, [], [], 0.2)
            if self.wake_fd in ready:
                os.read(self.wake_fd, 64)
            if self.ipcp_open and self.unit.fd in ready:
                self.send(PPP_IP, os.read(self.unit.fd, 65536))
            if self.master in ready:
                try:
                    data = os.read(self.master, 65536)
                except OSError as e:
                    if e.errno != errno.EIO:
                        raise
                    data = b""
                if not data:
                    return "Modem hangup"
                for protocol, payload in self.decoder.feed(data):
                    why = self.receive(protocol, payload, state)
                    if why:
                        return why

    def receive(self, protocol: int, payload: bytes, state) -> str | None:
        if protocol == PPP_IP:
            if self.ipcp_open:
                os.write(self.unit.fd, payload)
            return None
        if len(payload) < 4:
            return None
        code, ident, length = struct.unpack("!BBH", payload[:4])
        data = payload[4:length]
        if protocol == PPP_LCP:
            return self.receive_lcp(code, ident, data, state)
        if protocol == PPP_IPCP and self.lcp_open:
            self.receive_ipcp(code, ident, data)
            return None
        if self.lcp_open:
            self.send(PPP_LCP, packet(PROTREJ, self.next_id(), struct.pack("!H", protocol) + payload))
        return None

    def receive_lcp(self, code, ident, data, state) -> str | None:
        if code == CONFREQ:
            for kind, value in options_of(data):
                if kind == LCP_MRU and len(value) == 2:
                    self.peer_mru = struct.unpack("!H", value)[0]
            self.send(PPP_LCP, packet(CONFACK, ident, data))
            self.lcp_acking = True
        elif code == CONFACK and ident == self.ident:
            self.lcp_acked = True
        elif code in (CONFNAK, CONFREJ):
            self.lcp_request()
        elif code == TERMREQ:
            self.send(PPP_LCP, packet(TERMACK, ident))
            return "LCP terminated by peer"
        elif code == TERMACK and state.terminating:
            return "Connection terminated."
        elif code == ECHOREQ and self.lcp_open:
            self.send(PPP_LCP, packet(ECHOREP, ident, struct.pack("!I", self.magic) + data[4:]))
        if not self.lcp_open and self.lcp_acked and self.lcp_acking:
            self.lcp_open = True
            self.unit.set_mtu(min(self.peer_mru, self.o.mtu))  # lcp_up: netif_set_mtu
            self.ipcp_request()
        return None

    def receive_ipcp(self, code, ident, data) -> None:
        if code == CONFREQ:
            addr = next((v for k, v in options_of(data) if k == IPCP_ADDR and len(v) == 4), None)
            asked = socket.inet_ntoa(addr) if addr else None
            if self.server and asked != self.his:
                self.send(PPP_IPCP, packet(CONFNAK, ident, option(IPCP_ADDR, socket.inet_aton(self.his))))
                return
            if not self.server:
                self.his = asked
            self.send(PPP_IPCP, packet(CONFACK, ident, data))
            self.ipcp_acking = True
        elif code == CONFACK and ident == self.ident:
            self.ipcp_acked = True
        elif code == CONFNAK and not self.server:
            addr = next((v for k, v in options_of(data) if k == IPCP_ADDR and len(v) == 4), None)
            if addr:
                self.ours = socket.inet_ntoa(addr)
            self.ipcp_request()
        elif code == CONFREJ:
            self.ipcp_request()
        if not self.ipcp_open and self.ipcp_acked and self.ipcp_acking:
            self.ipcp_up()

    def ipcp_up(self) -> None:
        u = self.unit
        u.sifaddr(self.ours, self.his)
        u.sifup()
        if self.o.defaultroute:
            u.sifdefaultroute()
        self.ipcp_open = self.was_up = True
        self.log(f"local  IP address {self.ours}")
        self.log(f"remote IP address {self.his}")
        self.script(self.o.ip_up)

    def script(self, path: str | None) -> None:
        global _script
        if not path:
            return
        if _script is not None:
            _script.wait()  # ipcp_script_state: not while the other script runs
        env = dict(os.environ, IFNAME=self.unit.name, IPLOCAL=self.ours, IPREMOTE=self.his or "", PPPD_PID=str(os.getpid()))
        _script = subprocess.Popen([path, self.unit.name, "/dev/pts", "0", self.ours, self.his or "", self.o.ipparam],
                                   stdin=subprocess.DEVNULL, close_fds=True, env=env)

    def teardown(self) -> None:
        if self.unit is not None:
            if self.ipcp_open:  # ipcp_down: sifdown, then ipcp_clear_addrs
                self.ipcp_open = False
                self.unit.sifdown()
                self.unit.cifdefaultroute()
                self.unit.cifaddr()
                self.script(self.o.ip_down)
            self.unit.close()
            self.log(f"Connection terminated; {self.unit.name} closed")
            self.unit = None
        if self.master is not None:
            os.close(self.master)
            self.master = None
        if self.child is not None:
            try:
                self.child.wait(2)
            except subprocess.TimeoutExpired:
                self.child.terminate()
                self.child.wait()


class State:
    quit = hangup = terminating = False


def main(argv: list[str]) -> int:
    opts = Options(argv)
    logf = open(opts.logfile, "a", buffering=1) if opts.logfile else sys.stderr

    def log(message: str) -> None:
        logf.write(f"{time.time():.6f} pppd[{os.getpid()}]: {message}\n")

    if not opts.pty:
        log("no pty command given: this stand-in only does `pty`")
        return 2
    state = State()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)

    def on_signal(signum, frame):
        if signum == signal.SIGHUP:
            state.hangup = True
        else:
            state.quit = True
        try:
            os.write(wake_w, b"x")
        except BlockingIOError:
            pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    failures = 0
    while True:
        link = Link(opts, log, wake_r)
        try:
            why = link.run(state)
        except OSError as e:
            why = str(e)
        log(why)
        failures = 0 if link.was_up or why != "Modem hangup" else failures + 1
        if state.quit or not opts.persist or (opts.maxfail and failures >= opts.maxfail):
            return 0
        deadline = time.monotonic() + opts.holdoff
        while not state.quit and time.monotonic() < deadline:
            select.select([wake_r], [], [], max(0.0, deadline - time.monotonic()))
        if state.quit:
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
