"""A stand-in OpenWrt root, to run the packages' maintainer scripts as a router runs them.

What a router has and this machine can give, chroot'ed into: busybox as /bin/sh and the
userland (what OpenWrt's scripts run under), a Python of the package's version at
/usr/bin/python3.X with its standard library under /usr/lib/python3.X (the host's
interpreter, its shared libraries at their paths), dnspython and pyroute2 in
/usr/lib/python3.X/site-packages (from the test's own environment: pure Python), /etc/passwd
and /etc/group with root only.

What it cannot have is OpenWrt's base-files, which no code of ours may copy: /lib/functions.sh
and /etc/rc.common here are our stand-ins. functions.sh does, for the three functions the
SDK's scripts call, what base-files' does (add_group_and_user: the users of Require-User or
/lib/apk/packages/NAME.rusers, a group and a user from 32768 up; default_postinst: that for
opkg, then on a running router the package's /etc/uci-defaults scripts, each sourced in a
subshell and removed when it succeeds, then postinst-pkg, then each init script `enable`
and `start`, or in an image (IPKG_INSTROOT) `rc.common SCRIPT enable` only; default_prerm:
prerm-pkg, then `disable` and `stop`), and writes each step to /tmp/steps. rc.common writes
the action it was asked for there too: nothing is started.

opkg and apk themselves are stood in for by install()/remove() below where the real tool
is not at hand (apk-tools: test_apk_tools.py); they unpack, run the scripts in the order
and with the arguments the tool does, and delete the package's files and empty directories.
"""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

from tests.packaging import adbread
from tests.packaging.pkgfiles import members, outer, read_member

FUNCTIONS_SH = r"""# Stand-in for OpenWrt's /lib/functions.sh (tests/packaging/router.py says what it does).
_step() { echo "$*" >> "${IPKG_INSTROOT}/tmp/steps"; }

_filelist() {
	if [ -f "$root/lib/apk/packages/$pkgname.list" ]; then echo "$root/lib/apk/packages/$pkgname.list"
	else echo "$root/usr/lib/opkg/info/$pkgname.list"; fi
}

add_group_and_user() {
	[ -n "$pkgname" ] || local pkgname="$(basename "${1%.*}")"
	local rusers tuple user group gid uid
	rusers="$(sed -ne 's/^Require-User: *//p' "$root/usr/lib/opkg/info/$pkgname.control" 2>/dev/null)"
	[ -f "$root/lib/apk/packages/$pkgname.rusers" ] && rusers="$(cat "$root/lib/apk/packages/$pkgname.rusers")"
	for tuple in $rusers; do
		user="${tuple%%:*}"; group="${tuple#*:}"
		gid="$(grep "^$group:" "$root/etc/group" | cut -d: -f3)"
		if [ -z "$gid" ]; then
			gid=32768
			while cut -d: -f3 "$root/etc/group" | grep -qx "$gid"; do gid=$((gid + 1)); done
			echo "$group:x:$gid:" >> "$root/etc/group"
		fi
		if ! grep -q "^$user:" "$root/etc/passwd"; then
			uid=32768
			while cut -d: -f3 "$root/etc/passwd" | grep -qx "$uid"; do uid=$((uid + 1)); done
			echo "$user:x:$uid:$gid:$user:/var/run/$user:/bin/false" >> "$root/etc/passwd"
		fi
		_step "add_group_and_user $user:$group"
	done
}

_package_part() {  # postinst | prerm: opkg's NAME.postinst-pkg or NAME.prerm-pkg, sourced in a subshell
	[ -f "$root/usr/lib/opkg/info/$pkgname.$1-pkg" ] || return 0
	( . "$root/usr/lib/opkg/info/$pkgname.$1-pkg" )
}

_init_scripts() {  # enable start | disable stop: in an image (IPKG_INSTROOT) the first only
	local i
	for i in $(grep -s "^/etc/init.d/" "$filelist"); do
		if [ -n "$root" ]; then
			sh "$root/etc/rc.common" "$root$i" "$1"
		else
			[ "$PKG_UPGRADE" = 1 ] || "$i" "$1"
			"$i" "$2"
		fi
	done
}

default_postinst() {
	local root="${IPKG_INSTROOT}"
	[ -n "$pkgname" ] || local pkgname="$(basename "${1%.*}")"
	local filelist="$(_filelist)" i ret
	[ -e "$root/usr/lib/opkg/info/$pkgname.list" ] && add_group_and_user
	if [ -z "$root" ]; then
		for i in $(grep -s "^/etc/uci-defaults/" "$filelist"); do
			( [ -f "$i" ] && cd "$(dirname "$i")" && . "$i" ) && rm -f "$i"
			_step "uci-defaults $i"
		done
	fi
	_package_part postinst
	ret=$?
	_init_scripts enable start
	return $ret
}

default_prerm() {
	local root="${IPKG_INSTROOT}"
	[ -n "$pkgname" ] || local pkgname="$(basename "${1%.*}")"
	local filelist="$(_filelist)" ret
	_package_part prerm
	ret=$?
	_init_scripts disable stop
	return $ret
}
"""
RC_COMMON = """#!/bin/sh
# Stand-in for OpenWrt's /etc/rc.common: records the action asked of an init script.
echo "rc.common $(basename "$1") $2" >> "${IPKG_INSTROOT}/tmp/steps"
"""
# /etc/init.d/boot's uci_apply_defaults: at boot, each script sourced in a subshell, removed on success
FIRST_BOOT = 'cd /etc/uci-defaults && for f in *; do [ -f "$f" ] || continue; ( . "./$f" ) && rm -f "$f"; done'
SKIP_STDLIB = {"test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip", "site-packages", "dist-packages",
               "__pycache__", "lib2to3", "pydoc_data"}


