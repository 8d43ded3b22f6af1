"""`ddns-edge keygen`: a new TSIG key as a BIND key clause, with the server side as comments.

The text is one file that serves both ends:

- the router: `option file` in a `config key` section loads it (the key clause; the
  comments are skipped), and so does BIND's `include`; named-checkconf accepts it;
- the server: the comments after the clause say what to add to BIND (update-policy
  grants), Knot DNS (key and ACL) and PowerDNS (pdnsutil commands), already filled in
  with the key's name, algorithm and secret.

render() is pure (name, algorithm, secret bytes -> text); new_secret() draws the secret
from `secrets`, as many bytes as the algorithm's digest, as tsig-keygen does.
"""

from __future__ import annotations

import base64
import secrets
from typing import Callable

from ddns_edge import algorithms, names
from ddns_edge.errors import UsageError

DEFAULT_ALGORITHM = algorithms.DEFAULT
EXAMPLE_ZONE = "example.com"


def check_name(text: str, what: str = "key name") -> str:
    """`text` without a trailing dot, or UsageError when it is not a plain DNS name (names.py:
    also what named.conf, knot.conf and a shell take unquoted)."""
    try:
        return names.check(text)
    except ValueError as e:
        raise UsageError(
            f"{what} {text!r} is not a plain DNS name ({e}); allowed: letters, digits, '-' and '_'"
            " in dot-separated labels of at most 63 characters, e.g. ddns-key or router1.example.com"
        ) from None


def check_algorithm(text: str) -> str:
    """The canonical algorithm name ('HMAC-SHA256' -> 'hmac-sha256'), or UsageError."""
    name = algorithms.canonical(text)
    if name is None:
        raise UsageError(f"algorithm {text!r} is not a TSIG HMAC algorithm; allowed: {algorithms.ALLOWED}")
    return name


def new_secret(algorithm: str, token_bytes: Callable[[int], bytes] = secrets.token_bytes) -> bytes:
    """Fresh random key material: as many bytes as the algorithm's digest."""
    return token_bytes(algorithms.ALGORITHMS[check_algorithm(algorithm)].size)


def render(name: str, algorithm: str, secret: bytes, zone: str | None = None) -> str:
    """The key file: a BIND key clause, then the server side as comments (pure).

    `zone` fills in the server-side examples; without it they use example.com, to replace.
    """
    name = check_name(name)
    algorithm = check_algorithm(algorithm)
    if not secret:
        raise ValueError("empty secret")
    zone = check_name(zone, "zone") if zone else EXAMPLE_ZONE
    b64 = base64.b64encode(secret).decode("ascii")
    host = f"www.{zone}"
    replace = "" if zone != EXAMPLE_ZONE else f" (replace {EXAMPLE_ZONE} and {host} with your zone and name)"
    lines = [
        f'key "{name}" {{',
        f"\talgorithm {algorithm};",
        f'\tsecret "{b64}";',
        "};",
        "",
        "# A TSIG key made by `ddns-edge keygen`. It is a secret: keep this file mode 0600.",
        "#",
        "# The router (/etc/config/ddns-edge) loads this file as it is:",
        "#   config key 'home'",
        f"#       option file '/etc/ddns-edge/{name}.key'",
        "#",
        f"# The server side{replace}:",
        "#",
        "# BIND (named.conf): include this file, or copy the key clause above, then",
        "# let the key change the A and AAAA records of that one name:",
        f'#   include "/etc/bind/{name}.key";',
        f'#   zone "{zone}" {{',
        "#       type primary;",
        f'#       file "/var/lib/bind/db.{zone}";',
        "#       update-policy {",
        f"#           grant {name} name {host}. A AAAA;",
        "#       };",
        "#   };",
        f"# (`grant {name} zonesub A AAAA;` would allow every name in the zone.)",
        "#",
        "# Knot DNS (knot.conf):",
        "#   key:",
        f"#     - id: {name}",
        f"#       algorithm: {algorithm}",
        f"#       secret: {b64}",
        "#   acl:",
        f"#     - id: {name}-update",
        f"#       key: {name}",
        "#       action: update",
        "#       update-type: [A, AAAA]",
        "#       update-owner: name",
        f"#       update-owner-name: [{host}.]",
        "#   zone:",
        f"#     - domain: {zone}",
        f"#       acl: [{name}-update]",
        "#",
        "# PowerDNS (pdns.conf: dnsupdate=yes; updates are taken only from the addresses",
        "# in allow-dnsupdate-from or the zone's ALLOW-DNSUPDATE-FROM metadata):",
        f"#   pdnsutil import-tsig-key {name} {algorithm} '{b64}'",
        f"#   pdnsutil set-meta {zone} TSIG-ALLOW-DNSUPDATE {name}",
        f"#   pdnsutil set-meta {zone} ALLOW-DNSUPDATE-FROM 0.0.0.0/0 ::/0",
    ]
    return "\n".join(lines) + "\n"


def generate(name: str, algorithm: str = DEFAULT_ALGORITHM, zone: str | None = None,
             token_bytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """render() with a fresh secret."""
    return render(name, algorithm, new_secret(algorithm, token_bytes), zone)
