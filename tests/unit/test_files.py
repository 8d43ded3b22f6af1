"""files.untrusted: who may change the files that choose what ddns-edge runs (pure)."""

from __future__ import annotations

import os
import stat

import pytest

from ddns_edge import files


def st(mode: int, uid: int) -> os.stat_result:
    return os.stat_result((stat.S_IFREG | mode, 1, 1, 1, uid, 0, 10, 0, 0, 0))


@pytest.mark.parametrize("mode,uid,euid,refused", [
    (0o600, 0, 0, None),
    (0o644, 0, 0, None),
    (0o640, 0, 1000, None),  # the agent's user reads root's file through its group
    (0o600, 1000, 1000, None),  # a user's own config, read by that user
    (0o600, 1000, 0, "owned by uid 1000, not by root: "),  # root never runs what another user wrote
    (0o600, 1001, 1000, "owned by uid 1001, not by root or uid 1000: "),
    (0o660, 0, 0, "writable by its group (mode 0660): "),
    (0o662, 0, 0, "writable by its group and others (mode 0662): "),
    (0o602, 1000, 1000, "writable by others (mode 0602): "),
    (0o4620, 0, 0, "writable by its group (mode 4620): "),
])
def test_untrusted(mode, uid, euid, refused):
    why = files.untrusted("/etc/config/ddns-edge", st(mode, uid), euid)
    if refused is None:
        assert why is None
    else:
        assert why.startswith(refused)
        assert why.endswith("chown root /etc/config/ddns-edge" if refused.startswith("owned") else "chmod go-w /etc/config/ddns-edge")


def test_untrusted_quotes_odd_paths():
    assert files.untrusted("/etc/my keys/k", st(0o666, 0), 0).endswith("run: chmod go-w '/etc/my keys/k'")
