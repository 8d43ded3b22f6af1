"""What must change at the server (pure): the wanted address against the RRset as read.

Nothing here touches a socket: the caller passes in what it read from the primary and
what it wants, and gets back the compare-and-swap to send, or None when the record is
already right (then nothing is sent and the zone serial does not move).
"""

from __future__ import annotations

from dataclasses import dataclass

from ddns_edge.model import Addresses, Current

CAS_ATTEMPTS = 3  # read-and-swap rounds before a lost race counts as a failure


@dataclass(frozen=True)
class Change:
    """One record to swap: from exactly `old` (compare) to the addresses `new` (swap): one, or
    several of a record of several WANs (policy all)."""

    name: str
    rtype: str
    ttl: int
    old: Current
    new: Addresses


def is_right(current: Current, wanted: Addresses, ttl: int) -> bool:
    """True when the RRset already holds exactly `wanted` (the addresses, not a text of
    them), with the configured TTL."""
    return current.rdatas == wanted and current.ttl == ttl


def needs_change(name: str, rtype: str, ttl: int, current: Current, wanted: Addresses) -> Change | None:
    """The compare-and-swap to send, or None when the record is already right."""
    if is_right(current, wanted, ttl):
        return None
    return Change(name, rtype, ttl, current, wanted)


# ------------------------------------------------------------------ the replay window

FUDGE_MIN = 10  # seconds: the TSIG fudge of an UPDATE when the clocks agree
FUDGE_MARGIN = 5  # seconds added to the clock offset seen
FUDGE_MAX = 300  # RFC 8945's recommended fudge; never wider: a clock further off is named, not hidden
WINDOW_MARGIN = 2  # seconds: the signed time is truncated to a second, and a round trip passes


def fudge(offset: float | None) -> int:
    """The TSIG fudge to sign an UPDATE with, given the server's clock minus ours (None: not
    known yet). The server takes a signed message only while its clock is within `fudge` of
    the time signed, so a copy of the UPDATE held back or replayed later is refused: the
    smaller the fudge, the sooner no copy can land. Small when the clocks agree, wide enough
    for the offset seen when they do not, and never wider than 300 s."""
    if offset is None:
        return FUDGE_MAX
    return min(FUDGE_MAX, max(FUDGE_MIN, int(abs(offset)) + FUDGE_MARGIN))


def replay_window(fudge: int, offset: float | None) -> float:
    """Seconds after an UPDATE signed with `fudge` leaves until no copy of it can land: its
    time signed plus the fudge, on the server's clock, which may be behind ours (`offset` < 0)
    and then lets a delayed copy in later. Unknown offset: as far behind as a fudge allows."""
    behind = FUDGE_MAX if offset is None else max(0.0, -offset)
    return fudge + behind + WINDOW_MARGIN


# ------------------------------------------------------------------ the one backoff formula

JITTER = 0.2  # +-20 %, so that routers that lost a server (or an echo) together do not return together


def doubling(first: float, cap: float, n: int, rand: float | None = None) -> float:
    """`first` doubled `n` times, never more than `cap`: every growing wait of the agent (a
    record's retries, an exchange's timeout, a failing echo source's rest). With `rand`
    (uniform in [0, 1)) it is spread by +-JITTER, and the cap holds after the jitter too."""
    base = min(cap, first * 2 ** min(max(n, 0), 64))
    if rand is None:
        return base
    return min(cap, base * (1 - JITTER + 2 * JITTER * rand))
