"""The command line: exit statuses, one-line errors, and what each command loads."""

import json
import os
import subprocess
import sys

import pytest

from ddns_edge import cli, state

S256 = "Wi28mLDG6l5YrDIg27zPh5tvG2jWR4GBt1Sq3WUUop8="
GOOD = (f"config key 'home'\n\toption secret '{S256}'\n"
        "config record 'www'\n\toption name 'www.example.com'\n\toption device 'no-such-dev0'\n")


@pytest.fixture
def conf(tmp_path):
    def write(text: str, mode: int = 0o600) -> str:
        path = tmp_path / "ddns-edge"
        path.write_text(text)
        path.chmod(mode)
        return str(path)
    return write


def run(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_check_ok(capsys, conf):
    path = conf(GOOD)
    assert run(capsys, "-c", path, "check") == (0, f"{path}: ok: 1 record(s) enabled, 1 key(s)\n", "")


@pytest.mark.parametrize(
    "text, mode, want",
    [
        (GOOD + "\toption ttl '0'\n", 0o600, ":6: option ttl: 0 is out of range; allowed: a whole number 1..604800 seconds"),
        (GOOD, 0o644, "key material is readable by others (mode 0644); run: chmod 600"),
        (GOOD.replace("'home'", "'home'\n\toption name '..'"), 0o600, ":2: option name: '..' is not a valid TSIG key name"),
        ("config agent\n\tlist echo 'dns://ns.example:99999/x'\n", 0o600, ":2: echo: the server of the dns echo source"),
    ],
    ids=["bad ttl", "mode", "key name", "echo a round would refuse"],
)
def test_bad_config_is_one_line_and_exit_2(capsys, conf, text, mode, want):
    path = conf(text, mode)
    status, out, err = run(capsys, "-c", path, "check")
    assert status == 2 and out == "" and err.count("\n") == 1 and err.startswith(f"ddns-edge: {path}")
    assert want in err and "Traceback" not in err


def test_a_missing_config_is_exit_2(capsys, tmp_path):
    status, _, err = run(capsys, "-c", str(tmp_path / "none"), "check")
    assert status == 2 and "cannot read the config file: No such file or directory" in err


@pytest.mark.parametrize("make, why", [
    (lambda p: os.mkfifo(p, 0o600), "not a regular file (a FIFO)"),  # check used to hang with no output
    (lambda p: os.symlink("/dev/zero", p), "not a regular file (a character device)"),  # grew to 3.8 GB
], ids=["fifo", "/dev/zero"])
def test_check_of_a_config_that_is_no_file_is_one_line_and_exit_2(capsys, tmp_path, hang_guard, make, why):
    path = tmp_path / "ddns-edge"
    make(path)
    status, out, err = run(capsys, "-c", str(path), "check")
    assert status == 2 and out == "" and err == f"ddns-edge: {path}: {why}; allowed: a uci config file, a regular file of at most 8 MiB\n"


def test_status_of_a_state_file_that_is_a_fifo_is_one_line(capsys, conf, tmp_path, hang_guard):
    path = conf(GOOD + f"config agent\n\toption state_dir '{tmp_path}/state'\n")
    (tmp_path / "state").mkdir()
    os.mkfifo(tmp_path / "state" / "state.json", 0o600)  # `status` used to wait on it for good
    status, out, err = run(capsys, "-c", path, "status")
    assert status == 1 and out == ""
    assert err == f"ddns-edge: {tmp_path}/state/state.json: unreadable state file: not a regular file (a FIFO)\n"


def test_detect_says_where_each_address_comes_from_and_fails_without_one(capsys, conf):
    status, out, _ = run(capsys, "-c", conf(GOOD), "detect")
    assert status == 1 and out == "www.example.com A no address (interface no-such-dev0: no such device)\n"
    status, out, _ = run(capsys, "-c", conf(GOOD.replace("no-such-dev0", "lo")), "detect")
    assert status == 1 and "only a private address (127.0.0.1)" not in out  # loopback is never a candidate
    assert out.startswith("www.example.com A no address (interface lo: ")


def test_status_reads_the_state_file(capsys, conf, tmp_path):
    path = conf(GOOD + f"config agent\n\toption state_dir '{tmp_path}/state'\n")
    status, _, err = run(capsys, "-c", path, "status")
    assert status == 1 and "no state file in" in err and "is `ddns-edge run` running?" in err
    (tmp_path / "state").mkdir()
    rows = [{"name": "www.example.com", "type": "A", "address": "198.51.100.2", "source": "interface wan0",
             "changed_at": 0.0, "confirmed_at": 60.0, "last_error": None, "error_at": None, "failures": 0, "next_retry": None}]
    (tmp_path / "state" / "state.json").write_text(state.render(rows, 60.0))
    status, out, _ = run(capsys, "-c", path, "status")
    assert status == 0 and "www.example.com A: 198.51.100.2 (from interface wan0), changed 1970-01-01T00:00:00Z, confirmed 1970-01-01T00:01:00Z" in out
    status, out, _ = run(capsys, "-c", path, "status", "--json")
    assert status == 0 and json.loads(out)["records"][0]["address"] == "198.51.100.2"


def test_keygen(capsys):
    status, out, _ = run(capsys, "keygen", "ddns-key")
    assert status == 0 and out.startswith('key "ddns-key" {\n\talgorithm hmac-sha256;\n\tsecret "')
    status, out, err = run(capsys, "keygen", "-a", "hmac-sha3", "ddns-key")
    assert status == 2 and out == "" and "algorithm 'hmac-sha3' is not a TSIG HMAC algorithm" in err
    status, _, err = run(capsys, "keygen", "bad-.example")
    assert status == 2 and "is not a plain DNS name" in err


def test_config_prints_it_without_its_secrets(capsys, conf):
    path = conf(GOOD + "\tlist secret 'x'\n" + "config agent\n\tlist echo \"exec:curl -u me:hunter2 https://x/\"\n", 0o644)
    status, out, err = run(capsys, "-c", path, "config")
    assert (status, err) == (0, "")
    assert out == ("config key 'home'\n\t# option secret: set (not shown)\n\n"
                   "config record 'www'\n\toption name 'www.example.com'\n\toption device 'no-such-dev0'\n"
                   "\t# option secret: set (not shown)\n\n"
                   "config agent\n\tlist echo 'exec:curl (echo source 1)'\n\n")
    status, out, _ = run(capsys, "-c", path, "config", "--json")
    assert status == 0 and json.loads(out)["sections"][0] == {".type": "key", ".name": "home", ".anonymous": False, "secret_set": True}
    assert S256 not in out and "hunter2" not in out
    status, out, err = run(capsys, "-c", path + ".none", "config", "--json")
    assert status == 2 and out == "" and "cannot read the config file" in err


def test_a_time_limit_ends_the_command_saying_so_and_kills_what_it_started(conf, tmp_path):
    """LuCI waits about 20 s for an answer: the rpcd plugin runs detect and check --online
    with --time-limit, and an exec: echo source that hangs is killed with the command."""
    pid_file = tmp_path / "pid"
    path = conf("config agent\n\toption echo_quorum '1'\n"
                f"\tlist echo 'exec:echo $$ > {pid_file}; exec sleep 60'\n" + GOOD.replace(
                    "option device 'no-such-dev0'", "option source 'echo'"))
    proc = subprocess.run([sys.executable, "-m", "ddns_edge", "--time-limit", "1", "-c", path, "detect"],
                          capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stderr) == (1, "ddns-edge: gave up after 1 s (--time-limit 1)\n")
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.parametrize("value", ["0", "x", "3601", "-1"])
def test_a_time_limit_is_whole_seconds(capsys, value):
    with pytest.raises(SystemExit) as info:
        cli.main(["--time-limit", value, "check"])
    assert info.value.code == 2 and "is not a whole number of seconds 1..3600" in capsys.readouterr().err


def test_usage_errors_are_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["frobnicate"])
    assert info.value.code == 2


