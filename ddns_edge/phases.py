"""A record's life (pure): its phase, what it holds of the server, and the moves between phases.

Two rules this module keeps:
- Everything that moves a record from one phase to another lives here: the table of moves
  (TRANSITIONS) and one function per event (Rules). schedule.py says which event happened
  to which record, and asks what is due; it moves no record itself.
- Nothing here reads a clock, draws a random number or touches a socket: `now` (monotonic
  seconds), `wall` (seconds since the epoch, for the state file) and `rand` (uniform in
  [0, 1), for jitter) come in with each event (Input).

What is the record's, and what is its phase's. A record (Track) carries, whatever its phase:
- `wanted`: the last decision, what the record should carry (a Detection: an address and
  where it came from, or none and why). A fact about the router, not about progress: the
  phase says what is being done about it.
- `held`: what this agent believes the server holds: the address it last confirmed there,
  and whether that is *known* (nothing since says otherwise: the next change swaps from it
  in one message, without reading first). It outlives every phase: a failure leaves it as
  known (the retry swaps from it: issue 24), an unexpected one makes it unknown, not
  forgotten ("record left as it is (198.51.100.2)"; the read after a window).
- `check_at`: when no copy of the UPDATEs already sent can land any more (their replay
  window, the TSIG fudge), and the record is read once more. A window is the record's, not a
  phase's: it stays open while a retry is planned, across a new address or a failure; a
  failure moves the read behind the retry (never a busy loop), and never drops it.
- `failures`: syncs in a row that failed (the backoff and each exchange's timeout grow with
  them), and for the state file the last error and when the address changed.
A phase holds only what belongs to it: the time of a planned sync (`at`) for the phases
that have one, and when a wait for a route began.

The phases (`at`: when the sync is due, monotonic):

    phase                     the record
    ------------------------  -------------------------------------------------------------
    Undecided                 just configured (at start, or a reload changed its section)
    AwaitingNetifd            is on an OpenWrt network netifd has not named a device for yet
    AwaitingEcho              needs the echo, which has not answered yet (a round is due)
    NoAddress(since, warned)  has nothing to publish: left as it is at the server; said at info
                              (a DHCP renumbering under netifd is seconds without one: down,
                              then up), and as a warning once it has lasted 60 s
    Confirmed                 the server holds what it should, as far as this agent knows
    Due(at)                   has a new address: synced at once
    BackingOff(at)            a sync failed: tried again at `at`
    AwaitingRoute(since, at)  a sync met no route: tried again when a route or an address
                              comes, else at `at`

The moves (TRANSITIONS; tests/unit/test_phases.py reads this table and compares it with the code's):

    event             from                               to
    ----------------  ---------------------------------  --------------
    unbound           Undecided, AwaitingNetifd          AwaitingNetifd
    echo first        any                                AwaitingEcho
    no address        any                                NoAddress
    the same address  Confirmed, Due, BackingOff,        (stays)
                      AwaitingRoute
    still no address  NoAddress                          (stays)
    the confirmed     any                                Confirmed
    a new address     any                                Due
    link up           BackingOff, AwaitingRoute          (stays)
    route             AwaitingRoute                      (stays)
    landed            any but Undecided, AwaitingNetifd  as decided
    failed            any but Undecided, AwaitingNetifd  BackingOff
    no route          any but Undecided, AwaitingNetifd  AwaitingRoute

An event from a phase not in its row changes nothing. "(stays)": the same phase, with new
data where the event says so. "as decided": where the record's decision puts it now that
the server holds its address (Confirmed), or, when the sync was the read of a record with
no address of its own, back where it was (NoAddress, AwaitingEcho); a record that was there
already keeps its phase as it was.

What each event is, and what it does besides (one method of Rules each):

    event             when                                  and
    ----------------  ------------------------------------  ---------------------------------------
    unbound           decided, but netifd has not named     decided again when it answers
                      the record's network yet
    echo first        decided: the echo must answer first   no sync, no warning
    no address        decided: nothing to publish           "record left as it is", said once at
                                                            info; when it was so already, its
                                                            minute goes on
    the same address  decided: the address it had           a planned sync stays (a failed read
                                                            after a window included)
    still no address  60 s without one (elapsed: time       a warning, once (until it has one)
                      passing is an event too)
    the confirmed     decided: the address held, after      the backoff is reset
                      another
    a new address     decided: another address              said; the backoff is reset
    link up           its link came (back) up               tried again at once, not after backoff
                                                            (and a read it owes with it)
    route             a route came, or an address on a      tried again at once (DHCP clients and
                      device that is up                     pppd add the route after the address)
    landed            the sync landed, or it was right      held and known; a late copy found by
                                                            the read after a window is said (and
                                                            was set back)
    failed            the sync failed, or timed out         held stays as it was: the retry swaps
                                                            from it (a timed-out UPDATE may have
                                                            landed: its prerequisite then fails and
                                                            the record is read there); "retry N in
                                                            X s" (1 s doubling to 300 s, +-20 %);
                                                            a timeout a warning for the first
                                                            30 s of failing, then an error
    no route          the sync met no route or no source    no backoff and no error for 10 s;
                      address                               then an error, said once, and backoff

Whatever a sync's outcome, an UPDATE that left opens a window: the record is read once when
it has passed (`check_at`).

What a record asks of the server (`sync_of`): a sync of the address it should carry (of
what it holds, for a record without one) when its phase's `at` has come, swapping from the
held RRset when that is known and no read is owed, else reading first; and, in a phase
without an `at`, the read once a window has passed, to set back what a late copy changed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from enum import Enum
from typing import Union

from ddns_edge import plan, report
from ddns_edge.model import Addresses, Current, Detection, Outcome, Record, Wanted

EXCHANGE_TIMEOUT_FIRST = 5.0  # seconds one exchange with the server may take, at first
EXCHANGE_TIMEOUT_CAP = 20.0  # ... growing with the failures in a row, up to this

BACKOFF_FIRST = 1.0  # seconds before the first retry
BACKOFF_CAP = 300.0  # never wait longer than five minutes
ROUTE_PATIENCE = 10.0  # seconds a record waits for a route (or a source address) before that is an error
NO_ADDRESS_PATIENCE = 60.0  # seconds a record goes without an address before that is a warning
FAILURE_PATIENCE = 30.0  # seconds a record's syncs fail before the server's error is said as an error (a warning before)

DEBUG, INFO, WARNING, ERROR = logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR


def backoff(failures: int, rand: float) -> float:
    """Seconds to wait after the `failures`-th failure in a row (1, 2, 4, ... capped at 300).

    `rand` is uniform in [0, 1): the jitter. The cap holds after the jitter too."""
    if failures < 1:
        return 0.0
    return plan.doubling(BACKOFF_FIRST, BACKOFF_CAP, failures - 1, rand)


def exchange_timeout(failures: int) -> float:
    """Seconds one exchange with the server may take after `failures` failures in a row:
    5, 10, then 20 at most. A server slower than 5 s gets through at a retry, and one that
    does not answer holds the loop no longer than the cap."""
    return plan.doubling(EXCHANGE_TIMEOUT_FIRST, EXCHANGE_TIMEOUT_CAP, failures)


# ------------------------------------------------------------------ the phases


@dataclass(frozen=True)
class Undecided:
    pass


@dataclass(frozen=True)
class AwaitingNetifd:
    pass


@dataclass(frozen=True)
class AwaitingEcho:
    pass


@dataclass(frozen=True)
class NoAddress:
    since: float  # monotonic: it has had no address to carry since then
    warned: bool = False  # ... and that has been said as a warning (NO_ADDRESS_PATIENCE)


@dataclass(frozen=True)
class Confirmed:
    pass


@dataclass(frozen=True)
class Due:
    at: float  # when it became due


@dataclass(frozen=True)
class BackingOff:
    at: float


@dataclass(frozen=True)
class AwaitingRoute:
    since: float  # the first sync in a row that met no route
    at: float


Phase = Union[Undecided, AwaitingNetifd, AwaitingEcho, NoAddress, Confirmed, Due, BackingOff, AwaitingRoute]
PHASES = (Undecided, AwaitingNetifd, AwaitingEcho, NoAddress, Confirmed, Due, BackingOff, AwaitingRoute)


# ------------------------------------------------------------------ the record


@dataclass(frozen=True)
class Held:
    """What this agent believes the server holds for a record."""

    address: Addresses | None = None  # the address(es) this agent last confirmed there
    known: bool = False  # exactly that, with the record's TTL, and nothing since says otherwise

    def rrset(self, ttl: int) -> Current | None:
        """The RRset as known (None: read it before a swap)."""
        return Current(self.address, ttl) if self.known and self.address is not None else None


@dataclass(frozen=True)
class Track:
    """One record between events: its phase, and the facts that outlive phases (above)."""

    record: Record  # as configured
    device: str | None  # the kernel device now: option device, or netifd's answer for option interface
    phase: Phase = Undecided()
    wanted: Detection | None = None
    held: Held = Held()
    check_at: float | None = None  # monotonic: read the record then (no copy of an UPDATE sent can land after it)
    failures: int = 0
    failing_since: float | None = None  # monotonic: the first of the failures in a row (None: the last sync landed)
    unanswered: Addresses | None = None  # the address an UPDATE that got no answer was for (None: the last sync landed)
    last_error: str | None = None
    error_at: float | None = None  # wall clock, as the state file says it
    changed_at: float | None = None
    confirmed_at: float | None = None

    @property
    def bound(self) -> Record:
        """The record with its device as it is now."""
        return self.record if self.device == self.record.device else replace(self.record, device=self.device)

    @property
    def at(self) -> float | None:
        """When the sync its phase plans is due (None: the phase plans none)."""
        return getattr(self.phase, "at", None)

    @property
    def target(self) -> Addresses | None:
        """The address a sync of it makes: the one it should carry, else (a read after a
        window, with none of its own) what it holds."""
        if self.wanted is not None and self.wanted.address is not None:
            return self.wanted.address
        return self.held.address


def sync_of(track: Track, now: float) -> Wanted | None:
    """What the record asks of the server at `now`, if anything (the module's last paragraph)."""
    target = track.target
    if target is None:
        return None
    read = track.check_at is not None and track.check_at <= now
    at = track.at
    if at is not None:
        known = None if read else track.held.rrset(track.record.ttl)
        return Wanted(target, known, known is not None and track.unanswered == target) if at <= now else None
    return Wanted(target, None) if read else None


def wake_at(track: Track) -> list[float]:
    """When the record needs the loop next (monotonic): its phase's sync, and a read after a
    window that does not come with it."""
    at = track.at
    times = [] if at is None else [at]
    if isinstance(track.phase, NoAddress) and not track.phase.warned:
        times.append(track.phase.since + NO_ADDRESS_PATIENCE)
    if track.check_at is not None and track.target is not None and (at is None or track.check_at > at):
        times.append(track.check_at)
    return times


# ------------------------------------------------------------------ the moves


class Event(Enum):
    UNBOUND = "unbound"
    ECHO_FIRST = "echo first"
    NO_ADDRESS = "no address"
    SAME_ADDRESS = "the same address"
    STILL_NO_ADDRESS = "still no address"
    THE_CONFIRMED = "the confirmed"
    NEW_ADDRESS = "a new address"
    LINK_UP = "link up"
    ROUTE = "route"
    LANDED = "landed"
    FAILED = "failed"
    NO_ROUTE = "no route"


STAYS = "(stays)"
AS_DECIDED = "as decided"
ANY = frozenset(PHASES)
SYNCING = ANY - {Undecided, AwaitingNetifd}  # a record in these may be synced (a read after a window included)

TRANSITIONS: dict[Event, tuple[frozenset, type | str]] = {
    Event.UNBOUND: (frozenset({Undecided, AwaitingNetifd}), AwaitingNetifd),
    Event.ECHO_FIRST: (ANY, AwaitingEcho),
    Event.NO_ADDRESS: (ANY, NoAddress),
    Event.SAME_ADDRESS: (frozenset({Confirmed, Due, BackingOff, AwaitingRoute}), STAYS),
    Event.STILL_NO_ADDRESS: (frozenset({NoAddress}), STAYS),
    Event.THE_CONFIRMED: (ANY, Confirmed),
    Event.NEW_ADDRESS: (ANY, Due),
    Event.LINK_UP: (frozenset({BackingOff, AwaitingRoute}), STAYS),
    Event.ROUTE: (frozenset({AwaitingRoute}), STAYS),
    Event.LANDED: (SYNCING, AS_DECIDED),
    Event.FAILED: (SYNCING, BackingOff),
    Event.NO_ROUTE: (SYNCING, AwaitingRoute),
}


def decision(track: Track, found: Detection | None) -> Event:
    """The event a decision is for `track`: `found` is what it should carry now (None: its
    network has not been named by netifd yet)."""
    if found is None:
        return Event.UNBOUND
    if found.awaiting_echo:
        return Event.ECHO_FIRST
    if found.address is None:
        return Event.NO_ADDRESS
    if track.wanted is not None and track.wanted.address == found.address:
        return Event.SAME_ADDRESS
    if found.address == track.held.address:
        return Event.THE_CONFIRMED
    return Event.NEW_ADDRESS


def elapsed(track: Track, now: float) -> Event | None:
    """The event that time passing is for `track` at `now`, if any."""
    phase = track.phase
    if isinstance(phase, NoAddress) and not phase.warned and now >= phase.since + NO_ADDRESS_PATIENCE:
        return Event.STILL_NO_ADDRESS
    return None


def outcome_event(outcome: Outcome | None) -> Event:
    """The event a sync's outcome is (None: the sync failed unexpectedly)."""
    if outcome is not None and outcome.ok:
        return Event.LANDED
    if outcome is not None and outcome.no_route:
        return Event.NO_ROUTE
    return Event.FAILED


@dataclass(frozen=True)
class Input:
    """An event for one record, with what came with it."""

    event: Event
    now: float
    found: Detection | None = None  # a decision's: what the record should carry
    outcome: Outcome | None = None  # a sync's (None for one that failed unexpectedly)
    wall: float = 0.0
    rand: float = 0.5


class Rules:
    """Moves records (`move`); what they have to say goes to `note` and `once` (the schedule's)."""

    def __init__(self, note: report.Sink, once: report.Once):
        self._note = note
        self._once = once

    def move(self, track: Track, inp: Input) -> Track:
        """`track` after `inp`: its row of TRANSITIONS says whether it moves and to which phase;
        the event's method says what else changes, and the new phase's data."""
        froms, to = TRANSITIONS[inp.event]
        if type(track.phase) not in froms:
            return track
        before = track
        track, data = getattr(self, "_" + inp.event.name.lower())(track, inp)
        if track is before and to == STAYS and not data:
            return track  # nothing changed (a LAN's neighbour table re-decides its records every few seconds)
        phase: Phase
        if isinstance(to, type):
            phase = to(**data)
        elif to == STAYS:
            phase = replace(track.phase, **data)
        else:  # AS_DECIDED
            phase = as_decided(track, inp.now)
        return replace(track, phase=phase)

    # ---------------------------------------------------------- decisions

    def _unbound(self, track: Track, inp: Input) -> tuple[Track, dict]:
        return track, {}

    def _echo_first(self, track: Track, inp: Input) -> tuple[Track, dict]:
        return replace(track, wanted=inp.found), {}

    def _no_address(self, track: Track, inp: Input) -> tuple[Track, dict]:
        label = track.record.label
        self._once.say(INFO, f"{label}: {inp.found}; record left as it is{_held(track)}", ("left", label), again_level=None)
        phase = track.phase
        if isinstance(phase, NoAddress):
            return replace(track, wanted=inp.found), {"since": phase.since, "warned": phase.warned}
        return replace(track, wanted=inp.found), {"since": inp.now}

    def _still_no_address(self, track: Track, inp: Input) -> tuple[Track, dict]:
        self._note(WARNING, f"{track.record.label}: {track.wanted} for {NO_ADDRESS_PATIENCE:.0f} s; "
                            f"record left as it is{_held(track)}")
        return track, {"warned": True}

    def _the_confirmed(self, track: Track, inp: Input) -> tuple[Track, dict]:
        self._once.forget(("left", track.record.label))
        return replace(track, wanted=inp.found, failures=0), {}

    def _new_address(self, track: Track, inp: Input) -> tuple[Track, dict]:
        self._once.forget(("left", track.record.label))
        self._note(INFO, f"{track.record.label}: {inp.found}")
        return replace(track, wanted=inp.found, failures=0), {"at": inp.now}

    def _same_address(self, track: Track, inp: Input) -> tuple[Track, dict]:
        self._once.forget(("left", track.record.label))
        return (track if inp.found == track.wanted else replace(track, wanted=inp.found)), {}

    # ---------------------------------------------------------- the kernel

    def _link_up(self, track: Track, inp: Input) -> tuple[Track, dict]:
        return _sooner(track, inp.now)

    def _route(self, track: Track, inp: Input) -> tuple[Track, dict]:
        return _sooner(track, min(track.at or inp.now, inp.now))

    # ---------------------------------------------------------- the server

    def _landed(self, track: Track, inp: Input) -> tuple[Track, dict]:
        outcome = inp.outcome
        assert outcome is not None  # (landed: outcome_event says so)
        reading = track.check_at is not None and track.check_at <= inp.now
        self._say_not_as_left(track, outcome, reading)
        if isinstance(track.phase, AwaitingRoute):
            self._once.forget(("route", track.record.label))
        check_at = None if reading and not outcome.sent else track.check_at  # read after the window: as this agent left it
        return replace(track, held=Held(outcome.address, True), confirmed_at=inp.wall, failures=0, failing_since=None,
                       unanswered=None, last_error=None,
                       changed_at=inp.wall if outcome.changed else track.changed_at,
                       check_at=_window(check_at, outcome, inp.now)), {}

    def _failed(self, track: Track, inp: Input) -> tuple[Track, dict]:
        if isinstance(track.phase, AwaitingRoute):
            self._once.forget(("route", track.record.label))  # a route was there: the wait is over
        track, at = self._back_off(track, inp)
        return track, {"at": at}

    def _no_route(self, track: Track, inp: Input) -> tuple[Track, dict]:
        """The address came first, the route comes a moment later (DHCP clients, pppd): no
        backoff, no error; tried again on a route or an address event, an error if none comes
        in time. What the server holds stays known: without a route, nothing reached it."""
        outcome = inp.outcome
        assert outcome is not None  # (no route: outcome_event says so)
        since = track.phase.since if isinstance(track.phase, AwaitingRoute) else inp.now
        if inp.now - since < ROUTE_PATIENCE:
            at = since + ROUTE_PATIENCE
            check_at = None if track.check_at is None else max(track.check_at, at)
            track = replace(track, last_error=outcome.error, error_at=inp.wall, check_at=_window(check_at, outcome, inp.now))
        else:
            self._once.say(ERROR, f"still no route after {ROUTE_PATIENCE:.0f} s: {outcome.error}",
                           ("route", track.record.label), again_level=None)
            track, at = self._back_off(track, inp)
        return track, {"since": since, "at": at}

    def _back_off(self, track: Track, inp: Input) -> tuple[Track, float]:
        """A failure, a timeout: the retry after a backoff, and the read after a window behind
        it. What the server holds stays as known: nothing the failure says changed it (a
        timed-out UPDATE that landed makes the retry's prerequisite fail, and the record is
        read then; a read before, while a primary catches up, answers ahead of the UPDATEs it
        has queued). Only a failure without an outcome (unexpected) has it read first."""
        failures = track.failures + 1
        delay = backoff(failures, inp.rand)
        at = inp.now + delay
        self._note(INFO, f"{track.record.label}: retry {failures} in {delay:.1f} s")
        error = inp.outcome.error if inp.outcome is not None else "unexpected error (see log)"
        check_at = None if track.check_at is None else max(track.check_at, at)
        held = track.held if inp.outcome is not None else replace(track.held, known=False)
        since = track.failing_since if track.failing_since is not None else inp.now
        outcome = inp.outcome
        unanswered = outcome.address if outcome is not None and outcome.sent and outcome.unanswered else None
        return replace(track, held=held, failures=failures, failing_since=since, unanswered=unanswered, last_error=error, error_at=inp.wall,
                       check_at=_window(check_at, inp.outcome, inp.now)), at

    def _say_not_as_left(self, track: Track, outcome: Outcome, reading: bool) -> None:
        """The server held something else than this agent left there: say so (it was set back)."""
        held, ttl = track.held, track.record.ttl
        left = held.rrset(ttl)
        if left is None and reading and held.address is not None:
            left = Current(held.address, ttl)
        if left is None or outcome.old == left:
            return
        if track.failures and outcome.old.rdatas == outcome.address and not outcome.changed:
            self._note(INFO, f"{track.record.label}: {outcome.address} already, from the UPDATE whose answer did not come")
            return
        was = str(outcome.old) or "nothing"
        if outcome.old.rdatas == left.rdatas:
            was += f" with TTL {outcome.old.ttl}"
        done = f"set back to {outcome.address}" if outcome.changed else f"it is {outcome.address} as wanted"
        self._note(WARNING, f"{track.record.label}: the server held {was}, not {held.address} as this agent left it "
                            f"(a delayed or replayed UPDATE, or another writer); {done}")


def as_decided(track: Track, now: float) -> Phase:
    """Where a record rests after a sync landed: a sync makes the address it was asked for,
    so a record with an address of its own now holds it. One that rested there already
    keeps its phase as it was."""
    wanted = track.wanted
    rest: type = Confirmed
    if wanted is None:
        rest = Undecided
    elif wanted.awaiting_echo:
        rest = AwaitingEcho
    elif wanted.address is None:
        rest = NoAddress
    if type(track.phase) is rest:
        return track.phase
    return NoAddress(now) if rest is NoAddress else rest()


def _held(track: Track) -> str:
    return f" ({track.held.address})" if track.held.address else ""


def _sooner(track: Track, at: float) -> tuple[Track, dict]:
    """The planned sync at `at` instead, and a read it owes with it (a failure moved the read
    behind the retry: it comes when the retry does)."""
    if track.check_at is not None and track.at is not None and track.check_at <= track.at:
        track = replace(track, check_at=min(track.check_at, at))
    return track, {"at": at}


def _window(check_at: float | None, outcome: Outcome | None, now: float) -> float | None:
    """An UPDATE left (whatever came back): a copy may land until its window closes; read after it."""
    if outcome is not None and outcome.sent:
        return max(check_at or 0.0, now + outcome.window)
    return check_at
