"""The TSIG HMAC algorithms, in one table (pure; imports nothing, so the CLI's help can use it).

Each has its name in a key clause (BIND's, and ours), the hash it runs (hashlib's name,
for hmac.new), its name on the wire (RFC 8945 6: hmac-md5's is the old
hmac-md5.sig-alg.reg.int, the others are their own), the DNSSEC algorithm number
dnssec-keygen gave HMAC keys (BIND < 9.13), and the digest's size in bytes (keygen draws
secrets that long, as tsig-keygen does; RFC 2104 recommends at least that much).
keys, keygen, updatewire, dnsupdate and the CLI all read this table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Algorithm:
    name: str  # as a key clause names it: hmac-sha256
    hash: str  # hashlib's name: sha256
    wire: str  # the algorithm name in a TSIG record
    number: int  # the DNSSEC algorithm number of a dnssec-keygen HMAC key
    size: int  # digest bytes


ALGORITHMS = {a.name: a for a in (
    Algorithm("hmac-md5", "md5", "hmac-md5.sig-alg.reg.int", 157, 16),
    Algorithm("hmac-sha1", "sha1", "hmac-sha1", 161, 20),
    Algorithm("hmac-sha224", "sha224", "hmac-sha224", 162, 28),
    Algorithm("hmac-sha256", "sha256", "hmac-sha256", 163, 32),
    Algorithm("hmac-sha384", "sha384", "hmac-sha384", 164, 48),
    Algorithm("hmac-sha512", "sha512", "hmac-sha512", 165, 64),
)}
DEFAULT = "hmac-sha256"
BY_NUMBER = {a.number: a for a in ALGORITHMS.values()}
BY_WIRE = {a.wire: a for a in ALGORITHMS.values()}
ALLOWED = ", ".join(ALGORITHMS)
ALLOWED_NUMBERS = ", ".join(f"{a.number} ({a.name})" for a in ALGORITHMS.values())


def canonical(text: str) -> str | None:
    """'HMAC-SHA512', 'hmac-md5.sig-alg.reg.int.' ... -> 'hmac-sha512', 'hmac-md5'; None if not a TSIG HMAC."""
    name = text.strip().lower()
    if name.endswith("."):
        name = name[:-1]
    found = ALGORITHMS.get(name) or BY_WIRE.get(name)
    return found.name if found is not None else None
