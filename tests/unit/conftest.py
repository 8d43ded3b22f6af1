"""Shared fixtures of the unit tests."""

import logging

import pytest

from ddns_edge import report


@pytest.fixture
def oplog(caplog):
    """What ddns-edge told the operator (its logger does not propagate once set up)."""
    propagate = report.log.propagate
    report.log.propagate = False  # as after report.setup(): each line once
    report.log.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG, logger=report.log.name)
    yield caplog
    report.log.removeHandler(caplog.handler)
    report.log.propagate = propagate