def need_root() -> None:
    """chroot needs root: CI runs as root and must run these; elsewhere they are skipped."""
    if os.geteuid() == 0 and shutil.which("busybox") and shutil.which("chroot"):
        return
    why = "needs root, busybox and chroot"
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI is set and the stand-in router cannot run: it {why}")
    pytest.skip(f"the stand-in router {why}")


def interpreter(version: str) -> str | None:
    """A host Python of this version, its real binary: the one running the tests, else
    python3.X on PATH (that runs: a pyenv shim of a version not selected does not)."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return os.path.realpath(sys._base_executable)
    found = shutil.which(f"python{version}")
    if not found:
        return None
    proc = subprocess.run([found, "-c", "import sys; print(getattr(sys, '_base_executable', sys.executable))"],
                          capture_output=True, text=True)
    return os.path.realpath(proc.stdout.strip()) if proc.returncode == 0 else None


def make(path: str, python_version: str, executable: str | None = None) -> Router:
    """A stand-in router root at `path`, with python`python_version` (`executable`, else the
    host's of that version; none: the test is skipped)."""
    need_root()
    exe = executable or interpreter(python_version)
    if exe is None:
        pytest.skip(f"no python{python_version} here for the stand-in router")
    return _make(path, python_version, exe)


def _libraries(executable: str) -> list[str]:
    out = subprocess.run(["ldd", executable], capture_output=True, text=True).stdout
    paths = []
    for line in out.splitlines():
        word = line.split("=>")[-1].split("(")[0].strip()
        if word.startswith("/"):
            paths.append(word)
    return paths


def _copy(src: str, dst: str) -> None:
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if not os.path.exists(dst):
        try:
            os.link(os.path.realpath(src), dst)
        except OSError:
            shutil.copy2(src, dst)


def _tree(src: str, dst: str) -> None:
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = [d for d in dirnames if d not in SKIP_STDLIB and not d.startswith("config-")]
        for name in filenames:
            path = os.path.join(dirpath, name)
            _copy(path, os.path.join(dst, os.path.relpath(path, src)))


@dataclasses.dataclass
class Router:
    path: str
    python: str  # X.Y

    def __truediv__(self, rel: str) -> str:
        return os.path.join(self.path, rel.lstrip("/"))

    def run(self, command: str, check: bool = True, **env: str) -> subprocess.CompletedProcess:
        """`command` by /bin/sh inside the root, with a router's minimal environment."""
        environment = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **env}
        proc = subprocess.run(["chroot", self.path, "/bin/sh", "-c", command], capture_output=True, text=True,
                              env=environment, timeout=120)
        if check:
            assert proc.returncode == 0, f"{command}: {proc.returncode}\n{proc.stdout}{proc.stderr}"
        return proc

    def steps(self) -> list[str]:
        try:
            with open(self / "tmp/steps") as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def clear_steps(self) -> None:
        with open(self / "tmp/steps", "w"):
            pass

    def site(self) -> str:
        return f"/usr/lib/python{self.python}/site-packages"


