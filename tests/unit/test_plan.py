"""What must change (pure)."""

import pytest

from ddns_edge.model import Current
from ddns_edge.plan import is_right, needs_change


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
