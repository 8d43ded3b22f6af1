"""Packaging: the .ipk (tools/mkipk.py), the OpenWrt Makefile and the procd init script.

The procd script runs here under stand-ins for procd.sh, rc.common and /lib/functions.sh
(procd_* record what they are told; config_load sources the uci file, which is valid sh),
in every POSIX shell on the machine (busybox ash is what OpenWrt runs).
"""

from __future__ import annotations

import importlib.util
import io
import os
import pwd
import re
import shutil
import subprocess
import sys
import tarfile
import time

import pytest

import ddns_edge
from ddns_edge import config, keygen

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INIT = os.path.join(ROOT, "openwrt", "files", "ddns-edge.init")
DEFAULT_CONFIG = os.path.join(ROOT, "openwrt", "files", "ddns-edge.config")
LSB_INIT = os.path.join(ROOT, "init.d", "ddns-edge")
MAKEFILE = os.path.join(ROOT, "openwrt", "Makefile")
EPOCH = 1_700_000_000


def _load_mkipk():
    spec = importlib.util.spec_from_file_location("mkipk", os.path.join(ROOT, "tools", "mkipk.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mkipk = _load_mkipk()


def shells() -> list[list[str]]:
    """Every POSIX shell here: dash (Debian's sh), bash --posix, busybox ash (OpenWrt's)."""
    found = []
    for argv in (["dash"], ["bash", "--posix"], ["busybox", "sh"]):
        if shutil.which(argv[0]):
            found.append(argv)
    return found


SHELLS = shells()
SHELL_IDS = [" ".join(s) for s in SHELLS]


# --- shell syntax -------------------------------------------------------------------------


@pytest.mark.parametrize("shell", SHELLS, ids=SHELL_IDS)
@pytest.mark.parametrize("script", [INIT, LSB_INIT], ids=["procd", "lsb"])
def test_init_scripts_parse_in_posix_shells(shell, script):
    proc = subprocess.run([*shell, "-n", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_sh_n_on_the_system_sh():
    for script in (INIT, LSB_INIT):
        proc = subprocess.run(["sh", "-n", script], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_init_scripts_are_executable_and_say_how_they_run():
    with open(INIT) as f:
        assert f.readline() == "#!/bin/sh /etc/rc.common\n"
    with open(LSB_INIT) as f:
        assert f.readline() == "#!/bin/sh\n"
    for script in (INIT, LSB_INIT):
        assert os.stat(script).st_mode & 0o111 == 0o111


# --- the procd script under stand-ins -------------------------------------------------------

STUBS = r"""
_log() { printf '%s\n' "$*" >> "$CALLS"; }
# procd.sh and rc.common
procd_open_instance() { _log "procd_open_instance $*"; }
procd_set_param() { _log "procd_set_param $*"; }
procd_close_instance() { _log "procd_close_instance"; }
procd_add_reload_trigger() { _log "procd_add_reload_trigger $*"; }
procd_send_signal() { _log "procd_send_signal $*"; }
procd_running() { _log "procd_running $*"; [ "${STUB_RUNNING:-0}" = 1 ]; }
procd_open_service() { _log "procd_open_service $*"; }
procd_close_service() { _log "procd_close_service $*"; }
# rc.common's start for procd: its status is procd_close_service's, not start_service's
start() { _log "start"; procd_open_service ddns-edge; start_service "$@"; procd_close_service set; }
# /lib/functions.sh
user_exists() { [ "${STUB_USER:-1}" = 1 ]; }
config() { _section="$2"; _sections="$_sections $2"; eval "CONFIG_${2}_TYPE=\$1"; }
option() { eval "CONFIG_${_section}_$1=\$2"; }
list() { :; }
package() { :; }
config_load() { _log "config_load $*"; _sections=; . "$CONFIG"; }
config_get() {
	case "$3" in
		"") eval "echo \"\${CONFIG_${1}_${2}:-\${4}}\"" ;;
		*) eval "$1=\"\${CONFIG_${2}_${3}:-\$4}\"" ;;
	esac
}
config_get_bool() {
	local _tmp
	config_get _tmp "$2" "$3" "$4"
	case "$_tmp" in
		1|on|true|yes|enabled) _tmp=1 ;;
		0|off|false|no|disabled) _tmp=0 ;;
		*) _tmp="$4" ;;
	esac
	eval "$1=\$_tmp"
}
config_foreach() {
	local _fn="$1" _type="$2" _s _t
	for _s in $_sections; do
		eval "_t=\$CONFIG_${_s}_TYPE"
		[ "$_t" = "$_type" ] && "$_fn" "$_s"
	done
	return 0
}
# commands that would touch the machine
logger() { _log "logger $*"; }
mkdir() { _log "mkdir $*"; }
chown() { _log "chown $*"; }
chgrp() { _log "chgrp $*"; }
chmod() { _log "chmod $*"; }
"""

FAKE_AGENT = """#!/bin/sh
printf 'agent %s\\n' "$*" >> "$CALLS"
case " $* " in
*" check "*)
	if [ "${STUB_CHECK_RC:-0}" != 0 ]; then
		echo "$4:7: option ttl: 'x' is not a number" >&2
		exit "$STUB_CHECK_RC"
	fi
	echo "$2: ok: 1 record(s) enabled, 1 key(s)"
	;;
esac
"""

ENABLED_CONFIG = """\
config agent 'agent'
\toption state_dir '{state_dir}'

config key 'home'
\toption file '/etc/ddns-edge/ddns-key.key'

config record 'www'
\toption name 'www.example.com'
\toption device 'wan0'

config record 'off'
\toption enabled 'no'
\toption name 'off.example.com'
\toption device 'wan0'
"""


class Procd:
    """Runs one function of the procd script in a shell with the stand-ins above."""

    def __init__(self, tmp, shell, config_text):
        self.tmp = tmp
        self.shell = shell
        self.calls = tmp / "calls"
        self.config = tmp / "ddns-edge"
        self.config.write_text(config_text)
        self.key_dir = tmp / "keys"
        self.key_dir.mkdir()
        (self.key_dir / "ddns-key.key").write_text("key")
        (self.key_dir / "link.key").symlink_to(self.key_dir / "ddns-key.key")
        self.agent = tmp / "ddns-edge-agent"
        self.agent.write_text(FAKE_AGENT)
        self.agent.chmod(0o755)
        (tmp / "stubs.sh").write_text(STUBS)

    def run(self, function, run_user="ddns-edge", **env):
        self.calls.write_text("")
        script = (
            f'. "{self.tmp}/stubs.sh"\n'
            f'. "{INIT}"\n'
            f'PROG="{self.agent}"; CONFIG="{self.config}"; KEY_DIR="{self.key_dir}"; RUN_USER="{run_user}"\n'
            f"{function}\n"
        )
        full_env = dict(os.environ, CALLS=str(self.calls), **{k: str(v) for k, v in env.items()})
        proc = subprocess.run([*self.shell, "-c", script], capture_output=True, text=True, env=full_env)
        return proc.returncode, self.calls.read_text().splitlines(), proc.stderr


@pytest.fixture(params=SHELLS, ids=SHELL_IDS)
def procd(request, tmp_path):
    state_dir = tmp_path / "state"
    return Procd(tmp_path, request.param, ENABLED_CONFIG.format(state_dir=state_dir))


def instance(calls):
    """The procd_set_param lines between open and close, as {param: value}."""
    assert calls.count("procd_open_instance ") == 1 and calls.count("procd_close_instance") == 1
    start, end = calls.index("procd_open_instance "), calls.index("procd_close_instance")
    params = {}
    for line in calls[start + 1 : end]:
        words = line.split(" ", 2)
        assert words[0] == "procd_set_param", line
        params[words[1]] = words[2] if len(words) > 2 else ""
    return params


def test_triggers_reload_on_uci_commit(procd):
    rc, calls, _ = procd.run("service_triggers")
    assert rc == 0 and calls == ["procd_add_reload_trigger ddns-edge"]


def test_start_declares_one_checked_unprivileged_instance(procd):
    rc, calls, err = procd.run("start_service")
    assert rc == 0, err
    params = instance(calls)
    assert params == {
        "command": f"{procd.agent} -c {procd.config} run",
        "respawn": "3600 5 5",
        "stdout": "1",
        "stderr": "1",
        "user": "ddns-edge",
        "reload_signal": "HUP",
        "term_timeout": "10",
    }
    # the config is checked by the agent itself, before the instance is declared
    check = f"agent -c {procd.config} check"
    assert calls.index(check) < calls.index("procd_open_instance ")
    assert "config_load ddns-edge" in calls


def test_start_lets_the_agents_group_read_the_config_and_keys(procd):
    rc, calls, _ = procd.run("start_service")
    assert rc == 0
    state = procd.tmp / "state"
    expected = [
        f"mkdir -p {procd.tmp}",
        f"mkdir -m 0750 {state}",
        f"chown ddns-edge:ddns-edge {state}",
        f"chgrp ddns-edge {procd.config}",
        f"chmod g+r,g-w {procd.config}",
        f"chgrp ddns-edge {procd.key_dir}",
        f"chmod g+rx,g-w {procd.key_dir}",
        f"chgrp ddns-edge {procd.key_dir}/ddns-key.key",
        f"chmod g+r,g-w {procd.key_dir}/ddns-key.key",
    ]
    touched = [c for c in calls if c.split()[0] in ("mkdir", "chown", "chgrp", "chmod")]
    assert touched == expected  # the symlink is left alone; others are never given access


def state_dir_calls(calls, state):
    return [c for c in calls if c.split()[0] in ("mkdir", "chown", "chmod", "chgrp") and str(state) in c.split()]


@pytest.mark.parametrize("make", [
    lambda p: p.mkdir(mode=0o1777),  # a shared directory, as /tmp is
    lambda p: p.mkdir(mode=0o755),  # someone else's
    lambda p: p.symlink_to(p.parent / "keys"),  # a link, even to a directory
], ids=["shared", "someone else's", "link"])
def test_start_never_takes_over_a_state_dir_that_is_not_the_agents(procd, make):
    """With state_dir '/tmp' the script used to make a mode-1777 directory ddns-edge's, 0750."""
    state = procd.tmp / "state"
    make(state)
    rc, calls, err = procd.run("start_service", run_user="nobody")
    assert rc == 0, err
    assert state_dir_calls(calls, state) == []
    assert any(c.startswith(f"logger -t ddns-edge -p daemon.warning -- state_dir {state} exists and is not nobody's: left as it is") for c in calls)
    assert "procd_open_instance " in calls  # the agent still runs: no state file never stops updates


def test_start_uses_a_state_dir_that_is_the_agents_as_it_is(procd):
    state = procd.tmp / "state"
    state.mkdir(mode=0o750)
    user = pwd.getpwuid(os.getuid()).pw_name  # the owner of what this test makes
    rc, calls, err = procd.run("start_service", run_user=user)
    assert rc == 0 and "exists and is not" not in err
    assert state_dir_calls(calls, state) == []


def test_start_with_the_default_config_starts_nothing(procd, tmp_path):
    shutil.copy(DEFAULT_CONFIG, procd.config)
    rc, calls, err = procd.run("start_service")
    assert rc == 0
    assert not any(c.startswith(("procd_open_instance", "agent", "chgrp", "mkdir")) for c in calls)
    assert any(c.startswith("logger -t ddns-edge -p daemon.notice -- no record enabled") for c in calls)
    assert "no record enabled" in err


TOUCHING = ("mkdir", "chown", "chgrp", "chmod")


def test_start_checks_before_it_touches_anything(procd):
    rc, calls, err = procd.run("start")
    assert rc == 0, err
    check = calls.index(f"agent -c {procd.config} check")
    assert all(i > check for i, c in enumerate(calls) if c.startswith(TOUCHING))
    assert calls[-1] == "procd_close_service set"


def test_start_refuses_a_config_that_fails_the_check_and_touches_nothing(procd):
    """The script used to create and chown state_dir before the check, and `start` exited 0."""
    rc, calls, err = procd.run("start", STUB_CHECK_RC=2)
    assert rc == 1
    assert not any(c.startswith((*TOUCHING, "procd_open_instance", "procd_close_service")) for c in calls), calls
    assert not (procd.tmp / "state").exists()
    assert any(c.startswith("logger -t ddns-edge -p daemon.err --") and "option ttl" in c for c in calls)
    assert "option ttl" in err


REAL_CONFIG = """\
config agent 'agent'
\toption state_dir '{state_dir}'

config key 'home'
\toption secret 'c2VjcmV0IHNlY3JldCBzZWNyZXQgc2VjcmV0IDEyMzQ='

config record 'www'
\toption name 'www.example.com'
\toption device 'wan0'
"""


@pytest.mark.parametrize("make", [
    lambda p: p.chmod(0o660),
    lambda p: p.chmod(0o602),
    lambda p: os.chown(p, 4242, -1),
], ids=["group-writable", "world-writable", "another owner"])
def test_start_with_the_real_check_refuses_a_config_someone_else_may_change(procd, make):
    """`ddns-edge check` itself (not the stand-in) refuses it: nothing is touched, start exits 1."""
    if os.geteuid() != 0:
        pytest.skip("needs root (chown), as CI has")
    procd.config.write_text(REAL_CONFIG.format(state_dir=procd.tmp / "state"))
    procd.config.chmod(0o600)
    procd.agent = os.path.join(os.path.dirname(sys.executable), "ddns-edge")
    rc, calls, err = procd.run("start")
    assert rc == 0 and "procd_open_instance " in calls, err  # as it is: accepted
    make(procd.config)
    rc, calls, err = procd.run("start")
    assert rc == 1
    assert not any(c.startswith((*TOUCHING, "procd_open_instance", "procd_close_service")) for c in calls), calls
    assert "whoever" in err and "chooses the commands ddns-edge runs" in err
    assert any(c.startswith(f"logger -t ddns-edge -p daemon.err -- ddns-edge: {procd.config}: ") for c in calls)


def test_start_refuses_without_the_user(procd):
    rc, calls, err = procd.run("start", STUB_USER=0)
    assert rc == 1
    assert not any(c.startswith((*TOUCHING, "agent", "procd_open_instance", "procd_close_service")) for c in calls)
    assert "no user ddns-edge" in err


def test_reload_of_a_running_agent_is_sighup_after_the_check(procd):
    rc, calls, err = procd.run("reload_service", STUB_RUNNING=1)
    assert rc == 0, err
    assert not any(c.startswith(("procd_open_instance", "start")) for c in calls)
    check = calls.index(f"agent -c {procd.config} check")
    regroup = calls.index(f"chgrp ddns-edge {procd.config}")  # uci commit made it root:root again
    signal = calls.index("procd_send_signal ddns-edge * HUP")
    assert check < regroup < signal == len(calls) - 1


def test_reload_with_a_bad_config_keeps_the_running_agent(procd):
    rc, calls, err = procd.run("reload_service", STUB_RUNNING=1, STUB_CHECK_RC=2)
    assert rc == 1
    assert not any(c.startswith(("procd_send_signal", "procd_open_instance", "start", *TOUCHING)) for c in calls)
    assert "keeps the one it has" in err


def test_reload_with_a_bad_config_when_nothing_runs_touches_nothing(procd):
    rc, calls, err = procd.run("reload_service", STUB_RUNNING=0, STUB_CHECK_RC=2)
    assert rc == 1
    assert not any(c.startswith(("procd_open_instance", "procd_close_service", *TOUCHING)) for c in calls)
    assert "option ttl" in err


def test_reload_when_nothing_runs_is_a_start(procd):
    rc, calls, _ = procd.run("reload_service", STUB_RUNNING=0)
    assert rc == 0
    assert "start" in calls and instance(calls)["user"] == "ddns-edge"
    assert not any(c.startswith("procd_send_signal") for c in calls)


def test_reload_when_every_record_is_disabled_declares_nothing(procd):
    shutil.copy(DEFAULT_CONFIG, procd.config)
    rc, calls, _ = procd.run("reload_service", STUB_RUNNING=1)
    assert rc == 0
    assert "start" in calls  # and start declares no instance: procd stops the running one
    assert not any(c.startswith(("procd_open_instance", "procd_send_signal")) for c in calls)


# --- the default config -------------------------------------------------------------------


def test_default_config_is_valid_and_disabled():
    with open(DEFAULT_CONFIG) as f:
        text = f.read()
    cfg = config.parse(text, "/etc/config/ddns-edge", lambda path: keygen.generate("ddns-key"))
    assert cfg.records and not cfg.enabled_records()
    assert cfg.keys["home"].name == "ddns-key"
    assert cfg.agent.state_dir == "/var/run/ddns-edge"


# --- the .ipk -------------------------------------------------------------------------------


def members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return tar.getmembers()


def read_member(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return tar.extractfile(name).read()


@pytest.fixture(scope="module")
def ipk():
    name, data = mkipk.build(ROOT, "3.13", "1", mtime=EPOCH)
    outer = {m.name: read_member(data, m.name) for m in members(data)}
    return name, data, outer


def control_fields(outer) -> dict[str, str]:
    text = read_member(outer["./control.tar.gz"], "./control").decode()
    fields, last = {}, None
    for line in text.splitlines():
        if line.startswith(" "):
            fields[last] += "\n" + line[1:]
        else:
            last, value = line.split(":", 1)
            fields[last] = value.strip()
    return fields


def test_ipk_is_a_gzipped_tar_as_ipkg_build_writes_it(ipk):
    name, data, outer = ipk
    assert name == f"ddns-edge_{ddns_edge.__version__}-1_all.ipk"
    assert data[:2] == b"\x1f\x8b"  # gzip, not an ar archive ("!<arch>")
    assert [m.name for m in members(data)] == ["./debian-binary", "./data.tar.gz", "./control.tar.gz"]
    assert outer["./debian-binary"] == b"2.0\n"
    for part in (data, outer["./data.tar.gz"], outer["./control.tar.gz"]):
        assert part[:2] == b"\x1f\x8b"
        assert part[4:8] == b"\0\0\0\0"  # no time stamp in the gzip header


def test_ipk_data_paths_modes_and_owner(ipk):
    _, _, outer = ipk
    data = outer["./data.tar.gz"]
    entries = {m.name: m for m in members(data)}
    site = "./usr/lib/python3.13/site-packages/ddns_edge"
    assert {n: (m.mode, m.isdir()) for n, m in entries.items() if not n.startswith(site + "/")} == {
        ".": (0o755, True),  # "./" in the archive; tarfile drops the slash
        "./etc": (0o755, True),
        "./etc/config": (0o755, True),
        "./etc/config/ddns-edge": (0o600, False),
        "./etc/init.d": (0o755, True),
        "./etc/init.d/ddns-edge": (0o755, False),
        "./usr": (0o755, True),
        "./usr/bin": (0o755, True),
        "./usr/bin/ddns-edge": (0o755, False),
        "./usr/lib": (0o755, True),
        "./usr/lib/python3.13": (0o755, True),
        "./usr/lib/python3.13/site-packages": (0o755, True),
        site: (0o755, True),
    }
    modules = sorted(n[len(site) + 1 :] for n in entries if n.startswith(site + "/"))
    assert modules == sorted(os.path.basename(p) for p in mkipk.package_files(ROOT))
    assert "cli.py" in modules and "keygen.py" in modules and not any("pycache" in m or m.endswith(".pyc") for m in modules)
    for name, m in entries.items():
        assert (m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "root", "root", EPOCH), name
        if name.startswith(site + "/"):
            assert m.mode == 0o644
            with open(os.path.join(ROOT, "ddns_edge", name[len(site) + 1 :]), "rb") as f:
                assert read_member(data, name) == f.read()
    assert [m.name for m in members(data)] == sorted(entries, key=lambda n: [p for p in n.split("/") if p])


def test_ipk_installs_the_init_script_config_and_launcher_as_they_are(ipk):
    _, _, outer = ipk
    data = outer["./data.tar.gz"]
    with open(INIT, "rb") as f:
        assert read_member(data, "./etc/init.d/ddns-edge") == f.read()
    with open(DEFAULT_CONFIG, "rb") as f:
        assert read_member(data, "./etc/config/ddns-edge") == f.read()
    launcher = read_member(data, "./usr/bin/ddns-edge").decode()
    assert launcher.startswith("#!/usr/bin/python3\n")
    assert "from ddns_edge.cli import main" in launcher


def test_ipk_control(ipk):
    _, _, outer = ipk
    control = outer["./control.tar.gz"]
    assert {m.name: m.mode for m in members(control)} == {
        ".": 0o755, "./control": 0o644, "./conffiles": 0o644, "./postinst": 0o755, "./prerm": 0o755,
    }
    fields = control_fields(outer)
    assert fields["Package"] == "ddns-edge"
    assert fields["Version"] == f"{ddns_edge.__version__}-1"
    assert fields["Architecture"] == "all"
    assert fields["Require-User"] == "ddns-edge:ddns-edge"
    assert fields["Installed-Size"] == str(len(outer["./data.tar.gz"]))  # as ipkg-build sets it
    depends = fields["Depends"].split(", ")
    assert depends[0] == "python3-light"
    assert {"python3-dns", "python3-pyroute2", "python3-logging"} <= set(depends)
    assert len(depends) == len(set(depends))
    assert fields["Description"].startswith("Dynamic DNS")
    assert read_member(control, "./conffiles") == b"/etc/config/ddns-edge\n"


def test_ipk_maintainer_scripts_are_openwrts_defaults(ipk, tmp_path):
    _, _, outer = ipk
    control = outer["./control.tar.gz"]
    postinst = read_member(control, "./postinst").decode()
    prerm = read_member(control, "./prerm").decode()
    assert ". ${IPKG_INSTROOT}/lib/functions.sh\ndefault_postinst $0 $@\n" in postinst
    assert '[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0' in postinst
    assert ". ${IPKG_INSTROOT}/lib/functions.sh\ndefault_prerm $0 $@\n" in prerm
    for name, text in (("postinst", postinst), ("prerm", prerm)):
        script = tmp_path / name
        script.write_text(text)
        assert text.startswith("#!/bin/sh\n")
        for shell in SHELLS:
            assert subprocess.run([*shell, "-n", str(script)]).returncode == 0
        # without /lib/functions.sh (not OpenWrt) they do nothing and succeed
        env = dict(os.environ, IPKG_INSTROOT=str(tmp_path / "nowhere"))
        assert subprocess.run(["sh", str(script)], env=env).returncode == 0


def test_ipk_depends_covers_every_split_stdlib_module_ddns_edge_imports():
    imported = {name.split(".")[0] for name in mkipk.imported_modules(ROOT)}
    assert "logging" in imported  # report.py
    deps = mkipk.depends(ROOT)
    for module, package in mkipk.STDLIB_PACKAGES.items():
        if module in imported:
            assert package in deps, f"ddns_edge imports {module}: Depends needs {package}"


def test_depends_maps_imports_to_the_feeds_split_packages(tmp_path):
    pkg = tmp_path / "ddns_edge"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('__version__ = "9.9"\n')
    (pkg / "a.py").write_text(
        "import os, json\nimport dns.tsig\nfrom pyroute2 import IPRoute\nimport http.client\n"
        "def f():\n    import ssl\n    from dbm.gnu import open\n    from . import b\n    from ddns_edge import c\n"
    )
    assert mkipk.depends(str(tmp_path)) == [
        "python3-light", "python3-dns", "python3-pyroute2", "python3-email", "python3-gdbm", "python3-openssl",
    ]
    (pkg / "b.py").write_text("import requests\n")
    with pytest.raises(mkipk.BuildError, match="'requests'"):
        mkipk.depends(str(tmp_path))


def test_ipk_python_version_is_a_variable():
    _, data = mkipk.build(ROOT, "3.11", "2", mtime=EPOCH)
    outer = {m.name: read_member(data, m.name) for m in members(data)}
    names = [m.name for m in members(outer["./data.tar.gz"])]
    assert "./usr/lib/python3.11/site-packages/ddns_edge/cli.py" in names
    assert not any("python3.13" in n for n in names)
    assert control_fields(outer)["Version"].endswith("-2")
    with pytest.raises(mkipk.BuildError):
        mkipk.build(ROOT, "3", "1", mtime=EPOCH)


def test_ipk_is_reproducible(tmp_path):
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(EPOCH))
    out = []
    for n in range(2):
        proc = subprocess.run(["python3", os.path.join(ROOT, "tools", "mkipk.py"), "-o", str(tmp_path / str(n))],
                              capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stderr
        paths = proc.stdout.split()
        assert [os.path.basename(p) for p in paths] == [f"ddns-edge_{ddns_edge.__version__}-1_all.ipk",
                                                       f"luci-app-ddns-edge_{ddns_edge.__version__}-1_all.ipk"]
        out.append(b"".join(open(p, "rb").read() for p in paths))
        os.utime(INIT)  # a fresh mtime in the tree changes nothing
    assert out[0] == out[1]
    assert mkipk.build(ROOT, mtime=EPOCH)[1] != mkipk.build(ROOT, mtime=EPOCH + 1)[1]


def test_ipk_unpacks_with_gnu_tar(tmp_path, ipk):
    _, data, _ = ipk
    (tmp_path / "p.ipk").write_bytes(data)
    subprocess.run(["tar", "-xzf", "p.ipk"], cwd=tmp_path, check=True)
    (tmp_path / "root").mkdir()
    subprocess.run(["tar", "-xzf", "../data.tar.gz"], cwd=tmp_path / "root", check=True)
    assert os.stat(tmp_path / "root/etc/config/ddns-edge").st_mode & 0o777 == 0o600
    assert os.stat(tmp_path / "root/etc/init.d/ddns-edge").st_mode & 0o777 == 0o755
    site = tmp_path / "root/usr/lib/python3.13/site-packages"
    proc = subprocess.run(["python3", "-c", "import ddns_edge.keygen as k; print(k.DEFAULT_ALGORITHM)"],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(site)), cwd=tmp_path)
    assert proc.stdout.strip() == "hmac-sha256", proc.stderr


# --- openwrt/Makefile ----------------------------------------------------------------------


def makefile_value(name: str) -> str:
    with open(MAKEFILE) as f:
        m = re.search(rf"^\s*{name}:=(.*)$", f.read(), re.MULTILINE)
    assert m, name
    return m.group(1).strip()


def test_makefile_agrees_with_the_ipk(ipk):
    _, _, outer = ipk
    fields = control_fields(outer)
    assert makefile_value("PKG_VERSION") == ddns_edge.__version__
    assert f'{makefile_value("PKG_VERSION")}-{makefile_value("PKG_RELEASE")}' == fields["Version"]
    deps = [d.lstrip("+") for d in makefile_value("DEPENDS").split()]
    assert sorted(deps) == sorted(fields["Depends"].split(", ")), "openwrt/Makefile DEPENDS and the .ipk's Depends differ"
    assert makefile_value("USERID") == fields["Require-User"]
    assert makefile_value("PKGARCH") == "all"
    with open(MAKEFILE) as f:
        text = f.read()
    assert "define Package/ddns-edge/conffiles\n/etc/config/ddns-edge\nendef" in text


FAKE_RULES = """\
INCLUDE_DIR:=$(TOPDIR)/include
INSTALL_DIR:=install -d -m0755
INSTALL_BIN:=install -m0755
INSTALL_CONF:=install -m0600
CP:=cp -fpR
"""
FAKE_PACKAGE_MK = """\
define BuildPackage
$(eval $(Package/$(1)))
$(info DEPENDS=$(DEPENDS))
$(info USERID=$(USERID))
$(info PKGARCH=$(PKGARCH))
$(info CONFFILES=$(strip $(Package/$(1)/conffiles)))
prepare:
$(Build/Prepare)
install:
$(call Py3Package/$(1)/install,$(DESTDIR))
endef
"""


@pytest.fixture
def fake_sdk(tmp_path):
    if not shutil.which("make"):
        pytest.skip("no make")
    top = tmp_path / "sdk"
    (top / "include").mkdir(parents=True)
    (top / "rules.mk").write_text(FAKE_RULES)
    (top / "include" / "package.mk").write_text(FAKE_PACKAGE_MK)
    py = top / "feeds" / "packages" / "lang" / "python"
    py.mkdir(parents=True)
    (py / "python3-package.mk").write_text("define Py3Package\nendef\n")
    inst = tmp_path / "ipkg-install"
    (inst / "usr" / "bin").mkdir(parents=True)
    (inst / "usr" / "bin" / "ddns-edge").write_text("#!/usr/bin/python3\n")
    return top


def make(top, tmp_path, *goals, **variables):
    args = ["make", "-s", "-C", os.path.join(ROOT, "openwrt"), f"TOPDIR={top}",
            f"PKG_INSTALL_DIR={tmp_path / 'ipkg-install'}", f"PKG_BUILD_DIR={tmp_path / 'build'}",
            f"DESTDIR={tmp_path / 'root'}", *(f"{k}={v}" for k, v in variables.items()), *goals]
    return subprocess.run(args, capture_output=True, text=True)


def test_makefile_install_rules_under_a_stand_in_sdk(fake_sdk, tmp_path):
    proc = make(fake_sdk, tmp_path, "install")
    assert proc.returncode == 0, proc.stderr
    assert "DEPENDS=+python3-light" in proc.stdout
    assert "USERID=ddns-edge:ddns-edge" in proc.stdout
    assert "CONFFILES=/etc/config/ddns-edge" in proc.stdout
    root = tmp_path / "root"
    assert (root / "usr/bin/ddns-edge").is_file()  # the wheel's console script, copied as it is
    modes = {p: os.stat(root / p).st_mode & 0o777 for p in ("etc/init.d/ddns-edge", "etc/config/ddns-edge")}
    assert modes == {"etc/init.d/ddns-edge": 0o755, "etc/config/ddns-edge": 0o600}
    assert (root / "etc/init.d/ddns-edge").read_bytes() == open(INIT, "rb").read()


def test_makefile_prepare_copies_the_source_of_its_checkout(fake_sdk, tmp_path):
    proc = make(fake_sdk, tmp_path, "prepare")
    assert proc.returncode == 0, proc.stderr
    build = tmp_path / "build"
    assert (build / "ddns_edge" / "cli.py").is_file() and (build / "setup.cfg").is_file()
    assert not list(build.rglob("__pycache__"))
    bad = make(fake_sdk, tmp_path, "prepare", DDNS_EDGE_SRC=str(tmp_path / "nowhere"))
    assert bad.returncode != 0 and "no source tree at" in bad.stderr and "DDNS_EDGE_SRC=" in bad.stderr


def test_makefile_says_when_the_packages_feed_is_missing(fake_sdk, tmp_path):
    shutil.rmtree(fake_sdk / "feeds")
    proc = make(fake_sdk, tmp_path, "install")
    assert proc.returncode != 0 and "python3-package.mk" in proc.stderr


# --- init.d/ddns-edge (LSB) -----------------------------------------------------------------

FAKE_LSB_AGENT = """#!/bin/sh
# stands in for ddns-edge: `check` fails while $FAKE_DIR/bad exists; `run` follows signals
case " $* " in
*" check "*)
	if [ -e "$FAKE_DIR/bad" ]; then echo "$2:3: option ttl: 'x' is not a number" >&2; exit 2; fi
	echo "$2: ok"; exit 0 ;;
esac
echo "agent started $$ $*"
trap 'echo "agent reloaded $$"' HUP
trap 'echo "agent stopping $$"; exit 0' TERM
while :; do sleep 1 & wait $!; done
"""


class Lsb:
    def __init__(self, tmp, shell):
        self.tmp, self.shell = tmp, shell
        (tmp / "bin").mkdir()
        self.agent = tmp / "bin" / "ddns-edge"
        self.agent.write_text(FAKE_LSB_AGENT)
        self.agent.chmod(0o755)
        self.pidfile = tmp / "ddns-edge.pid"
        self.log = tmp / "log"
        self.log.write_text("")
        self.env = dict(os.environ, FAKE_DIR=str(tmp), DDNS_EDGE=str(self.agent), DDNS_EDGE_CONFIG=str(tmp / "cfg"),
                        DDNS_EDGE_PIDFILE=str(self.pidfile), DDNS_EDGE_LOGGER=f"tee -a {self.log}", DDNS_EDGE_STOP_TIMEOUT="3")

    def __call__(self, *action, **env):
        proc = subprocess.run([*self.shell, LSB_INIT, *action], capture_output=True, text=True,
                              env={**self.env, **env}, timeout=60)
        return proc.returncode, proc.stdout + proc.stderr

    def pid(self) -> int:
        return int(self.pidfile.read_text())

    def wait_log(self, text: str, timeout: float = 5) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log.read_text():
                return True
            time.sleep(0.05)
        return False

    def kill_leftovers(self):
        try:
            os.kill(self.pid(), 9)
        except (OSError, ValueError):
            pass


@pytest.fixture(params=SHELLS, ids=SHELL_IDS)
def lsb(request, tmp_path):
    runner = Lsb(tmp_path, request.param)
    yield runner
    runner.kill_leftovers()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:  # reaped between the two looks
        return False


def test_lsb_lifecycle(lsb):
    assert lsb("status")[0] == 3
    rc, out = lsb("start")
    assert rc == 0, out
    pid = lsb.pid()
    # the pid file names the agent itself (not the logger), and its output reaches the logger
    assert lsb.wait_log(f"agent started {pid} -c {lsb.tmp / 'cfg'} run")
    assert lsb("status") == (0, f"ddns-edge: running (pid {pid})\n")
    assert lsb("start")[0] == 0 and lsb.pid() == pid  # already running: nothing new

    assert lsb("reload")[0] == 0
    assert lsb.wait_log(f"agent reloaded {pid}")
    (lsb.tmp / "bad").write_text("")
    rc, out = lsb("force-reload")
    assert rc == 6 and "option ttl" in out  # checked first: not sent, still running
    assert alive(pid) and lsb.log.read_text().count("agent reloaded") == 1
    (lsb.tmp / "bad").unlink()

    rc, out = lsb("restart")
    assert rc == 0, out
    assert lsb.pid() != pid and not alive(pid)
    pid = lsb.pid()
    assert lsb("stop")[0] == 0
    assert lsb.wait_log(f"agent stopping {pid}")
    assert not alive(pid) and not lsb.pidfile.exists()
    assert lsb("status")[0] == 3
    assert lsb("stop")[0] == 0  # stopping a stopped service succeeds
    assert lsb("reload")[0] == 7
    assert lsb("try-restart")[0] == 0 and not lsb.pidfile.exists()


def test_lsb_status_of_a_dead_agent_with_a_pid_file(lsb):
    assert lsb("start")[0] == 0
    pid = lsb.pid()
    os.kill(pid, 9)
    for _ in range(600):
        if not alive(pid):
            break
        time.sleep(0.05)
    rc, out = lsb("status")
    assert rc == 1 and "dead" in out
    lsb.pidfile.write_text("garbage\n")
    assert lsb("status")[0] == 1
    lsb.pidfile.write_text(f"{os.getpid()}\n")  # a live process, but not ddns-edge
    assert lsb("status")[0] == 1
    assert lsb("start")[0] == 0 and lsb.pid() != os.getpid()
    assert lsb("stop")[0] == 0


def test_lsb_start_refusals(lsb):
    (lsb.tmp / "bad").write_text("")
    rc, out = lsb("start")
    assert rc == 6 and "option ttl" in out and not lsb.pidfile.exists()
    assert "option ttl" in lsb.log.read_text()  # told to syslog too
    rc, _ = lsb("start", DDNS_EDGE=str(lsb.tmp / "missing"))
    assert rc == 5
    assert lsb("frobnicate")[0] == 3
    assert lsb()[0] == 2


# --- init.d/ddns-edge.service (systemd) -----------------------------------------------------

SERVICE = os.path.join(ROOT, "init.d", "ddns-edge.service")


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    with open(SERVICE) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", "[")):
                key, value = line.split("=", 1)
                settings.setdefault(key, []).append(value)
    return settings


def test_systemd_unit_settings():
    s = unit_settings()
    assert s["Type"] == ["simple"]
    assert s["ExecStartPre"] == ["/usr/bin/ddns-edge -c /etc/config/ddns-edge check"]
    assert s["ExecStart"] == ["/usr/bin/ddns-edge -c /etc/config/ddns-edge run"]
    assert s["ExecReload"] == ["/usr/bin/ddns-edge -c /etc/config/ddns-edge check", "/bin/kill -HUP $MAINPID"]
    assert s["RuntimeDirectory"] == ["ddns-edge"]
    families = s["RestrictAddressFamilies"][0].split()
    assert {"AF_NETLINK", "AF_INET", "AF_INET6", "AF_UNIX"} == set(families)
    assert "PrivateNetwork" not in s and s["CapabilityBoundingSet"] == [""]
    assert s["NoNewPrivileges"] == ["yes"] and s["ProtectSystem"] == ["strict"]


def test_systemd_analyze_verify_has_nothing_to_say(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("no systemd-analyze")
    unit = tmp_path / "ddns-edge.service"
    unit.write_text(open(SERVICE).read().replace("/usr/bin/ddns-edge", "/bin/true"))  # verify wants the binary
    proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout + proc.stderr == "", proc.stdout + proc.stderr


# --- building from a checkout -------------------------------------------------------------


def test_building_from_a_checkout_leaves_nothing_untracked(tmp_path):
    """`pip install .` builds with setuptools in the checkout: build/ (and *.egg-info) are
    left behind, and git ignores them. Run here as pip runs it, on a copy of the checkout."""
    copy = tmp_path / "checkout"
    files = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"], capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        if os.path.isfile(os.path.join(ROOT, name)):
            os.makedirs(copy / os.path.dirname(name), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, name), copy / name)
    git = ["git", "-C", str(copy), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "checkout"], check=True)
    build = subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "egg_info", "build"],
                           cwd=copy, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    assert (copy / "build" / "lib" / "ddns_edge" / "cli.py").is_file()
    status = subprocess.run([*git, "status", "--porcelain", "--untracked-files=all"], capture_output=True, text=True, check=True)
    assert status.stdout == "", status.stdout
