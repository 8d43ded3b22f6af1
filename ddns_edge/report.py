"""Every message to the operator goes through here: logging set-up and wording of outcomes.

In the foreground the log goes to stderr (procd forwards it to syslog); one line per
event, no tracebacks for expected failures, never a secret.
"""

from __future__ import annotations

import logging
import sys

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


def notice(message: str, *args) -> None:
    log.log(NOTICE, message, *args)


def landed(name: str, rtype: str, old: frozenset[str], new: str) -> None:
    was = ", ".join(sorted(old)) if old else "nothing"
    notice("%s %s: now %s (was %s)", name, rtype, new, was)


def already(name: str, rtype: str, address: str) -> None:
    log.info("%s %s: already %s at the server; nothing sent", name, rtype, address)
