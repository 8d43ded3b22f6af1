"""names.py: the one DNS-name check, for record names, zones, servers, key names and keygen."""

import pytest

from ddns_edge import names


@pytest.mark.parametrize(
    "text, min_labels, wildcard, want",
    [
        ("www.example.com", 2, False, "www.example.com"),
        ("www.example.com.", 2, False, "www.example.com"),
        ("ddns-key", 1, False, "ddns-key"),
        ("_acme-challenge.example.com", 2, False, "_acme-challenge.example.com"),
        ("*.example.com", 2, True, "*.example.com"),
        ("xn--bcher-kva.example", 2, False, "xn--bcher-kva.example"),
        ("a" * 63 + ".example", 2, False, "a" * 63 + ".example"),
        ("", 1, False, "it is empty or the root"),
        (".", 1, False, "it is empty or the root"),
        ("..", 1, False, "it has an empty label"),
        ("a..b", 1, False, "it has an empty label"),
        (".a", 1, False, "it has an empty label"),
        ("a" * 64 + ".example", 2, False, "a label is longer than 63 characters"),
        (".".join(["abcdefghi"] * 26), 1, False, "it is longer than 253 characters"),
        ("www example.com", 2, False, "labels may hold only letters, digits, '-' and '_'"),
        ("bücher.example", 2, False, "use the xn-- form"),
        ("-www.example.com", 2, False, "a label starts or ends with '-'"),
        ("www-.example.com", 2, False, "a label starts or ends with '-'"),
        ("*.example.com", 2, False, "labels may hold only"),
        ("www.*.com", 2, True, "labels may hold only"),
        ("localhost", 2, False, "it needs at least 2 labels, e.g. www.example.com"),
    ],
)
def test_check(text, min_labels, wildcard, want):
    try:
        got = names.check(text, min_labels, wildcard)
    except ValueError as e:
        got = str(e)
        assert text not in got or not text  # never repeats the name
    assert want in got


@pytest.mark.parametrize("name, zone, inside", [
    ("www.example.com", "example.com", True), ("example.com", "example.com", True), ("WWW.Example.COM", "example.com", True),
    ("*.example.com", "example.com", True), ("www.example.net", "example.com", False), ("wwwexample.com", "example.com", False),
])
def test_is_inside(name, zone, inside):
    assert names.is_inside(name, zone) is inside


def test_same_ignores_case_and_the_final_dot():
    assert names.same("DDNS-key.", "ddns-key") and not names.same("ddns-key", "ddns-key2")


@pytest.mark.parametrize("text, ok", [
    ("ns1.example.com", True), ("localhost", True), ("123.example", True), ("1.2.3.4.example", True),
    ("1.2.3.4.5", False), ("192.0.2.300", False), ("ns1.123", False), ("42", False), ("ns1..com", False),
])
def test_a_host_name_does_not_end_in_digits(text, ok):
    """'1.2.3.4.5' used to pass as a host name (and `once` spent 5 s resolving it)."""
    assert names.is_host(text) is ok
