"""The state file: rendering, atomic writes, and broken or unwritable files."""

import json
import re
import os

import pytest

from ddns_edge import state

RECORD = {"name": "www.example.com", "type": "A", "address": "198.51.100.2", "source": "interface wan0", "changed_at": 0.0, "confirmed_at": 60.0}


def test_render_and_read_back(tmp_path):
    sf = state.StateFile(str(tmp_path / "st"))
    assert sf.write(state.render([RECORD], 120.0))
    data = state.read(str(tmp_path / "st"))
    (r,) = data["records"]
    assert r["address"] == "198.51.100.2" and r["changed_at"] == "1970-01-01T00:00:00Z" and r["last_error"] is None
    assert data["written_at"] == "1970-01-01T00:02:00Z"
    assert os.listdir(tmp_path / "st") == ["state.json"]  # the temporary file was renamed over it
    assert "www.example.com A: 198.51.100.2 (from interface wan0)" in state.format_table(data)


@pytest.mark.parametrize("content", [b"", b"{not json", b"[]", b'{"records": 3}', b"\xff\xfe garbage"])
def test_a_broken_state_file_is_said_ignored_and_rebuilt(tmp_path, oplog, content):
    (tmp_path / "state.json").write_bytes(content)
    sf = state.StateFile(str(tmp_path))
    assert "is unusable" in oplog.text and "ignored, a new one will be written" in oplog.text
    assert sf.write(state.render([RECORD], 0.0))
    assert json.loads((tmp_path / "state.json").read_text())["records"][0]["name"] == "www.example.com"


def test_an_unreadable_state_file_is_said_and_ignored(tmp_path, oplog):
    (tmp_path / "state.json").mkdir()  # unreadable as a file, even for root
    state.StateFile(str(tmp_path))
    assert "is unusable" in oplog.text


def test_an_unwritable_state_dir_is_said_once(tmp_path, oplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    sf = state.StateFile(str(blocker / "st"))  # a path through a regular file: ENOTDIR
    assert not sf.write("{}")
    assert not sf.write("{}")
    assert oplog.text.count("not written") == 1
    assert not list(tmp_path.glob("**/*.tmp"))


def test_format_table_shows_errors_and_retries():
    data = json.loads(state.render([dict(RECORD, address=None, last_error="www.example.com A: no answer", error_at=10.0, failures=3, next_retry=20.0)], 0.0))
    text = state.format_table(data)
    assert "not set by this agent" in text and "last error 1970-01-01T00:00:10Z: www.example.com A: no answer" in text
    assert "3 failure(s) in a row; next retry 1970-01-01T00:00:20Z" in text


def test_a_link_planted_at_a_temporary_name_is_never_followed(tmp_path):
    """The temporary name used to be state.json.<pid>.tmp, and a link planted there made the
    agent (often root) overwrite the link's target. Now it is created with O_EXCL and
    O_NOFOLLOW under a name no one can guess."""
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    st = tmp_path / "st"
    st.mkdir()
    for pid in (os.getpid(), os.getpid() + 1):
        (st / f"state.json.{pid}.tmp").symlink_to(victim)
    assert state.StateFile(str(st)).write(state.render([RECORD], 0.0))
    assert victim.read_text() == "precious\n"
    assert not (st / "state.json").is_symlink() and json.loads((st / "state.json").read_text())["records"][0]["name"] == "www.example.com"
    assert sorted(p.name for p in st.iterdir() if not p.is_symlink()) == ["state.json"]  # no temporary file left


def test_a_link_at_state_json_is_neither_read_nor_written_through(tmp_path, oplog):
    victim = tmp_path / "victim.json"
    victim.write_text(state.render([RECORD], 0.0))
    st = tmp_path / "st"
    st.mkdir()
    (st / "state.json").symlink_to(victim)
    with pytest.raises(ValueError, match="a symbolic link, which is never followed"):
        state.read(str(st))  # `status`
    sf = state.StateFile(str(st))  # `run`
    assert "a symbolic link" in oplog.text and "ignored, a new one will be written" in oplog.text
    assert sf.write(state.render([dict(RECORD, name="other.example.com")], 0.0))
    assert json.loads(victim.read_text())["records"][0]["name"] == "www.example.com"  # untouched
    assert not (st / "state.json").is_symlink()


@pytest.mark.parametrize("make, why", [
    (lambda p: os.mkfifo(p, 0o600), "not a regular file (a FIFO)"),  # used to hang `status`, and `run` before its first update
    (lambda p: os.symlink("/dev/zero", p), "a symbolic link"),
    (lambda p: p.write_bytes(b" " * (state.MAX_STATE + 1)), "larger than 16 MiB"),
], ids=["fifo", "link to /dev/zero", "17 MB"])
def test_a_state_file_that_is_no_file_is_ignored_at_once_and_rebuilt(tmp_path, oplog, hang_guard, make, why):
    make(tmp_path / "state.json")
    with pytest.raises(ValueError, match=re.escape(why)):
        state.read(str(tmp_path))
    sf = state.StateFile(str(tmp_path))
    assert why in oplog.text
    assert sf.write(state.render([RECORD], 0.0))
    assert json.loads((tmp_path / "state.json").read_text())["records"][0]["name"] == "www.example.com"


def test_the_echo_of_a_record_is_written_and_shown():
    row = {"name": "www.example.com", "type": "A", "address": "203.0.113.5", "source": "echo",
           "echo": {"address": "203.0.113.5", "agreed": ["a", "b"], "reason": "2 of 2 echo sources agree: a, b", "at": 60.0}}
    data = json.loads(state.render([row], 120.0))
    assert data["records"][0]["echo"] == {"address": "203.0.113.5", "agreed": ["a", "b"],
                                          "reason": "2 of 2 echo sources agree: a, b", "at": "1970-01-01T00:01:00Z"}
    assert "    echo 1970-01-01T00:01:00Z: 203.0.113.5 (2 of 2 echo sources agree: a, b)" in state.format_table(data)


def test_a_record_of_several_wans_says_which_one_and_why():
    wans = {"policy": "failover", "wans": ["wan", "wanb"], "choice": "network wanb (failover, backup)",
            "why": "wan (wan0) offline (mwan3: offline); wanb (wan1) online (mwan3: online)"}
    data = json.loads(state.render([dict(RECORD, address="203.0.113.2", source="network wanb (failover, backup)", wans=wans)], 0.0))
    assert data["records"][0]["wans"] == wans
    text = state.format_table(data)
    assert "www.example.com A: 203.0.113.2 (from network wanb (failover, backup))" in text
    assert ("    WANs (failover): network wanb (failover, backup): wan (wan0) offline (mwan3: offline); "
            "wanb (wan1) online (mwan3: online)") in text
    assert json.loads(state.render([RECORD], 0.0))["records"][0]["wans"] is None
