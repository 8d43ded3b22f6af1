"""Integration tests in network namespaces: the gate, and the `world` fixtures.

The gate (for tests marked `netns`, which is everything in this directory):
- they need root, `ip netns`, nftables and bind9; when all is there they run;
- when they cannot run and DDNS_EDGE_SKIP_NETNS=1 is set, they are skipped with the reason;
- otherwise the session stops with the reason and how to fix it;
- with CI set (CI=true), DDNS_EDGE_SKIP_NETNS is ignored: in CI they never skip.

Fixtures: `world` (a fresh World with BIND serving example.com, per test), `module_world`
(the same, shared by a module: restore what you change), `make_world(**start_bind_kwargs)`
(worlds with other zones, keys or policies; `start_bind=False` for none; `wan=` names the link).
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tools.netns.world import World, missing_tools


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _cannot_run() -> str | None:
    """Why the netns tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return f"they need root (running as uid {os.geteuid()})"
    missing = missing_tools()
    if missing:
        return (f"missing {', '.join(missing)} "
                "(apt-get install bind9 bind9-dnsutils nftables iproute2, or run `make test`)")
    probe = World().name + "-probe"
    proc = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if proc.returncode != 0:
        return f"`ip netns add` fails: {proc.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


@pytest.hookimpl(trylast=True)  # after `-m` deselected what it would
def pytest_collection_modifyitems(config, items):
    netns_items = [item for item in items if item.get_closest_marker("netns")]
    if not netns_items:
        return
    problem = _cannot_run()
    if problem is None:
        return
    if _in_ci():
        pytest.exit(f"CI is set, and the netns integration tests cannot run: {problem}. "
                    "In CI they are never skipped.", returncode=1)
    if os.environ.get("DDNS_EDGE_SKIP_NETNS") == "1":
        for item in netns_items:
            item.add_marker(pytest.mark.skip(reason=f"skipped (DDNS_EDGE_SKIP_NETNS=1): {problem}"))
        return
    pytest.exit(f"the netns integration tests cannot run: {problem}. Run the tests as root "
                "(sudo make test), or set DDNS_EDGE_SKIP_NETNS=1 to skip them.", returncode=1)


@pytest.fixture(scope="session", autouse=True)
def _sweep_stale_worlds():
    """Remove worlds left by test runs that were killed (their pid is dead)."""
    World.sweep()


@pytest.fixture
def world():
    with World() as w:
        w.start_bind()
        yield w


@pytest.fixture(scope="module")
def module_world():
    with World() as w:
        w.start_bind()
        yield w


@pytest.fixture
def make_world():
    worlds: list[World] = []

    def make(*, wan: str = "wan0", start_bind: bool = True, **bind_kwargs) -> World:
        w = World(wan=wan)
        worlds.append(w)
        w.build()
        if start_bind:
            w.start_bind(**bind_kwargs)
        return w

    yield make
    for w in worlds:
        w.close()
