"""Every message to the operator goes through here: logging set-up, saying a thing once,
and the wording of outcomes.

The log goes to stderr as 'LEVEL: message' lines (a terminal, systemd, the LSB script), or
with `--syslog` to the system log's socket, each line with its own priority, as OpenWrt's
daemons log: procd would file everything a service writes to stderr as daemon.err. One line
per event, no tracebacks for expected failures, never a secret.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys
import time
from typing import TYPE_CHECKING, Callable, Hashable

if TYPE_CHECKING:
    from ddns_edge.model import Addresses, Current


NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "notice": NOTICE, "warning": logging.WARNING, "error": logging.ERROR}

log = logging.getLogger("ddns-edge")


SYSLOG_SOCKET = "/dev/log"


def setup(level: str = "info", stream=None, syslog: str | None = None) -> None:
    """Send the log at `level` to `stream` (stderr) as 'LEVEL: message' lines, or, with
    `syslog` (a socket's path, /dev/log), to the system log (stderr when it cannot be reached)."""
    stderr = logging.StreamHandler(stream or sys.stderr)
    stderr.setFormatter(logging.Formatter("%(levelname_lc)s: %(message)s"))
    stderr.addFilter(_lower_level)
    log.handlers[:] = [Syslog(syslog, stderr) if syslog else stderr]
    log.propagate = False
    set_level(level)


def set_level(level: str) -> None:
    log.setLevel(LEVELS.get(level, logging.INFO))


def _lower_level(record: logging.LogRecord) -> bool:
    record.levelname_lc = record.levelname.lower()
    return True


class Syslog(logging.Handler):
    """Each line as one datagram to the system log's socket, "<PRI>Mmm dd hh:mm:ss
    ddns-edge[PID]: message" with facility daemon and the line's own severity (notice as
    notice), as syslog(3) and OpenWrt's ulog send it to logd (and syslogd, rsyslog or
    journald elsewhere). The time stamp is not optional for logd: it drops the first 16
    bytes after <PRI> whenever the 16th is a space, and "ddns-edge[485]: " is 16 bytes. Sending never
    blocks the agent: a socket that is missing, refuses or is full sends that line to
    `fallback` (stderr) instead, and the first time that happens says why there."""

    FACILITY = 3 << 3  # LOG_DAEMON
    SEVERITY = {logging.DEBUG: 7, logging.INFO: 6, NOTICE: 5, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}

    def __init__(self, path: str, fallback: logging.Handler):
        super().__init__()
        self.path, self.fallback = path, fallback
        self.sock: socket.socket | None = None
        self.failed = False  # said on stderr that the system log could not be reached

    def emit(self, record: logging.LogRecord) -> None:
        severity = self.SEVERITY.get(record.levelno, 3 if record.levelno > logging.ERROR else 7)
        stamp = time.strftime("%b %e %H:%M:%S", time.localtime(record.created))  # RFC 3164's, as syslog(3) writes it
        line = f"<{self.FACILITY | severity}>{stamp} ddns-edge[{os.getpid()}]: {record.getMessage()}".encode("utf-8", "replace")
        for attempt in (1, 2):  # a second time on a new socket: logd may have been restarted
            try:
                if self.sock is None:
                    self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                    self.sock.connect(self.path)
                self.sock.send(line, socket.MSG_DONTWAIT)
                self.failed = False
                return
            except OSError as e:
                full = e.errno in (errno.EAGAIN, errno.ENOBUFS)
                if not full:
                    self.close_socket()
                if full or attempt == 2:
                    if not self.failed:
                        self.failed = True
                        self.fallback.handle(logging.makeLogRecord({
                            "levelno": logging.WARNING, "levelname": "WARNING",
                            "msg": f"the system log at {self.path} cannot take lines ({e.strerror or e}); they go to stderr"}))
                    self.fallback.handle(record)
                    return

    def close_socket(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def close(self) -> None:
        self.close_socket()
        super().close()


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


def few(labels: list[str], shown: int = 3) -> str:
    """Records as a line names them: a few, and how many more (a zone of thousands is one line)."""
    more = f" and {len(labels) - shown:,} more" if len(labels) > shown + 1 else ""
    return ", ".join(labels if not more else labels[:shown]) + more


def notice(message: str, *args) -> None:
    log.log(NOTICE, message, *args)


def landed(name: str, rtype: str, old: Current, new: Addresses, ttl: int | None = None) -> None:
    """A change that landed; one that only corrected the TTL says so (not "now X (was X)")."""
    if old.rdatas == new and ttl is not None and old.ttl != ttl:
        notice("%s %s: TTL now %d (was %s); the address %s is unchanged", name, rtype, ttl, old.ttl, new)
        return
    notice("%s %s: now %s (was %s)", name, rtype, new, str(old) or "nothing")


def already(name: str, rtype: str, address: Addresses) -> None:
    log.info("%s %s: already %s at the server; nothing sent", name, rtype, address)
