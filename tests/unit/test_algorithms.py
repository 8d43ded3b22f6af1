"""The one table of TSIG algorithms, against hashlib and dnspython's own names."""

import hashlib

import dns.name
import dns.tsig
import pytest

from ddns_edge import algorithms


@pytest.mark.parametrize("algorithm", algorithms.ALGORITHMS.values(), ids=lambda a: a.name)
def test_each_row_agrees_with_hashlib_and_dnspython(algorithm):
    assert hashlib.new(algorithm.hash).digest_size == algorithm.size
    assert dns.name.from_text(algorithm.wire) == getattr(dns.tsig, algorithm.name.upper().replace("-", "_"))
    assert algorithms.BY_NUMBER[algorithm.number] is algorithm and algorithms.canonical(algorithm.wire + ".") == algorithm.name


def test_the_default_is_in_the_table_and_the_numbers_are_dnssec_keygens():
    assert algorithms.DEFAULT == "hmac-sha256" and algorithms.DEFAULT in algorithms.ALGORITHMS
    assert sorted(algorithms.BY_NUMBER) == [157, 161, 162, 163, 164, 165]
