"""`--syslog`: each line reaches the system log's socket with its own priority, as OpenWrt's
daemons log to logd through /dev/log; a socket that is missing or full never blocks the agent
and never loses a line (it goes to stderr, and that is said once). The socket here is the
test's own, bound where logd's would be."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys

import pytest

from ddns_edge import report


STAMP = re.compile(rb"^(<\d+>)[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d (ddns-edge\[)")


def unstamp(datagram: bytes) -> bytes:
    assert STAMP.match(datagram), datagram
    return STAMP.sub(rb"\1\2", datagram)


def logd_keeps(datagram: bytes) -> bytes:
    """What OpenWrt's logd (ubox log/syslog.c) files of a datagram: after <PRI>, the first 16
    bytes are taken for syslog(3)'s time stamp and dropped whenever the 16th is a space."""
    body = datagram[datagram.index(b">") + 1:]
    return body[16:] if len(body) > 16 and body[15:16] == b" " else body


@pytest.mark.parametrize("pid", [7, 42, 485, 4850, 48500, 4194304])
def test_the_tag_survives_logd_whatever_the_pid(monkeypatch, tmp_path, pid):
    path = str(tmp_path / "log")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    monkeypatch.setattr(os, "getpid", lambda: pid)
    report.setup("info", stream=io.StringIO(), syslog=path)
    report.notice("www.example.com A: now 192.0.2.64 (was 192.0.2.63)")
    report.setup("info")
    assert logd_keeps(sock.recv(65536)) == f"ddns-edge[{pid}]: www.example.com A: now 192.0.2.64 (was 192.0.2.63)".encode()
    sock.close()


@pytest.fixture
def logd(tmp_path):
    """A datagram socket standing where /dev/log would be; read() gives what arrived."""
    path = str(tmp_path / "log")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.setblocking(False)

    def read() -> list[bytes]:
        """What arrived, each with its RFC 3164 time stamp checked and taken out."""
        got = []
        while True:
            try:
                got.append(unstamp(sock.recv(65536)))
            except BlockingIOError:
                return got

    yield path, sock, read
    sock.close()
    report.setup("info")  # the next test's log goes to stderr again


def test_each_level_has_its_own_priority_with_facility_daemon(logd):
    path, _, read = logd
    stderr = io.StringIO()
    report.setup("debug", stream=stderr, syslog=path)
    report.log.debug("d")
    report.log.info("i")
    report.notice("www.example.com A: now %s (was %s)", "192.0.2.64", "192.0.2.63")
    report.log.warning("w")
    report.log.error("e")
    pid = os.getpid()
    assert read() == [f"<{24 + sev}>ddns-edge[{pid}]: {text}".encode() for sev, text in [
        (7, "d"), (6, "i"), (5, "www.example.com A: now 192.0.2.64 (was 192.0.2.63)"), (4, "w"), (3, "e")]]
    assert stderr.getvalue() == ""


def test_the_level_set_still_filters(logd):
    path, _, read = logd
    report.setup("notice", stream=io.StringIO(), syslog=path)
    report.log.info("not this")
    report.notice("this")
    assert read() == [f"<29>ddns-edge[{os.getpid()}]: this".encode()]


def test_without_a_socket_the_lines_go_to_stderr_and_that_is_said_once(tmp_path):
    stderr = io.StringIO()
    report.setup("info", stream=stderr, syslog=str(tmp_path / "no-such-log"))
    report.notice("one")
    report.log.error("two")
    lines = stderr.getvalue().splitlines()
    assert lines[0].startswith(f"warning: the system log at {tmp_path}/no-such-log cannot take lines (")
    assert lines[1:] == ["notice: one", "error: two"]
    report.setup("info")


def test_a_full_socket_never_blocks_and_the_line_is_not_lost(logd):
    path, _, read = logd
    stderr = io.StringIO()
    report.setup("info", stream=stderr, syslog=path)
    for i in range(5000):  # nobody reads: the socket's queue fills
        report.log.info("line %d", i)
    arrived = read()
    assert 0 < len(arrived) < 5000
    fallback = stderr.getvalue().splitlines()
    assert fallback[0].startswith(f"warning: the system log at {path} cannot take lines (")
    assert len(fallback) - 1 == 5000 - len(arrived) and fallback[-1] == "info: line 4999"
    # once logd reads again, lines go there again, and a new outage is said again
    report.log.info("after")
    assert read() == [f"<30>ddns-edge[{os.getpid()}]: after".encode()]


def test_a_restarted_logd_is_found_again(logd, tmp_path):
    path, sock, read = logd
    report.setup("info", stream=io.StringIO(), syslog=path)
    report.log.info("before")
    assert len(read()) == 1
    sock.close()
    os.unlink(path)
    again = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    again.bind(path)
    report.log.info("after")
    assert unstamp(again.recv(65536)) == f"<30>ddns-edge[{os.getpid()}]: after".encode()
    again.close()


def test_the_command_line_sends_its_lines_there(logd, tmp_path):
    path, _, read = logd
    conf = tmp_path / "conf"
    conf.write_text("config key 'k'\n\toption secret 'Wi28mLDG6l5YrDIg27zPh5tvG2jWR4GBt1Sq3WUUop8='\n"
                    "config record 'r'\n\toption name 'www.example.com'\n\toption device 'nosuch0'\n"
                    "\toption zone 'example.com'\n\toption server '192.0.2.53'\n")
    os.chmod(conf, 0o600)
    proc = subprocess.Popen([sys.executable, "-m", "ddns_edge", "--syslog", "--syslog-socket", path, "-c", str(conf), "once"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and out == "" and err == ""
    assert read() == [f"<27>ddns-edge[{proc.pid}]: www.example.com A: no address (interface nosuch0: no such device); "
                      "record left as it is".encode()]
