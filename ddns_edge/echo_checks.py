"""The echo's rules (pure): when each echo is asked, what it last said, how each source fares.

An echo *check* is the echo of one (address family, device) that some record needs (detect.py
says when: the device has only a private address, or the record says `source echo`); the
records that share the key share its rounds. This module decides when a check's next round
is due and keeps its last outcome and its sources' health between rounds. The round itself
is echo.py's (its I/O, and which source it asks next); the records are phases.py's.

Like phases.py, nothing here reads a clock, draws a random number or touches a socket: `now`
(monotonic seconds) and `rand` (uniform in [0, 1)) come in with each input.

What each input does to a check (one method of Echoes each):

    input                                   the check
    --------------------------------------  -------------------------------------------------
    need: a record needs it                 made when missing, with a round due at once
    changed: anything on its device         a round at once (new addresses behind the NAT may
                                            mean a new public one: a reconnect)
    route_or_address: a route came         a round at once when the last one met no route or
                                            found no agreement
    route_or_address: an address came       a round at once when the last one met no route;
                                            not one without agreement (a LAN's neighbour table
                                            changes every few seconds: that would undo the
                                            backoff)
    answered: agreement                     kept; the next round after echo_interval; each
                                            rejection said (a warning when new), the outcome too
    answered: no agreement                  kept; the next round after a backoff (1 s doubling
                                            to 300 s), said once, then as a reminder
    answered: no route                      nothing learnt (the last outcome stands); asked again
                                            when a route or an address comes, else in 10 s
    prune: no record needs it any more      forgotten: its timer stops
    clear: a reload                         every check forgotten: asked afresh

A source's health (Health, a value): failures in a row and until when it goes to the end of
the line (30 s doubling to an hour, +-20 %); an answer that met no route says nothing of the
source. echo.ask takes the check's Health and returns the next one with the round's outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Collection

from ddns_edge import plan, report
from ddns_edge.detect import echo_label
from ddns_edge.model import Agreement, Answer, EchoKey, EchoSource
from ddns_edge.phases import DEBUG, INFO, ROUTE_PATIENCE, WARNING, backoff

SOURCE_BACKOFF_FIRST = 30.0  # a failing source goes to the end of the line for this long, doubling
SOURCE_BACKOFF_CAP = 3600.0


def source_backoff(failures: int, rand: float) -> float:
    """Seconds a source that failed `failures` times in a row waits at the end of the line."""
    if failures < 1:
        return 0.0
    return plan.doubling(SOURCE_BACKOFF_FIRST, SOURCE_BACKOFF_CAP, failures - 1, rand)


def echo_delay(agreed: bool, failures: int, interval: float, rand: float) -> float:
    """Seconds until an echo's next round: the interval after agreement, a growing backoff after failures."""
    return float(interval) if agreed else backoff(max(failures, 1), rand)


# ------------------------------------------------------------------ a source's health


@dataclass(frozen=True)
class SourceHealth:
    """How one source has fared: failures in a row, and until when it is backed off (monotonic)."""

    failures: int = 0
    until: float = 0.0

    def after(self, answer: Answer, now: float, rand: float) -> SourceHealth:
        if answer.no_route:
            return self  # the router had no route: that says nothing of the source
        if answer.address is not None:
            return SourceHealth()
        failures = self.failures + 1
        return SourceHealth(failures, now + source_backoff(failures, rand))


@dataclass(frozen=True)
class Health:
    """How each source of a check has fared lately, by the source's text as configured (never
    shown: it may hold a password). A value: each round gives a new one."""

    sources: tuple[tuple[str, SourceHealth], ...] = ()

    def of(self, source: EchoSource) -> SourceHealth:
        for text, health in self.sources:
            if text == source.text:
                return health
        return SourceHealth()

    def backed_off(self, source: EchoSource, now: float) -> bool:
        return self.of(source).until > now

    def after(self, source: EchoSource, answer: Answer, now: float, rand: float) -> Health:
        new = self.of(source).after(answer, now, rand)
        return Health(tuple((t, h) for t, h in self.sources if t != source.text) + ((source.text, new),))


NO_HEALTH = Health()  # no source has failed yet


# ------------------------------------------------------------------ the checks


