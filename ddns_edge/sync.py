"""Bring a set of records to their wanted addresses: discover, group by zone, swap.

Used by `once` and by `run`. Records that share a zone, server and key go in one UPDATE
(dnsupdate.sync_zone); each record's outcome is logged and returned, so the caller
decides about retries and exit status. A failure said at every retry is said once at
error level, then only as a reminder (report.Once).
"""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import Callable, Mapping

import dns.resolver

from ddns_edge import dnsupdate, report
from ddns_edge.errors import UpdateError
from ddns_edge.model import Config, Key, Outcome, Record

SyncZone = Callable[[dnsupdate.Target, Key, list[dnsupdate.Want], float], list[dnsupdate.Result]]  # the last: the timeout


class Targets:
    """Zone and primary of each record, found once (by SOA when the config leaves them out),
    and what was last said of each record's failures."""

    def __init__(self, discover: Callable = dnsupdate.discover):
        self._discover = discover
        self._found: dict[tuple, dnsupdate.Target] = {}
        self._shared_resolver: dns.resolver.Resolver | None = None
        self.once = report.Once()

    def __call__(self, record: Record) -> dnsupdate.Target:
        key = (record.name, record.zone, record.server, record.port)
        if key not in self._found:
            self._found[key] = self._discover(record, self._resolver(record))
        return self._found[key]

    def _resolver(self, record: Record) -> dns.resolver.Resolver | None:
        """One system resolver with a cache (TTL-bound) for all records that need discovery:
        a hundred names in one zone cost a query each, not three (zone, SOA, primary)."""
        if record.zone and record.server and _is_address(record.server):
            return None  # nothing to look up
        if self._shared_resolver is None:
            self._shared_resolver = dnsupdate.system_resolver(record.label)
            self._shared_resolver.cache = dns.resolver.Cache()
        return self._shared_resolver

    def forget(self, record: Record) -> None:
        """Find the record's target afresh next time (after a failure: the primary may have moved)."""
        if record.zone is None or record.server is None:
            self._found.pop((record.name, record.zone, record.server, record.port), None)

    def say(self, records: list[Record], error: str) -> None:
        """Log `error` for `records`: at error level when it is news for any of them, else
        as a reminder ("still failing") at info level."""
        self.once.say(logging.ERROR, error, *(r.label for r in records), same=_shape(error),
                      again=f"still failing: {error}", again_level=logging.INFO)


def sync(config: Config, wanted: Mapping[Record, str], targets: Targets,
         sync_zone: SyncZone = dnsupdate.sync_zone, timeout: float = dnsupdate.TIMEOUT) -> dict[Record, Outcome]:
    """Update `wanted` ({Record: address}), each exchange with a server taking at most
    `timeout` seconds; returns {Record: Outcome}. Never raises UpdateError."""
    outcomes: dict[Record, Outcome] = {}
    groups: dict[tuple, list[Record]] = {}
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
        results = sync_zone(target, key, wants, timeout)
        for error in dict.fromkeys(r.error for r in results if r.error):
            targets.say([rec for rec, r in zip(records, results, strict=True) if r.error == error], error)
        for record, result in zip(records, results, strict=True):
            if result.error:
                outcomes[record] = Outcome(wanted[record], error=result.error)
                targets.forget(record)
                continue
            targets.once.forget(record.label)
            if result.changed:
                report.landed(record.name, record.type, result.old.rdatas, wanted[record], result.old.ttl, record.ttl)
            else:
                report.already(record.name, record.type, wanted[record])
            outcomes[record] = Outcome(wanted[record], result.changed, result.old)
    return outcomes


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _shape(error: str) -> str:
    """An error without its numbers (times, counts): the same failure again has the same shape."""
    return re.sub(r"\d+", "#", error)
