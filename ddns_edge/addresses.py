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

from ddns_edge.model import Address, IPAddress, Neighbour


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


def ip_literal(text: str) -> IPAddress | None:
    """`text` as an IP address, or None when it is not one (a host name, say)."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


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


# ------------------------------------------------------------------ hosts behind the router (IPv6)
#
# The LAN device's global addresses carry the prefixes the ISP delegated (a /64 each on the
# LAN); a host behind the router has its own address in them. Two ways to find it:
# - by interface identifier (option host_id): that host part in each public /64 of the
#   device, chosen as the device's own addresses are (never a ULA; a deprecated prefix only
#   while no preferred one exists; the published one kept while it stands);
# - by MAC (option mac): the host's addresses in the device's neighbour table, usable
#   entries only (the kernel confirmed them: devices.py), and only inside a current public
#   /64 of the device (any LAN host can make the kernel hold an entry for any address with
#   any MAC, outside every prefix too); in a preferred prefix of the device first; then the
#   one already published, then the address derived from the MAC (EUI-64), then the one the
#   router saw first (a host's temporary addresses come and go after its stable one).


def eui64(mac: str) -> int:
    """The interface identifier (low 64 bits) that SLAAC derives from `mac` (RFC 4291 App. A)."""
    b = bytes.fromhex(mac.replace(":", ""))
    return int.from_bytes(bytes([b[0] ^ 0x02]) + b[1:3] + b"\xff\xfe" + b[3:6], "big")


def _net64(address: IPAddress) -> ipaddress.IPv6Network:
    return ipaddress.IPv6Network((address, 64), strict=False)


def _iid(address: IPAddress) -> int:
    """The interface identifier: the low 64 bits."""
    return int(address) & 0xFFFFFFFFFFFFFFFF


def prefixes(addresses: Iterable[Address]) -> dict[ipaddress.IPv6Network, Address]:
    """The public /64 prefixes of a device's usable IPv6 addresses, each with the longest
    lifetimes among its addresses (a deprecated prefix is one all of whose addresses are)."""
    out: dict[ipaddress.IPv6Network, Address] = {}
    for a in addresses:
        if a.version != 6 or a.prefixlen > 64 or a.valid == 0 or a.flags & IFA_F_DADFAILED or not is_public(a.address):
            continue
        net = _net64(a.address)
        best = out.get(net)
        deprecated = a.flags & IFA_F_DEPRECATED or a.preferred == 0
        if best is None or (best.preferred == 0 and not deprecated) or a.preferred > best.preferred:
            out[net] = Address(a.address, 64, IFA_F_DEPRECATED if deprecated else 0, 0 if deprecated else a.preferred, a.valid)
    return out


def choose_host_id(addresses: Iterable[Address], host_id: str, published: IPAddress | None = None) -> Choice:
    """The host part `host_id` in the best public /64 of the device (see above)."""
    iid = int(ipaddress.IPv6Address(host_id))
    candidates = [Address(ipaddress.IPv6Address(int(net.network_address) | iid), 64, p.flags, p.preferred, p.valid)
                  for net, p in prefixes(addresses).items()]
    if not candidates:
        return Choice(None, "no public /64 prefix on the device")
    pool = [c for c in candidates if c.preferred != 0] or candidates  # deprecated only while no other
    kept = [c for c in pool if c.address == published]
    best = kept[0] if kept else max(pool, key=lambda c: (c.preferred, c.valid, -int(c.address)))
    return Choice(best.address, f"prefix {_net64(best.address)}{' (deprecated)' if best.preferred == 0 else ''} + host part {host_id}")


def choose_neighbour(neighbours: Iterable[Neighbour], mac: str, addresses: Iterable[Address],
                     published: IPAddress | None = None) -> Choice:
    """The address of the host with `mac` in the device's neighbour table (see above)."""
    mine = [n for n in neighbours if n.mac == mac and n.address.version == 6]
    current = prefixes(addresses)
    usable = [n for n in mine if n.usable and _net64(n.address) in current]  # public: as the prefixes are
    if not usable:
        why = ("not in the neighbour table" if not mine else
               "has no address in the neighbour table that the kernel confirmed inside a public /64 of the device")
        return Choice(None, f"{mac} {why}")
    preferred = {net for net, p in current.items() if p.preferred != 0}
    iid = eui64(mac)

    def rank(n: Neighbour):
        return (_net64(n.address) not in preferred, n.address != published, _iid(n.address) != iid, n.seen)

    best = min(usable, key=rank)
    how = "still in the neighbour table" if best.address == published else \
        "its EUI-64 address" if _iid(best.address) == iid else "the address seen first"
    return Choice(best.address, f"neighbour {mac}: {how}")