def _make(path: str, python_version: str, exe: str) -> Router:
    r = Router(path, python_version)
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc/init.d", "etc/config", "lib", "tmp", "var/run", "proc", "dev"):
        os.makedirs(r / d, exist_ok=True)
    busybox = os.path.realpath(shutil.which("busybox"))
    _copy(busybox, r / "bin/busybox")
    for lib in _libraries(busybox):
        _copy(lib, r / lib)
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True).stdout.split()
    for applet in applets:
        if applet != "busybox" and not os.path.lexists(r / f"bin/{applet}"):
            os.symlink("busybox", r / f"bin/{applet}")
    with open(r / "etc/passwd", "w") as f:
        f.write("root:x:0:0:root:/root:/bin/ash\n")
    with open(r / "etc/group", "w") as f:
        f.write("root:x:0:\n")
    with open(r / "lib/functions.sh", "w") as f:
        f.write(FUNCTIONS_SH)
    with open(r / "etc/rc.common", "w") as f:
        f.write(RC_COMMON)
    r.clear_steps()
    # the Python
    probe = subprocess.run([exe, "-c", "import sys, sysconfig, site; print(sysconfig.get_path('stdlib')); "
                            "print(int(any('dist-packages' in p for p in site.getsitepackages())))"],
                           capture_output=True, text=True, check=True).stdout.split()
    stdlib, debian = probe[0], probe[1] == "1"
    _copy(exe, r / f"usr/bin/python{python_version}")
    os.symlink(f"python{python_version}", r / "usr/bin/python3")
    lib = r / f"usr/lib/python{python_version}"
    _tree(stdlib, lib)
    for so in [exe] + [os.path.join(dp, n) for dp, _, ns in os.walk(os.path.join(stdlib, "lib-dynload")) for n in ns]:
        for dep in _libraries(so):
            _copy(dep, r / dep)
    site = r / r.site()
    os.makedirs(site, exist_ok=True)
    if debian:  # Debian's python looks in dist-packages; OpenWrt's in site-packages
        os.symlink("site-packages", r / f"usr/lib/python{python_version}/dist-packages")
    import dns
    import pyroute2
    for module in (dns, pyroute2):
        _tree(os.path.dirname(module.__file__), os.path.join(site, module.__name__))
    return r


# --- opkg and apk, as far as the scripts see them -------------------------------------------


def _remove_files(r: Router, paths: list[str]) -> None:
    for p in paths:
        if os.path.lexists(r / p) and not os.path.isdir(r / p):
            os.unlink(r / p)
    for d in sorted(_parents(paths), key=len, reverse=True):
        try:
            os.rmdir(r / d)
        except OSError:
            pass  # not empty: someone else's files, or something left behind


def _parents(paths: list[str]) -> set[str]:
    out = set()
    for p in paths:
        d = os.path.dirname(p)
        while d not in ("", "/"):
            out.add(d)
            d = os.path.dirname(d)
    return out


def opkg_install(r: Router, ipk: bytes, image: bool = False) -> str:
    """Unpack as opkg does (data, then control files as /usr/lib/opkg/info/NAME.*, the file
    list), then run postinst: in the root, or from outside with IPKG_INSTROOT (an image)."""
    name = _opkg_unpack(r, ipk)
    script = f"/usr/lib/opkg/info/{name}.postinst"
    if image:
        subprocess.run(["sh", r / script, "configure"], check=True, env={**os.environ, "IPKG_INSTROOT": r.path})
    else:
        r.run(f"{script} configure")
    return name


