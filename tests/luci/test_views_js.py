"""LuCI's own rule for text (STYLE.md), for status.js and config.js as they ship, in Node.js.

markup_everywhere.js runs the views under view_standin.js (our stand-in for the browser's
document and for the parts of LuCI they use: E(), dom.content(), cbi_update_table(),
ui.showModal(), form's textvalue, each making a lone string child innerHTML, as LuCI does)
and feeds markup, <img src=x onerror=alert('FIELD')>, through every field they show: the
state file (each record's fields, the echo's round, the last error), the check, detect, an
rpc error, the read-only config (section types and names, option names and values), a key
name in the grid, a section name in a modal title, keygen's dialog. No element may come from
it, and each payload must be on the page as text. tests/openwrt/test_luci.py does the same
in Chromium against the real LuCI when an OpenWrt stack is given.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.luci.test_validate_js import node

HERE = os.path.dirname(os.path.abspath(__file__))
VIEWS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "openwrt", "luci-app-ddns-edge", "htdocs",
                     "luci-static", "resources", "view", "ddns-edge")


@pytest.fixture(scope="module")
def outcomes() -> dict[str, dict]:
    proc = subprocess.run([node(), os.path.join(HERE, "markup_everywhere.js"), VIEWS], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return {o["scenario"]: o for o in json.loads(proc.stdout)}


SCENARIOS = [
    "status: the state file, a refused check, detect",
    "status: refreshed every 5 s, an accepted check from the status",
    "status, read-only: polled three times, the check kept by the plugin",
    "status: no state, the error, detect rejected",
    "config, read-only: the config without secrets, a refused check",
    "config, read-only: an accepted check",
    "config: a key name in the grid, a section name in a modal title",
    "config: New key, its name, keygen refused, keygen failed, the key shown",
]


def test_every_scenario_ran(outcomes):
    assert sorted(outcomes) == sorted(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_markup_from_outside_is_text_never_an_element(outcomes, scenario):
    o = outcomes[scenario]
    assert "error" not in o, o.get("error")
    assert o["fromMarkup"] == []
    assert [w for w in o["innerHTML"] if "<img" in w] == []  # what reaches innerHTML is escaped, if anything
    assert o["fed"] or o["numbers"], "nothing was fed"
    missing = [f for f in o["fed"] if f"<img src=x onerror=alert('{f}')>" not in o["text"]]
    assert missing == [], "fed but not shown as text"


def test_the_status_view_is_fed_every_field_of_a_record(outcomes):
    fed = set(outcomes[SCENARIOS[0]]["fed"]) | set(outcomes[SCENARIOS[0]]["numbers"])
    for field in ("name", "type", "address", "source", "changed_at", "confirmed_at", "last_error", "error_at", "next_retry"):
        assert f"{field}1" in fed and f"{field}2" in fed
    assert {"echo.at", "echo.address", "echo.reason", "failures", "state.written_at", "state.pid", "service.pid",
            "check.output", "detect.output", "wans.policy", "wans.choice", "wans.why"} <= fed


def test_the_status_page_polls_the_state_only_and_shows_detect_to_writers_only(outcomes):
    """Every 5 s only `status` (the plugin reads the state file: no process); the check is
    asked at load, and again only when the plugin no longer keeps one (the config changed)."""
    polled = outcomes["status, read-only: polled three times, the check kept by the plugin"]
    assert polled["calls"] == [["status", []], ["check", [False]]] + [["status", []]] * 3
    assert polled["detectButton"] is False  # detect runs exec: sources: writers only
    assert outcomes["status: the state file, a refused check, detect"]["detectButton"] is True
    stale = outcomes["status: no state, the error, detect rejected"]  # no kept check: asked again
    assert [c[0] for c in stale["calls"]] == ["status", "check", "status", "check", "detect"]