# Each command imports what it needs inside its function (DESIGN.md): a router pays for
# dnspython only where DNS is spoken, and for pyroute2 only where the kernel is read.
@pytest.mark.parametrize(
    "argv, loads, not_loads",
    [
        (["keygen", "ddns-key"], [], ["dns", "pyroute2", "ddns_edge.config", "ddns_edge.netlink"]),
        (["-c", "{conf}", "check"], ["ddns_edge.config"], ["dns", "pyroute2", "ddns_edge.netlink", "ddns_edge.agent", "importlib.metadata"]),
        (["-c", "{conf}", "status"], ["ddns_edge.state", "ddns_edge.config"], ["dns", "pyroute2", "ddns_edge.agent"]),
        (["-c", "{conf}", "detect"], ["ddns_edge.netlink", "pyroute2.netlink.rtnl.ifinfmsg"], ["ddns_edge.agent", "dns.update", "importlib.metadata"]),
        (["-c", "{conf}", "config", "--json"], ["ddns_edge.config"], ["pyroute2", "ddns_edge.netlink", "ddns_edge.agent", "dns.resolver"]),
    ],
    ids=["keygen", "check", "status", "detect", "config"],
)
def test_what_each_command_loads(conf, argv, loads, not_loads):
    path = conf(GOOD)
    code = (
        "import sys\n"
        "from ddns_edge import cli\n"
        f"status = cli.main({[a.format(conf=path) for a in argv]!r})\n"
        "print('MODULES', ' '.join(sorted(sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    modules = set(proc.stdout.split("MODULES ", 1)[1].split())
    for name in loads:
        assert name in modules, f"{argv[-1]} should load {name}"
    for name in not_loads:
        assert not any(m == name or m.startswith(name + ".") for m in modules), f"{argv[-1]} loads {name}"
