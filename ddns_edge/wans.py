"""Two WANs or more: which address(es) a record publishes, and mwan3's verdicts (pure).

A record that names several WANs (`list interface` or `list device`, in the order given)
publishes, by its `option policy`:
- failover: the address of the first WAN that is online, in the order given, or as the mwan3
  policy named by `option mwan3_policy` ranks them (its members by `percent`, highest first;
  in a failover policy the active member has 100), the rest after in the order given;
- all: the address of every WAN that is online, in one RRset (one record per WAN).

Online means what mwan3 says, when mwan3 runs and knows the network (`ubus call mwan3
status`: status "online"); otherwise, the WAN's device is up, has a default route in the
main table, and (in either case) carries a public address of the record's family. No WAN
online: nothing to publish, the record is left as it is.

Addresses of several WANs travel as one value, model.Addresses (a set of addresses, its
text "A, B"): the RRset is made of it, and comparisons compare addresses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from ddns_edge.addresses import FAMILY_OF_TYPE, choose
from ddns_edge.model import Addresses, Detection, Device, IPAddress, Record

ONLINE = "online"


@dataclass(frozen=True)
class Mwan3:
    """What `ubus call mwan3 status` said: each network's status ("online", "offline",
    "connecting", ...), and each policy's members by address family, highest percent first."""

    interfaces: Mapping[str, str] = field(default_factory=dict)
    policies: Mapping[tuple[str, int], tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Wan:
    """One of a record's WANs as things are now."""

    name: str  # as configured: a network (list interface) or a device (list device)
    device: str | None  # its kernel device (None: netifd names none now)
    kernel: Device | None  # that device as the kernel has it (None: it does not exist)
    default_route: bool = False  # the main table has a default route of the record's family via the device


def parse_interfaces(text: str) -> dict[str, str] | None:
    """Each network's status from `ubus call mwan3 status '{"section":"interfaces"}'`; None when
    the text is not mwan3's answer."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    interfaces = data.get("interfaces") if isinstance(data, dict) else None
    if not isinstance(interfaces, dict):
        return None
    out = {}
    for name, body in interfaces.items():
        status = body.get("status") if isinstance(body, dict) else None
        if isinstance(name, str) and isinstance(status, str):
            out[name] = status
    return out


def parse_policies(text: str) -> dict[tuple[str, int], tuple[str, ...]]:
    """Each policy's members, highest `percent` first (a tie: as mwan3 lists them), from
    `ubus call mwan3 status '{"section":"policies"}'` ({"policies": {"ipv4": {NAME: [{"interface",
    "percent"}, ...]}, "ipv6": {...}}}); what is not that shape is passed over."""
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    policies = data.get("policies") if isinstance(data, dict) else None
    out: dict[tuple[str, int], tuple[str, ...]] = {}
    if not isinstance(policies, dict):
        return out
    for family_name, family in (("ipv4", 4), ("ipv6", 6)):
        named = policies.get(family_name)
        if not isinstance(named, dict):
            continue
        for name, members in named.items():
            if not isinstance(members, list):
                continue
            ranked = []
            for n, m in enumerate(members):
                if isinstance(m, dict) and isinstance(m.get("interface"), str):
                    percent = m.get("percent")
                    ranked.append((-(percent if isinstance(percent, (int, float)) else 0), n, m["interface"]))
            out[name, family] = tuple(i for _, _, i in sorted(ranked))
    return out


def order(record: Record, mwan3: Mwan3 | None) -> tuple[str, ...]:
    """The record's WANs in the order failover tries them."""
    if record.mwan3_policy is None or mwan3 is None:
        return record.wans
    ranked = mwan3.policies.get((record.mwan3_policy, FAMILY_OF_TYPE[record.type]), ())
    first = tuple(w for w in ranked if w in record.wans)
    return first + tuple(w for w in record.wans if w not in first)


def verdict(record: Record, wan: Wan, mwan3: Mwan3 | None) -> tuple[IPAddress | None, str]:
    """The WAN's address if it is online (None if not), and why, as the status shows it."""
    family = FAMILY_OF_TYPE[record.type]
    status = mwan3.interfaces.get(wan.name) if mwan3 is not None and record.wans_are == "interface" else None
    by_mwan3 = status is not None  # mwan3 runs and knows the network
    if status is not None:
        if status != ONLINE:
            return None, f"mwan3: {status}"
    if wan.device is None:
        return None, "netifd names no device for it now"
    if wan.kernel is None:
        return None, f"no device {wan.device}"
    if not by_mwan3:
        if not wan.kernel.up:
            return None, f"{wan.device} is down"
        if not wan.default_route:
            return None, f"no IPv{family} default route via {wan.device}"
    choice = choose(record.type, wan.kernel.addresses)
    if choice.address is None:
        return None, f"{wan.device}: {choice.reason}"
    return choice.address, ("mwan3: online" if by_mwan3 else "address and default route")


def detect_wans(record: Record, wans: Sequence[Wan], mwan3: Mwan3 | None) -> Detection:
    """What a record of several WANs should carry now (see the module's docstring); `wans`
    in the record's order, `mwan3` None when mwan3 does not run (or has not answered)."""
    by_name = {w.name: w for w in wans}
    tried = []
    online: list[tuple[str, IPAddress]] = []
    for name in order(record, mwan3):
        address, why = verdict(record, by_name[name], mwan3)
        tried.append(f"{_shown(record, by_name[name])} {'online' if address else 'offline'} ({why})")
        if address is not None:
            online.append((name, address))
    said = "; ".join(tried)
    if not online:
        return Detection(None, f"{record.policy} of {', '.join(record.wans)}", f"no WAN online: {said}")
    if record.policy == "all":
        names = ", ".join(n for n, _ in online)
        return Detection(Addresses(a for _, a in online), f"all online WANs ({names})", said)
    name, address = online[0]
    kind = "interface" if record.wans_are == "device" else "network"
    return Detection(Addresses.of(address), f"{kind} {name} "
                              f"(failover, {'first' if name == order(record, mwan3)[0] else 'backup'})", said)


def _shown(record: Record, wan: Wan) -> str:
    if record.wans_are == "interface" and wan.device:
        return f"{wan.name} ({wan.device})"
    return wan.name
