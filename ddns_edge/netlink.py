"""The kernel's rtnetlink socket: dumps and events, as the project's own values (model.py).

`parse()` decodes link messages with pyroute2's message class, and addresses, routes of
the main table and IPv6 neighbours with a few lines of its own (addresses are the hot path:
microseconds, where pyroute2's generic decoder takes about 60), and returns the project's
values (model.py): nothing of pyroute2 leaves this module. devices.View folds them into devices by name (pure); the Subscription is the
socket the event loop selects on.

pyroute2's link message class is imported without running pyroute2/__init__.py, which
imports the whole library (IPRoute, NDB, asyncio, ssl: about 20 MB of RSS and 0.15 s at
start on a PC, more on a router). That import is the one that stays inside a function
(_classes), so that commands that never read the kernel (keygen, check) never load it.
"""

from __future__ import annotations

import errno
import importlib.util
import ipaddress
import socket
import struct
import sys
from typing import Iterator

from ddns_edge.model import FOREVER, Address, AddressChange, KernelEvent, Link, LinkGone, NeighbourChange, RouteChange

AF_INET = 2
AF_INET6 = 10

RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
IFA_ADDRESS, IFA_LOCAL, IFA_CACHEINFO, IFA_FLAGS = 1, 2, 6, 8
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
RTA_OIF, RTA_PRIORITY = 4, 6
RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH = 28, 29, 30
NDA_DST, NDA_LLADDR = 1, 2
SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, NETLINK_DROP_MEMBERSHIP = 270, 1, 2
RTNLGRP_NEIGH = 3
RT_TABLE_MAIN = 254
RTN_UNICAST = 1
RTA_TABLE = 15
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
IFF_UP = 0x1
IFF_RUNNING = 0x40
GROUPS = 0x1 | 0x10 | 0x40 | 0x100 | 0x400  # RTMGRP_LINK, _IPV4_IFADDR, _IPV4_ROUTE, _IPV6_IFADDR, _IPV6_ROUTE


def parse(data: bytes) -> list[KernelEvent]:
    """The link, address and route events in a netlink datagram; anything else, or anything
    that does not decode, is passed over."""
    classes = _classes()
    out: list[KernelEvent] = []
    for kind, offset in _headers(data):
        if kind in (RTM_NEWROUTE, RTM_DELROUTE):
            route = _route(data, offset, kind)
            if route is not None:
                out.append(route)
            continue
        if kind in (RTM_NEWNEIGH, RTM_DELNEIGH):
            neighbour = _neighbour(data, offset, kind)
            if neighbour is not None:
                out.append(neighbour)
            continue
        if kind in (RTM_NEWADDR, RTM_DELADDR):
            address = _address(data, offset, kind)
            if address is not None:
                out.append(address)
            continue
        cls = classes.get(kind)
        if cls is None:
            continue
        msg = cls(data, offset=offset)
        try:
            msg.decode()
            event = _link(msg, kind)
        except Exception:  # a message pyroute2 cannot decode is not one we can use
            continue
        finally:
            _release(msg)
        if event is not None:
            out.append(event)
    return out


def _release(msg) -> None:
    """Break the reference cycles of a decoded pyroute2 message, so that it is freed now.

    Each message and each of its attributes holds itself in `chain` (and nested attributes
    their parent): about 27 objects of cyclic garbage per message, freed only by the cyclic
    collector. Under a flood (tens of thousands of events, a full re-read after each
    overflow) that garbage reached the collector's oldest generation and kept the
    allocator's arenas, and the agent's RSS, high after the flood was over."""
    stack = [msg]
    while stack:
        m = stack.pop()
        try:
            m.chain = None
            m.parent = None
            attrs = dict.get(m, "attrs") or ()
        except (AttributeError, TypeError):  # another pyroute2's layout: leave it to the collector
            continue
        for slot in attrs:
            value = getattr(slot, "cell", (None, None))[1]
            if isinstance(value, dict):
                stack.append(value)


def _link(msg, kind: int) -> Link | LinkGone | None:
    if kind == RTM_DELLINK:
        return LinkGone(msg["index"])
    name = msg.get_attr("IFLA_IFNAME")
    if name is None:
        return None
    flags = msg["flags"]
    return Link(msg["index"], name, bool(flags & IFF_UP and flags & IFF_RUNNING))


