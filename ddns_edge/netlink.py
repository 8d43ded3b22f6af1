"""The kernel's view of interfaces, through rtnetlink (pyroute2): dumps and events.

Devices are known by name; an ifindex is only how the kernel spells it today (a
pppoe-wan that reconnects comes back with a new one).
"""

from __future__ import annotations

import ipaddress

from ddns_edge.addresses import FOREVER, Address

AF_INET = 2
AF_INET6 = 10


def to_address(msg) -> Address | None:
    """An RTM_NEWADDR/RTM_DELADDR message as an Address (None for other families)."""
    if msg["family"] not in (AF_INET, AF_INET6):
        return None
    text = msg.get_attr("IFA_ADDRESS") if msg["family"] == AF_INET6 else (msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS"))
    if text is None:
        return None
    flags = msg.get_attr("IFA_FLAGS")
    if flags is None:
        flags = msg["flags"]
    cache = msg.get_attr("IFA_CACHEINFO") or {}
    return Address(
        ipaddress.ip_address(text),
        msg["prefixlen"],
        flags,
        cache.get("ifa_preferred", FOREVER),
        cache.get("ifa_valid", FOREVER),
    )


def device_addresses(device: str) -> list[Address] | None:
    """The addresses `device` has now; None when there is no such device."""
    view = View()
    view.reset(dump())
    return view.addresses(device)


RTM_GETLINK, RTM_GETADDR = 18, 22
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300


def dump() -> list:
    """Every link and address the kernel has now, as pyroute2 messages (two dump requests
    on a plain rtnetlink socket: no IPRoute machinery)."""
    import socket
    import struct

    out = []
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
                out.extend(parse(data))
    return out


def _headers(data: bytes):
    """(type, offset) of each netlink message in `data`."""
    import struct

    offset = 0
    while offset + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, offset)
        if length < 16 or offset + length > len(data):
            return
        yield kind, offset
        offset += (length + 3) & ~3


def parse(data: bytes) -> list:
    """The link and address messages in `data`, decoded by pyroute2's message classes;
    anything else, or anything that does not decode, is passed over."""
    classes = _classes()
    out = []
    for kind, offset in _headers(data):
        cls = classes.get(kind)
        if cls is None:
            continue
        msg = cls(data, offset=offset)
        try:
            msg.decode()
        except Exception:  # a message pyroute2 cannot decode is not one we can use
            continue
        out.append(msg)
    return out


_CLASSES: dict = {}


def _classes() -> dict:
    """pyroute2's ifinfmsg and ifaddrmsg by message type.

    Imported without running pyroute2/__init__.py, which imports the whole library
    (IPRoute, NDB, asyncio, ssl: about 20 MB of RSS and 0.15 s at start on a PC, more on a
    router) for two message classes. When pyroute2 is already imported, it is used as is."""
    if not _CLASSES:
        import importlib.util
        import sys

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
                del sys.modules["pyroute2"]  # a later `import pyroute2` gets the real package
        _CLASSES.update({RTM_NEWLINK: ifinfmsg, RTM_DELLINK: ifinfmsg, RTM_NEWADDR: ifaddrmsg, RTM_DELADDR: ifaddrmsg})
    return _CLASSES


# ---------------------------------------------------------------- the view (pure)

RTM_NEWLINK, RTM_DELLINK, RTM_NEWADDR, RTM_DELADDR = 16, 17, 20, 21
IFF_UP = 0x1
IFF_RUNNING = 0x40
GROUPS = 0x1 | 0x10 | 0x100  # RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR


class View:
    """Devices by name and their addresses, kept current from rtnetlink messages (pure).

    `apply()` takes one message and returns the name of the device whose addresses or
    link state it changed (None when nothing a record could care about changed).
    """

    def __init__(self):
        self.names: dict[int, str] = {}
        self.running: dict[int, bool] = {}
        self.addrs: dict[int, dict] = {}
        self.went_up: set[str] = set()  # devices whose link came up since the caller last emptied it

    def reset(self, messages) -> set[str]:
        """Replace the whole view with a dump; returns the devices whose addresses differ."""
        before = {name: self.addresses(name) for name in self.names.values()}
        self.names, self.running, self.addrs = {}, {}, {}
        for msg in messages:
            self.apply(msg)
        after = {name: self.addresses(name) for name in self.names.values()}
        return {n for n in before.keys() | after.keys() if _key(before.get(n)) != _key(after.get(n))}

    def apply(self, msg) -> str | None:
        kind = msg["header"]["type"]
        index = msg["index"]
        if kind == RTM_NEWLINK:
            name = msg.get_attr("IFLA_IFNAME")
            running = bool(msg["flags"] & IFF_UP and msg["flags"] & IFF_RUNNING)
            old_name = self.names.get(index)
            was_running = self.running.get(index)
            self.names[index] = name
            self.running[index] = running
            if running and not was_running:
                self.went_up.add(name)
            if old_name is not None and old_name != name:  # renamed
                return name
            return name if (old_name is None or was_running != running) else None
        if kind == RTM_DELLINK:
            name = self.names.pop(index, None)
            self.running.pop(index, None)
            self.addrs.pop(index, None)
            return name
        if kind in (RTM_NEWADDR, RTM_DELADDR):
            address = to_address(msg)
            if address is None:
                return None
            table = self.addrs.setdefault(index, {})
            if kind == RTM_NEWADDR:
                old = table.get(address.address)
                table[address.address] = address
                changed = old is None or (old.flags, old.preferred == 0) != (address.flags, address.preferred == 0)
            else:
                changed = table.pop(address.address, None) is not None
            return self.names.get(index) if changed else None
        return None

    def index_of(self, name: str) -> int | None:
        for index, n in self.names.items():
            if n == name:
                return index
        return None

    def addresses(self, name: str) -> list[Address] | None:
        """`name`'s addresses, or None when no such device exists now."""
        index = self.index_of(name)
        if index is None:
            return None
        return list(self.addrs.get(index, {}).values())

    def is_running(self, name: str) -> bool:
        index = self.index_of(name)
        return index is not None and self.running.get(index, False)


def _key(addresses):
    if addresses is None:
        return None
    return sorted((str(a.address), a.flags, a.preferred == 0) for a in addresses)


# ---------------------------------------------------------------- the socket (I/O)


class Subscription:
    """An rtnetlink socket subscribed to link and address events, for the event loop.

    `fileno()` for select; `read()` drains what is queued and returns the messages;
    `dump()` asks the kernel for every link and address (used at start and after an
    overflow). `read()` raises Overflow when the kernel dropped events (ENOBUFS).
    """

    class Overflow(Exception):
        pass

    def __init__(self, rcvbuf: int | None = None):
        import socket

        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, 0)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind((0, GROUPS))

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self) -> list:
        import errno

        out = []
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

    def dump(self) -> list:
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
