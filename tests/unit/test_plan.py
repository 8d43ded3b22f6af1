"""What must change, and the backoff schedule (pure)."""

import pytest

from ddns_edge.plan import BACKOFF_CAP, Current, backoff, is_right, needs_change


@pytest.mark.parametrize(
    "current, wanted, ttl, right",
    [
        (Current(frozenset({"198.51.100.2"}), 60), "198.51.100.2", 60, True),
        (Current(frozenset({"198.51.100.2"}), 300), "198.51.100.2", 60, False),  # TTL differs
        (Current(frozenset({"198.51.100.3"}), 60), "198.51.100.2", 60, False),
        (Current(frozenset({"198.51.100.2", "198.51.100.3"}), 60), "198.51.100.2", 60, False),  # extra rdata
        (Current(), "198.51.100.2", 60, False),  # absent
    ],
)
def test_is_right(current, wanted, ttl, right):
    assert is_right(current, wanted, ttl) is right
    change = needs_change("www.example.com", "A", ttl, current, wanted)
    assert (change is None) is right
    if change is not None:
        assert change.old == current and change.new == wanted


def test_backoff_doubles_from_one_second_to_five_minutes():
    mid = [backoff(n, 0.5) for n in range(1, 12)]
    assert mid[:5] == [1, 2, 4, 8, 16]
    assert mid[-1] == BACKOFF_CAP == 300
    assert backoff(0, 0.5) == 0
    assert backoff(10_000, 0.5) == 300  # no overflow after days of failures


@pytest.mark.parametrize("n", [1, 3, 8, 9, 40])
def test_backoff_jitter_stays_within_20_percent_and_the_cap(n):
    low, high = backoff(n, 0.0), backoff(n, 0.999)
    base = min(300, 2 ** (n - 1))
    assert low == pytest.approx(base * 0.8)
    assert high <= 300 and high <= base * 1.2
    assert low < high or base * 0.8 >= 300
