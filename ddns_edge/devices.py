"""The kernel's devices by name, kept current from netlink's events (pure).

Devices are known by name; an ifindex is only how the kernel spells one today (a
pppoe-wan that reconnects comes back with a new one). `apply()` folds one event in and
says which device changed in a way a record could care about (its link state, or an
address appearing, going, or changing its flags or deprecation), as a Change, and whether
its link came up; `device()` gives what a device is now, as a model.Device for the schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ddns_edge.model import Address, AddressChange, Device, IPAddress, KernelEvent, Link, LinkGone, Neighbour, NeighbourChange

# NUD states (linux/neighbour.h). Any host on the LAN can make the kernel hold an entry for
# any address with any MAC: one Neighbor Solicitation naming it (its source address and
# source link-layer option) gives a STALE entry, unconfirmed. An entry counts for a record
# only once the kernel has confirmed it: REACHABLE (the host answered the router's own
# solicitation or probe, or traffic confirmed it), or made by the administrator (NOARP,
# PERMANENT); it keeps counting while it ages (STALE, DELAY, PROBE) with the same MAC,
# and stops when it fails, goes, or another MAC takes it.
NUD_REACHABLE, NUD_STALE, NUD_DELAY, NUD_PROBE, NUD_NOARP, NUD_PERMANENT = 0x02, 0x04, 0x08, 0x10, 0x40, 0x80
NUD_CONFIRMED = NUD_REACHABLE | NUD_NOARP | NUD_PERMANENT
NUD_AGEING = NUD_STALE | NUD_DELAY | NUD_PROBE


@dataclass(frozen=True)
class Change:
    """Device `name` changed in a way a record could care about; `came_up`: its link came up
    (it was down, or not there)."""

    name: str
    came_up: bool = False


class View:
    def __init__(self):
        self.names: dict[int, str] = {}
        self.up: dict[int, bool] = {}
        self.addrs: dict[int, dict[IPAddress, Address]] = {}
        self.neighbours: dict[int, dict[IPAddress, Neighbour]] = {}
        self.seen = 0  # counts neighbour addresses as first seen: Neighbour.seen
        self._before: dict[tuple[int, IPAddress], Neighbour] = {}  # during reset(): the entries as they were

    def reset(self, events: Iterable[KernelEvent]) -> set[Change]:
        """Replace the whole view with a dump; returns the devices that differ from before.

        What a record could care about in each device is kept as one compact string, and the
        old tables are let go before the dump is folded in (as it comes): a re-read of
        thousands of addresses never holds them twice, so the memory they took is reused
        for the new view rather than added to."""
        before = self._summary()
        # what was seen before keeps its place, and what the kernel confirmed stays confirmed
        self._before = {(i, a): n for i, table in self.neighbours.items() for a, n in table.items()}
        self.names, self.up, self.addrs, self.neighbours = {}, {}, {}, {}
        try:
            for event in events:
                self.apply(event)
        finally:
            self._before = {}
        after = self._summary()
        # a link came up when it was down or absent before the dump, not merely because the view was emptied
        return {Change(n, n in after and after[n][0] and not (n in before and before[n][0]))
                for n in before.keys() | after.keys() if before.get(n) != after.get(n)}

    def _summary(self) -> dict[str, tuple[bool, bytes, bytes, bytes]]:
        """Each device by name: whether its link is up, and its addresses as a record sees them."""
        out = {}
        for index, name in self.names.items():
            if name not in out:  # the first index, as index_of() finds it
                out[name] = (self.up[index], *_fingerprint(self.addrs.get(index, {})),
                             _neighbours_fingerprint(self.neighbours.get(index, {})))
        return out

    def apply(self, event: KernelEvent) -> Change | None:
        """Fold in one event; the device it changed, or None."""
        if isinstance(event, Link):
            old_name = self.names.get(event.index)
            was_up = self.up.get(event.index)
            self.names[event.index] = event.name
            self.up[event.index] = event.up
            if old_name != event.name or was_up != event.up:  # new, renamed, or up/down
                return Change(event.name, event.up and not was_up)
            return None
        if isinstance(event, LinkGone):
            name = self.names.pop(event.index, None)
            self.up.pop(event.index, None)
            self.addrs.pop(event.index, None)
            self.neighbours.pop(event.index, None)
            return None if name is None else Change(name)
        if isinstance(event, NeighbourChange):
            return self._neighbour(event)
        if isinstance(event, AddressChange):
            table = self.addrs.setdefault(event.index, {})
            address = event.address
            if event.gone:
                changed = table.pop(address.address, None) is not None
            else:
                old = table.get(address.address)
                table[address.address] = address
                changed = old is None or (old.flags, old.preferred == 0) != (address.flags, address.preferred == 0)
            return self._change(event.index) if changed else None
        return None

    def _change(self, index: int) -> Change | None:
        name = self.names.get(index)
        return None if name is None else Change(name)

    def _neighbour(self, event: NeighbourChange) -> Change | None:
        """Fold in a neighbour; a change only when an entry comes, goes, or becomes usable or
        not, or changes its MAC: the REACHABLE-STALE-DELAY-PROBE round of a host that stays
        is no change. Usable: confirmed by the kernel (NUD_CONFIRMED above), and since then
        only ageing with the same MAC."""
        table = self.neighbours.setdefault(event.index, {})
        old = table.get(event.address)
        before = old if old is not None else self._before.get((event.index, event.address))
        if event.gone or event.mac is None:
            if event.gone:
                table.pop(event.address, None)
            elif old is not None:
                table[event.address] = Neighbour(old.address, old.mac, False, old.seen)
            changed = old is not None and old.usable
        else:
            same = before if before is not None and before.mac == event.mac else None  # the same neighbour as before
            usable = bool(event.state & NUD_CONFIRMED) or bool(event.state & NUD_AGEING and same is not None and same.usable)
            if same is not None:
                seen = same.seen
            else:
                self.seen += 1
                seen = self.seen
            table[event.address] = Neighbour(event.address, event.mac, usable, seen)
            changed = old is None or (old.mac, old.usable) != (event.mac, usable)
        return self._change(event.index) if changed else None

    def index_of(self, name: str) -> int | None:
        for index, n in self.names.items():
            if n == name:
                return index
        return None

    def device(self, name: str) -> Device | None:
        """What `name` is now, or None when no such device exists."""
        index = self.index_of(name)
        return None if index is None else self._device(index, name)

    def all(self) -> dict[str, Device]:
        return {name: self._device(index, name) for index, name in self.names.items()}

    def _device(self, index: int, name: str) -> Device:
        return Device(name, self.up.get(index, False), tuple(self.addrs.get(index, {}).values()),
                      tuple(self.neighbours.get(index, {}).values()))


def _fingerprint(table: dict[IPAddress, Address]) -> tuple[bytes, bytes]:
    """A device's IPv4 and IPv6 addresses as a record sees them (each address, its flags and
    whether it is deprecated; not its lifetimes), as two strings of fixed-size items, sorted:
    equal exactly when those are equal."""
    out = (bytearray(), bytearray())
    for n, version in enumerate((4, 6)):
        for ip in sorted(ip for ip in table if ip.version == version):
            a = table[ip]
            out[n].extend(ip.packed + a.flags.to_bytes(4, "big") + (b"\1" if a.preferred == 0 else b"\0"))
    return bytes(out[0]), bytes(out[1])


def _neighbours_fingerprint(table: dict[IPAddress, Neighbour]) -> bytes:
    """A device's neighbours as a record sees them (address, MAC, usable), sorted."""
    return b"".join(sorted(ip.packed + bytes.fromhex(n.mac.replace(":", "")) + (b"\1" if n.usable else b"\0")
                           for ip, n in table.items()))
