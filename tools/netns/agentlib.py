"""Helpers for running ddns-edge inside the world as a user would: a config file, the command.

`write_config()` writes a uci config for records on the world's BIND; `ddns_edge()` runs one
command in the router namespace; `Daemon` runs `ddns-edge run` there and reads its log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

EXE = os.path.join(os.path.dirname(sys.executable), "ddns-edge")


def record(section, name="www.example.com", rtype="A", device="wan0", **options):
    lines = [f"config record '{section}'", f"\toption name '{name}'", f"\toption type '{rtype}'"]
    if device:
        lines.append(f"\toption device '{device}'")
    lines += [f"\toption {k} '{v}'" for k, v in options.items()]
    return "\n".join(lines) + "\n"


def write_config(path, world, *records, secret=None, key_file=None, agent=None, mode=0o600) -> str:
    """A config with one key (inline secret by default, or `key_file`) and `records`."""
    text = ""
    if agent is not None:
        text += "config agent 'agent'\n" + "".join(f"\toption {k} '{v}'\n" for k, v in agent.items()) + "\n"
    text += f"config key 'home'\n\toption name '{world.key_name}'\n"
    if key_file:
        text += f"\toption file '{key_file}'\n"
    else:
        text += f"\toption algorithm '{world.key_algorithm}'\n\toption secret '{secret or world.key_secret}'\n"
    text += "\n" + "\n".join(records or [record("www")])
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return str(path)


def ddns_edge(world, config, *args, timeout=60) -> subprocess.CompletedProcess:
    """`ddns-edge -c CONFIG ARGS` in the router namespace; output captured."""
    return world.exec([EXE, "-c", str(config), *args], timeout=timeout)


def wait_for(predicate, timeout=15.0, what="condition", interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Daemon:
    """`ddns-edge run` in the router namespace, its stderr in a file."""

    def __init__(self, world, config, *args, env=None, exe=None):
        self.world = world
        self.log_path = os.path.join(world.dir, f"agent-{time.monotonic_ns()}.log")
        self._log = open(self.log_path, "w")
        full_env = dict(os.environ, **(env or {}))
        self.proc = world.popen([exe or EXE, "-c", str(config), *args, "run"], stdout=self._log, stderr=subprocess.STDOUT, env=full_env)

    def log(self) -> str:
        with open(self.log_path) as f:
            return f.read()

    def wait_log(self, text, timeout=15.0, count=1) -> str:
        wait_for(lambda: self.log().count(text) >= count or self._dead(), timeout, f"{text!r} in the agent's log")
        assert self.proc.poll() is None, f"agent exited with {self.proc.returncode}:\n{self.log()}"
        return self.log()

    def _dead(self) -> bool:
        return self.proc.poll() is not None

    def signal(self, signum) -> None:
        # `ip netns exec` execs the command: the pid is the agent's own
        self.proc.send_signal(signum)

    def stop(self, timeout=10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        self.stop()
        if kind is not None:  # a failing test shows what the agent said (pytest prints captured output)
            print(f"--- agent log ({self.log_path}) ---\n{self.log()[-4000:]}")


def wait_dig(world, name, rtype, want, timeout=15.0):
    """Wait until BIND answers exactly `want` (a list) for name/type."""
    return wait_for(lambda: world.dig(name, rtype) == want, timeout, f"{name} {rtype} = {want} at BIND")
