"""DNS names as ddns-edge accepts them: record names, zones, servers, TSIG key names (pure).

One rule for all of them: dot-separated labels of letters, digits, '-' and '_', 1 to 63
characters, not starting or ending with '-'; at most 253 characters in all. That is what
BIND's check-names lets through an UPDATE (plus '_', which service names need), and what
named.conf, knot.conf and a shell command line take without quoting (keygen prints all
three). International names go in their xn-- form. No dnspython: `keygen` loads none.
"""

from __future__ import annotations

import re

_LABEL_RE = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\Z")
MAX_NAME = 253  # characters, without the final dot (255 octets on the wire)
EXAMPLE = "e.g. www.example.com"


def check(text: str, min_labels: int = 1, wildcard: bool = False) -> str:
    """`text` without its trailing dot; ValueError says what is wrong (never repeating it).

    `wildcard`: the first label may be '*'."""
    name = text[:-1] if text.endswith(".") else text
    if not name:
        raise ValueError("it is empty or the root")
    labels = name.split(".")
    for i, label in enumerate(labels):
        if label == "*" and wildcard and i == 0:
            continue
        if not label:
            raise ValueError("it has an empty label (two dots in a row, or a leading dot)")
        if len(label) > 63:
            raise ValueError("a label is longer than 63 characters")
        if not _LABEL_RE.match(label):
            if label.isascii() and re.fullmatch(r"[A-Za-z0-9_-]+", label):
                raise ValueError("a label starts or ends with '-'")
            raise ValueError("labels may hold only letters, digits, '-' and '_' (use the xn-- form for international names)")
    if len(name) > MAX_NAME:
        raise ValueError(f"it is longer than {MAX_NAME} characters")
    if len(labels) < min_labels:
        raise ValueError(f"it needs at least {min_labels} labels, {EXAMPLE}")
    return name


def check_host(text: str) -> str:
    """A host name: check(), and a last label that is not all digits. No top-level domain is
    numeric (RFC 3696 2), so '1.2.3.4.5' or '192.0.2.300' is a mistyped address; taken as a
    name it would only fail later, after a wait on the resolver."""
    name = check(text)
    if name.rsplit(".", 1)[-1].isdigit():
        raise ValueError("it ends in a label of digits only, which no host name does (a mistyped IP address?)")
    return name


def is_host(text: str) -> bool:
    try:
        check_host(text)
    except ValueError:
        return False
    return True


def is_valid(text: str, min_labels: int = 1) -> bool:
    try:
        check(text, min_labels)
    except ValueError:
        return False
    return True


def is_inside(name: str, zone: str) -> bool:
    """Whether `name` is `zone` or below it (checked names, no trailing dots; case ignored)."""
    name, zone = name.lower(), zone.lower()
    return name == zone or name.endswith("." + zone)


def same(a: str, b: str) -> bool:
    """DNS names compare without case and without a trailing dot."""
    return a.rstrip(".").lower() == b.rstrip(".").lower()
