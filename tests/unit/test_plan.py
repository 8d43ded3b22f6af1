"""What must change (pure)."""

import ipaddress
import pytest

from ddns_edge.model import Addresses, Current
from ddns_edge.plan import FUDGE_MAX, doubling, fudge, is_right, needs_change, replay_window

ip = ipaddress.ip_address  # addresses are values, from the kernel to the wire


def one(address):
    """A record's one address, as it travels (model.Addresses)."""
    return Addresses.of(ip(address))


@pytest.mark.parametrize(
    "current, wanted, ttl, right",
    [
        (Current(frozenset({ip("198.51.100.2")}), 60), one("198.51.100.2"), 60, True),
        (Current(frozenset({ip("198.51.100.2")}), 300), one("198.51.100.2"), 60, False),  # TTL differs
        (Current(frozenset({ip("198.51.100.3")}), 60), one("198.51.100.2"), 60, False),
        (Current(frozenset({ip("198.51.100.2"), ip("198.51.100.3")}), 60), one("198.51.100.2"), 60, False),  # extra rdata
        (Current(), one("198.51.100.2"), 60, False),  # absent
        (Current(frozenset({ip("2001:0db8:0000::0002")}), 60), one("2001:db8::2"), 60, True),  # addresses, not their texts
        (Current(frozenset({ip("::ffff:198.51.100.2")}), 60), one("198.51.100.2"), 60, False),  # an AAAA is not the A
    ],
)
def test_is_right(current, wanted, ttl, right):
    assert is_right(current, wanted, ttl) is right
    change = needs_change("www.example.com", "A", ttl, current, wanted)
    assert (change is None) is right
    if change is not None:
        assert change.old == current and change.new == wanted


# ------------------------------------------------------------------ the replay window


@pytest.mark.parametrize(
    "offset, want",
    [
        (None, 300),  # the server's clock not known yet: as wide as RFC 8945 recommends
        (0.0, 10),  # the clocks agree: the smallest
        (4.9, 10),  # 4 + 5 is still under the floor
        (5.0, 10),
        (6.0, 11),  # 6 s apart, and 5 s of margin
        (-6.0, 11),  # behind or ahead alike
        (-6.9, 11),  # whole seconds of the offset seen
        (120.5, 125),
        (295.0, 300),
        (296.0, 300),  # never wider than 300 s ...
        (-86400.0, 300),  # ... a clock a day off is named, not hidden
    ],
)
def test_fudge(offset, want):
    assert fudge(offset) == want


@pytest.mark.parametrize(
    "fudge_, offset, want",
    [
        (10, 0.0, 12),  # the fudge, and 2 s for the truncated time and the round trip
        (10, 30.0, 12),  # the server ahead of us: a copy is refused sooner, not later
        (10, -30.0, 42),  # the server 30 s behind: a held copy is taken 30 s longer
        (35, -30.0, 67),
        (300, None, 602),  # the offset not known: as far behind as a fudge allows
        (10, None, 312),
    ],
)
def test_replay_window(fudge_, offset, want):
    assert replay_window(fudge_, offset) == want


@pytest.mark.parametrize("offset", [None, 0.0, 3.0, -3.0, 40.0, -40.0, -299.0, -1000.0])
def test_no_copy_lands_after_the_window(offset):
    """An UPDATE signed at our time t with fudge f is taken while the server's clock (ours + offset)
    is within f of t: until our t + f - offset. The window covers that, whatever the offset."""
    f = fudge(offset)
    last = f - (offset or 0.0) if offset is not None else f + FUDGE_MAX
    assert replay_window(f, offset) >= last


# ------------------------------------------------------------------ the one backoff formula


@pytest.mark.parametrize(
    "first, cap, n, rand, want",
    [
        (1.0, 300.0, 0, None, 1.0),  # the first wait
        (1.0, 300.0, 3, None, 8.0),  # doubled three times
        (1.0, 300.0, 8, None, 256.0),
        (1.0, 300.0, 9, None, 300.0),  # the cap
        (1.0, 300.0, 10_000, None, 300.0),  # however many failures
        (5.0, 20.0, -1, None, 5.0),  # never below the first
        (1.0, 300.0, 3, 0.0, 6.4),  # -20 %
        (1.0, 300.0, 3, 0.5, 8.0),  # the middle of the spread
        (1.0, 300.0, 3, 0.999999, 9.599998),  # just under +20 %
        (30.0, 3600.0, 7, 0.999999, 3600.0),  # the cap holds after the jitter too
        (30.0, 3600.0, 6, 0.0, 1536.0),
    ],
)
def test_doubling(first, cap, n, rand, want):
    assert doubling(first, cap, n, rand) == pytest.approx(want)
