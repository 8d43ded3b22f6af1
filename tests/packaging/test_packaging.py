"""Packaging: the procd init script, the LSB script and systemd unit, the default config.

The packages themselves: test_ipk.py, test_apk.py (and test_apk_tools.py with the real apk),
test_depends.py, test_scripts.py (their maintainer scripts on a stand-in router),
test_feed_makefile.py (openwrt/Makefile under a stand-in SDK).

The procd script runs here under stand-ins for procd.sh, rc.common and /lib/functions.sh
(procd_* record what they are told; config_load sources the uci file, which is valid sh),
in every POSIX shell on the machine (busybox ash is what OpenWrt runs).
"""

from __future__ import annotations

import os
import re
import pwd
import shutil
import subprocess
import sys
import time

import pytest

from ddns_edge import config, keygen
from tests.packaging.pkgfiles import ROOT, SHELL_IDS, SHELLS

INIT = os.path.join(ROOT, "openwrt", "files", "ddns-edge.init")
DEFAULT_CONFIG = os.path.join(ROOT, "openwrt", "files", "ddns-edge.config")
LSB_INIT = os.path.join(ROOT, "init.d", "ddns-edge")


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
        "command": f"{procd.agent} --syslog -c {procd.config} run",
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


def test_the_floors_in_setup_cfg_are_the_versions_make_test_runs():
    """setup.cfg's floors are what the floor venv installs, and what OpenWrt 24.10/25.12 ship."""
    with open(os.path.join(ROOT, "setup.cfg")) as f:
        cfg = f.read()
    with open(os.path.join(ROOT, "Makefile")) as f:
        makefile = f.read()
    floors = dict(re.findall(r"^\s+(dnspython|pyroute2)>=([\d.]+)$", cfg, re.M))
    pins = dict(re.findall(r"(dnspython|pyroute2)==([\d.]+)", re.search(r"^FLOOR_PINS := (.*)$", makefile, re.M)[1]))
    assert floors == pins == {"dnspython": "2.4.1", "pyroute2": "0.7.9"}
    assert re.search(r"^python_requires = >=3\.11$", cfg, re.M) and re.search(r"^PYTHON_FLOOR \?= python3\.11$", makefile, re.M)
