"""The rules of `ddns-edge run` (pure): fed with what happened and the time, asked what is due.

Two rules this module keeps:
- Everything `run` decides lives here: when a record is synced and retried, when the echo
  is asked, when netifd is asked, when a hook has run too long, what the state file says
  and what the operator is told. agent.py does what this module says and feeds back what
  happened; it decides nothing of its own.
- Nothing here reads a clock, draws a random number or touches a socket or a file. `now`
  (monotonic seconds), `wall` (seconds since the epoch, for the state file) and `rand`
  (uniform in [0, 1), for jitter) come in as arguments; what to do goes out as values.

Theory of operation, in the shape of h11's ConnectionState: one method per kind of input,
and plain queries for what holds now.

    start(devices, now)             the kernel's devices when `run` starts
    kernel(changed, went_up, now)   devices whose link or addresses changed (None: gone)
    routes(now)                     a route came into the main table
    netifd(networks)                netifd said something about these networks
    bound(network, device, now)     netifd's answer: the device a network is on now
    echoed(key, agreement, now, rand)    an echo round's outcome
    synced(outcomes, now, wall, rand)    a sync's outcomes; returns the hooks to run
    hook_started(pid, now) / hook_ended(pid)
    reload(config, now)             a new config: unchanged records keep what is known
    tick(now)                       time passed: what has waited too long is said

    due(now) -> Due        what to do now: networks to ask, echo rounds, records to sync, hooks to kill
    timeout(records)       how long each exchange of a sync of those records may take
    deadline() -> float    when something is due next; None when nothing is pending
    take_rows(now, wall)   the state file's rows when they changed, else None
    take_notes()           what to tell the operator, as (level, line)

What each input re-decides (the table the methods below keep):

    input                               re-decided
    ---------------------------------   ---------------------------------------------------
    a record's device changed           the record (its Detection, see `_decide`)
      ... and its link came up          a failing record is retried at once, not after backoff
    any change on an echo's device      that echo: a round at once (a reconnect behind NAT)
    a device came, went, or went up/down every network is asked of netifd again
    netifd's event about a network      that network is asked again
    netifd names a new device           the records of that network
    an echo round answered              the records that use it; the next round is planned
    a sync landed                       confirmed, and known: the next change swaps from it
                                        without reading (one message); a hook when it changed
    a sync failed (or timed out)        not known: read first next time; retried after backoff
                                        (1 s doubling to 300 s, +-20 %), each exchange of the
                                        retry given longer (5 s doubling to 20 s)
    a sync failed for want of a route   no backoff, no error: tried again when a route or an
      or a source address               address comes (DHCP clients and pppd add the route a
                                        moment after the address); an error after 10 s
    a route came (main table)           what waits for a route is tried at once; echo rounds
                                        that failed are asked again
    an UPDATE left (whatever came back) the record is read once when its replay window has
                                        passed (its TSIG fudge: no copy can land after it),
                                        and set back, with a warning, if a copy changed it
    reload                              records whose config changed start afresh, others
                                        keep what is confirmed and known; every echo is asked
                                        afresh; the check of UPDATEs already sent stays
    time passed (tick)                  a record without an address for 60 s: a warning, once

What a record should do when it is re-decided (`_decide`):

    the Detection says                  then
    ---------------------------------   ---------------------------------------------------
    the echo must answer first          wait for the round (due now); no sync, no warning
    no address                          no sync; "record left as it is", said once at info
                                        (a DHCP renumbering under netifd goes without one for
                                        up to a few seconds: down, then up); the schedule wakes
                                        at 60 s, and a record still without one is a warning,
                                        said once (`tick`)
    the address this agent confirmed    nothing pending; the backoff is reset
    a new address                       said; the backoff is reset; sync now
    the same unconfirmed address        sync now, unless a retry is already planned

What a sync is asked to do (`due`): swap from the RRset as known when it is known and no
check is due; else read first (at start, after a reload of the record, after a failure,
and for the check after an UPDATE's window; a record left as it is is checked against
what this agent left there).

Room left for what comes next: LAN hosts' records (neighbour events) go in as a further
input and rows of these tables.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field, replace
from typing import Collection, Mapping

from ddns_edge import report
from ddns_edge.detect import detect, echo_key, echo_label
from ddns_edge.model import Agreement, Config, Current, Detection, Device, EchoKey, Outcome, Record, Wanted

EXCHANGE_TIMEOUT_FIRST = 5.0  # seconds one exchange with the server may take, at first
EXCHANGE_TIMEOUT_CAP = 20.0  # ... growing with the failures in a row, up to this

BACKOFF_FIRST = 1.0  # seconds before the first retry
BACKOFF_CAP = 300.0  # never wait longer than five minutes
BACKOFF_JITTER = 0.2  # +-20 %, so that routers that lost the server together do not return together
ROUTE_PATIENCE = 10.0  # seconds a record waits for a route (or a source address) before that is an error
NO_ADDRESS_PATIENCE = 60.0  # seconds a record goes without an address before that is a warning

DEBUG, INFO, WARNING, ERROR = logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR


def backoff(failures: int, rand: float) -> float:
    """Seconds to wait after the `failures`-th failure in a row (1, 2, 4, ... capped at 300).

    `rand` is uniform in [0, 1): the jitter. The cap holds after the jitter too."""
    if failures < 1:
        return 0.0
    base = min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** min(failures - 1, 30))
    return min(BACKOFF_CAP, base * (1 - BACKOFF_JITTER + 2 * BACKOFF_JITTER * rand))


def exchange_timeout(failures: int) -> float:
    """Seconds one exchange with the server may take after `failures` failures in a row:
    5, 10, then 20 at most. A server slower than 5 s gets through at a retry, and one that
    does not answer holds the loop no longer than the cap."""
    return min(EXCHANGE_TIMEOUT_CAP, EXCHANGE_TIMEOUT_FIRST * 2 ** min(max(failures, 0), 10))


def echo_delay(agreed: bool, failures: int, interval: float, rand: float) -> float:
    """Seconds until an echo's next round: the interval after agreement, a growing backoff after failures."""
    return float(interval) if agreed else backoff(max(failures, 1), rand)


