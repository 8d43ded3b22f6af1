"""Where a record's address comes from: the device's own addresses, or the echo (pure).

`detect()` turns the device's address list (and, when the record needs it, the outcome
of an echo round) into a Detection: the address to publish, where it came from, and why.
The rules (DESIGN.md): `source interface` takes the device's public address only;
`source auto` the same, but when the device has only a private address (CGNAT, double
NAT) it asks the echo; `source echo` always asks the echo. A private address is never
published. The I/O (netlink dump or events, the echo round) is the caller's.
"""

from __future__ import annotations


from ddns_edge.addresses import FAMILY_OF_TYPE, choose, choose_host_id, choose_neighbour
from ddns_edge.model import Addresses, Agreement, Detection, Device, EchoKey, IPAddress, Record


def echo_key(record: Record) -> EchoKey:
    """Records with the same key share one echo round: (address family, device)."""
    return FAMILY_OF_TYPE[record.type], record.device


def echo_label(key: EchoKey) -> str:
    """How the log names the echo of one (family, device): 'echo over IPv4 via wan0'."""
    family, device = key
    return f"echo over IPv{family}" + (f" via {device}" if device else "")


def detect(record: Record, device: Device | None, published: IPAddress | None = None,
           echo: Agreement | None = None) -> Detection:
    """Choose from `record.device` as it is now (None: the device does not exist).

    `echo`: the last echo round's outcome for this record's echo key,
    or None when none has been made; used only when the record needs the echo.
    A record of a host behind the router (option host_id or mac) takes that host's address
    on the device (addresses.choose_host_id, choose_neighbour), never the echo.
    """
    origin = f"interface {record.device}" if record.device or not record.interface else f"network {record.interface}"
    if record.source == "echo":
        return _from_echo("source echo", echo)
    if device is None:
        return Detection(None, origin, "no such device" if record.device else "netifd names no device for it now")
    if record.host_id is not None:
        choice = choose_host_id(device.addresses, record.host_id, published)
        return Detection(Addresses.of(choice.address), origin, choice.reason)
    if record.mac is not None:
        choice = choose_neighbour(device.neighbours, record.mac, device.addresses, published)
        return Detection(Addresses.of(choice.address), origin, choice.reason)
    choice = choose(record.type, device.addresses, published)
    if choice.address is not None:
        return Detection(Addresses.of(choice.address), origin, choice.reason)
    if choice.private is not None and record.source == "auto":
        return _from_echo(f"only a private address ({choice.private}) on {record.device}", echo)
    return Detection(None, origin, choice.reason)


def _from_echo(why: str, echo: Agreement | None) -> Detection:
    if echo is None:
        return Detection(None, "echo", f"{why}; the echo has not answered yet", needs_echo=True, awaiting_echo=True)
    if echo.address is None:
        return Detection(None, "echo", f"{why}; {echo.reason}", needs_echo=True, answers=echo.answers)
    return Detection(Addresses.of(echo.address), "echo", f"{why}; {echo.reason}", needs_echo=True, agreed=echo.agreed, answers=echo.answers)
