"""The files the agent opens: read as regular files only, never blocking, never without a cap.

Every file ddns-edge reads (the config, key files, the state file) goes through
`read_regular`: opened with O_NONBLOCK (a FIFO put in a file's place must not hang `check`
or a reload), taken only when fstat() says it is a regular file (not /dev/zero, a FIFO, a
directory or a socket), and read up to a cap (a huge file is refused, not loaded). The
state file is also opened with O_NOFOLLOW: a link planted at its name is refused, never
followed. What is wrong is an `Unusable` with one line that repeats nothing of the file.

`untrusted` is the rule for the files that decide what the agent does (the config and the
key files): whoever may change them chooses the commands that `check`, `detect` and the
agent run (exec: echo sources, the hook), as root where root runs them. So only root, or
the user reading them, may own them, and neither their group nor others may write them.
"""

from __future__ import annotations

import errno
import os
import shlex
import stat
from typing import Callable

KIND = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class Unusable(ValueError):
    """The file is there but is not one to read: not a regular file, a link where none may
    be, or larger than the cap. str() is the reason, e.g. 'not a regular file (a FIFO)'."""


def size_text(limit: int) -> str:
    return f"{limit // (1 << 20)} MiB" if limit >= 1 << 20 and not limit % (1 << 20) else f"{limit // 1024} KiB"


def untrusted(path: str, st: os.stat_result, euid: int) -> str | None:
    """Why the file at `path` (its fstat `st`) may not decide what a process of user `euid`
    runs, with the command that fixes it; None when only root or `euid` can change it (pure)."""
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid not in (0, euid):
        return (f"owned by uid {st.st_uid}, not by root{'' if euid == 0 else f' or uid {euid}'}: whoever owns it chooses "
                f"the commands ddns-edge runs; run: chown root {shlex.quote(path)}")
    if mode & 0o022:
        who = " and ".join(w for bit, w in ((0o020, "its group"), (0o002, "others")) if mode & bit)
        return (f"writable by {who} (mode {mode:04o}): whoever can write it chooses the commands ddns-edge runs; "
                f"run: chmod go-w {shlex.quote(path)}")
    return None


def read_regular(path: str, limit: int, *, follow: bool = True,
                 check: Callable[[os.stat_result], None] | None = None) -> tuple[bytes, os.stat_result]:
    """The bytes of the regular file at `path` (at most `limit` of them), and its fstat.

    Raises OSError when it cannot be opened (missing, no permission), Unusable when it is
    not a regular file, is a symbolic link and `follow` is False, or is larger than
    `limit`. `check(st)` runs before anything is read (the config and key files: their
    owner and mode)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if e.errno == errno.ELOOP and not follow:
            raise Unusable("a symbolic link, which is never followed") from None
        raise
    try:
        st = os.fstat(fd)
        mode = st.st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in KIND if test(mode)), "not a file")
            raise Unusable(f"not a regular file ({kind})")
        if check is not None:
            check(st)
        with open(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise Unusable(f"larger than {size_text(limit)}")
    return data, st
