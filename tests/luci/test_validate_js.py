"""The LuCI form's rules against `ddns-edge check`, without LuCI: validate.js in Node.js.

Every case of tests/luci/cases.py goes through ddns-edge/validate.js as it ships (loaded by
luci_standin.js, our stand-in for LuCI's module loader and String.format) and through
`ddns-edge check` on a config that is valid but for that value; the verdicts (accepted or
refused) must agree. tests/openwrt/test_luci.py runs the same table in LuCI in Chromium
when an OpenWrt stack is given. Node.js is Debian's `nodejs`, which `make test` installs.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.luci import cases

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VALIDATE = os.path.join(ROOT, "openwrt", "luci-app-ddns-edge", "htdocs", "luci-static", "resources", "ddns-edge", "validate.js")
STANDIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "luci_standin.js")
SECRET = base64.b64encode(bytes(range(32))).decode()


def node() -> str:
    found = shutil.which("node") or shutil.which("nodejs")
    if not found:  # make test installs Debian's nodejs; a missing one is a broken setup, not a skip
        pytest.fail("no node or nodejs on PATH: apt-get install nodejs (make test does)")
    return found


def validate(calls: list[str]) -> list:
    proc = subprocess.run([node(), STANDIN, VALIDATE], input=json.dumps(calls), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def check(path) -> tuple[int, str]:
    ddns_edge = os.path.join(os.path.dirname(sys.executable), "ddns-edge")
    proc = subprocess.run([ddns_edge, "-c", str(path), "check"], capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stderr.strip()


def test_the_standin_loads_validate_js_as_luci_would():
    assert validate(["v.ttl('60')", "v.ttl('0')", "typeof v.echoSource", "v.ALGORITHMS.length"]) == [
        True, "0 is out of range; allowed: a whole number 1..604800 seconds", "function", {"unexpected": "6"}]


def test_the_forms_rules_are_those_of_ddns_edge_check(tmp_path):
    verdicts = validate([cases.js(c) for c in cases.CASES])
    assert len(verdicts) == len(cases.CASES)

    def run(i: int) -> tuple[int, str]:
        path = tmp_path / f"case{i}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(cases.config(cases.CASES[i], SECRET))
        return check(path)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, range(len(cases.CASES))))
    disagree = []
    for case, verdict, (code, err) in zip(cases.CASES, verdicts, results, strict=True):
        assert code in (0, 2), (case, err)
        assert verdict is True or isinstance(verdict, str), (case, verdict)
        if (verdict is True) != (code == 0):
            disagree.append(f"{case!r}: form says {verdict!r}, check says {err or 'ok'}")
    assert disagree == [], "\n".join(disagree)
    assert any(v is not True for v in verdicts) and any(v is True for v in verdicts)
