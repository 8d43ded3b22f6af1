"""The kernel's rtnetlink socket: dumps and events, as the project's own values (model.py).

`parse()` decodes the link and address messages in a datagram with pyroute2's message
classes and returns Link, LinkGone and AddressChange values: nothing of pyroute2 leaves
this module. devices.View folds them into devices by name (pure); the Subscription is the
socket the event loop selects on.

pyroute2's two message classes are imported without running pyroute2/__init__.py, which
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

from ddns_edge.model import FOREVER, Address, AddressChange, KernelEvent, Link, LinkGone

AF_INET = 2
AF_INET6 = 10

RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
IFF_UP = 0x1
IFF_RUNNING = 0x40
GROUPS = 0x1 | 0x10 | 0x100  # RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR


def parse(data: bytes) -> list[KernelEvent]:
    """The link and address events in a netlink datagram; anything else, or anything that
    does not decode, is passed over."""
    classes = _classes()
    out: list[KernelEvent] = []
    for kind, offset in _headers(data):
        cls = classes.get(kind)
        if cls is None:
            continue
        msg = cls(data, offset=offset)
        try:
            msg.decode()
            event = _link(msg, kind) if kind in (RTM_NEWLINK, RTM_DELLINK) else _address(msg, kind)
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


def _address(msg, kind: int) -> AddressChange | None:
    family = msg["family"]
    if family not in (AF_INET, AF_INET6):
        return None
    text = msg.get_attr("IFA_ADDRESS") if family == AF_INET6 else (msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS"))
    if text is None:
        return None
    flags = msg.get_attr("IFA_FLAGS")
    cache = msg.get_attr("IFA_CACHEINFO") or {}
    address = Address(
        ipaddress.ip_address(text),
        msg["prefixlen"],
        msg["flags"] if flags is None else flags,
        cache.get("ifa_preferred", FOREVER),
        cache.get("ifa_valid", FOREVER),
    )
    return AddressChange(msg["index"], address, gone=kind == RTM_DELADDR)


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
    """pyroute2's ifinfmsg and ifaddrmsg by message type, without running pyroute2/__init__.
    When pyroute2 is already imported it is used as is; otherwise the package is entered
    as a bare module for the two imports and taken out of sys.modules again, so that a
    later `import pyroute2` gets the real package."""
    if not _CLASSES:
        stub = None
        if "pyroute2" not in sys.modules:
            spec = importlib.util.find_spec("pyroute2")
            stub = importlib.util.module_from_spec(spec)  # the package, its __init__ not run
            sys.modules["pyroute2"] = stub
        try:
            from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
            from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
        finally:
            if stub is not None and sys.modules.get("pyroute2") is stub:
                del sys.modules["pyroute2"]
        _CLASSES.update({RTM_NEWLINK: ifinfmsg, RTM_DELLINK: ifinfmsg, RTM_NEWADDR: ifaddrmsg, RTM_DELADDR: ifaddrmsg})
    return _CLASSES


# ---------------------------------------------------------------- the socket (I/O)


def dump() -> Iterator[KernelEvent]:
    """Every link and address the kernel has now (two dump requests on a plain rtnetlink
    socket: no IPRoute machinery), yielded as each datagram comes: a re-read of thousands
    of addresses is folded in as it arrives, never held twice."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0) as sock:
        sock.bind((0, 0))
        for seq, (kind, body) in enumerate(((RTM_GETLINK, bytes(16)), (RTM_GETADDR, bytes(8))), 1):
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
                yield from parse(data)


class Subscription:
    """An rtnetlink socket subscribed to link and address events, for the event loop.

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

    def dump(self) -> Iterator[KernelEvent]:
        """Every link and address now. What the socket had queued is dropped first: the
        dump supersedes it, and only an emptied queue lets the kernel report the next
        overflow (it flags ENOBUFS once per congestion, until the queue is drained)."""
        self._discard()
        return dump()

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
