"""Bring a set of records to their wanted addresses: discover, group by zone, swap.

Used by `once` and by the agent. Records that share a zone, server and key go in one
UPDATE; each record's outcome is logged and returned, so the caller decides about
retries and exit status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ddns_edge import report
from ddns_edge.errors import UpdateError
from ddns_edge.plan import Current

log = report.log


@dataclass(frozen=True)
class Outcome:
    """One record's result: landed (`changed`), already right, or `error` (a line for the operator)."""

    address: str | None
    changed: bool = False
    old: Current = Current()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Targets:
    """Zone and primary of each record, found once (by SOA when the config leaves them out),
    and the last error said of each record, so that a failure repeated at every retry is
    said once at error level (clock skew, a server away) and then only as a reminder."""

    def __init__(self):
        from ddns_edge import dnsupdate

        self._discover = dnsupdate.discover
        self._found: dict = {}
        self._shared_resolver = None
        self._said: dict = {}

    def say(self, records: list, error: str | None) -> None:
        """Log `error` for `records` unless it was the last thing said of them; None: they are fine."""
        keys = [(r.name, r.type) for r in records]
        if error is None:
            for key in keys:
                self._said.pop(key, None)
            return
        shape = _shape(error)
        if all(self._said.get(key) == shape for key in keys):
            log.info("still failing: %s", error)
        else:
            log.error("%s", error)
        for key in keys:
            self._said[key] = shape

    def __call__(self, record):
        key = (record.name, record.zone, record.server, record.port)
        if key not in self._found:
            self._found[key] = self._discover(record, self._resolver(record))
        return self._found[key]

    def _resolver(self, record):
        """One system resolver with a cache (TTL-bound) for all records that need discovery:
        a hundred names in one zone cost a query each, not three (zone, SOA, primary)."""
        import ipaddress

        try:
            if record.zone and record.server and ipaddress.ip_address(record.server):
                return None  # nothing to look up
        except ValueError:
            pass
        if self._shared_resolver is None:
            import dns.resolver

            from ddns_edge import dnsupdate

            self._shared_resolver = dnsupdate.system_resolver(f"{record.name} {record.type}")
            self._shared_resolver.cache = dns.resolver.Cache()
        return self._shared_resolver

    def forget(self, record) -> None:
        """Find the record's target afresh next time (after a failure: the primary may have moved)."""
        if record.zone is None or record.server is None:
            self._found.pop((record.name, record.zone, record.server, record.port), None)


def sync(config, wanted: dict, targets: Targets) -> dict:
    """Update `wanted` ({Record: address}); returns {Record: Outcome}. Never raises UpdateError."""
    from ddns_edge import dnsupdate

    outcomes: dict = {}
    groups: dict = {}
    for record, address in wanted.items():
        try:
            target = targets(record)
        except UpdateError as e:
            outcomes[record] = Outcome(address, error=str(e))
            targets.say([record], str(e))
            continue
        groups.setdefault((target, record.key), []).append(record)
    for (target, key_section), records in groups.items():
        key = config.keys[key_section]
        wants = [dnsupdate.Want(r.name, r.type, r.ttl, wanted[r]) for r in records]
        results = dnsupdate.sync_zone(target, key, wants)
        for error in dict.fromkeys(r.error for r in results):
            targets.say([rec for rec, r in zip(records, results, strict=True) if r.error == error], error)
        for record, result in zip(records, results, strict=True):
            if result.error:
                outcomes[record] = Outcome(wanted[record], error=result.error)
                targets.forget(record)
                continue
            if result.changed:
                report.landed(record.name, record.type, result.old.rdatas, wanted[record])
            else:
                report.already(record.name, record.type, wanted[record])
            outcomes[record] = Outcome(wanted[record], result.changed, result.old)
    return outcomes


def _shape(error: str) -> str:
    """An error without its numbers (times, counts): the same failure again has the same shape."""
    return re.sub(r"\d+", "#", error)
