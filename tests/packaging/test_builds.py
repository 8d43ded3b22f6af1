"""make ipk and make apk: the command line of tools/mkipk.py and tools/mkapk.py, the make
targets, and two builds of one tree giving the same bytes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

import ddns_edge
from tests.packaging import adbread
from tests.packaging.pkgfiles import EPOCH, ROOT, members, outer
from tools import mkapk, mkipk
from tools.pkgspec import BuildError

VERSION = f"{ddns_edge.__version__}-r1"
NAMES = {
    "ipk": [f"ddns-edge_{VERSION}_all.ipk", f"luci-app-ddns-edge_{VERSION}_all.ipk"],
    "apk": [f"ddns-edge-{VERSION}.apk", f"luci-app-ddns-edge-{VERSION}.apk"],
}
TOOLS = {"ipk": mkipk, "apk": mkapk}


def build(fmt: str, out, *argv: str, as_file: bool = False, env: dict | None = None) -> dict[str, bytes]:
    """Run the tool as `make` does (python -m tools.mkFMT) or as a file; {name: bytes} of what it wrote."""
    command = [os.path.join(ROOT, "tools", f"mk{fmt}.py")] if as_file else ["-m", f"tools.mk{fmt}"]
    proc = subprocess.run([sys.executable, *command, "-o", str(out), *argv], capture_output=True, text=True,
                          env={**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH), **(env or {})},
                          cwd=out.parent if as_file else ROOT)
    assert proc.returncode == 0, proc.stderr
    return {os.path.basename(p): open(p, "rb").read() for p in proc.stdout.split()}


@pytest.mark.parametrize("fmt", ["ipk", "apk"])
def test_two_builds_of_one_tree_are_the_same_bytes(fmt, tmp_path):
    first = build(fmt, tmp_path / "a")
    assert list(first) == NAMES[fmt]
    os.utime(os.path.join(ROOT, "openwrt/files/ddns-edge.init"))  # a fresh mtime in the tree changes nothing
    assert build(fmt, tmp_path / "b") == first
    assert TOOLS[fmt].build(ROOT, mtime=EPOCH)[1] != TOOLS[fmt].build(ROOT, mtime=EPOCH + 1)[1]


@pytest.mark.parametrize("fmt", ["ipk", "apk"])
def test_make_the_module_and_the_file_give_the_same(fmt, tmp_path):
    expected = build(fmt, tmp_path / "module")
    assert build(fmt, tmp_path / "file", as_file=True) == expected
    if shutil.which("make"):
        made = subprocess.run(["make", "-s", "-C", ROOT, fmt, f"DIST={tmp_path / 'make'}"], capture_output=True, text=True,
                              env={**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH)})
        assert made.returncode == 0, made.stderr
        assert {n: (tmp_path / "make" / n).read_bytes() for n in NAMES[fmt]} == expected


def site_of(fmt: str, data: bytes) -> set[str]:
    """The site-packages directories the package installs into."""
    if fmt == "ipk":
        paths = [m.name[1:] for m in members(outer(data)["./data.tar.gz"])]
    else:
        paths = list(adbread.files(adbread.read(data)))
    return {p.split("/site-packages/")[0] for p in paths if "/site-packages/" in p}


@pytest.mark.parametrize("fmt,python", [("ipk", "3.11"), ("apk", "3.13")])
def test_each_format_defaults_to_its_releases_python(fmt, python, tmp_path):
    assert site_of(fmt, build(fmt, tmp_path / "tool")[NAMES[fmt][0]]) == {f"/usr/lib/python{python}"}
    subprocess.run(["make", "-s", "-C", ROOT, fmt, f"DIST={tmp_path / 'make'}"], check=True, capture_output=True)
    assert site_of(fmt, (tmp_path / "make" / NAMES[fmt][0]).read_bytes()) == {f"/usr/lib/python{python}"}
    subprocess.run(["make", "-s", "-C", ROOT, fmt, f"DIST={tmp_path / 'other'}", "PYTHON3_VERSION=3.12"], check=True,
                   capture_output=True)
    assert site_of(fmt, (tmp_path / "other" / NAMES[fmt][0]).read_bytes()) == {"/usr/lib/python3.12"}


@pytest.mark.parametrize("fmt", ["ipk", "apk"])
def test_a_bad_argument_is_one_line_and_a_failure(fmt, tmp_path):
    proc = subprocess.run([sys.executable, "-m", f"tools.mk{fmt}", "-o", str(tmp_path), "--release", "x"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 1 and proc.stderr == f"mk{fmt}: release 'x': allowed: a number such as 1 (PKG_RELEASE)\n"
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("fmt", ["ipk", "apk"])
@pytest.mark.parametrize("python,release", [("3", "1"), ("3.x", "1"), ("3.11", "x"), ("3.11", "-1"), ("3.11", "r1"), ("3.11", "1-1")])
def test_a_python_or_release_the_sdk_would_not_write_is_refused(fmt, python, release):
    with pytest.raises(BuildError):
        TOOLS[fmt].build(ROOT, python, release, mtime=EPOCH)
