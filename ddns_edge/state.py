"""The agent's state file: what each record holds, since when, from where, and the last error.

Written atomically (a temporary file renamed over the old one) in state_dir, which on
OpenWrt is tmpfs, so no flash wear. A state_dir that is full or read-only never stops
updates: the failure is logged once and the agent goes on.

Whoever else may write in state_dir cannot turn a write into one of theirs: the temporary
file is created with O_EXCL and O_NOFOLLOW under a name no one can guess (never an
existing file or a link planted there), and the rename replaces whatever is at state.json,
a link included, without following it. Reading (`status`, and `run` at start) takes
state.json only as a regular file, not through a link, never blocking on a FIFO, at
most MAX_STATE bytes; anything else is ignored by `run` and rebuilt.
"""

from __future__ import annotations

import json
import logging
import os
import time

from ddns_edge import files, report

FILENAME = "state.json"
VERSION = 1
MAX_STATE = 16 << 20  # bytes: ten thousand records take about 4 MB


def path_in(state_dir: str) -> str:
    return os.path.join(state_dir, FILENAME)


def _iso(t: float | None) -> str | None:
    return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def render(records: list[dict], now: float) -> str:
    """The JSON text of the state file for `records` (dicts with the fields below) (pure)."""
    out = []
    for r in records:
        out.append(
            {
                "name": r["name"],
                "type": r["type"],
                "address": r.get("address"),
                "source": r.get("source"),
                "changed_at": _iso(r.get("changed_at")),
                "confirmed_at": _iso(r.get("confirmed_at")),
                "last_error": r.get("last_error"),
                "error_at": _iso(r.get("error_at")),
                "failures": r.get("failures", 0),
                "next_retry": _iso(r.get("next_retry")),
                "echo": None if not r.get("echo") else {**r["echo"], "at": _iso(r["echo"].get("at"))},
                "wans": r.get("wans"),
            }
        )
    return json.dumps({"version": VERSION, "pid": os.getpid(), "written_at": _iso(now), "records": out}, indent=2) + "\n"


class StateFile:
    """Writes the state file; a failing write is said once (report.Once), and so is its end."""

    def __init__(self, state_dir: str):
        self.path = path_in(state_dir)
        self.state_dir = state_dir
        self.once = report.Once()
        self._say_if_unusable()

    def _say_if_unusable(self) -> None:
        """What an earlier run left is never read back (`run` starts from the kernel and the
        server); a file there that `status` could not read is said now, and rebuilt."""
        try:
            read(self.state_dir)
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e) or type(e).__name__
            report.log.warning("state file %s is unusable (%s); ignored, a new one will be written", self.path, why)

    def write(self, text: str) -> bool:
        tmp = None
        try:
            os.makedirs(self.state_dir, mode=0o755, exist_ok=True)
            tmp, fd = _create_new(self.path)
            with open(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, self.path)  # replaces a link at state.json, never what it points to
        except OSError as e:
            self.once.say(logging.WARNING, f"state file {self.path} not written ({e.strerror or e}); updates go on without it",
                          "write", same="failing", again_level=None)
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
            return False
        if self.once.forget("write"):
            report.log.info("state file %s written again", self.path)
        return True


def _create_new(path: str) -> tuple[str, int]:
    """A new file beside `path` under a name no one can guess, opened for writing: O_EXCL and
    O_NOFOLLOW, so that it is never a file or a link that was there before."""
    for _ in range(100):
        tmp = f"{path}.{os.urandom(6).hex()}.tmp"
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def read(state_dir: str) -> dict:
    """The state file's content; raises OSError or ValueError (files.Unusable: a link, a
    FIFO, too large) when it is missing or broken."""
    data, _ = files.read_regular(path_in(state_dir), MAX_STATE, follow=False)
    data = json.loads(data.decode("utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise ValueError("not a ddns-edge state file")
    return data


def format_table(data: dict) -> str:
    """`ddns-edge status` for people (pure)."""
    lines = [f"state written {data.get('written_at')} by pid {data.get('pid')}"]
    for r in data["records"]:
        head = f"{r.get('name')} {r.get('type')}: {r.get('address') or 'not set by this agent'}"
        if r.get("source"):
            head += f" (from {r['source']})"
        if r.get("changed_at"):
            head += f", changed {r['changed_at']}"
        if r.get("confirmed_at"):
            head += f", confirmed {r['confirmed_at']}"
        lines.append(head)
        echo = r.get("echo")
        if isinstance(echo, dict):
            lines.append(f"    echo {echo.get('at')}: {echo.get('address') or 'no agreement'} ({echo.get('reason')})")
        wans = r.get("wans")
        if isinstance(wans, dict):
            lines.append(f"    WANs ({wans.get('policy')}): {wans.get('choice') or 'not decided yet'}: {wans.get('why') or ''}")
        if r.get("last_error"):
            lines.append(f"    last error {r.get('error_at')}: {r['last_error']}")
            if r.get("next_retry"):
                lines.append(f"    {r.get('failures')} failure(s) in a row; next retry {r['next_retry']}")
    return "\n".join(lines)
