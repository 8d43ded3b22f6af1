"""The kernel's devices by name, kept current from netlink's events (pure).

Devices are known by name; an ifindex is only how the kernel spells one today (a
pppoe-wan that reconnects comes back with a new one). `apply()` folds one event in and
says which device changed in a way a record could care about (its link state, or an
address appearing, going, or changing its flags or deprecation); `device()` gives what a
device is now, as a model.Device for the schedule.
"""

from __future__ import annotations

from typing import Iterable

from ddns_edge.model import Address, AddressChange, Device, IPAddress, KernelEvent, Link, LinkGone


class View:
    def __init__(self):
        self.names: dict[int, str] = {}
        self.up: dict[int, bool] = {}
        self.addrs: dict[int, dict[IPAddress, Address]] = {}
        self.went_up: set[str] = set()  # devices whose link came up since the caller last emptied it

    def reset(self, events: Iterable[KernelEvent]) -> set[str]:
        """Replace the whole view with a dump; returns the devices that differ from before."""
        before = self.all()
        went_up, self.went_up = self.went_up, set()
        self.names, self.up, self.addrs = {}, {}, {}
        for event in events:
            self.apply(event)
        after = self.all()
        # a link came up when it was down or absent before the dump, not merely because the view was emptied
        self.went_up = went_up | {n for n, d in after.items() if d.up and (before.get(n) is None or not before[n].up)}
        return {n for n in before.keys() | after.keys() if _key(before.get(n)) != _key(after.get(n))}

    def apply(self, event: KernelEvent) -> str | None:
        """Fold in one event; the name of the device it changed, or None."""
        if isinstance(event, Link):
            old_name = self.names.get(event.index)
            was_up = self.up.get(event.index)
            self.names[event.index] = event.name
            self.up[event.index] = event.up
            if event.up and not was_up:
                self.went_up.add(event.name)
            if old_name != event.name or was_up != event.up:  # new, renamed, or up/down
                return event.name
            return None
        if isinstance(event, LinkGone):
            name = self.names.pop(event.index, None)
            self.up.pop(event.index, None)
            self.addrs.pop(event.index, None)
            return name
        if isinstance(event, AddressChange):
            table = self.addrs.setdefault(event.index, {})
            address = event.address
            if event.gone:
                changed = table.pop(address.address, None) is not None
            else:
                old = table.get(address.address)
                table[address.address] = address
                changed = old is None or (old.flags, old.preferred == 0) != (address.flags, address.preferred == 0)
            return self.names.get(event.index) if changed else None
        return None

    def index_of(self, name: str) -> int | None:
        for index, n in self.names.items():
            if n == name:
                return index
        return None

    def device(self, name: str) -> Device | None:
        """What `name` is now, or None when no such device exists."""
        index = self.index_of(name)
        if index is None:
            return None
        return Device(name, self.up.get(index, False), tuple(self.addrs.get(index, {}).values()))

    def all(self) -> dict[str, Device]:
        return {name: self.device(name) for name in self.names.values()}


def _key(device: Device | None):
    """What of a device matters to a record: whether it exists, its link, its addresses' flags."""
    if device is None:
        return None
    return device.up, sorted((str(a.address), a.flags, a.preferred == 0) for a in device.addresses)
