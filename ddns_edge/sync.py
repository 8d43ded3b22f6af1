"""Bring a set of records to their wanted addresses: discover, group by zone, swap.

Used by `once` and by `run`. Records that share a zone, server and key go in one UPDATE
(dnsupdate.sync_zone); what landed is logged, and each record's outcome returned: the
caller says the failures and decides what follows them (retries and their wording, which
targets to find afresh: schedule.py for `run`; the exit status for `once`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Callable, Mapping

from ddns_edge import dnsupdate, report
from ddns_edge.addresses import ip_literal
from ddns_edge.errors import UpdateError
from ddns_edge.model import Config, Outcome, Record, Wanted

if TYPE_CHECKING:
    import dns.resolver

SyncZone = Callable[..., list[Outcome]]  # dnsupdate.sync_zone(target, key, [(record, wanted)], timeout, clock=...)
Timeout = Callable[[list[Record]], float]  # how long each exchange of a sync of these records may take


def _first_timeout(records: list[Record]) -> float:
    return dnsupdate.TIMEOUT


class Targets:
    """Zone and primary of each record, found once (by SOA when the config leaves them out),
    and each server's clock against ours."""

    def __init__(self, discover: Callable | None = None):
        self._discover = discover
        self._found: dict[tuple, dnsupdate.Target] = {}
        self._shared_resolver: dns.resolver.Resolver | None = None
        self._clocks: dict[tuple[str, int], dnsupdate.ServerClock] = {}

    def clock(self, target: dnsupdate.Target) -> dnsupdate.ServerClock:
        """The server's clock against ours, as its signed answers told."""
        return self._clocks.setdefault((target.server, target.port), dnsupdate.ServerClock())

    def fresh(self) -> Targets:
        """For a new config: zones and primaries found afresh; what the servers' clocks said is kept."""
        new = Targets(self._discover)
        new._clocks = self._clocks
        return new

    def __call__(self, record: Record) -> dnsupdate.Target:
        key = (record.name, record.zone, record.server, record.port)
        if key not in self._found:
            configured = _configured(record)
            if self._discover is None and configured is not None:
                self._found[key] = configured  # nothing to look up
            else:
                discover = self._discover or _discovery().discover
                self._found[key] = discover(record, self._resolver(record))
        return self._found[key]

    def _resolver(self, record: Record) -> dns.resolver.Resolver | None:
        """One system resolver with a cache (TTL-bound) for all records that need discovery:
        a hundred names in one zone cost a query each, not three (zone, SOA, primary)."""
        if not _needs_lookup(record):
            return None
        if self._shared_resolver is None:
            discovery = _discovery()
            self._shared_resolver = discovery.system_resolver(record.label)
            self._shared_resolver.cache = discovery.dns.resolver.Cache()
        return self._shared_resolver

    def forget(self, record: Record) -> None:
        """Find the record's target afresh next time (what it was configured with stays)."""
        if record.zone is None or record.server is None:
            self._found.pop((record.name, record.zone, record.server, record.port), None)


def sync(config: Config, wanted: Mapping[Record, Wanted], targets: Targets,
         sync_zone: SyncZone = dnsupdate.sync_zone, timeout: Timeout = _first_timeout) -> dict[Record, Outcome]:
    """Update `wanted`; returns {Record: Outcome}. Never raises: a zone that fails, in
    whatever way (an exception no one foresaw included), fails alone, and the others land.

    One sync_zone per zone, server and key, one after the other (one thread). So that a
    slow zone holds up no other: each exchange ends by its deadline, `timeout(records)`
    seconds (schedule.exchange_timeout: by the group's own failures, so a failing zone's
    long wait is never another's); and the groups that have not failed go first, so a zone
    being retried never holds up one that is not."""
    outcomes: dict[Record, Outcome] = {}
    groups: dict[tuple, list[Record]] = {}
    for record, want in wanted.items():
        try:
            target = targets(record)
        except UpdateError as e:
            outcomes[record] = Outcome(want.address, error=str(e))
            continue
        groups.setdefault((target, record.key), []).append(record)
    waits = {group: timeout(records) for group, records in groups.items()}
    for (target, key_section), records in sorted(groups.items(), key=lambda item: waits[item[0]]):
        key = config.keys[key_section]
        try:
            results = sync_zone(target, key, [(r, wanted[r]) for r in records], waits[target, key_section], clock=targets.clock(target))
        except Exception as e:  # a bug must fail its zone only: log it, the others still land
            report.log.debug("sync of zone %s at %s failed unexpectedly", target.zone, target, exc_info=True)
            error = f"zone {target.zone} at {target}: unexpected error ({type(e).__name__}: {e}); this is a bug, please report it"
            results = [Outcome(wanted[r].address, error=error, server=str(target)) for r in records]
        for record, outcome in zip(records, results, strict=True):
            want = wanted[record]
            if outcome.error is not None:
                outcome = replace(outcome, unanswered=dnsupdate.unanswered(outcome.error))
            elif not outcome.changed and want.unanswered and want.known is not None and outcome.old.rdatas == want.address:
                # the retry of an UPDATE whose answer never came found the record at its address:
                # that UPDATE landed (its answer lost, or queued at a slow primary): the change it was
                outcome = replace(outcome, changed=True, old=want.known)
            if outcome.ok:
                if outcome.changed:
                    report.landed(record.name, record.type, outcome.old, want.address, record.ttl)
                else:
                    report.already(record.name, record.type, want.address)
            outcomes[record] = outcome
    return outcomes


def _discovery():
    """discovery.py, imported on first need: dnspython's resolver and ssl cost about 2 MB of
    RSS, which a config that names every zone and server never pays."""
    from ddns_edge import discovery

    return discovery


def _configured(record: Record) -> dnsupdate.Target | None:
    """The record's target as its config names it (zone, and the server's address), None
    when finding it asks the resolver: its zone, or its server's address."""
    if record.zone and record.server and ip_literal(record.server) is not None:
        return dnsupdate.Target(record.zone, record.server, record.port, record.server)
    return None


def _needs_lookup(record: Record) -> bool:
    """Whether finding the record's target asks the resolver: its zone, or its server's address."""
    return _configured(record) is None
