"""OpenWrt's real management stack (ubusd, procd, rpcd, uhttpd, LuCI) for the tests, via stack.sh.

The stack is not part of this repository: $DDNS_EDGE_OPENWRT_WEB names a directory whose
stack.sh builds OpenWrt's daemons from their sources into PREFIX/rootfs and runs them in a
private namespace, chrooted there (the interface it must provide is in tests/openwrt's
docstring and in the README). Here it runs inside a network namespace of the test's own
(the router of a netns World), so its uhttpd port and everything the agent sends stay in
that namespace.

ddns-edge runs inside as it would on a router: the project's procd init script as
/etc/init.d/ddns-edge, the LuCI app copied the way luci.mk installs it, and
/usr/bin/ddns-edge the test venv's console script (the venv, its interpreter and the
checkout are bind-mounted read-only at their own paths).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

from tools.netns import agentlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INIT = os.path.join(ROOT, "openwrt", "files", "ddns-edge.init")
DEFAULT_CONFIG = os.path.join(ROOT, "openwrt", "files", "ddns-edge.config")
APP = os.path.join(ROOT, "openwrt", "luci-app-ddns-edge")
AGENT_USER = "ddns-edge"


def stack_dir() -> str | None:
    """The directory that provides the stack ($DDNS_EDGE_OPENWRT_WEB), or None when none is given."""
    return os.environ.get("DDNS_EDGE_OPENWRT_WEB") or None


class StackError(Exception):
    pass


class Stack:
    """One stack: build() once, start() in a network namespace, exec() inside, close()."""

    def __init__(self, netns: str | None, port: int, prefix: str | None = None, log=None):
        self.script = os.path.join(stack_dir() or "", "stack.sh")
        self.netns = netns
        self.port = port
        self.keep = prefix is not None  # a prefix given by the developer is reused, never removed
        self.prefix = prefix or tempfile.mkdtemp(prefix="ddns-edge-owrt-", dir="/tmp")
        self.log = log or open(os.path.join(self.prefix, "tests.log"), "a")
        self.started = False

    @property
    def rootfs(self) -> str:
        return os.path.join(self.prefix, "rootfs")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _sh(self, *args: str, netns: bool = False, timeout: float = 600) -> None:
        cmd = ["bash", self.script, *args]
        if netns and self.netns:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        self.log.write(f"$ {shlex.join(cmd)}\n")
        self.log.flush()
        proc = subprocess.run(cmd, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout)
        if proc.returncode != 0:
            raise StackError(f"stack.sh {args[0]} failed (exit {proc.returncode}); see {self.log.name}")

    def build(self) -> None:
        self._sh("build", self.prefix, timeout=1800)

    def install_app(self, path: str = APP) -> None:
        self._sh("install-app", self.prefix, path)

    def install_agent(self, config: str = DEFAULT_CONFIG) -> None:
        """The init script, a config (mode 0600, as the package installs it) and the agent."""
        venv = sys.prefix
        launcher = os.path.join(venv, "bin", "ddns-edge")
        base_python = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
        self._sh("install-service", self.prefix, "ddns-edge", INIT, config, f"{launcher}=/usr/bin/ddns-edge",
                 "--user", AGENT_USER, f"--python={base_python}", "--bind", venv, "--bind", ROOT)
        os.chmod(os.path.join(self.rootfs, "etc", "config", "ddns-edge"), 0o600)

    def start(self) -> None:
        self._sh("start", self.prefix, str(self.port), netns=True, timeout=120)
        self.started = True

    def stop(self) -> None:
        if self.started:
            self._sh("stop", self.prefix, timeout=120)
            self.started = False

    def close(self) -> None:
        try:
            self.stop()
        finally:
            if not self.keep:
                shutil.rmtree(self.prefix, ignore_errors=True)

    # -- inside ----------------------------------------------------------------------------

    def exec(self, *args: str, input: str | None = None, check: bool = False, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run a command inside the stack (its mounts, pids and root; this network namespace)."""
        cmd = ["bash", self.script, "exec", self.prefix, *args]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise StackError(f"{shlex.join(args)}: exit {proc.returncode}: {proc.stdout}{proc.stderr}")
        return proc

    def sh(self, script: str, check: bool = False) -> subprocess.CompletedProcess:
        return self.exec("sh", "-c", script, check=check)

    def ubus(self, obj: str, method: str, args: dict | None = None) -> dict:
        proc = self.exec("ubus", "call", obj, method, json.dumps(args or {}), check=True)
        return json.loads(proc.stdout) if proc.stdout.strip() else {}

    def instance(self, name: str = "ddns-edge") -> dict:
        """procd's view of the service's instance ({} when it has none)."""
        services = self.ubus("service", "list", {"name": name})
        return services.get(name, {}).get("instances", {}).get("instance1", {})

    def running_pid(self, name: str = "ddns-edge") -> int | None:
        inst = self.instance(name)
        return inst.get("pid") if inst.get("running") else None

    def uci_show(self, config: str = "ddns-edge") -> str:
        return self.exec("uci", "show", config, check=True).stdout

    def logread(self) -> str:
        return self.exec("logread").stdout

    def write_config(self, text: str, name: str = "ddns-edge") -> None:
        """Replace /etc/config/NAME (mode 0600) from outside, as an editor would."""
        path = os.path.join(self.rootfs, "etc", "config", name)
        fd = os.open(path + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(path + ".new", path)

    def add_login(self, user: str, password: str, read: list[str], write: list[str]) -> None:
        """An rpcd login (LuCI user) with its own password and ACL groups."""
        hashed = subprocess.run(["openssl", "passwd", "-5", password], capture_output=True, text=True, check=True).stdout.strip()
        lines = ["config login", f"\toption username '{user}'", f"\toption password '{hashed}'"]
        lines += [f"\tlist read '{g}'" for g in read] + [f"\tlist write '{g}'" for g in write]
        path = os.path.join(self.rootfs, "etc", "config", "rpcd")
        with open(path) as f:
            if f"option username '{user}'" in f.read():
                return
        with open(path, "a") as f:
            f.write("\n" + "\n".join(lines) + "\n")


def wait_for(predicate, timeout: float = 60, what: str = "the outcome", interval: float = 0.2):
    """agentlib.wait_for with the stack's pace: procd, rpcd and a browser take seconds."""
    return agentlib.wait_for(predicate, timeout, what, interval)