@dataclass(frozen=True)
class EchoCheck:
    """The echo of one (family, device): its last outcome, and when to ask again."""

    key: EchoKey
    next_at: float | None  # monotonic; None: nothing planned
    result: Agreement | None = None
    failures: int = 0  # rounds in a row without agreement
    route_wait: bool = False  # the last round met no route: asked again when one comes
    answered_at: float | None = None  # monotonic: when `result` came
    health: Health = Health()

    @property
    def label(self) -> str:
        return echo_label(self.key)


@dataclass(frozen=True)
class EchoRound:
    """A round to run: over `key` (family, device), knowing how its sources have fared."""

    key: EchoKey
    health: Health


class Echoes:
    """The checks some record needs, by key; what they have to say goes to `note` and `once`
    (the schedule's)."""

    def __init__(self, note: report.Sink, once: report.Once):
        self.checks: dict[EchoKey, EchoCheck] = {}
        self._note = note
        self._once = once

    def need(self, key: EchoKey, now: float) -> Agreement | None:
        """A record needs the echo of `key`: its last outcome, None while none has come (then
        a round is due: the check is made, due at once)."""
        check = self.checks.get(key)
        if check is None:
            check = self.checks[key] = EchoCheck(key, next_at=now)
        return check.result

    def changed(self, devices: Collection[str], now: float) -> None:
        """Something changed on `devices`: their checks ask at once."""
        for key, check in self.checks.items():
            if key[1] in devices:
                self.checks[key] = replace(check, next_at=now)

    def route_or_address(self, now: float, route: bool) -> None:
        """A route came (`route`), or an address: what met no route asks at once; with a route,
        a check whose last round found no agreement too."""
        for key, check in self.checks.items():
            failed = check.route_wait or (route and check.result is not None and check.result.address is None)
            if failed and check.next_at is not None and check.next_at > now:
                self.checks[key] = replace(check, next_at=now)

    def answered(self, key: EchoKey, result: Agreement, health: Health, now: float, rand: float, interval: float) -> bool:
        """A round over `key` ended at `now` with `result`, its sources faring as `health`.
        True when the outcome is news for the records that use it (not when the check is no
        longer needed, nor when the round met no route)."""
        check = self.checks.get(key)
        if check is None:
            return False
        check = replace(check, health=health)
        if result.no_route:  # nothing learnt: the result stands as it was; asked again when a route comes
            self.checks[key] = replace(check, route_wait=True, next_at=now + ROUTE_PATIENCE)
            self._once.say(INFO, f"{check.label}: no route to the echo sources yet; asked again when one comes",
                           (check.label, "route"))
            return False
        self._once.forget((check.label, "route"))
        agreed = result.address is not None
        failures = 0 if agreed else check.failures + 1
        delay = echo_delay(agreed, failures, interval, rand)
        self._say_round(check, result, delay)
        self.checks[key] = replace(check, next_at=now + delay, result=result, failures=failures, route_wait=False, answered_at=now)
        return True

    def prune(self, needed: Collection[EchoKey]) -> None:
        """Forget the checks no record needs any more: their timers stop."""
        for key in self.checks.keys() - set(needed):
            self._note(INFO, f"{self.checks.pop(key).label}: no longer needed; stopped")

    def clear(self) -> None:
        """A reload: sources or interval may have changed; every check is asked afresh."""
        self.checks = {}

    # ---------------------------------------------------------- queries

    def due(self, now: float) -> tuple[EchoRound, ...]:
        return tuple(EchoRound(c.key, c.health) for c in self.checks.values() if c.next_at is not None and c.next_at <= now)

    def times(self) -> list[float]:
        return [c.next_at for c in self.checks.values() if c.next_at is not None]

    def result(self, key: EchoKey) -> Agreement | None:
        check = self.checks.get(key)
        return None if check is None else check.result

    def row(self, key: EchoKey, now: float, wall: float) -> dict | None:
        """The state file's view of the check's last round (None: none yet)."""
        check = self.checks.get(key)
        if check is None or check.result is None or check.answered_at is None:
            return None
        result = check.result
        return {"address": None if result.address is None else str(result.address), "agreed": list(result.agreed),
                "reason": result.reason, "at": wall - max(0.0, now - check.answered_at)}

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
