"""report.Once: a line once per subject at its level, then quietly; the one way to keep quiet."""

import logging

import pytest

from ddns_edge import report

ERR, INF, DBG = logging.ERROR, logging.INFO, logging.DEBUG


def once():
    said = []
    return report.Once(lambda level, line: said.append((level, line))), said


@pytest.mark.parametrize(
    "calls, want",
    [
        # the same line for the same subject: said once, then at the again level
        ([("say", ERR, "x", ("s",), {})] * 3, [(ERR, "x"), (DBG, "x"), (DBG, "x")]),
        # again text and level
        ([("say", ERR, "x 1", ("s",), {"same": "x #", "again": "still: x 2", "again_level": INF})] * 2,
         [(ERR, "x 1"), (INF, "still: x 2")]),
        # what counts as the same: `same`, not the text
        ([("say", ERR, "x 1", ("s",), {"same": "x #"}), ("say", ERR, "x 2", ("s",), {"same": "x #"})], [(ERR, "x 1"), (DBG, "x 2")]),
        # again_level None: not at all
        ([("say", ERR, "x", ("s",), {"again_level": None})] * 2, [(ERR, "x")]),
        # a different line is news
        ([("say", ERR, "x", ("s",), {}), ("say", ERR, "y", ("s",), {})], [(ERR, "x"), (ERR, "y")]),
        # subjects are apart
        ([("say", ERR, "x", ("s",), {}), ("say", ERR, "x", ("t",), {})], [(ERR, "x"), (ERR, "x")]),
        # several subjects: quiet only when every one was told the same
        ([("say", ERR, "x", ("s",), {}), ("say", ERR, "x", ("s", "t"), {}), ("say", ERR, "x", ("s", "t"), {})],
         [(ERR, "x"), (ERR, "x"), (DBG, "x")]),
        # forgetting makes the next one news again
        ([("say", ERR, "x", ("s",), {}), ("forget", "s"), ("say", ERR, "x", ("s",), {})], [(ERR, "x"), (ERR, "x")]),
        # no subject: always said
        ([("say", INF, "x", (), {})] * 2, [(INF, "x"), (INF, "x")]),
    ],
)
def test_once(calls, want):
    o, said = once()
    for call in calls:
        if call[0] == "forget":
            o.forget(call[1])
        else:
            _, level, text, subjects, kw = call
            o.say(level, text, *subjects, **kw)
    assert said == want


def test_say_and_forget_tell_whether_it_was_news():
    o, _ = once()
    assert o.say(ERR, "x", "s") is True and o.say(ERR, "x", "s") is False
    assert o.forget("s") is True and o.forget("s") is False


def test_the_default_sink_is_the_log(oplog):
    report.Once().say(logging.WARNING, "100% sure: %s is literal", "s")
    assert [(r.levelno, r.getMessage()) for r in oplog.records] == [(logging.WARNING, "100% sure: %s is literal")]
