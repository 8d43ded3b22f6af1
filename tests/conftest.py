"""Shared test configuration: everything under tests/netns is marked `netns`.

tests/netns/conftest.py decides whether those tests run, are skipped, or fail the session.
"""

import platform
from importlib import metadata
from pathlib import Path

import pytest

NETNS_DIR = Path(__file__).parent / "netns"


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by mark
def pytest_collection_modifyitems(items):
    for item in items:
        if NETNS_DIR in item.path.parents:
            item.add_marker(pytest.mark.netns)


def pytest_report_header(config):
    """Which end of the tested versions this run is (make test runs the floor and the newest)."""
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in ("dnspython", "pyroute2"))
    return f"ddns-edge's dependencies: Python {platform.python_version()}, {versions}"
