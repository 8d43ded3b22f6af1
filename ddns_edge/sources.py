"""Where a record's address comes from: the device's own addresses, or (later) the echo (pure).

`detect()` turns the device's address list into a Detection: the address to publish,
where it came from, and why; the I/O (netlink dump or events) is the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ddns_edge.addresses import Address, IPAddress, choose


@dataclass(frozen=True)
class Detection:
    """The address a record should carry (None: leave the record as it is), and why."""

    address: str | None
    origin: str  # "interface wan0", "echo"
    reason: str

    def __str__(self) -> str:
        if self.address is None:
            return f"no address ({self.origin}: {self.reason})"
        return f"{self.address} ({self.origin}: {self.reason})"


def detect(record, addresses: Iterable[Address] | None, published: IPAddress | None = None) -> Detection:
    """Choose from the addresses of `record.device` (None: the device does not exist)."""
    origin = f"interface {record.device}"
    if record.source == "echo":
        return Detection(None, "echo", "echo sources are not supported by this version")
    if addresses is None:
        return Detection(None, origin, "no such device")
    choice = choose(record.type, addresses, published)
    if choice.address is not None:
        return Detection(str(choice.address), origin, choice.reason)
    if choice.private is not None and record.source == "auto":
        return Detection(None, origin, f"{choice.reason}; it is not published, and the echo fallback is not supported by this version")
    return Detection(None, origin, choice.reason)
