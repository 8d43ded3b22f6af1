"""The domain's values, in one place: plain frozen dataclasses, no project imports, no I/O.

- the config: Agent (the `config agent` section), Key, Record, Config, EchoSource;
- what the kernel says: Address, and netlink's events Link, LinkGone, AddressChange (folded
  by devices.View into a Device per name) and RouteChange;
- what the echo says: Answer (one source), Agreement (a round);
- what a record should carry: Detection, of Addresses (one, or one per online WAN);
- what the server holds, what a sync should do and what it did: Current, Wanted, Outcome.

Validation happens where these are made (config.py, echo_wire.py, netlink.py): a value of a
type below is already checked, and the rest of the agent never re-reads strings. An address
is an IPAddress from the kernel (netlink.py) and the echo to the wire (updatewire.py) and back
(a read); it becomes text only where it leaves: a log line, a hook's environment, the state file.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Union

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


class Addresses(frozenset[IPAddress]):
    """The address(es) a record carries: one, or one per online WAN (policy all: one RRset).
    A set of addresses, compared as one; its text is the addresses by family, then value,
    comma-separated ("A, B"), as the log, the hooks and the state file show it."""

    __slots__ = ()

    @classmethod
    def of(cls, address: IPAddress | None) -> Addresses | None:
        """The one address as Addresses (None: none)."""
        return None if address is None else cls((address,))

    @property
    def single(self) -> IPAddress | None:
        """The address, when there is exactly one."""
        return next(iter(self)) if len(self) == 1 else None

    def __str__(self) -> str:
        return ", ".join(str(a) for a in sorted(self, key=lambda a: (a.version, a)))

    def __repr__(self) -> str:
        return f"Addresses({str(self)!r})"

FOREVER = 0xFFFFFFFF  # the kernel's "infinite" address lifetime


# ------------------------------------------------------------------ the config


@dataclass(frozen=True)
class EchoSource:
    """One echo source, parsed and checked (echo_wire.parse_source). `shown` is how the log
    names it: the URL without its password; for exec:, the program and the source's place
    in the list, never the command."""

    text: str = field(repr=False)  # as configured: may hold a password, never shown
    kind: str  # http | https | dns | exec
    shown: str
    host: str = ""  # http(s): host; dns: server (name or address)
    port: int = 0
    target: str = "/"  # http(s): path and query
    auth: tuple[str, str] | None = field(default=None, repr=False)  # http(s): user, password
    name: str = ""  # dns: the name to ask
    rtype: str | None = None  # dns: A | AAAA | TXT; None: the record's own type
    command: str = field(default="", repr=False)  # exec: may hold a password, never shown

    def __str__(self) -> str:
        return self.shown


@dataclass(frozen=True)
class Agent:
    """The `config agent` section."""

    log_level: str = "info"
    state_dir: str = "/var/run/ddns-edge"
    echo: tuple[EchoSource, ...] = ()  # () means the built-in list
    echo_interval: int = 300
    echo_quorum: int | None = None  # None: 2 of the list (1 when it has one source)
    hook: str | None = None
    hook_timeout: int = 30  # seconds before a hook still running is killed


@dataclass(frozen=True)
class Key:
    """A TSIG key (dnsupdate.tsig_key makes dnspython's from it)."""

    section: str  # uci section name ("@key[N]" for an anonymous one)
    name: str  # TSIG key name, no trailing dot
    algorithm: str  # one of algorithms.ALGORITHMS
    secret: bytes = field(repr=False)  # never shown
    origin: str  # "PATH:LINE" where the secret was defined (config option or key file)


@dataclass(frozen=True)
class Record:
    """A `config record` section: one name and type, and where its address comes from."""

    section: str
    name: str  # owner name, no trailing dot
    type: str  # "A" | "AAAA"
    device: str | None  # kernel interface name
    interface: str | None  # OpenWrt logical network name (its device comes from netifd)
    source: str  # auto | interface | echo
    key: str  # key section name
    ttl: int
    zone: str | None
    server: str | None  # IP address or host name
    port: int
    enabled: bool
    line: int  # line of `config record`
    path: str
    host_id: str | None = None  # a host behind the router: this interface identifier on the device's /64 prefixes
    mac: str | None = None  # a host behind the router: its addresses in the device's neighbour table (aa:bb:..)
    wans: tuple[str, ...] = ()  # two WANs or more (list device / list interface), in the order given; () for one
    wans_are: str = ""  # "device" | "interface": what `wans` names (a record names its WANs one way)
    policy: str = "failover"  # failover: the first WAN online; all: every online WAN's address in one RRset
    mwan3_policy: str | None = None  # failover: rank the WANs as this mwan3 policy does

    @property
    def label(self) -> str:
        """How the log names it: 'www.example.com A'."""
        return f"{self.name} {self.type}"


@dataclass(frozen=True)
class Config:
    path: str
    agent: Agent
    keys: dict[str, Key]  # by section name
    records: tuple[Record, ...]  # enabled and disabled, in file order

    def enabled_records(self) -> tuple[Record, ...]:
        return tuple(r for r in self.records if r.enabled)


# ------------------------------------------------------------------ the kernel


@dataclass(frozen=True, slots=True)
class Address:
    """One address of an interface, as the kernel reports it."""

    address: IPAddress
    prefixlen: int = 0
    flags: int = 0  # IFA_F_* (addresses.py)
    preferred: int = FOREVER  # seconds left of preferred lifetime
    valid: int = FOREVER

    @property
    def version(self) -> int:
        return self.address.version


@dataclass(frozen=True, slots=True)
class Link:
    """RTM_NEWLINK: device `index` is called `name`; `up`: IFF_UP and IFF_RUNNING."""

    index: int
    name: str
    up: bool


@dataclass(frozen=True, slots=True)
class LinkGone:
    """RTM_DELLINK: device `index` is gone (with its addresses)."""

    index: int


@dataclass(frozen=True, slots=True)
class AddressChange:
    """RTM_NEWADDR (`gone` False) or RTM_DELADDR (`gone` True) on device `index`."""

    index: int
    address: Address
    gone: bool = False


@dataclass(frozen=True)
class NeighbourChange:
    """RTM_NEWNEIGH (`gone` False) or RTM_DELNEIGH: an IPv6 neighbour of device `index`, its
    link-layer address (None while unresolved) and its NUD state (devices.py reads it)."""

    index: int
    address: IPAddress
    mac: str | None
    state: int
    gone: bool = False


@dataclass(frozen=True)
class RouteChange:
    """RTM_NEWROUTE (`gone` False) or RTM_DELROUTE in the main table, for `family` 4 or 6: a
    route to the server may have come (DHCP clients and pppd add it after the address)."""

    family: int
    gone: bool = False


KernelEvent = Union[Link, LinkGone, AddressChange, NeighbourChange, RouteChange]


@dataclass(frozen=True)
class Neighbour:
    """A host on a device's link, as the neighbour table holds it: one of its addresses, its
    MAC, whether the entry is usable (the kernel confirmed this address with this MAC, and
    it has not failed, gone or changed its MAC since: devices.py), and `seen`, the order in
    which the router first saw the address (smaller: earlier)."""

    address: IPAddress
    mac: str
    usable: bool
    seen: int


@dataclass(frozen=True)
class Device:
    """A device by name, as devices.View sees it now."""

    name: str
    up: bool
    addresses: tuple[Address, ...] = ()
    neighbours: tuple[Neighbour, ...] = ()  # IPv6, only while some record follows a MAC


# ------------------------------------------------------------------ the echo


@dataclass(frozen=True)
class Answer:
    """What one echo source said: a usable address, or why it was rejected."""

    address: IPAddress | None = None
    rejected: str | None = None
    no_route: bool = False  # rejected for want of a route or source address: not the source's fault

    def __str__(self) -> str:
        return str(self.address) if self.address is not None else f"rejected: {self.rejected}"


@dataclass(frozen=True)
class Agreement:
    """An echo round's outcome: the agreed address (or None and why), who agreed, every answer."""

    address: IPAddress | None
    reason: str
    agreed: tuple[str, ...] = ()
    answers: tuple[tuple[str, Answer], ...] = ()  # (source shown, answer)

    def __str__(self) -> str:
        return f"{self.address} ({self.reason})" if self.address is not None else self.reason

    @property
    def no_route(self) -> bool:
        """No address, and the round met "no route" (it stops there): it says nothing about
        the sources or the address; it is asked again when a route comes."""
        return self.address is None and any(a.no_route for _, a in self.answers)


EchoKey = tuple[int, Union[str, None]]  # (address family 4|6, device or None): records that share a round


# ------------------------------------------------------------------ a record's address


@dataclass(frozen=True)
class Detection:
    """The address a record should carry (None: leave the record as it is), and why.

    `needs_echo`: the address must come from an echo round; `awaiting_echo`: ... and none has
    answered yet; `agreed`: the echo sources that agreed on it; `answers`: what each source
    asked said."""

    address: Addresses | None
    origin: str  # "interface wan0", "network wan", "echo", "all online WANs (wan, wanb)"
    reason: str
    needs_echo: bool = False
    agreed: tuple[str, ...] = ()
    answers: tuple[tuple[str, Answer], ...] = ()
    awaiting_echo: bool = False

    def __str__(self) -> str:
        if self.address is None:
            return f"no address ({self.origin}: {self.reason})"
        return f"{self.address} ({self.origin}: {self.reason})"


# ------------------------------------------------------------------ the server


@dataclass(frozen=True)
class Current:
    """A record's RRset as read from the primary: its addresses and TTL (None when absent).

    `cname`: the read was answered with a CNAME for the name instead (its target). The server
    then ignores an add beside it, unless the CNAME is a wildcard's, synthesized for the name
    (an add makes the name exist, and the wildcard no longer answers for it). Not part of
    equality: two reads of the same RRset are equal."""

    rdatas: frozenset[IPAddress] = frozenset()
    ttl: int | None = None
    cname: str | None = field(default=None, compare=False)

    @property
    def absent(self) -> bool:
        return not self.rdatas

    def __str__(self) -> str:
        """The addresses as the log names them: in text order, comma-separated ("" for none)."""
        return ", ".join(sorted(map(str, self.rdatas)))


@dataclass(frozen=True)
class Wanted:
    """What a sync should make of a record: `address`, from `known` (the RRset the server holds,
    as this agent last left or read it; None: read it first). `unanswered`: an UPDATE from
    `known` to `address` left before and its answer never came (the retry of a timeout): the
    record found at `address` is that UPDATE having landed, a change."""

    address: Addresses
    known: Current | None = None
    unanswered: bool = False


@dataclass(frozen=True)
class Outcome:
    """One record's sync: landed (`changed`), already right, or `error` (a line for the operator).

    `sent`: an UPDATE for the record left (whatever came back): a copy of it may still land at
    the server within `window` seconds (its TSIG fudge, plan.replay_window), so the record is
    read once more after that."""

    address: Addresses | None
    changed: bool = False
    old: Current = Current()
    error: str | None = None
    sent: bool = False
    window: float = 0.0
    no_route: bool = False  # it failed for want of a route or a source address (ENETUNREACH ...)
    server: str | None = None  # where it went, as the log names it (dnsupdate.Target); None: not found
    unanswered: bool = False  # it failed for want of an answer (a timeout): the server may only be slow

    @property
    def ok(self) -> bool:
        return self.error is None
