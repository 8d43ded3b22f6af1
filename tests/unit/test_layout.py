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
