"""The gate for tests/openwrt (all marked `openwrt`), and the `owrt` fixture.

The gate:
- without $DDNS_EDGE_OPENWRT_WEB (as in CI, which has no OpenWrt stack) they are skipped,
  with one line that says why and how to run them (see tests/openwrt/__init__.py);
- with it, they need root, $DDNS_EDGE_OPENWRT_WEB/stack.sh, chromium and what the netns
  world needs (ip, named); when something is missing and DDNS_EDGE_SKIP_OPENWRT=1 is set,
  they are skipped with the reason; otherwise (and always with CI set) the session stops
  with the reason and how to fix it.

The `owrt` fixture (one per session): a netns World with BIND serving example.com; the stack
built under a fresh /tmp/ddns-edge-owrt-* prefix (removed afterwards), with luci-app-ddns-edge
and the ddns-edge service installed and enabled (the default config: no record enabled, so
nothing runs), started in the world's router namespace with uhttpd on 127.0.0.1:OWRT_PORT.
DDNS_EDGE_OPENWRT_PREFIX=/path reuses (and keeps) a prefix, to save the build while developing.
Screenshots and the stack's logs go to $DDNS_EDGE_ARTIFACTS (default test-artifacts/openwrt).
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tools.netns.world import World, missing_tools
from tests.openwrt.cdp import chromium_binary
from tests.openwrt.stack import ROOT, Stack, stack_dir

OWRT_PORT = 8015  # inside the router's own network namespace: nothing else listens there
HERE = os.path.dirname(os.path.abspath(__file__))


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


NO_STACK = ("no OpenWrt stack (DDNS_EDGE_OPENWRT_WEB is not set): to run them, build OpenWrt's daemons into a "
            "directory whose stack.sh provides the interface in tests/openwrt/__init__.py (and the README), then "
            "DDNS_EDGE_OPENWRT_WEB=/that/dir make test")


def _cannot_run() -> str | None:
    if os.geteuid() != 0:
        return f"they need root (running as uid {os.geteuid()})"
    stack = os.path.join(stack_dir() or "", "stack.sh")
    if not os.path.isfile(stack):
        return f"DDNS_EDGE_OPENWRT_WEB is set, but {stack} is not a file"
    missing = [] if chromium_binary() else ["chromium"]
    missing += missing_tools()
    if missing:
        return f"missing {', '.join(missing)} (run `make test`, which installs them)"
    return None


def pytest_configure(config):
    config.addinivalue_line("markers", "openwrt: needs root, an OpenWrt stack ($DDNS_EDGE_OPENWRT_WEB) and chromium")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    mine = [item for item in items if HERE in str(item.path)]
    for item in mine:
        item.add_marker(pytest.mark.openwrt)
    if not mine or stack_dir() is None:
        config.stash[_SKIPPED] = len(mine)  # _no_stack below skips them, from one place
        return
    problem = _cannot_run()
    if problem is None:
        return
    if _in_ci():
        pytest.exit(f"CI is set, and the OpenWrt stack tests cannot run: {problem}. In CI they are never skipped.", returncode=1)
    if os.environ.get("DDNS_EDGE_SKIP_OPENWRT") == "1":
        for item in mine:
            item.add_marker(pytest.mark.skip(reason=f"skipped (DDNS_EDGE_SKIP_OPENWRT=1): {problem}"))
        return
    pytest.exit(f"the OpenWrt stack tests cannot run: {problem}. Set DDNS_EDGE_SKIP_OPENWRT=1 to skip them.", returncode=1)


_SKIPPED = pytest.StashKey[int]()


@pytest.fixture(scope="session", autouse=True)
def _no_stack():
    """Skips every test here when no stack is given: one reason, raised from one place."""
    if stack_dir() is None:
        pytest.skip(NO_STACK)


def pytest_terminal_summary(terminalreporter, config):
    count = config.stash.get(_SKIPPED, 0)
    if count:
        terminalreporter.write_line(f"tests/openwrt: {count} tests skipped: {NO_STACK}")


@pytest.fixture(scope="session")
def artifacts() -> str:
    path = os.environ.get("DDNS_EDGE_ARTIFACTS") or os.path.join(ROOT, "test-artifacts", "openwrt")
    os.makedirs(path, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def owrt(artifacts):
    """(world, stack): the stack running in the world's router namespace, the agent installed."""
    with World() as world:
        world.start_bind()
        stack = Stack(world.rtr_ns, OWRT_PORT, prefix=os.environ.get("DDNS_EDGE_OPENWRT_PREFIX") or None,
                      log=open(os.path.join(artifacts, "stack.log"), "w"))
        try:
            stack.build()
            stack.install_app()
            stack.install_agent()
            stack.add_login("viewer", "viewer-pw", read=["*"], write=[])
            stack.start()
            stack.exec("/etc/init.d/ddns-edge", "enable", check=True)
            yield world, stack
        finally:
            try:
                with open(os.path.join(artifacts, "logread.txt"), "w") as f:
                    f.write(stack.logread() if stack.started else "")
            except (OSError, subprocess.SubprocessError):
                pass
            stack.close()