def _attrs(data: bytes, offset: int, header: int) -> dict[int, bytes] | None:
    """The attributes (rtattr: type -> payload) of the message at `offset`, whose own header
    (after the netlink one) is `header` bytes long; None when the message is shorter."""
    (length,) = struct.unpack_from("=I", data, offset)
    if length < 16 + header:
        return None
    found: dict[int, bytes] = {}
    at = offset + 16 + header
    while at + 4 <= offset + length:
        size, attr = struct.unpack_from("=HH", data, at)
        if size < 4:
            break
        found[attr] = data[at + 4:at + size]
        at += (size + 3) & ~3
    return found


def _address(data: bytes, offset: int, kind: int) -> AddressChange | None:
    """An address (struct ifaddrmsg; IFA_ADDRESS, IFA_LOCAL, IFA_FLAGS, IFA_CACHEINFO), read
    here: the event that matters most, read in microseconds (pyroute2 takes about 60)."""
    found = _attrs(data, offset, 8)
    if found is None:
        return None
    family, prefixlen, flags, _, index = struct.unpack_from("=4BI", data, offset + 16)
    size = 4 if family == AF_INET else 16 if family == AF_INET6 else 0
    if not size:
        return None
    # With a peer (`ip addr add LOCAL peer PEER`: PPP links, IPv4 and IPv6 alike) the kernel
    # sends the address as IFA_LOCAL and the peer as IFA_ADDRESS; without one, IFA_ADDRESS
    # alone for IPv6 and both, equal, for IPv4.
    raw = found.get(IFA_LOCAL) or found.get(IFA_ADDRESS)
    if raw is None or len(raw) != size:
        return None
    if len(found.get(IFA_FLAGS, b"")) == 4:
        (flags,) = struct.unpack("=I", found[IFA_FLAGS])
    preferred = valid = FOREVER
    if len(found.get(IFA_CACHEINFO, b"")) >= 8:
        preferred, valid = struct.unpack_from("=II", found[IFA_CACHEINFO])
    address = Address(ipaddress.ip_address(raw), prefixlen, flags, preferred, valid)
    return AddressChange(index, address, gone=kind == RTM_DELADDR)


def _main_unicast(data: bytes, offset: int) -> tuple[int, int, dict[int, bytes]] | None:
    """A route message's family (4|6), destination length and attributes, when it is a unicast
    route of the main table (struct rtmsg, and RTA_TABLE for tables past 255); None if not."""
    found = _attrs(data, offset, 12)
    if found is None:
        return None
    family, dst_len, _, _, table, _, _, rtype = struct.unpack_from("=8B", data, offset + 16)
    if len(found.get(RTA_TABLE, b"")) >= 4:
        (table,) = struct.unpack_from("=I", found[RTA_TABLE])
    if family not in (AF_INET, AF_INET6) or table != RT_TABLE_MAIN or rtype != RTN_UNICAST:
        return None
    return 4 if family == AF_INET else 6, dst_len, found


def _route(data: bytes, offset: int, kind: int) -> RouteChange | None:
    """A unicast route of the main table came or went: all that matters, not where it leads."""
    route = _main_unicast(data, offset)
    return None if route is None else RouteChange(route[0], gone=kind == RTM_DELROUTE)


def _neighbour(data: bytes, offset: int, kind: int) -> NeighbourChange | None:
    """An IPv6 neighbour (struct ndmsg, NDA_DST, NDA_LLADDR), read here: a few fields."""
    found = _attrs(data, offset, 12)
    if found is None:
        return None
    family, index, state = struct.unpack_from("=B3xiH", data, offset + 16)
    dst, lladdr = found.get(NDA_DST, b""), found.get(NDA_LLADDR, b"")
    if family != AF_INET6 or len(dst) != 16:
        return None
    address = ipaddress.IPv6Address(dst)
    mac = lladdr.hex(":") if len(lladdr) == 6 else None
    return NeighbourChange(index, address, mac, state, gone=kind == RTM_DELNEIGH)


def _headers(data: bytes):
    """(type, offset) of each netlink message in `data`."""
    offset = 0
    while offset + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, offset)
        if length < 16 or offset + length > len(data):
            return
        yield kind, offset
        offset += (length + 3) & ~3


_CLASSES: dict = {}


def _classes() -> dict:
    """pyroute2's ifinfmsg by message type, without running pyroute2/__init__.
    When pyroute2 is already imported it is used as is; otherwise the package is entered
    as a bare module for the two imports and taken out of sys.modules again, so that a
    later `import pyroute2` gets the real package."""
    if not _CLASSES:
        stub = None
        if "pyroute2" not in sys.modules:
            spec = importlib.util.find_spec("pyroute2")
            if spec is None:
                raise ModuleNotFoundError("No module named 'pyroute2'", name="pyroute2")
            stub = importlib.util.module_from_spec(spec)  # the package, its __init__ not run
            sys.modules["pyroute2"] = stub
        try:
            from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
        finally:
            if stub is not None and sys.modules.get("pyroute2") is stub:
                del sys.modules["pyroute2"]
        _CLASSES.update({RTM_NEWLINK: ifinfmsg, RTM_DELLINK: ifinfmsg})
    return _CLASSES


