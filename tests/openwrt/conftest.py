"""Tests against OpenWrt's real daemons and LuCI in Chromium: the gate and the `owrt` fixture.

The gate (for every test in this directory, marked `openwrt`):
- they need root, the vendored stack (../shared/vendor/openwrt-web beside the checkout, or
  $DDNS_EDGE_OPENWRT_WEB), chromium, a C toolchain with cmake (stack.sh builds the daemons),
  and what the netns world needs (ip, named);
- when they cannot run and DDNS_EDGE_SKIP_OPENWRT=1 is set, they are skipped with the reason;
- otherwise the session stops with the reason and how to fix it;
- with CI set, DDNS_EDGE_SKIP_OPENWRT is ignored: in CI they never skip.

The `owrt` fixture (one per session): a netns World with BIND serving example.com; the stack
built under a fresh /tmp/ddns-edge-owrt-* prefix (removed afterwards), with luci-app-ddns-edge
and the ddns-edge service installed and enabled (the default config: no record enabled, so
nothing runs), started in the world's router namespace with uhttpd on 127.0.0.1:OWRT_PORT.
DDNS_EDGE_OPENWRT_PREFIX=/path reuses (and keeps) a prefix, to save the build while developing.
Screenshots and the stack's logs go to $DDNS_EDGE_ARTIFACTS (default test-artifacts/openwrt).
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.netns.world import World, missing_tools
from tests.openwrt.cdp import chromium_binary
from tests.openwrt.stack import ROOT, Stack, vendor_dir

OWRT_PORT = 8015  # inside the router's own network namespace: nothing else listens there
HERE = os.path.dirname(os.path.abspath(__file__))


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _cannot_run() -> str | None:
    if os.geteuid() != 0:
        return f"they need root (running as uid {os.geteuid()})"
    stack = os.path.join(vendor_dir(), "stack.sh")
    if not os.path.isfile(stack):
        return (f"no vendored OpenWrt stack at {stack} (copy the shared/vendor/openwrt-web folder "
                "there, or set DDNS_EDGE_OPENWRT_WEB to it)")
    missing = [t for t in ("cmake", "cc", "make", "unshare", "nsenter") if not shutil.which(t)]
    missing += [] if chromium_binary() else ["chromium"]
    missing += missing_tools()
    if missing:
        return f"missing {', '.join(missing)} (run `make test`, which installs them)"
    return None


def pytest_configure(config):
    config.addinivalue_line("markers", "openwrt: needs root, the vendored OpenWrt stack and chromium")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    mine = [item for item in items if HERE in str(item.path)]
    for item in mine:
        item.add_marker(pytest.mark.openwrt)
    if not mine:
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