# ------------------------------------------------------------------ values


@dataclass
class Track:
    """What is known of one record between events."""

    record: Record  # as configured
    device: str | None  # the kernel device now: option device, or netifd's answer for option interface
    confirmed: str | None = None  # the address this agent last confirmed at the server
    known: bool = False  # the server holds exactly `confirmed` with the record's TTL, and nothing since says otherwise
    verify_at: float | None = None  # monotonic: read the record again then (no copy of an UPDATE sent can land after it)
    route_wait_since: float | None = None  # monotonic: its sync failed for want of a route since then
    no_address_since: float | None = None  # monotonic: it has had no address to carry since then
    no_address_warned: bool = False  # ... and that has been said as a warning (NO_ADDRESS_PATIENCE)
    wanted: Detection | None = None
    failures: int = 0
    retry_at: float | None = None  # monotonic; None: no sync planned
    last_error: str | None = None
    error_at: float | None = None  # wall clock, as the state file says it
    changed_at: float | None = None
    confirmed_at: float | None = None

    @property
    def wanted_address(self) -> str | None:
        return self.wanted.address if self.wanted is not None else None

    @property
    def known_rrset(self) -> Current | None:
        """The RRset the server holds as this agent knows it (None: read it before a swap)."""
        if not self.known or self.confirmed is None:
            return None
        return Current(frozenset({self.confirmed}), self.record.ttl)

    @property
    def bound(self) -> Record:
        """The record with its device as it is now."""
        return self.record if self.device == self.record.device else replace(self.record, device=self.device)


@dataclass
class EchoCheck:
    """The echo of one (family, device): its last outcome and when to ask again."""

    key: EchoKey
    next_at: float | None  # monotonic; None: nothing planned
    result: Agreement | None = None
    failures: int = 0  # rounds in a row without agreement
    route_wait: bool = False  # the last round found no route: asked again when one comes
    answered_at: float | None = None  # monotonic: when `result` came
    health: dict = field(default_factory=dict)  # the echo's own memory of its sources (echo.Health), kept with the check

    @property
    def label(self) -> str:
        return echo_label(self.key)


@dataclass(frozen=True)
class EchoRound:
    """A round to run: over `key` (family, device), with the check's source health to update."""

    key: EchoKey
    health: dict


@dataclass(frozen=True)
class Hook:
    """The hook to run after a change landed."""

    record: Record
    old: str  # what the server held, comma-separated ("" for nothing)
    new: str
    source: str  # where the address came from ("interface wan0", "echo")


