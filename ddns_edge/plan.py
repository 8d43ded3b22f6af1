"""Decisions about what must change and when to try again (pure).

Nothing here touches a socket or a clock: the caller passes in what it read from the
primary and what it wants, and gets back what to send; it passes in how many times a
record has failed and a random number, and gets back how long to wait.
"""

from __future__ import annotations

from dataclasses import dataclass

BACKOFF_FIRST = 1.0  # seconds before the first retry
BACKOFF_CAP = 300.0  # never wait longer than five minutes
BACKOFF_JITTER = 0.2  # +-20 %, so that routers that lost the server together do not return together

CAS_ATTEMPTS = 3  # read-and-swap rounds before a lost race counts as a failure


@dataclass(frozen=True)
class Current:
    """A record's RRset as read from the primary: its rdata texts and TTL (None when absent)."""

    rdatas: frozenset[str] = frozenset()
    ttl: int | None = None

    @property
    def absent(self) -> bool:
        return not self.rdatas


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


def backoff(failures: int, rand: float) -> float:
    """Seconds to wait after the `failures`-th failure in a row (1, 2, 4, ... capped at 300).

    `rand` is uniform in [0, 1): the jitter. The cap holds after the jitter too.
    """
    if failures < 1:
        return 0.0
    base = min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** min(failures - 1, 30))
    return min(BACKOFF_CAP, base * (1 - BACKOFF_JITTER + 2 * BACKOFF_JITTER * rand))
