"""The agent's own time per change: from the kernel's address event to its UPDATE leaving.

Two sockets of the bench's own inside the router namespace, read by one thread:
- an rtnetlink socket subscribed to IPv4 address events, as the agent's is: the time of an
  event is when this thread got it (monotonic, read at once after recv; netlink carries no
  kernel timestamp), so it is no earlier than the agent could have it;
- an AF_PACKET socket on the WAN: the kernel's timestamp (SO_TIMESTAMPNS) of each outgoing
  DNS UPDATE datagram (IPv4, UDP port 53, opcode 5), on the wire, not in the agent.

agent_time(since) pairs the first address deletion after `since` (the bench deletes the
old address last: that event is the one the agent acts on) with the first UPDATE after it.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time

SO_TIMESTAMPNS = 35
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
ETH_P_IP = 0x0800
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
RTMGRP_IPV4_IFADDR = 0x10
RTM_DELADDR = 21


def outgoing(netns, ns: str, dev: str) -> socket.socket:
    """A packet socket on `dev` in namespace `ns` that sees what the router sends, each packet
    with the kernel's time stamp (ETH_P_ALL: the kernel hands outgoing packets only to sockets
    of all protocols)."""
    with netns(ns):
        pk = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
        pk.bind((dev, ETH_P_ALL))
    pk.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    return pk


def kernel_stamp(ancillary, to_monotonic: float) -> float | None:
    """The kernel's time stamp of a packet (recvmsg's ancillary data), on the monotonic clock
    (`to_monotonic`: monotonic minus wall time); None when it has none."""
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS:
            sec, nsec = struct.unpack("qq", value[:16])
            return sec + nsec / 1e9 + to_monotonic
    return None


class Stamps:
    def __init__(self, netns, rtr_ns: str, wan: str):
        with netns(rtr_ns):
            self.nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
            self.nl.bind((0, RTMGRP_IPV4_IFADDR))
        self.pk = outgoing(netns, rtr_ns, wan)
        self.to_monotonic = time.monotonic() - time.time()  # the packet stamps are wall clock
        self.deletions: list[float] = []
        self.updates: list[float] = []
        self.lock = threading.Lock()
        self.stop_r, self.stop_w = socket.socketpair()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            ready = select.select([self.nl, self.pk, self.stop_r], [], [])[0]
            if self.stop_r in ready:
                return
            if self.nl in ready:
                data = self.nl.recv(1 << 16)
                at = time.monotonic()
                if _has_deladdr(data):
                    with self.lock:
                        self.deletions.append(at)
            if self.pk in ready:
                data, ancillary, _, address = self.pk.recvmsg(2048, 64)
                if address[1] != ETH_P_IP or address[2] != PACKET_OUTGOING or not _is_update(data):
                    continue
                stamp = kernel_stamp(ancillary, self.to_monotonic)
                if stamp is not None:
                    with self.lock:
                        self.updates.append(stamp)

    def agent_time(self, since: float, timeout: float = 2.0) -> float | None:
        """Seconds from the first address deletion after `since` to the first UPDATE after it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                event = next((t for t in self.deletions if t >= since), None)
                sent = next((t for t in self.updates if event is not None and t >= event), None)
            if sent is not None:
                return sent - event
            time.sleep(0.001)
        return None

    def close(self) -> None:
        self.stop_w.send(b"x")
        self.thread.join(2)
        for s in (self.nl, self.pk, self.stop_r, self.stop_w):
            s.close()


def _has_deladdr(data: bytes) -> bool:
    offset = 0
    while offset + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, offset)
        if kind == RTM_DELADDR:
            return True
        if length < 16:
            return False
        offset += (length + 3) & ~3
    return False


def _is_update(ip: bytes) -> bool:
    """An IPv4 UDP datagram to port 53 holding a DNS UPDATE (opcode 5)."""
    if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
        return False
    ihl = (ip[0] & 0xF) * 4
    if len(ip) < ihl + 8 + 12 or int.from_bytes(ip[ihl + 2:ihl + 4], "big") != 53:
        return False
    return (ip[ihl + 8 + 2] >> 3) & 0xF == 5
