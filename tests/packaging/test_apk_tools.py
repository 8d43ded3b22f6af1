"""The .apk installed, upgraded and removed by apk-tools 3 itself, and compared with what
`apk mkpkg` makes of the same tree.

apk-tools 3 is in no Debian release, and no script here fetches or builds it: build it from
its sources (alpinelinux/apk-tools, 3.0.x: meson setup build -Dhelp=disabled -Ddocs=disabled
-Dlua=disabled -Dpython=disabled -Dzstd=disabled; ninja -C build) outside the checkout and
give the binary in DDNS_EDGE_APK (e.g. DDNS_EDGE_APK=/work/apk-tools/build/src/apk). Without
it this module is skipped (CI has none). The packages go into a stand-in router root
(tests/packaging/router.py), whose Python is DDNS_EDGE_APK_PYTHON, else a python3.13 on
PATH, else the host's (the .apk is then built for that version). The feed packages ddns-edge
depends on are stood in for by empty packages made with `apk mkpkg`: what they hold (the
interpreter, dnspython, pyroute2) is already in the root.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import ddns_edge
from tests.packaging import adbread, router
from tests.packaging.pkgfiles import EPOCH, ROOT
from tools import mkapk, pkgspec

APK = os.environ.get("DDNS_EDGE_APK")
if not APK:
    pytest.skip("DDNS_EDGE_APK is unset: the .apk is not installed with apk-tools 3 here", allow_module_level=True)

STUBS = ["libc", *pkgspec.depends(ROOT, pkgspec.RELEASES["25.12"]), "luci-base", "rpcd-mod-ucode"]
BYTECODE = "/etc/uci-defaults/ddns-edge-bytecode"


def apk(*args: str, root: str | None = None, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    argv = [APK, *(["--root", root] if root else []), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **env}, timeout=300)
    if check:
        assert proc.returncode == 0, f"{' '.join(argv)}: {proc.returncode}\n{proc.stdout}{proc.stderr}"
    return proc


def test_apk_tools_is_version_3():
    assert apk("--version").stdout.startswith("apk-tools 3.")


@pytest.fixture
def world(tmp_path):
    """(router root, the .apk files by name, the Python version) for one test."""
    executable = os.environ.get("DDNS_EDGE_APK_PYTHON") or router.interpreter("3.13")
    if executable is None:
        executable = router.interpreter(f"{sys.version_info.major}.{sys.version_info.minor}")
    version = subprocess.run([executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    box = router.make(str(tmp_path / "root"), version, executable)
    files = {}
    for name in STUBS:
        files[name] = str(tmp_path / f"{name}.apk")
        apk("mkpkg", "--info", f"name:{name}", "--info", "version:1.0-r0", "--info", "arch:noarch", "--output", files[name])
    for key, (name, data) in (("ddns-edge", mkapk.build(ROOT, version, "1", mtime=EPOCH)),
                              ("ddns-edge-r2", mkapk.build(ROOT, version, "2", mtime=EPOCH)),
                              ("luci-app-ddns-edge", mkapk.build_luci(ROOT, "1", mtime=EPOCH))):
        files[key] = str(tmp_path / name)
        with open(files[key], "wb") as f:
            f.write(data)
    return box, files, version


def installed(box) -> set[str]:
    return {line.split()[0] for line in apk("list", "--installed", root=box.path).stdout.splitlines() if line.strip()}


def test_apk_refuses_it_until_every_dependency_is_there(world):
    box, files, _ = world
    proc = apk("--initdb", "add", "--allow-untrusted", files["ddns-edge"], root=box.path, check=False)
    assert proc.returncode != 0
    for dep in ["libc", *pkgspec.depends(ROOT, pkgspec.RELEASES["25.12"])]:
        assert f"{dep} (no such package)" in proc.stderr
    assert not os.path.exists(box / "usr/bin/ddns-edge")


def test_install_upgrade_and_removal_with_apk_tools(world):
    box, files, version = world
    site = f"/usr/lib/python{version}/site-packages/ddns_edge"
    tag = "cpython-" + version.replace(".", "")
    deps = [files[n] for n in ["libc", *pkgspec.depends(ROOT, pkgspec.RELEASES["25.12"])]]
    proc = apk("--initdb", "add", "--allow-untrusted", *deps, files["ddns-edge"], root=box.path)
    assert f"Installing ddns-edge ({ddns_edge.__version__}-r1)" in proc.stdout
    assert f"Executing ddns-edge-{ddns_edge.__version__}-r1.post-install" in proc.stdout
    assert f"ddns-edge-{ddns_edge.__version__}-r1" in installed(box)
    # the files, as the package lists them, with their modes
    listed = apk("info", "-L", "ddns-edge", root=box.path).stdout.split()
    with open(files["ddns-edge"], "rb") as f:
        expected = adbread.files(adbread.read(f.read()))
    assert sorted("/" + p for p in listed if "/" in p) == sorted(expected)
    assert {p: os.stat(box / p).st_mode & 0o7777 for p in ("/etc/config/ddns-edge", "/etc/init.d/ddns-edge", "/usr/bin/ddns-edge",
                                                            f"{site}/cli.py")} == {
        "/etc/config/ddns-edge": 0o600, "/etc/init.d/ddns-edge": 0o755, "/usr/bin/ddns-edge": 0o755, f"{site}/cli.py": 0o644}
    # the scripts ran: user and group, the byte code (then the script went), enable, start
    assert box.steps() == ["add_group_and_user ddns-edge:ddns-edge", f"uci-defaults {BYTECODE}",
                           "rc.common ddns-edge enable", "rc.common ddns-edge start"]
    assert "ddns-edge:x:32768:32768:ddns-edge:/var/run/ddns-edge:/bin/false" in open(box / "etc/passwd").read()
    assert not os.path.exists(box / BYTECODE)
    pycache = sorted(os.listdir(box / f"{site}/__pycache__"))
    assert pycache == sorted(f"{os.path.basename(p)[:-3]}.{tag}.pyc" for p in pkgspec.package_files(ROOT))
    proc = box.run(f"python{version} -B -v -c 'import ddns_edge.cli' 2>&1")
    assert f"-packages/ddns_edge/__pycache__/cli.{tag}.pyc'" in proc.stdout  # loaded, not compiled again
    assert box.run("/usr/bin/ddns-edge --version").stdout.strip() == f"ddns-edge {ddns_edge.__version__}"

    # an upgrade: post-upgrade, no second enable, fresh byte code
    stale = box / f"{site}/__pycache__/gone.{tag}.pyc"
    open(stale, "wb").close()
    box.clear_steps()
    proc = apk("add", "--allow-untrusted", files["ddns-edge-r2"], root=box.path)
    assert f"Upgrading ddns-edge ({ddns_edge.__version__}-r1 -> {ddns_edge.__version__}-r2)" in proc.stdout
    assert box.steps() == ["add_group_and_user ddns-edge:ddns-edge", f"uci-defaults {BYTECODE}", "rc.common ddns-edge start"]
    assert not os.path.exists(stale) and os.path.isfile(box / f"{site}/__pycache__/cli.{tag}.pyc")

    # the LuCI app beside it
    proc = apk("add", "--allow-untrusted", files["luci-base"], files["rpcd-mod-ucode"], files["luci-app-ddns-edge"], root=box.path)
    assert f"Executing luci-app-ddns-edge-{ddns_edge.__version__}-r1.post-install" in proc.stdout
    assert os.path.isfile(box / "usr/share/rpcd/ucode/ddns-edge.uc")

    # removal: stop and disable, every file and the byte code gone; a changed config stays
    with open(box / "etc/config/ddns-edge", "a") as f:
        f.write("# changed on the router\n")
    box.clear_steps()
    proc = apk("del", "luci-app-ddns-edge", "ddns-edge", root=box.path)
    assert f"Executing ddns-edge-{ddns_edge.__version__}-r2.pre-deinstall" in proc.stdout
    assert box.steps() == ["rc.common ddns-edge disable", "rc.common ddns-edge stop"]
    assert not any(n.startswith(("ddns-edge-", "luci-app-ddns-edge-")) for n in installed(box))
    for path in ("/usr/bin/ddns-edge", "/etc/init.d/ddns-edge", site, "/lib/apk/packages/ddns-edge.list", "/www"):
        assert not os.path.lexists(box / path), path
    assert open(box / "etc/config/ddns-edge").read().endswith("# changed on the router\n")


def test_the_apk_is_the_bytes_apk_mkpkg_makes_of_the_same_tree(tmp_path):
    """mkapk.py and apk mkpkg, given what package-pack.mk gives apk mkpkg, agree to the byte."""
    for label, pkg in (("ddns-edge", pkgspec.ddns_edge(ROOT, pkgspec.RELEASES["25.12"], None, EPOCH)),
                       ("luci", pkgspec.luci_app(ROOT, None, EPOCH))):
        work = tmp_path / label
        tree = work / "tree"
        for path, (mode, content) in mkapk.package_files(pkg).items():
            os.makedirs(os.path.dirname(tree / path.lstrip("/")), exist_ok=True)
            (tree / path.lstrip("/")).write_bytes(content)
            os.chmod(tree / path.lstrip("/"), mode)
        for dirpath, _, _ in os.walk(tree):
            os.chmod(dirpath, 0o755)
        args = ["--info", f"name:{pkg.name}", "--info", f"version:{pkg.version}",
                "--info", "description:" + " ".join(" ".join(pkg.description).split()), "--info", "arch:noarch",
                "--info", f"license:{pkg.license}", "--info", f"origin:{pkg.source}", "--info", "url:",
                "--info", f"maintainer:{pkg.maintainer}", "--info", f"provides:{pkg.name}-any"]
        for hook, text in mkapk.scripts(pkg).items():
            (work / hook).write_text(text)
            args += ["--script", f"{hook}:{work / hook}"]
        args += ["--info", "depends:" + " ".join(pkg.depends), "--files", str(tree), "--output", str(work / "ref.apk")]
        apk("mkpkg", *args, SOURCE_DATE_EPOCH=str(EPOCH))
        reference = (work / "ref.apk").read_bytes()
        ours = mkapk.apk(pkg)[1]
        assert adbread.decompress(ours)[1] == adbread.decompress(reference)[1], label
        assert ours == reference, label  # the deflate stream too, with this machine's zlib
