"""The kernel's view of interfaces, through rtnetlink (pyroute2): dumps and events.

Devices are known by name; an ifindex is only how the kernel spells it today (a
pppoe-wan that reconnects comes back with a new one).
"""

from __future__ import annotations

import ipaddress

from ddns_edge.addresses import FOREVER, Address

AF_INET = 2
AF_INET6 = 10


def to_address(msg) -> Address | None:
    """An RTM_NEWADDR/RTM_DELADDR message as an Address (None for other families)."""
    if msg["family"] not in (AF_INET, AF_INET6):
        return None
    text = msg.get_attr("IFA_ADDRESS") if msg["family"] == AF_INET6 else (msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS"))
    if text is None:
        return None
    flags = msg.get_attr("IFA_FLAGS")
    if flags is None:
        flags = msg["flags"]
    cache = msg.get_attr("IFA_CACHEINFO") or {}
    return Address(
        ipaddress.ip_address(text),
        msg["prefixlen"],
        flags,
        cache.get("ifa_preferred", FOREVER),
        cache.get("ifa_valid", FOREVER),
    )


def device_addresses(device: str) -> list[Address] | None:
    """The addresses `device` has now; None when there is no such device."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        index = ipr.link_lookup(ifname=device)
        if not index:
            return None
        return [a for a in (to_address(m) for m in ipr.get_addr(index=index[0])) if a is not None]
