"""What must change at the server (pure): the wanted address against the RRset as read.

Nothing here touches a socket: the caller passes in what it read from the primary and
what it wants, and gets back the compare-and-swap to send, or None when the record is
already right (then nothing is sent and the zone serial does not move).
"""

from __future__ import annotations

from dataclasses import dataclass

from ddns_edge.model import Current

CAS_ATTEMPTS = 3  # read-and-swap rounds before a lost race counts as a failure


@dataclass(frozen=True)
class Change:
    """One record to swap: from exactly `old` (compare) to the single address `new` (swap)."""

    name: str
    rtype: str
    ttl: int
    old: Current
    new: str


def is_right(current: Current, wanted: str, ttl: int) -> bool:
    """True when the RRset already holds exactly `wanted`, with the configured TTL."""
    return current.rdatas == frozenset({wanted}) and current.ttl == ttl


def needs_change(name: str, rtype: str, ttl: int, current: Current, wanted: str) -> Change | None:
    """The compare-and-swap to send, or None when the record is already right."""
    if is_right(current, wanted, ttl):
        return None
    return Change(name, rtype, ttl, current, wanted)