def default_route(data: bytes, offset: int) -> tuple[int, int, int] | None:
    """(family 4|6, device index, metric) of a default route of the main table in an
    RTM_NEWROUTE at `offset`; None for any other route (pure)."""
    route = _main_unicast(data, offset)
    if route is None:
        return None
    version, dst_len, found = route
    if dst_len or len(found.get(RTA_OIF, b"")) < 4:
        return None
    (oif,) = struct.unpack_from("=I", found[RTA_OIF])
    metric = struct.unpack_from("=I", found[RTA_PRIORITY])[0] if len(found.get(RTA_PRIORITY, b"")) >= 4 else 0
    return version, oif, metric


# ---------------------------------------------------------------- the socket (I/O)


def _dumped(requests: list[tuple[int, bytes]]) -> Iterator[bytes]:
    """Each datagram of the kernel's answers to dump requests [(message type, its body)], in
    order, from a plain rtnetlink socket (no IPRoute machinery); a failed dump raises OSError."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0) as sock:
        sock.bind((0, 0))
        for seq, (kind, body) in enumerate(requests, 1):
            sock.send(struct.pack("=IHHII", 16 + len(body), kind, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body)
            done = False
            while not done:
                data = sock.recv(1 << 16)
                for got, offset in _headers(data):
                    if got == NLMSG_DONE:
                        done = True
                    elif got == NLMSG_ERROR:
                        (code,) = struct.unpack_from("=i", data, offset + 16)
                        if code:
                            raise OSError(-code, "rtnetlink dump failed")
                yield data


def default_routes() -> list[tuple[int, int, int]]:
    """The main table's default routes now: (family 4|6, device index, metric) each (a dump;
    asked only for records of several WANs, after a route event)."""
    out = []
    for data in _dumped([(RTM_GETROUTE, bytes(12))]):
        for got, offset in _headers(data):
            if got == RTM_NEWROUTE:
                route = default_route(data, offset)
                if route is not None:
                    out.append(route)
    return out


def dump(neighbours: bool = False) -> Iterator[KernelEvent]:
    """Every link and address the kernel has now, and with `neighbours` its IPv6 neighbours,
    yielded as each datagram comes: a re-read of thousands of addresses is folded in as it
    arrives, never held twice."""
    requests = [(RTM_GETLINK, bytes(16)), (RTM_GETADDR, bytes(8))]
    if neighbours:
        requests.append((RTM_GETNEIGH, struct.pack("=B3xiHBB", AF_INET6, 0, 0, 0, 0)))
    for data in _dumped(requests):
        yield from parse(data)


class Subscription:
    """An rtnetlink socket subscribed to link, address and route events, for the event loop.

    `fileno()` for select; `read()` drains what is queued and returns the events;
    `dump()` asks the kernel for every link and address (used at start and after an
    overflow). `read()` raises Overflow when the kernel dropped events (ENOBUFS).
    """

    class Overflow(Exception):
        pass

    def __init__(self, rcvbuf: int | None = None):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, 0)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind((0, GROUPS))
        self.neighbours = False

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self) -> list[KernelEvent]:
        out: list[KernelEvent] = []
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except BlockingIOError:
                return out
            except OSError as e:
                if e.errno == errno.ENOBUFS:
                    raise self.Overflow() from None
                raise
            out.extend(parse(data))

    def follow_neighbours(self) -> None:
        """Subscribe to neighbour events too (only while some record follows a MAC: on a busy
        LAN they come every few seconds per host)."""
        if not self.neighbours:
            self.sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, RTNLGRP_NEIGH)
            self.neighbours = True

    def dump(self) -> Iterator[KernelEvent]:
        """Every link and address now (and neighbour, when followed). What the socket had
        queued is dropped first: the dump supersedes it, and only an emptied queue lets the
        kernel report the next overflow (it flags ENOBUFS once per congestion, until the
        queue is drained)."""
        self._discard()
        return dump(self.neighbours)

    def _discard(self) -> None:
        while True:
            try:
                self.sock.recv(1 << 16)
            except BlockingIOError:
                return
            except OSError:  # ENOBUFS again: keep draining
                continue

    def close(self) -> None:
        self.sock.close()
