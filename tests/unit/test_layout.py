"""The layout's one rule: tests import tools (the namespace world, the bench's pure report,
the package builders), and nothing under tools/ or ddns_edge/ imports the tests."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def imported(path):
    """The top-level packages a module imports, absolute imports only."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


@pytest.mark.parametrize("package", ["tools", "ddns_edge"])
def test_nothing_outside_tests_imports_the_tests(package):
    offenders = sorted(str(p.relative_to(ROOT)) for p in (ROOT / package).rglob("*.py") if "tests" in set(imported(p)))
    assert offenders == []


def test_the_rule_sees_an_import_of_the_tests(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from tests.netns import conftest\n")
    assert "tests" in set(imported(module))


def private_names_taken(path):
    """The private names (`_x`) a module imports from another module of ddns_edge."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ddns_edge"):
            yield from (f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_") and not a.name.startswith("__"))


def test_no_module_of_the_agent_uses_anothers_private_names():
    """discovery.py used dnsupdate's _absolute, _text and _short: what two modules share has a public name."""
    taken = {str(p.relative_to(ROOT)): list(private_names_taken(p)) for p in (ROOT / "ddns_edge").glob("*.py")}
    assert {p: names for p, names in taken.items() if names} == {}


def test_the_private_rule_sees_a_private_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from ddns_edge.dnsupdate import TIMEOUT, _short\n")
    assert list(private_names_taken(module)) == ["ddns_edge.dnsupdate._short"]