def opkg_install_upgrade(r: Router, ipk: bytes) -> str:
    """opkg upgrading an installed package: the new files, then its postinst with PKG_UPGRADE=1."""
    name = _opkg_unpack(r, ipk)
    r.run(f"/usr/lib/opkg/info/{name}.postinst configure", PKG_UPGRADE="1")
    return name


def _opkg_unpack(r: Router, ipk: bytes) -> str:
    parts = outer(ipk)
    control = parts["./control.tar.gz"]
    name = read_member(control, "./control").decode().split("\n", 1)[0].split(": ", 1)[1]
    with tarfile.open(fileobj=io.BytesIO(parts["./data.tar.gz"]), mode="r:gz") as tar:
        files = [m.name[1:] for m in tar.getmembers() if not m.isdir()]
        trusted = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
        tar.extractall(r.path, numeric_owner=True, **trusted)
    info = r / "usr/lib/opkg/info"
    os.makedirs(info, exist_ok=True)
    for m in members(control):
        if m.isfile():
            with open(os.path.join(info, f"{name}.{m.name[2:]}"), "wb") as f:
                f.write(read_member(control, m.name))
            os.chmod(os.path.join(info, f"{name}.{m.name[2:]}"), m.mode)
    with open(os.path.join(info, f"{name}.list"), "w") as f:
        f.write("".join(f"{p}\n" for p in files))
    return name


def opkg_remove(r: Router, name: str) -> None:
    """opkg remove: prerm, the files, the directories left empty, the info files."""
    r.run(f"/usr/lib/opkg/info/{name}.prerm remove")
    with open(r / f"usr/lib/opkg/info/{name}.list") as f:
        _remove_files(r, f.read().split())
    for entry in os.listdir(r / "usr/lib/opkg/info"):
        if entry.startswith(name + "."):
            os.unlink(r / f"usr/lib/opkg/info/{entry}")


@dataclasses.dataclass
class Installed:
    name: str
    version: str
    files: list[str]
    scripts: dict[str, str]


def apk_install(r: Router, apk: bytes, image: bool = False) -> Installed:
    """Unpack as apk does (directories with their modes, files), then run post-install with
    apk's arguments and environment: in the root, or from outside with IPKG_INSTROOT."""
    installed = apk_unpack(r, apk)
    apk_script(r, installed, "post-install", image)
    return installed


def apk_unpack(r: Router, apk: bytes) -> Installed:
    pkg = adbread.read(apk)
    for d, acl in adbread.directories(pkg).items():
        os.makedirs(r / d, exist_ok=True)
        os.chmod(r / d, acl["mode"])
    files = adbread.files(pkg)
    for path, f in files.items():
        with open(r / path, "wb") as out:
            out.write(f["content"])
        os.chmod(r / path, f["mode"])
        os.utime(r / path, (f["mtime"], f["mtime"]))
    info = pkg.root["info"]
    return Installed(info["name"].decode(), info["version"].decode(), sorted(files),
                     {k: v.decode() for k, v in pkg.root["scripts"].items()})


def apk_script(r: Router, pkg: Installed, hook: str, image: bool = False, *args: str) -> None:
    script = r / f"tmp/{pkg.name}.{hook}"
    with open(script, "w") as f:
        f.write(pkg.scripts[hook])
    os.chmod(script, 0o755)
    env = {"APK_SCRIPT": hook, "APK_PACKAGE": pkg.name}
    if image:
        subprocess.run(["sh", script, pkg.version, *args], check=True, env={**os.environ, **env, "IPKG_INSTROOT": r.path})
    else:
        r.run(" ".join([f"/tmp/{pkg.name}.{hook}", pkg.version, *args]), **env)
    os.unlink(script)


def apk_remove(r: Router, pkg: Installed) -> None:
    """apk del: pre-deinstall, the files, the directories left empty."""
    apk_script(r, pkg, "pre-deinstall")
    _remove_files(r, pkg.files)
