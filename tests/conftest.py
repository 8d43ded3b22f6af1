"""Shared test configuration: everything under tests/netns is marked `netns`.

tests/netns/conftest.py decides whether those tests run, are skipped, or fail the session.
"""

from pathlib import Path

import pytest

NETNS_DIR = Path(__file__).parent / "netns"


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by mark
def pytest_collection_modifyitems(items):
    for item in items:
        if NETNS_DIR in item.path.parents:
            item.add_marker(pytest.mark.netns)
