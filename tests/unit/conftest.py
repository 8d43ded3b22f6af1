"""Shared fixtures of the unit tests."""

import logging
import signal

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


@pytest.fixture
def hang_guard():
    """For tests of what used to block for good (a FIFO opened for reading, a pipe held
    open): a call still blocked after 60 s fails the test instead of hanging the run.
    Nothing is asserted of time; this only ends a hang."""
    def on_alarm(signum, frame):
        raise AssertionError("still blocked after 60 s: it would hang for good")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(60)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
