"""The exceptions that carry what went wrong to the one place that tells the operator.

Each error knows its exit status: 2 for what the user must fix (usage, config, keys),
1 for what went wrong at run time (a server, the network).
"""

from __future__ import annotations

import errno
from typing import TypeGuard


# The errnos of "no route to it (yet)": a network or host unreachable, no source address.
# The normal order of a WAN client's work (the address first, the route a moment later)
# gives them for a moment; schedule.py waits for a route event rather than backing off.
NO_ROUTE_ERRNOS = (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL)


def no_route(error: BaseException) -> TypeGuard[OSError]:
    """Whether an exchange (with the server, or an echo source) failed for want of a route or
    a source address."""
    return isinstance(error, OSError) and error.errno in NO_ROUTE_ERRNOS


class DdnsEdgeError(Exception):
    """Base of every expected failure; `str()` is the one line shown to the operator."""

    exit_status = 1


class UsageError(DdnsEdgeError):
    """Bad command line."""

    exit_status = 2


class ConfigError(DdnsEdgeError):
    """Bad config or key file; rendered as `PATH:LINE: message`."""

    exit_status = 2

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "
        return where + self.message


class UpdateError(DdnsEdgeError):
    """A record could not be read or updated at its server."""

    exit_status = 1
