"""Depends: what ddns_edge imports, under the packages feed's names of each release
(tools/pkgspec.py depends()), found by reading the code, not by a list kept by hand."""

from __future__ import annotations

import ast
import importlib.util
import sys

import pytest

from tests.packaging.pkgfiles import ROOT
from tools import pkgspec

RELEASES = sorted(pkgspec.RELEASES)

# What each split package depends on in turn (lang/python/python3/files/python3-package-*.mk,
# DEPENDS beyond python3-light), the same on both branches where both have the package.
SPLIT_DEPENDS = {
    "python3-urllib": {"python3-email"},
    "python3-xml": {"python3-urllib"},
    "python3-cgi": {"python3-email"},
    "python3-cgitb": {"python3-cgi", "python3-pydoc"},
    "python3-distutils": {"python3-email"},
}


@pytest.mark.parametrize("release", RELEASES)
def test_depends_covers_every_split_stdlib_module_ddns_edge_imports(release):
    rel = pkgspec.RELEASES[release]
    imported = pkgspec.imported_modules(ROOT)
    assert "logging" in imported and "ssl" in imported and "urllib.parse" in imported  # report.py, echo.py
    deps = pkgspec.depends(ROOT, rel)
    assert deps[0] == "python3-light" and {"python3-dns", "python3-pyroute2"} <= set(deps)
    for name in imported:
        for module, package in rel.split.items():
            if name == module or name.startswith(module + "."):
                assert package in deps, f"ddns_edge imports {name}: Depends needs {package} on {release}"
    assert len(deps) == len(set(deps))
    assert set(deps) <= {pkgspec.INTERPRETER, *pkgspec.THIRD_PARTY.values(), *rel.split.values()}


@pytest.mark.parametrize("release", RELEASES)
def test_depends_maps_imports_to_the_releases_split_packages(tmp_path, release):
    pkg = tmp_path / "ddns_edge"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('__version__ = "9.9"\n')
    (pkg / "a.py").write_text(
        "import os, json\nimport dns.tsig\nfrom pyroute2 import IPRoute\nimport http.client\n"
        "def f():\n    import ssl\n    from dbm.gnu import open\n    from xml.etree import ElementTree\n"
        "    from . import b\n    from ddns_edge import c\n"
    )
    assert pkgspec.depends(str(tmp_path), pkgspec.RELEASES[release]) == [
        "python3-light", "python3-dns", "python3-pyroute2", "python3-dbm", "python3-email", "python3-openssl", "python3-xml",
    ]
    (pkg / "b.py").write_text("import requests\n")
    with pytest.raises(pkgspec.BuildError, match="'requests'"):
        pkgspec.depends(str(tmp_path), pkgspec.RELEASES[release])
    (pkg / "b.py").write_text("import tkinter\n")  # in no package of either feed
    with pytest.raises(pkgspec.BuildError, match="no package of the OpenWrt"):
        pkgspec.depends(str(tmp_path), pkgspec.RELEASES[release])


def test_modules_python_3_13_removed_are_in_no_package_of_25_12(tmp_path):
    pkg = tmp_path / "ddns_edge"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('__version__ = "9.9"\nimport cgi\n')
    assert "python3-cgi" in pkgspec.depends(str(tmp_path), pkgspec.RELEASES["24.10"])
    with pytest.raises(pkgspec.BuildError, match="'cgi'.*25.12"):
        pkgspec.depends(str(tmp_path), pkgspec.RELEASES["25.12"])


def _module_level_imports(path: str) -> set[str]:
    """Modules a stdlib file imports when it is imported: not in functions, not under a
    try whose handler takes ImportError (an optional accelerator), not for TYPE_CHECKING or
    `if __name__ == "__main__"`."""
    tree = ast.parse(open(path, "rb").read(), path)
    found: set[str] = set()

    def visit(nodes):
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(node, ast.Try):
                caught = {getattr(h.type, "id", None) for h in node.handlers} | {
                    getattr(e, "id", None) for h in node.handlers if isinstance(h.type, ast.Tuple) for e in h.type.elts}
                if caught & {"ImportError", "ModuleNotFoundError", "Exception", None}:
                    continue
            if isinstance(node, ast.If) and ("TYPE_CHECKING" in ast.unparse(node.test) or "__main__" in ast.unparse(node.test)):
                continue
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
            visit(ast.iter_child_nodes(node))

    visit(tree.body)
    return found


def test_what_the_imported_stdlib_imports_in_turn_is_covered():
    """Follow the host's stdlib from ddns_edge's imports, as far as importing goes: every
    split module reached is in Depends, or in what a Depends package depends on (the feed's
    own DEPENDS). Read from the host's Python (the floor, 3.11, in CI)."""
    rel = pkgspec.RELEASES["24.10"]
    deps = set(pkgspec.depends(ROOT, rel))
    covered = set(deps)
    while True:
        more = set().union(*(SPLIT_DEPENDS.get(d, set()) for d in covered)) - covered
        if not more:
            break
        covered |= more
    todo = [n for n in pkgspec.imported_modules(ROOT) if n.split(".")[0] in sys.stdlib_module_names]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        package = pkgspec.split_package(name, rel)
        assert package is None or package in covered, f"importing ddns_edge imports {name}: {package} is not in Depends"
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec and spec.origin and spec.origin.endswith(".py"):
            todo += [n for n in _module_level_imports(spec.origin) if n.split(".")[0] in sys.stdlib_module_names]
            todo += [name.rsplit(".", 1)[0]] if "." in name else []
    assert "email.parser" not in seen or "python3-email" in covered
    assert "logging" in seen and "ssl" in seen
