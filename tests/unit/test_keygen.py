"""keygen: a new TSIG key as a BIND key clause that BIND, keys.py and config.py all load."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys

import pytest

from ddns_edge import keygen, keys
from ddns_edge.errors import UsageError

ALGORITHMS = [("hmac-md5", 16), ("hmac-sha1", 20), ("hmac-sha224", 28), ("hmac-sha256", 32), ("hmac-sha384", 48), ("hmac-sha512", 64)]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def counting_bytes(n: int) -> bytes:
    return bytes(range(n))


def named_checkconf() -> str:
    path = shutil.which("named-checkconf", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin"]))
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("named-checkconf is missing (bind9-utils); CI must have it")
        pytest.skip("named-checkconf not installed (bind9-utils)")
    return path


def write(path, text: str, mode: int = 0o600) -> str:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return str(path)


@pytest.mark.parametrize("algorithm, size", ALGORITHMS)
def test_secret_is_as_long_as_the_digest(algorithm, size):
    asked = []

    def token_bytes(n):
        asked.append(n)
        return counting_bytes(n)

    text = keygen.generate("ddns-key", algorithm, token_bytes=token_bytes)
    assert asked == [size]
    found = keys.parse_key_file(text, "/etc/ddns-edge/ddns-key.key")
    assert found == keys.KeyFile("ddns-key", algorithm, counting_bytes(size), 1)


def test_default_algorithm_is_hmac_sha256_and_secrets_are_fresh():
    a = keys.parse_key_file(keygen.generate("ddns-key"), "a.key")
    b = keys.parse_key_file(keygen.generate("ddns-key"), "b.key")
    assert a.algorithm == b.algorithm == "hmac-sha256"
    assert len(a.secret) == 32 and a.secret != b.secret


def test_clause_comes_first_and_everything_after_it_is_a_comment():
    text = keygen.render("ddns-key", "hmac-sha256", b"\x01" * 32)
    b64 = base64.b64encode(b"\x01" * 32).decode()
    lines = text.splitlines()
    assert lines[:4] == ['key "ddns-key" {', "\talgorithm hmac-sha256;", f'\tsecret "{b64}";', "};"]
    assert all(line == "" or line.startswith("#") for line in lines[4:])
    assert text.endswith("\n")


@pytest.mark.parametrize("given, canonical", [("HMAC-SHA512", "hmac-sha512"), ("hmac-sha1.", "hmac-sha1"), (" hmac-md5 ", "hmac-md5")])
def test_algorithm_spelling_is_forgiven(given, canonical):
    text = keygen.render("k", given, b"x" * 8)
    assert f"algorithm {canonical};" in text


@pytest.mark.parametrize("name", ["ddns-key", "router1.example.com", "router1.example.com.", "_tsig.example", "k", "a" * 63])
def test_names_accepted(name):
    text = keygen.render(name, "hmac-sha256", b"x" * 32)
    assert text.startswith(f'key "{name.rstrip(".")}" {{')


@pytest.mark.parametrize(
    "name",
    ["", "bad name", 'quote"', "semi;colon", "a..b", ".lead", "-lead", "trail-", "a" * 64, "ütf", "back\\slash", ("a" * 60 + ".") * 5],
)
def test_names_refused_with_what_is_allowed(name):
    with pytest.raises(UsageError) as e:
        keygen.render(name, "hmac-sha256", b"x" * 32)
    assert e.value.exit_status == 2
    assert "allowed: letters, digits" in str(e.value)


@pytest.mark.parametrize("algorithm", ["hmac-sha3", "sha256", "", "gss-tsig"])
def test_algorithms_refused_with_the_list(algorithm):
    with pytest.raises(UsageError) as e:
        keygen.generate("ddns-key", algorithm)
    assert e.value.exit_status == 2
    assert "allowed: hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512" in str(e.value)


def test_zone_fills_the_server_side():
    text = keygen.render("rtr", "hmac-sha512", b"s" * 64, zone="home.example.org.")
    assert "grant rtr name www.home.example.org. A AAAA;" in text
    assert 'zone "home.example.org" {' in text
    assert "pdnsutil set-meta home.example.org TSIG-ALLOW-DNSUPDATE rtr" in text
    assert "- domain: home.example.org" in text
    assert "replace" not in text
    with pytest.raises(UsageError):
        keygen.render("rtr", "hmac-sha512", b"s" * 64, zone="bad zone")


def test_without_a_zone_the_examples_say_what_to_replace():
    text = keygen.render("rtr", "hmac-sha256", b"s" * 32)
    assert "replace example.com and www.example.com with your zone and name" in text


def test_server_side_names_the_key_algorithm_and_secret():
    secret = bytes(range(48))
    b64 = base64.b64encode(secret).decode()
    text = keygen.render("ddns-key", "hmac-sha384", secret, zone="example.net")
    comments = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    # Knot
    assert re.search(r"#\s+- id: ddns-key\n#\s+algorithm: hmac-sha384\n#\s+secret: " + re.escape(b64), comments)
    assert re.search(r"#\s+key: ddns-key\n#\s+action: update\n#\s+update-type: \[A, AAAA\]", comments)
    # PowerDNS
    assert f"pdnsutil import-tsig-key ddns-key hmac-sha384 '{b64}'" in comments


def test_named_checkconf_accepts_the_file(tmp_path):
    path = write(tmp_path / "ddns-key.key", keygen.generate("ddns-key", "hmac-sha512", zone="example.com"))
    proc = subprocess.run([named_checkconf(), path], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_named_checkconf_accepts_the_bind_side_as_written(tmp_path):
    """The commented BIND lines, uncommented, make a named.conf that BIND accepts."""
    key_file = write(tmp_path / "ddns-key.key", keygen.generate("ddns-key", zone="example.com"))
    text = open(key_file).read()
    block = text[text.index("# BIND") : text.index("# Knot")]
    conf = [line[1:] for line in block.splitlines() if line.startswith("#   ")]
    assert conf and conf[0].strip() == 'include "/etc/bind/ddns-key.key";'
    conf[0] = f'include "{key_file}";'
    alternative = re.search(r"`(grant [^`]+)`", block)[1]  # the zonesub grant, offered in prose
    conf.insert(conf.index("       };") , "           " + alternative)
    named = write(tmp_path / "named.conf", f'options {{ directory "{tmp_path}"; }};\n' + "\n".join(conf) + "\n", 0o644)
    proc = subprocess.run([named_checkconf(), named], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr + "\n" + open(named).read()


def test_config_loads_it_with_option_file(tmp_path):
    from ddns_edge import config

    key_file = write(tmp_path / "ddns-key.key", keygen.render("ddns-key", "hmac-sha224", b"k" * 28))
    cfg_file = write(
        tmp_path / "ddns-edge",
        f"config key 'home'\n\toption file '{key_file}'\n\n"
        "config record 'www'\n\toption name 'www.example.com'\n\toption device 'wan0'\n",
    )
    cfg = config.load(cfg_file)
    key = cfg.keys["home"]
    assert (key.name, key.algorithm, key.secret) == ("ddns-key", "hmac-sha224", b"k" * 28)
    assert key.origin == f"{key_file}:1"


def test_cli_keygen(tmp_path):
    run = [sys.executable, "-m", "ddns_edge", "keygen"]
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run(run + ["ddns-key", "--algorithm", "hmac-sha512", "--zone", "example.org"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    found = keys.parse_key_file(proc.stdout, "k.key")
    assert (found.name, found.algorithm, len(found.secret)) == ("ddns-key", "hmac-sha512", 64)
    assert "grant ddns-key name www.example.org. A AAAA;" in proc.stdout
    default = subprocess.run(run + ["ddns-key"], capture_output=True, text=True, env=env)
    assert default.returncode == 0 and "algorithm hmac-sha256;" in default.stdout
    bad = subprocess.run(run + ["bad name"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and bad.stdout == ""
    assert len(bad.stderr.splitlines()) == 1 and "Traceback" not in bad.stderr
