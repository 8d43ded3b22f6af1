"""Shared fixtures of the unit tests."""

import logging

import pytest

from ddns_edge import report


@pytest.fixture
def oplog(caplog):
    """What ddns-edge told the operator (its logger does not propagate once set up)."""
    report.log.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG, logger=report.log.name)
    yield caplog
    report.log.removeHandler(caplog.handler)
