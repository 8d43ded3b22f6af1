"""What the packaging tests share: the checkout, the shells, and reading .ipk archives."""

from __future__ import annotations

import io
import os
import shutil
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EPOCH = 1_700_000_000  # every package here is built with this mtime


def shells() -> list[list[str]]:
    """Every POSIX shell here: dash (Debian's sh), bash --posix, busybox ash (OpenWrt's)."""
    return [argv for argv in (["dash"], ["bash", "--posix"], ["busybox", "sh"]) if shutil.which(argv[0])]


SHELLS = shells()
SHELL_IDS = [" ".join(s) for s in SHELLS]


def tree_copy(dest):
    """A copy of what the packages are built from (ddns_edge/, openwrt/), to change in a test."""
    for rel in ("ddns_edge", "openwrt"):
        shutil.copytree(os.path.join(ROOT, rel), dest / rel, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return tar.getmembers()


def read_member(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return tar.extractfile(name).read()


def outer(ipk: bytes) -> dict[str, bytes]:
    """The members of an .ipk's outer archive: ./debian-binary, ./data.tar.gz, ./control.tar.gz."""
    return {m.name: read_member(ipk, m.name) for m in members(ipk)}


def control_fields(parts: dict[str, bytes]) -> dict[str, str]:
    """./control of an .ipk as {field: value}, continuation lines joined with newlines."""
    text = read_member(parts["./control.tar.gz"], "./control").decode()
    fields, last = {}, None
    for line in text.splitlines():
        if line.startswith(" "):
            fields[last] += "\n" + line[1:]
        else:
            last, value = line.split(":", 1)
            fields[last] = value.strip()
    return fields
