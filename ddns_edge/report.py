"""Every message to the operator goes through here: logging set-up, saying a thing once,
and the wording of outcomes.

In the foreground the log goes to stderr (procd forwards it to syslog); one line per
event, no tracebacks for expected failures, never a secret.
"""

from __future__ import annotations

import logging
import sys
from typing import Callable, Hashable


NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "notice": NOTICE, "warning": logging.WARNING, "error": logging.ERROR}

log = logging.getLogger("ddns-edge")


def setup(level: str = "info", stream=None) -> None:
    """Send the log to `stream` (stderr) at `level`: 'LEVEL: message' lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname_lc)s: %(message)s"))
    handler.addFilter(_lower_level)
    log.handlers[:] = [handler]
    log.propagate = False
    set_level(level)


def set_level(level: str) -> None:
    log.setLevel(LEVELS.get(level, logging.INFO))


def _lower_level(record: logging.LogRecord) -> bool:
    record.levelname_lc = record.levelname.lower()
    return True


Sink = Callable[[int, str], None]  # (level, line)


def to_log(level: int, line: str) -> None:
    log.log(level, "%s", line)


class Once:
    """Say a line once per subject at its level, then quietly: the one way ddns-edge keeps
    from repeating itself (after favonia/cloudflare-ddns's SuppressHint).

    `say(level, text, *subjects)` says `text` at `level` unless every subject was last told
    the same thing (`same`: what counts as the same, `text` by default); then it says `again`
    (default `text`) at `again_level` (default debug; None: not at all). `forget(subject)`:
    the subject is fine again, so the next failure is news. Lines go to `sink` (the log by
    default; schedule.py collects them instead, so that it stays pure)."""

    def __init__(self, sink: Sink = to_log):
        self._said: dict[Hashable, str] = {}
        self._sink = sink

    def say(self, level: int, text: str, *subjects: Hashable, same: str | None = None,
            again: str | None = None, again_level: int | None = logging.DEBUG) -> bool:
        """Returns True when the line was news (said at `level`)."""
        key = text if same is None else same
        if subjects and all(self._said.get(s) == key for s in subjects):
            if again_level is not None:
                self._sink(again_level, text if again is None else again)
            return False
        for s in subjects:
            self._said[s] = key
        self._sink(level, text)
        return True

    def forget(self, *subjects: Hashable) -> bool:
        """Whether any of `subjects` had been told something."""
        return any([self._said.pop(s, None) is not None for s in subjects])


def notice(message: str, *args) -> None:
    log.log(NOTICE, message, *args)


def landed(name: str, rtype: str, old: frozenset[str], new: str, old_ttl: int | None = None, ttl: int | None = None) -> None:
    """A change that landed; one that only corrected the TTL says so (not "now X (was X)")."""
    if old == frozenset({new}) and ttl is not None and old_ttl != ttl:
        notice("%s %s: TTL now %d (was %s); the address %s is unchanged", name, rtype, ttl, old_ttl, new)
        return
    was = ", ".join(sorted(old)) if old else "nothing"
    notice("%s %s: now %s (was %s)", name, rtype, new, was)


def already(name: str, rtype: str, address: str) -> None:
    log.info("%s %s: already %s at the server; nothing sent", name, rtype, address)
