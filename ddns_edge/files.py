"""The files the agent opens: read as regular files only, never blocking, never without a cap.

Every file ddns-edge reads (the config, key files, the state file) goes through
`read_regular`: opened with O_NONBLOCK (a FIFO put in a file's place must not hang `check`
or a reload), taken only when fstat() says it is a regular file (not /dev/zero, a FIFO, a
directory or a socket), and read up to a cap (a huge file is refused, not loaded). The
state file is also opened with O_NOFOLLOW: a link planted at its name is refused, never
followed. What is wrong is an `Unusable` with one line that repeats nothing of the file.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Callable

KIND = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class Unusable(ValueError):
    """The file is there but is not one to read: not a regular file, a link where none may
    be, or larger than the cap. str() is the reason, e.g. 'not a regular file (a FIFO)'."""


def size_text(limit: int) -> str:
    return f"{limit // (1 << 20)} MiB" if limit >= 1 << 20 and not limit % (1 << 20) else f"{limit // 1024} KiB"


def read_regular(path: str, limit: int, *, follow: bool = True, check: Callable[[int], None] | None = None) -> tuple[bytes, int]:
    """The bytes of the regular file at `path` (at most `limit` of them), and its st_mode.

    Raises OSError when it cannot be opened (missing, no permission), Unusable when it is
    not a regular file, is a symbolic link and `follow` is False, or is larger than
    `limit`. `check(st_mode)` runs before anything is read (key files: their mode)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if e.errno == errno.ELOOP and not follow:
            raise Unusable("a symbolic link, which is never followed") from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in KIND if test(mode)), "not a file")
            raise Unusable(f"not a regular file ({kind})")
        if check is not None:
            check(mode)
        with open(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise Unusable(f"larger than {size_text(limit)}")
    return data, mode
