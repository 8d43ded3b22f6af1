"""Classify interface addresses and choose the one a record should carry (pure).

The rules are DESIGN.md's "Address rules": what counts as public, which IPv6
addresses are fit to publish (global, not tentative, not DAD-failed, not deprecated,
not temporary), and, among several, keep the one already published while it is
valid, else take the longest preferred lifetime.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Iterable

from ddns_edge.model import Address, IPAddress


# Address flags from <linux/if_addr.h>.
IFA_F_TEMPORARY = 0x01
IFA_F_NODAD = 0x02
IFA_F_OPTIMISTIC = 0x04
IFA_F_DADFAILED = 0x08
IFA_F_HOMEADDRESS = 0x10
IFA_F_DEPRECATED = 0x20
IFA_F_TENTATIVE = 0x40
IFA_F_PERMANENT = 0x80

_NOT_PUBLIC_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and broadcast
    )
)
_NOT_PUBLIC_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/128",
        "::1/128",
        "::ffff:0:0/96",  # v4-mapped: never a v6 record
        "fe80::/10",
        "fc00::/7",  # ULA
        "ff00::/8",  # multicast
    )
)

FAMILY_OF_TYPE = {"A": 4, "AAAA": 6}


def is_public(address: IPAddress) -> bool:
    """True when `address` may be published: see DESIGN.md (documentation ranges count)."""
    nets = _NOT_PUBLIC_V4 if address.version == 4 else _NOT_PUBLIC_V6
    return not any(address in net for net in nets)


def unfit(a: Address) -> str | None:
    """Why `a` may not be published even if public, or None when it may."""
    if a.version == 6:
        if a.flags & IFA_F_DADFAILED:
            return "DAD failed"
        if a.flags & IFA_F_TENTATIVE:
            return "tentative"
        if a.flags & IFA_F_DEPRECATED or a.preferred == 0:
            return "deprecated"
        if a.flags & IFA_F_TEMPORARY:
            return "temporary"
    if a.valid == 0:
        return "expired"
    return None


@dataclass(frozen=True)
class Choice:
    """The outcome of choosing: an address to publish, or None with the reason."""

    address: IPAddress | None
    reason: str
    private: IPAddress | None = None  # a usable but private address seen (the echo's cue)


def choose(rtype: str, addresses: Iterable[Address], published: IPAddress | None = None) -> Choice:
    """Pick the address a record of type `rtype` ("A"/"AAAA") should carry.

    `published` is what this agent last confirmed for the record: kept while still
    fit, so that a second address appearing does not flap the record.
    """
    family = FAMILY_OF_TYPE[rtype]
    same_family = [a for a in addresses if a.version == family]
    fit = [a for a in same_family if unfit(a) is None]
    public = [a for a in fit if is_public(a.address)]
    if public:
        for a in public:
            if a.address == published:
                return Choice(a.address, "still on the interface")
        best = max(public, key=lambda a: (a.preferred, a.valid, -int(a.address)))
        return Choice(best.address, "public address on the interface")
    private = next((a.address for a in fit if a.address.version == family and not _link_local(a.address)), None)
    if private is not None:
        return Choice(None, f"only a private address ({private})", private=private)
    if same_family:
        reasons = sorted({f"{a.address} {unfit(a) or 'not public'}" for a in same_family})
        return Choice(None, "no usable address: " + ", ".join(reasons))
    return Choice(None, f"no IPv{family} address")


def _link_local(address: IPAddress) -> bool:
    return address.is_link_local or address.is_loopback
