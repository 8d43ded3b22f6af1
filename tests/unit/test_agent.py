"""The shell of `run` (agent.Loop) without the kernel: what it does with what the schedule says.

The schedule's rules have their own tests (test_schedule.py); the netns tests run the whole
loop against the kernel and BIND. Here: a plan is done and fed back, one step at a time
until a plan is empty; a failing echo round or sync (a bug, an exception) must not end the
daemon: it is a failure that is backed off, and the state file says so."""

import ipaddress
import json

from ddns_edge import config
from ddns_edge.agent import Loop
from ddns_edge.model import Address, Agreement, Device, Outcome
from ddns_edge.phases import BackingOff

S256 = "Wi28mLDG6l5YrDIg27zPh5tvG2jWR4GBt1Sq3WUUop8="


def loop(tmp_path, device_address, ask, sync):
    text = (f"config agent\n\toption state_dir '{tmp_path}'\n\tlist echo 'http://192.0.2.80/ip'\n"
            f"config key 'home'\n\toption secret '{S256}'\n"
            "config record 'www'\n\toption name 'www.example.com'\n\toption device 'wan0'\n")
    lp = Loop(config.parse(text, str(tmp_path / "c")), str(tmp_path / "c"), ask=ask, sync=sync)
    wan = Device("wan0", True, (Address(ipaddress.ip_address(device_address), 24),))
    lp.schedule.start({"wan0": wan}, 0.0)
    return lp


def settle(lp):
    """Step until a plan is empty, as the loop does before it sleeps; the number of steps."""
    for n in range(1, 20):
        if not lp._step():
            return n
    raise AssertionError("the plans never ended")


def boom(*args, **kw):
    raise ZeroDivisionError("a bug")


def test_an_echo_round_that_raises_is_a_round_without_agreement(tmp_path, oplog):
    lp = loop(tmp_path, "100.64.0.2", boom, boom)
    lp._step()
    check = lp.schedule.echoes.checks[(4, "wan0")]
    assert check.failures == 1 and check.result.address is None and "the echo round failed unexpectedly" in check.result.reason
    assert "echo round failed unexpectedly: ZeroDivisionError: a bug" in oplog.text


def test_a_sync_that_raises_is_a_failure_backed_off_and_written(tmp_path, oplog):
    lp = loop(tmp_path, "198.51.100.2", boom, boom)
    settle(lp)
    (track,) = lp.schedule.tracks.values()
    assert track.failures == 1 and isinstance(track.phase, BackingOff)
    assert "update round failed unexpectedly: ZeroDivisionError: a bug" in oplog.text
    (row,) = json.loads((tmp_path / "state.json").read_text())["records"]
    assert row["last_error"] == "unexpected error (see log)" and row["next_retry"] is not None


def test_what_is_due_is_done_and_fed_back(tmp_path, oplog):
    asked, synced = [], []

    def ask(sources, family, device, quorum, health):
        asked.append((family, device, [s.text for s in sources], quorum))
        return Agreement(ipaddress.ip_address("203.0.113.5"), "from http://192.0.2.80/ip"), health

    def sync(cfg, wanted, targets, timeout):
        synced.append({r.name: str(w.address) for r, w in wanted.items()})
        assert timeout(list(wanted)) == 5.0  # no failure yet: the first exchange timeout
        return {r: Outcome(w.address, True) for r, w in wanted.items()}

    lp = loop(tmp_path, "100.64.0.2", ask, sync)
    assert settle(lp) == 4  # the echo round; the sync; the state file; nothing
    assert asked == [(4, "wan0", ["http://192.0.2.80/ip"], 1)]
    assert synced == [{"www.example.com": "203.0.113.5"}]
    (row,) = json.loads((tmp_path / "state.json").read_text())["records"]
    assert row["address"] == "203.0.113.5" and row["source"] == "echo"
    assert "echo over IPv4 via wan0: 203.0.113.5 (from http://192.0.2.80/ip); next check in 300 s" in oplog.text  # the plan's lines