@dataclass(frozen=True)
class Due:
    networks: tuple[str, ...] = ()  # ask netifd which device each is on (before anything else)
    echo: tuple[EchoRound, ...] = ()
    sync: Mapping[Record, Wanted] = field(default_factory=dict)  # record (as configured) -> what to make of it
    kill: tuple[int, ...] = ()  # hooks (process ids) that ran too long

    def __bool__(self) -> bool:
        return bool(self.networks or self.echo or self.sync or self.kill)


# ------------------------------------------------------------------ the schedule


class Schedule:
    def __init__(self, config: Config):
        self.config = config
        self.tracks: dict[tuple[str, str], Track] = {}
        self.devices: dict[str, Device] = {}
        self.networks: dict[str, str | None] = {}  # OpenWrt network -> its device, as netifd last said
        self.to_ask: set[str] = set()  # networks to ask netifd about
        self.echoes: dict[EchoKey, EchoCheck] = {}
        self.hooks: dict[int, float] = {}  # pid -> when it is killed
        self._notes: list[tuple[int, str]] = []
        self._once = report.Once(self._note)
        self._rows_changed = True
        self._adopt(config)

    # ---------------------------------------------------------- inputs

    def start(self, devices: Mapping[str, Device], now: float) -> None:
        """The kernel's devices when `run` starts: decide every record."""
        self.devices = dict(devices)
        self.to_ask = self._networks()
        for track in self.tracks.values():
            self._decide(track, now)
        self._prune_echoes()

    def kernel(self, changed: Mapping[str, Device | None], went_up: Collection[str], now: float, resync: bool = False) -> None:
        """Devices whose link or addresses changed (None: the device is gone); `went_up`: links
        that came up since the last call; `resync`: after a full re-read (overflow), ask netifd
        about every network too."""
        links = resync
        for name, device in changed.items():
            old = self.devices.get(name)
            if device is None:
                self.devices.pop(name, None)
            else:
                self.devices[name] = device
            links = links or old is None or device is None or old.up != device.up
        if links:
            self.to_ask |= self._networks()  # netifd may have moved a network to another device
        for check in self.echoes.values():
            if check.key[1] in changed:
                check.next_at = now  # new addresses behind the NAT may mean a new public one
        for track in self.tracks.values():
            if track.device in changed:
                if track.failures and track.device in went_up:
                    track.retry_at = now  # the link came (back) up: retry at once
                self._decide(track, now)
        if any(d is not None and d.up and d.addresses for d in changed.values()):
            self._route_or_address(now, failed_echoes=False)  # a source address may have come: what waits for a route tries again
        self._prune_echoes()

    def routes(self, now: float) -> None:
        """A route came into the main table (IPv4 or IPv6): what waits for one is tried at once,
        records and echo rounds alike (a round without agreement may have met no route)."""
        self._route_or_address(now, failed_echoes=True)

    def netifd(self, networks: Collection[str]) -> None:
        """netifd announced something (ifup, ifdown, an update) about `networks`: ask again."""
        self.to_ask |= set(networks) & self._networks()

    def bound(self, network: str, device: str | None, now: float) -> None:
        """netifd says `network` is on `device` now (None: on none)."""
        self.to_ask.discard(network)
        known = network in self.networks
        if known and self.networks[network] == device:
            return
        self.networks[network] = device
        for track in self.tracks.values():
            if track.record.interface == network:
                track.device = device
                self._decide(track, now)
        self._prune_echoes()

    def echoed(self, key: EchoKey, result: Agreement, now: float, rand: float) -> None:
        """An echo round over `key` ended (at `now`) with `result`."""
        check = self.echoes.get(key)
        if check is None:
            return  # no longer needed
        if result.no_route:  # nothing learnt: the result stands as it was; asked again when a route comes
            check.route_wait = True
            check.next_at = now + ROUTE_PATIENCE
            self._once.say(INFO, f"{check.label}: no route to the echo sources yet; asked again when one comes", (check.label, "route"))
            return
        check.route_wait = False
        self._once.forget((check.label, "route"))
        agreed = result.address is not None
        check.failures = 0 if agreed else check.failures + 1
        delay = echo_delay(agreed, check.failures, self.config.agent.echo_interval, rand)
        check.next_at = now + delay
        self._say_round(check, result, delay)
        check.result, check.answered_at = result, now
        for track in self.tracks.values():
            if echo_key(track.bound) == key:
                self._decide(track, now)

    def synced(self, outcomes: Mapping[Record, Outcome | None], now: float, wall: float, rand: float) -> list[Hook]:
        """A sync ended (at `now`): an Outcome per record, None where it failed unexpectedly.
        Returns the hooks to run."""
        hooks = []
        for record, outcome in outcomes.items():
            track = self.tracks.get((record.name, record.type))
            if track is None or track.record != record:
                continue
            self._rows_changed = True
            verifying = track.verify_at is not None and track.verify_at <= now
            if outcome is not None and outcome.ok:
                self._say_not_as_left(track, outcome, verifying)
                if track.route_wait_since is not None:
                    track.route_wait_since = None
                    self._once.forget(("route", record.label))
                old = track.confirmed
                track.confirmed = outcome.address
                track.known = True
                track.confirmed_at = wall
                track.failures = 0
                track.retry_at = None
                track.last_error = None
                if verifying and not outcome.sent:
                    track.verify_at = None  # read after the window: as this agent left it
                if outcome.changed:
                    track.changed_at = wall
                    if self.config.agent.hook:
                        was = ", ".join(sorted(outcome.old.rdatas)) or old or ""
                        source = track.wanted.origin if track.wanted else ""
                        hooks.append(Hook(track.record, was, outcome.address, source))
            elif outcome is not None and outcome.no_route and (track.route_wait_since is None or now - track.route_wait_since < ROUTE_PATIENCE):
                # the address came first, the route comes a moment later (DHCP clients, pppd):
                # no backoff, no error; tried again on a route or address event, an error if none by then.
                # What the server holds stays known: without a route, nothing reached it.
                track.route_wait_since = track.route_wait_since if track.route_wait_since is not None else now
                track.retry_at = track.route_wait_since + ROUTE_PATIENCE
                track.last_error, track.error_at = outcome.error, wall
            else:
                if outcome is not None and outcome.no_route:
                    self._once.say(ERROR, f"still no route after {ROUTE_PATIENCE:.0f} s: {outcome.error}",
                                   ("route", record.label), again_level=None)
                track.known = False  # a failure, a timeout: what the server holds is read next time
                track.failures += 1
                track.last_error = outcome.error if outcome is not None else "unexpected error (see log)"
                track.error_at = wall
                delay = backoff(track.failures, rand)
                track.retry_at = now + delay
                if track.verify_at is not None:
                    track.verify_at = max(track.verify_at, track.retry_at)
                self._note(INFO, f"{record.label}: retry {track.failures} in {delay:.1f} s")
            if outcome is not None and outcome.sent:  # a copy may land until the window closes: read after it
                track.verify_at = max(track.verify_at or 0.0, now + outcome.window)
        return hooks

    def tick(self, now: float) -> None:
        """Time passed: a record without an address for NO_ADDRESS_PATIENCE is a warning, once
        (until it has one again)."""
        for track in self.tracks.values():
            since = track.no_address_since
            if since is None or track.no_address_warned or now < since + NO_ADDRESS_PATIENCE:
                continue
            track.no_address_warned = True
            left = f" ({track.confirmed})" if track.confirmed else ""
            self._note(WARNING, f"{track.record.label}: {track.wanted} for {NO_ADDRESS_PATIENCE:.0f} s; record left as it is{left}")

    def hook_started(self, pid: int, now: float) -> None:
        self.hooks[pid] = now + self.config.agent.hook_timeout

    def hook_ended(self, pid: int) -> None:
        self.hooks.pop(pid, None)

    def reload(self, config: Config, now: float) -> None:
        """A new config: records whose section is unchanged keep what is known of them (what
        is confirmed, a planned retry); changed and new ones start afresh (their server is read
        before anything is trusted); removed ones are left as they are at the server."""
        self._adopt(config)
        self.to_ask = self._networks()
        for track in self.tracks.values():
            self._decide(track, now)
        self._prune_echoes()
        self._note(INFO, f"config reloaded: {len(self.tracks)} record(s)")

    # ---------------------------------------------------------- queries

    def due(self, now: float) -> Due:
        """What is due at `now`. The caller does it and reports back (bound, echoed, synced,
        hook_ended); until then it stays due."""
        echo = tuple(EchoRound(c.key, c.health) for c in self.echoes.values() if c.next_at is not None and c.next_at <= now)
        sync = {}
        for t in self.tracks.values():
            verify = t.verify_at is not None and t.verify_at <= now
            wanted = t.wanted_address
            if t.retry_at is not None and t.retry_at <= now and wanted is not None:
                sync[t.record] = Wanted(wanted, None if verify else t.known_rrset)
            elif verify and (wanted or t.confirmed):
                sync[t.record] = Wanted(wanted or t.confirmed, None)  # read it: set back what a late copy changed
        kill = tuple(pid for pid, at in self.hooks.items() if at <= now)
        return Due(tuple(sorted(self.to_ask)), echo, sync, kill)

    def timeout(self, records: Collection[Record]) -> float:
        """How long each exchange of a sync of `records` may take: by the most failures in a
        row among them (exchange_timeout)."""
        tracks = ((r, self.tracks.get((r.name, r.type))) for r in records)
        return exchange_timeout(max((t.failures for r, t in tracks if t is not None and t.record == r), default=0))

    @property
    def follows_neighbours(self) -> bool:
        """Whether some record follows a host by its MAC (then the neighbour table is read)."""
        return any(t.record.mac is not None for t in self.tracks.values())

    @property
    def follows_networks(self) -> bool:
        """Whether some record names an OpenWrt network (then netifd's events are worth following)."""
        return bool(self._networks())

    def deadline(self) -> float | None:
        """When something is due next (monotonic); None: nothing is pending, sleep until an event.
        Networks to ask are not in it: they are asked as soon as they are due."""
        times = [t.retry_at for t in self.tracks.values() if t.retry_at is not None]
        times += [t.verify_at for t in self.tracks.values() if t.verify_at is not None and (t.wanted_address or t.confirmed)]
        times += [c.next_at for c in self.echoes.values() if c.next_at is not None]
        times += self.hooks.values()
        times += [t.no_address_since + NO_ADDRESS_PATIENCE for t in self.tracks.values()
                  if t.no_address_since is not None and not t.no_address_warned]
        return min(times) if times else None

    def take_rows(self, now: float, wall: float) -> list[dict] | None:
        """The state file's rows (state.render) when they changed since last taken, else None."""
        if not self._rows_changed:
            return None
        self._rows_changed = False
        return [self._row(t, now, wall) for t in self.tracks.values()]

    def take_notes(self) -> list[tuple[int, str]]:
        notes, self._notes = self._notes, []
        return notes

    # ---------------------------------------------------------- the rules

    def _adopt(self, config: Config) -> None:
        old = self.tracks
        self.tracks = {}
        for record in config.enabled_records():
            key = (record.name, record.type)
            track = old.get(key)
            if track is None or track.record != record:
                device = record.device if record.interface is None else self.networks.get(record.interface)
                verify_at = track.verify_at if track is not None else None  # copies of UPDATEs already sent
                track = Track(record, device, verify_at=verify_at)
            self.tracks[key] = track
        for name, rtype in old.keys() - self.tracks.keys():
            self._note(INFO, f"{name} {rtype}: no longer in the config; left as it is at the server")
        self.config = config
        self.echoes = {}  # sources or interval may have changed: ask afresh
        self._rows_changed = True

    def _networks(self) -> set[str]:
        return {t.record.interface for t in self.tracks.values() if t.record.interface is not None}

    def _decide(self, track: Track, now: float) -> None:
        """Recompute what the record should carry; plan a sync when it differs (the table above)."""
        record = track.bound
        if record.interface is not None and record.interface not in self.networks:
            return  # netifd has not been asked yet: decide when it answers
        published = ipaddress.ip_address(track.confirmed) if track.confirmed else None
        device = self.devices.get(track.device) if track.device is not None else None
        found = detect(record, device, published)
        if found.needs_echo:
            check = self._echo_check(echo_key(record), now)
            if check.result is None:  # a round is due: decide when it has answered
                track.wanted = found
                track.retry_at = None
                return
            found = detect(record, device, published, check.result)
        previous, track.wanted = track.wanted, found
        if previous is None or previous != found:
            self._rows_changed = True
        if found.address is None:
            track.retry_at = None
            if track.no_address_since is None:
                track.no_address_since = now
            line = f"{record.label}: {found}; record left as it is" + (f" ({track.confirmed})" if track.confirmed else "")
            self._once.say(INFO, line, ("left", record.label), again_level=None)
            return
        self._once.forget(("left", record.label))
        track.no_address_since, track.no_address_warned = None, False
        if found.address == track.confirmed:
            track.retry_at = None
            track.failures = 0
            return
        if previous is None or previous.address != found.address:
            self._note(INFO, f"{record.label}: {found}")
            track.failures = 0  # a new address resets the backoff
            track.retry_at = now
        elif track.retry_at is None:
            track.retry_at = now

    def _route_or_address(self, now: float, failed_echoes: bool) -> None:
        """What waits for a route is tried at once; with `failed_echoes`, an echo whose last
        round found no agreement too. Not on every address event: those come every few
        seconds per host from a LAN's neighbour table, and would undo the echo's backoff."""
        for track in self.tracks.values():
            if track.route_wait_since is not None and track.retry_at is not None:
                track.retry_at = min(track.retry_at, now)
        for check in self.echoes.values():
            failed = check.route_wait or (failed_echoes and check.result is not None and check.result.address is None)
            if failed and check.next_at is not None:
                check.next_at = min(check.next_at, now)

    def _say_not_as_left(self, track: Track, outcome: Outcome, verifying: bool) -> None:
        """The server held something else than this agent left there: say so (it was set back)."""
        left = track.known_rrset if track.known else None
        if left is None and verifying and track.confirmed is not None:
            left = Current(frozenset({track.confirmed}), track.record.ttl)
        if left is None or outcome.old == left:
            return
        held = ", ".join(sorted(outcome.old.rdatas)) or "nothing"
        if outcome.old.rdatas == left.rdatas:
            held += f" with TTL {outcome.old.ttl}"
        done = f"set back to {outcome.address}" if outcome.changed else f"it is {outcome.address} as wanted"
        self._note(WARNING, f"{track.record.label}: the server held {held}, not {track.confirmed} as this agent left it "
                            f"(a delayed or replayed UPDATE, or another writer); {done}")

    def _echo_check(self, key: EchoKey, now: float) -> EchoCheck:
        check = self.echoes.get(key)
        if check is None:
            check = self.echoes[key] = EchoCheck(key, next_at=now)
        return check

    def _prune_echoes(self) -> None:
        """Forget the checks no record needs any more: their timers stop."""
        needed = {echo_key(t.bound) for t in self.tracks.values() if t.wanted is not None and t.wanted.needs_echo}
        for key in self.echoes.keys() - needed:
            self._note(INFO, f"{self.echoes.pop(key).label}: no longer needed; stopped")

    def _say_round(self, check: EchoCheck, result: Agreement, delay: float) -> None:
        """Each rejection (a warning when new, else info), and the outcome."""
        label = check.label
        for shown, answer in result.answers:
            subject = (label, shown)
            if answer.address is not None:
                self._once.forget(subject)
                self._note(DEBUG, f"{label}: {shown}: {answer.address}")
            else:
                self._once.say(WARNING, f"{label}: {shown} rejected: {answer.rejected}", subject,
                               again=f"{label}: {shown} rejected again: {answer.rejected}", again_level=INFO)
        if result.address is not None:
            self._once.forget((label, "outcome"))
            before = check.result.address if check.result is not None else None
            self._note(INFO if result.address != before else DEBUG, f"{label}: {result}; next check in {delay:.0f} s")
        else:
            self._once.say(WARNING, f"{label}: {result}; next try in {delay:.1f} s", (label, "outcome"), same=str(result),
                           again=f"{label}: still no agreement; next try in {delay:.1f} s", again_level=INFO)

    def _row(self, track: Track, now: float, wall: float) -> dict:
        wanted = track.wanted
        check = self.echoes.get(echo_key(track.bound)) if wanted is not None and wanted.needs_echo else None
        echo = None
        if check is not None and check.result is not None and check.answered_at is not None:
            echo = {"address": None if check.result.address is None else str(check.result.address),
                    "agreed": list(check.result.agreed), "reason": check.result.reason,
                    "at": wall - max(0.0, now - check.answered_at)}
        return {
            "name": track.record.name,
            "type": track.record.type,
            "address": track.confirmed,
            "source": wanted.origin if wanted is not None and wanted.address == track.confirmed else None,
            "changed_at": track.changed_at,
            "confirmed_at": track.confirmed_at,
            "last_error": track.last_error,
            "error_at": track.error_at,
            "failures": track.failures,
            "next_retry": None if track.retry_at is None else wall + max(0.0, track.retry_at - now),
            "echo": echo,  # the echo's last round, while the record takes its address from it
        }

    def _note(self, level: int, line: str) -> None:
        self._notes.append((level, line))
