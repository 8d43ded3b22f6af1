"""The echo's rounds: agreement, a source's health, the round's decisions (pure), the round's
shell with canned answers, and the transports on this machine only (loopback, local commands)."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

import pytest

from ddns_edge import echo
from ddns_edge.echo import Round, agree
from ddns_edge.echo_checks import SOURCE_BACKOFF_CAP, Health, SourceHealth, source_backoff
from ddns_edge.echo_wire import parse_source
from ddns_edge.model import Answer
from tests.unit.test_echo_wire import check_answer, http

A = ipaddress.ip_address


# ------------------------------------------------------------------ agreement

X, Y, L = A("203.0.113.5"), A("203.0.113.6"), A("198.51.100.66")
NO = Answer(None, "an HTML page, not an address")


def votes(*answers):
    return [(f"s{i}", a if isinstance(a, Answer) else Answer(a)) for i, a in enumerate(answers)]


@pytest.mark.parametrize(
    "answers, quorum, address, words",
    [
        (votes(X), 1, X, "from s0"),
        (votes(X, X), 2, X, "2 of 2 echo sources agree: s0, s1"),
        (votes(L, X, X), 2, X, "2 of 3 echo sources agree: s1, s2"),  # a liar outvoted
        (votes(X, L, X), 2, X, "s0, s2"),
        (votes(X, NO, X), 2, X, "2 of 3"),
        (votes(X, L), 2, None, "echo sources disagree (203.0.113.5 from s0; 198.51.100.66 from s1); 2 must agree"),
        (votes(X, Y), 1, None, "disagree"),  # a tie is no agreement, whatever the quorum
        (votes(X, X, Y, Y), 2, None, "disagree"),
        (votes(X, NO), 2, None, "only 1 echo source(s) gave 203.0.113.5; 2 must agree"),
        (votes(X, X), 3, None, "only 2 echo source(s)"),
        (votes(NO, NO), 2, None, "no echo source gave a usable answer (s0: an HTML page, not an address; s1: an HTML page"),
        ([], 2, None, "no echo source asked"),
    ],
)
def test_agree(answers, quorum, address, words):
    out = agree(answers, quorum)
    assert out.address == address and words in out.reason, out
    assert out.answers == tuple(answers)
    if address is not None:
        assert len(out.agreed) >= quorum and all(dict(answers)[s].address == address for s in out.agreed)


# ------------------------------------------------------------------ the round


def sources(*texts):
    return [parse_source(t) for t in texts]


def play(rnd: Round, said: dict) -> list[str]:
    """Run a round against canned answers; returns the sources asked, in order."""
    asked = []
    while (s := rnd.next()) is not None:
        asked.append(s.text)
        rnd.add(s, said[s.text])
    return asked


SRC = sources("http://a/", "http://b/", "dns://c/n", "exec:d")


def test_round_stops_as_soon_as_the_quorum_agrees():
    rnd = Round(SRC, 4, 2)
    assert play(rnd, {s.text: Answer(X) for s in SRC}) == ["http://a/", "http://b/"]
    assert rnd.outcome().address == X


def test_round_asks_on_past_a_liar_and_a_rejection():
    rnd = Round(SRC, 4, 2)
    said = {"http://a/": Answer(L), "http://b/": NO, "dns://c/n": Answer(X), "exec:d": Answer(X)}
    assert play(rnd, said) == ["http://a/", "http://b/", "dns://c/n", "exec:d"]
    assert rnd.outcome().address == X and rnd.outcome().agreed == ("dns://c/n", "exec:d")


def test_round_stops_when_the_quorum_is_out_of_reach():
    rnd = Round(SRC, 4, 2)
    said = {"http://a/": NO, "http://b/": NO, "dns://c/n": NO, "exec:d": Answer(X)}
    assert play(rnd, said) == ["http://a/", "http://b/", "dns://c/n"]  # one left could never make two
    assert rnd.outcome().address is None


def test_round_asks_backed_off_sources_last():
    rnd = Round(SRC, 4, 2, backed_off=lambda s: s.text in ("http://a/", "dns://c/n"))
    assert play(rnd, {s.text: Answer(X) for s in SRC}) == ["http://b/", "exec:d"]
    rnd = Round(SRC, 4, 2, backed_off=lambda s: s.text in ("http://a/", "dns://c/n"))
    said = {"http://a/": Answer(X), "http://b/": NO, "dns://c/n": Answer(X), "exec:d": Answer(X)}
    assert play(rnd, said) == ["http://b/", "exec:d", "http://a/"]  # still asked when needed


def test_round_skips_sources_of_the_other_family():
    mixed = sources("http://192.0.2.80/", "http://[2001:db8::80]/", "dns://ns/n/A", "dns://ns/n/AAAA", "dns://ns/n/TXT")
    rnd = Round(mixed, 6, 3)
    assert play(rnd, {s.text: Answer(A("2001:db8::5")) for s in mixed}) == ["http://[2001:db8::80]/", "dns://ns/n/AAAA", "dns://ns/n/TXT"]
    rnd = Round(sources("http://192.0.2.80/"), 6, 1)
    assert rnd.next() is None and rnd.outcome().reason == "no echo source can be asked over IPv6"


def test_round_out_of_time_says_so():
    rnd = Round(SRC, 4, 2)
    s = rnd.next()
    rnd.add(s, Answer(X))
    rnd.out_of_time = True
    assert rnd.next() is None
    assert rnd.outcome().reason == "only 1 echo source(s) gave 203.0.113.5; 2 must agree; the round ran out of time"


def test_source_backoff_and_health():
    assert source_backoff(0, 0.5) == 0
    assert source_backoff(1, 0.5) == 30 and source_backoff(2, 0.5) == 60
    assert source_backoff(50, 0.999) <= SOURCE_BACKOFF_CAP
    a, b = SRC[0], SRC[1]
    h = Health().after(a, NO, 100.0, 0.5).after(a, NO, 100.0, 0.5).after(b, Answer(X), 100.0, 0.5)
    assert h.of(a) == SourceHealth(2, 160.0) and h.of(b) == SourceHealth()
    assert h.backed_off(a, 159.9) and not h.backed_off(a, 160.0) and not h.backed_off(b, 100.0)
    assert h.after(a, Answer(X), 200.0, 0.5).of(a) == SourceHealth(0, 0.0)
    assert Health().of(a) == SourceHealth() and h.of(SRC[2]) == SourceHealth()  # never heard of: healthy


# ------------------------------------------------------------------ the round's shell, with canned sources


def test_ask_keeps_to_its_budget_and_backs_off_failing_sources():
    now = [0.0]
    answers = {"http://a/": NO, "http://b/": Answer(X), "dns://c/n": Answer(X), "exec:d": Answer(X)}
    asked = []

    def fake(source, family, device, timeout):
        asked.append((source.text, timeout))
        now[0] += 1.5
        return answers[source.text]

    out, health = echo.ask(SRC, 4, "wan0", 2, Health(), clock=lambda: now[0], rand=lambda: 0.5, asker=fake)
    assert out.address == X and [a for a, _ in asked] == ["http://a/", "http://b/", "dns://c/n"]
    assert asked[0][1] == echo.TIMEOUTS["http"] and health.of(SRC[0]).failures == 1
    asked.clear()
    out, _ = echo.ask(SRC, 4, "wan0", 2, health, clock=lambda: now[0], rand=lambda: 0.5, asker=fake)
    assert [a for a, _ in asked] == ["http://b/", "dns://c/n"]  # a is backed off
    # a budget too short for everyone: the round ends, and says why
    asked.clear()
    answers["http://b/"] = NO
    out, _ = echo.ask(SRC, 4, None, 2, Health(), budget=3.5, clock=lambda: now[0], rand=lambda: 0.5, asker=fake)
    assert [a for a, _ in asked] == ["http://a/", "http://b/", "dns://c/n"] and asked[-1][1] == pytest.approx(0.5)
    assert out.address is None and "the round ran out of time" in out.reason


# ------------------------------------------------------------------ I/O on this machine only (loopback, local commands)


def test_exec_source_runs_the_command_with_the_family_in_its_environment():
    s = parse_source('exec:[ "$DDNS_EDGE_FAMILY" = 4 ] && echo "203.0.113.5 40000 192.0.2.22 22" || echo 2001:db8:1::2')
    assert echo.ask_one(s, 4, "wan0", 2) == Answer(X)
    assert echo.ask_one(s, 6, "wan0", 2) == Answer(A("2001:db8:1::2"))
    failing = parse_source("exec:echo password=hunter2 >&2; exit 255")
    assert echo.ask_one(failing, 4, None, 2).rejected == "exited with status 255 (its output is not logged: run it by hand to see why)"


def test_exec_source_answers_when_the_command_exits_though_a_child_holds_stdout():
    """A background child that keeps stdout open (ssh's ControlPersist master) used to make
    the round wait for the end of the output: "did not finish in time" after 5 s, though
    the command had printed its address and exited 0."""
    s = parse_source("exec:sleep 30 & echo 203.0.113.5")
    assert echo.ask_one(s, 4, None, 20) == Answer(X)


def test_exec_source_exit_is_seen_without_a_pidfd_too(monkeypatch):
    """Where the kernel has no pidfd_open (Linux < 5.3) the exit is looked at every 50 ms."""
    monkeypatch.setattr(echo, "_pidfd", lambda pid: None)
    assert echo.ask_one(parse_source("exec:sleep 30 & echo 203.0.113.5"), 4, None, 20) == Answer(X)
    assert echo.ask_one(parse_source("exec:exit 3"), 4, None, 20).rejected.startswith("exited with status 3")


def test_exec_source_is_killed_at_its_timeout_with_what_it_started(tmp_path):
    pidfile = tmp_path / "pid"
    s = parse_source(f"exec:sleep 30 & echo $! > {pidfile}; sleep 30; echo 203.0.113.5")
    assert echo.ask_one(s, 4, None, 0.3).rejected == "did not finish in time"
    child = int(pidfile.read_text())

    def gone():
        try:
            with open(f"/proc/{child}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except FileNotFoundError:
            return True

    deadline = time.monotonic() + 10
    while not gone() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(), "the command's background child was left running"


def test_exec_source_output_is_cut_off():
    # `yes` never ends: only the cut-off gives this answer (else: "did not finish in time")
    assert echo.ask_one(parse_source("exec:yes 203.0.113.5"), 4, None, 2).rejected == "printed more than 4096 bytes"


class _Loopback:
    """A TCP server on 127.0.0.1 that answers every connection with `send(conn)`."""

    def __init__(self, send):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.send = send
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                try:
                    self.send(conn)
                except OSError:
                    pass

    def close(self):
        self.sock.close()


@pytest.mark.parametrize(
    "send, want",
    [
        (lambda c: c.sendall(http()), "203.0.113.5"),
        (lambda c: c.sendall(http(b"<html>203.0.113.5</html>", headers=("Content-Type: text/html",))), "an HTML page"),
        # 10 MB without a length: cut off after a few KiB, not read (else it would parse)
        (lambda c: [c.sendall(http(length=False)[:-12])] + [c.sendall(b"203.0.113.5\n" * 1000) for _ in range(850)], "larger than 4096 bytes"),
        # a drip, a byte every 0.3 s: the whole answer must come within the 2 s timeout
        # (read to the end, it would give the address)
        (lambda c: [c.sendall(bytes([b])) or time.sleep(0.3) for b in http()], "no answer within"),
    ],
    ids=["plain", "html", "10 MB", "drip"],
)
def test_http_source_on_loopback(send, want):
    server = _Loopback(send)
    try:
        answer = echo.ask_one(parse_source(f"http://127.0.0.1:{server.port}/ip"), 4, None, 2.0)
        check_answer(answer, want)
    finally:
        server.close()


def test_unreachable_sources_are_rejections_not_exceptions():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    assert echo.ask_one(parse_source(f"http://127.0.0.1:{port}/"), 4, None, 1).rejected == "Connection refused"
    assert "not an IPv6 address" in echo.ask_one(parse_source("http://127.0.0.1/"), 6, None, 1).rejected


def test_a_round_stops_at_no_route_and_the_source_keeps_its_health():
    rnd = Round(SRC, 4, 2)
    first = rnd.next()
    rnd.add(first, Answer(None, "Network is unreachable", no_route=True))
    assert rnd.next() is None and rnd.outcome().no_route
    h = Health().after(first, Answer(None, "Network is unreachable", no_route=True), 100.0, 0.5)
    assert h.of(first) == SourceHealth()
