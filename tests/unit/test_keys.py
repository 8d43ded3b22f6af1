"""keys: BIND key clauses, dnssec-keygen files, secrets, file modes."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddns_edge import algorithms, keys
from ddns_edge.errors import ConfigError

# From the reference (dynamic-dns-from-scratch.txt): dnssec-keygen -a HMAC-SHA512 -b 512 -n USER ddns-key
REF_B64 = "bMyHJ/P3NvfPSAa6fuXCxR8duF+0vsHMzwRnSc2NrPZBu/Qq9tSzpeyYGH8IIjCu7u8j5KCOGfl6IROPdAxWMg=="
REF_SECRET = base64.b64decode(REF_B64)
REF_KEY = "ddns-key. IN KEY 0 3 165 bMyHJ/P3NvfPSAa6fuXCxR8duF+0vsHMzwRnSc2NrPZBu/Qq9tSzpeyY GH8IIjCu7u8j5KCOGfl6IROPdAxWMg==\n"
REF_PRIVATE = f"""Private-key-format: v1.3
Algorithm: 165 (HMAC_SHA512)
Key: {REF_B64}
Bits: AAA=
Created: 20130530165503
Publish: 20130530165503
Activate: 20130530165503
"""
REF_CLAUSE = """key ddns-key {
    algorithm HMAC-SHA512;
    secret "bMyHJ/P3NvfPSAa6fuXCxR8duF+0vsHMzwRnSc2NrPZBu/Qq9tSzpeyY GH8IIjCu7u8j5KCOGfl6IROPdAxWMg==";
};
"""
S256 = "Wi28mLDG6l5YrDIg27zPh5tvG2jWR4GBt1Sq3WUUop8="
P = "/etc/ddns-edge/key"


def clause(name="k", alg="hmac-sha256", secret=S256):
    return f'key "{name}" {{\n\talgorithm {alg};\n\tsecret "{secret}";\n}};\n'


# (id, file name, text, want_name, expected (name, algorithm, secret, line))
GOOD = [
    ("reference clause", "ddns-key.conf", REF_CLAUSE, None, ("ddns-key", "hmac-sha512", REF_SECRET, 1)),
    ("reference .key", "Kddns-key.+165+12345.key", REF_KEY, None, ("ddns-key", "hmac-sha512", REF_SECRET, 1)),
    ("reference .key renamed", "nsupdate.key", REF_KEY, None, ("ddns-key", "hmac-sha512", REF_SECRET, 1)),
    ("reference .private", "Kddns-key.+165+12345.private", REF_PRIVATE, None, ("ddns-key", "hmac-sha512", REF_SECRET, 3)),
    ("reference .private renamed: no name", "nsupdate.private", REF_PRIVATE, None, (None, "hmac-sha512", REF_SECRET, 3)),
    ("private: option name wins over file name", "Kddns-key.+165+12345.private", REF_PRIVATE, "other", ("other", "hmac-sha512", REF_SECRET, 3)),
    ("private v1.2 CRLF", "Kx.+163+00001.private", f"Private-key-format: v1.2\r\nAlgorithm: 163 (HMAC_SHA256)\r\nKey: {S256}\r\nBits: AAA=\r\n", None, ("x", "hmac-sha256", base64.b64decode(S256), 3)),
    ("dotted name in K file", "Kddns-key.example.com.+165+00001.private", REF_PRIVATE, None, ("ddns-key.example.com", "hmac-sha512", REF_SECRET, 3)),
    (".key with TTL and comment", "k.key", f"; This is a key, keyid 1, for ddns-key.\nddns-key. 3600 IN KEY 512 3 163 {S256}\n", "DDNS-KEY.", ("ddns-key", "hmac-sha256", base64.b64decode(S256), 2)),
    ("clause tsig-keygen style", "k", clause("tsig-key", "hmac-sha256"), None, ("tsig-key", "hmac-sha256", base64.b64decode(S256), 1)),
    ("clause unquoted name, upper-case algorithm", "k", clause("x", "HMAC-SHA256").replace('"x"', "x"), None, ("x", "hmac-sha256", base64.b64decode(S256), 1)),
    ("clause quoted algorithm", "k", clause("x", '"hmac-sha256"'), None, ("x", "hmac-sha256", base64.b64decode(S256), 1)),
    ("clause old md5 name", "k", clause("x", "hmac-md5.sig-alg.reg.int"), None, ("x", "hmac-md5", base64.b64decode(S256), 1)),
    ("clause trailing-dot name", "k", clause("x.example."), None, ("x.example", "hmac-sha256", base64.b64decode(S256), 1)),
    ("clause split secret", "k", f'key "x" {{ algorithm hmac-sha512; secret "{REF_B64[:20]}" "{REF_B64[20:50]}"\n  "{REF_B64[50:]}"; }};', None, ("x", "hmac-sha512", REF_SECRET, 1)),
    ("clause one line", "k", f'key "x"{{algorithm hmac-sha256;secret "{S256}";}};', None, ("x", "hmac-sha256", base64.b64decode(S256), 1)),
    ("clause with all comment styles", "k", f'# hash\n// slashes\n/* block\n key "no" {{ }}; */\nkey /* inline */ "x" {{ // here\n algorithm hmac-sha256; # there\n secret "{S256}"; }};\n', None, ("x", "hmac-sha256", base64.b64decode(S256), 5)),
    ("KEY record in a comment is not the key", "k", f"#ddns-key. IN KEY 0 3 165 {REF_B64}\n" + clause("x"), None, ("x", "hmac-sha256", base64.b64decode(S256), 2)),
    ("clause with other statements around", "k", f'options {{ directory "/x"; }};\n{clause("x")}zone "example.com" {{ allow-update {{ key x; }}; }};\n', None, ("x", "hmac-sha256", base64.b64decode(S256), 2)),
    ("clause picked by name", "k", clause("a") + clause("b", "hmac-sha512", REF_B64), "B.", ("b", "hmac-sha512", REF_SECRET, 5)),
    ("clause algorithm after secret", "k", f'key "x" {{ secret "{S256}"; algorithm hmac-sha224; }};', None, ("x", "hmac-sha224", base64.b64decode(S256), 1)),
]


@pytest.mark.parametrize("filename,text,want,expected", [c[1:] for c in GOOD], ids=[c[0] for c in GOOD])
def test_parse_key_file(filename, text, want, expected):
    found = keys.parse_key_file(text, f"/etc/ddns-edge/{filename}", want)
    assert tuple(found) == expected


@pytest.mark.parametrize("number,algorithm", sorted((a.number, a.name) for a in algorithms.ALGORITHMS.values()))
def test_dnssec_algorithm_numbers(number, algorithm):
    text = f"Private-key-format: v1.3\nAlgorithm: {number} (X)\nKey: {S256}\n"
    assert keys.parse_key_file(text, "x.private").algorithm == algorithm
    rr = f"k. IN KEY 0 3 {number} {S256}\n"
    assert keys.parse_key_file(rr, "x.key").algorithm == algorithm


CLAUSE_SHAPE = 'a key clause looks like: key "NAME"'

# (id, file name, text, want_name, line or None, fragments: what is wrong and what is allowed)
ERRORS = [
    ("empty file", "k", "", None, None, ["no key found", "allowed: a BIND key clause", "K*.private / K*.key"]),
    ("only comments", "k", "# key x { };\n// nothing\n", None, None, ["no key found"]),
    ("ambiguous clauses", "k", clause("a") + clause("b"), None, None, ["2 key clauses (a, b)", "option name"]),
    ("wanted clause missing", "k", clause("a"), "b", None, ["no key clause named 'b'", "this file has: a"]),
    ("clause without algorithm", "k", f'\nkey "x" {{ secret "{S256}"; }};', None, 2, ["no algorithm", "allowed: hmac-md5", "hmac-sha512"]),
    ("clause without secret", "k", 'key "x" {\n algorithm hmac-sha256;\n};', None, 1, ["no secret", CLAUSE_SHAPE]),
    ("clause bad algorithm", "k", clause("x", "hmac-sha3"), None, 2, ["'hmac-sha3' is not a TSIG algorithm", "allowed: hmac-md5, hmac-sha1"]),
    ("clause bad base64", "k", clause("x", secret="not*base64"), None, 3, ["secret: the secret is not valid base64", "allowed: the base64 key"]),
    ("clause bad padding", "k", clause("x", secret=S256[:-2]), None, 3, ["not valid base64"]),
    ("clause empty secret", "k", clause("x", secret=""), None, 3, ["the secret is empty"]),
    ("clause missing semicolon", "k", f'key "x" {{\n algorithm hmac-sha256\n secret "{S256}"; }};', None, 3, ["expected ';' after the algorithm statement", CLAUSE_SHAPE]),
    ("clause unknown statement", "k", f'key "x" {{\n algorithm hmac-sha256;\n salt "x";\n secret "{S256}"; }};', None, 3, ["unknown statement 'salt'", "allowed: algorithm, secret"]),
    ("clause unclosed", "k", f'key "x" {{\n algorithm hmac-sha256;\n secret "{S256}";\n', None, 1, ["not closed", CLAUSE_SHAPE]),
    ("clause no semicolon after brace", "k", f'key "x" {{ algorithm hmac-sha256; secret "{S256}"; }}\n', None, 1, ["expected ';' after the key clause's '}'"]),
    ("clause no brace", "k", 'key "x" algorithm hmac-sha256;', None, 1, ["expected '{' after the key name", CLAUSE_SHAPE]),
    ("clause no name", "k", "key { };", None, 1, ["expected a key name", CLAUSE_SHAPE]),
    ("clause bad name", "k", clause("a..b"), None, 1, ["not a valid DNS name", CLAUSE_SHAPE]),
    ("clause secret twice", "k", f'key "x" {{ secret "{S256}";\n secret "{S256}"; }};', None, 2, ["secret is given twice"]),
    ("clause unquoted secret", "k", f'key "x" {{ algorithm hmac-sha256;\n secret {S256}; }};', None, 2, ["must be a quoted base64 string"]),
    ("unterminated block comment", "k", f"{clause('x')}\n/* open\n", None, 6, ["unterminated /* comment", "close it with */"]),
    ("unterminated string", "k", 'key "x', None, 1, ['unterminated " string']),
    ("private non-HMAC", "Kexample.com.+008+1.private", "Private-key-format: v1.3\nAlgorithm: 8 (RSASHA256)\nModulus: AQAB\n", None, 2, ["algorithm 8 is not a TSIG HMAC algorithm", "allowed: 157 (hmac-md5)", "165 (hmac-sha512)"]),
    ("private bad version", "k.private", f"Private-key-format: v2.0\nAlgorithm: 165\nKey: {S256}\n", None, 1, ["unsupported Private-key-format", "allowed: v1.2 or v1.3"]),
    ("private no key", "k.private", "Private-key-format: v1.3\nAlgorithm: 165 (HMAC_SHA512)\n", None, 1, ["no Key: field", "Key: BASE64"]),
    ("private no algorithm", "k.private", f"Private-key-format: v1.3\nKey: {S256}\n", None, 1, ["no Algorithm: field", "Algorithm: 165 (HMAC_SHA512)"]),
    ("private bad base64", "k.private", "Private-key-format: v1.3\nAlgorithm: 165 (HMAC_SHA512)\nKey: %%%%\n", None, 3, ["Key: the secret is not valid base64"]),
    (".key DNSSEC key", "Kexample.com.+013+1.key", "example.com. IN DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0d xCjjnopKl+GqJxpVXckHAeF+KkxLbxIL fDLUT0rAK9iUzy1L53eKGQ==\n", None, 1, ["algorithm 13 is not a TSIG HMAC algorithm", "allowed: 157"]),
    (".key name differs", "k.key", REF_KEY, "other", 1, ["named 'ddns-key', not 'other'", "leave option name out or make them agree"]),
    (".key bad base64", "k.key", "k. IN KEY 0 3 163 abc\n", None, 1, ["KEY record: the secret is not valid base64"]),
]


@pytest.mark.parametrize("filename,text,want,line,fragments", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_key_file_errors(filename, text, want, line, fragments):
    path = f"/etc/ddns-edge/{filename}"
    with pytest.raises(ConfigError) as info:
        keys.parse_key_file(text, path, want)
    message = str(info.value)
    prefix = f"{path}:{line}: " if line is not None else f"{path}: "
    assert message.startswith(prefix), message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    for secret in (S256, REF_B64, S256[:-2], REF_B64[:20]):
        assert secret not in message


@pytest.mark.parametrize(
    "text,expected",
    [
        ("hmac-sha256", "hmac-sha256"),
        ("HMAC-SHA512", "hmac-sha512"),
        ("hmac-sha1.", "hmac-sha1"),
        (" hmac-sha224 ", "hmac-sha224"),
        ("HMAC-MD5.SIG-ALG.REG.INT", "hmac-md5"),
        ("hmac-md5", "hmac-md5"),
        ("hmac-sha384", "hmac-sha384"),
        ("sha256", None),
        ("gss-tsig", None),
        ("", None),
    ],
)
def test_canonical_algorithm(text, expected):
    assert algorithms.canonical(text) == expected


@pytest.mark.parametrize(
    "text,ok",
    [(S256, True), (f" {S256[:10]} {S256[10:]}\n", True), ("", False), ("   ", False), ("abc", False), ("a-b_", False), ("====", False), ("caf\u00e9", False)],
)
def test_decode_secret(text, ok):
    if ok:
        assert keys.decode_secret(text) == base64.b64decode(S256)
    else:
        with pytest.raises(ValueError) as info:
            keys.decode_secret(text)
        assert text.strip() == "" or text not in str(info.value)


def test_key_file_repr_hides_secret():
    found = keys.parse_key_file(REF_CLAUSE, "k")
    assert REF_B64[:20] not in repr(found) and repr(REF_SECRET) not in repr(found)
    assert "64 bytes" in repr(found)
    name, algorithm, secret, line = found  # unpacks as the 4-tuple
    assert (name, algorithm, secret, line) == ("ddns-key", "hmac-sha512", REF_SECRET, 1)


# --- modes and reading ------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode,refused",
    [
        (0o600, None),
        (0o400, None),
        (0o640, None),
        (0o660, None),
        (0o670, None),
        (0o644, "readable by others (mode 0644)"),
        (0o604, "readable by others (mode 0604)"),
        (0o602, "writable by others (mode 0602)"),
        (0o601, "executable by others (mode 0601)"),
        (0o666, "readable and writable by others (mode 0666)"),
        (0o777, "readable and writable and executable by others (mode 0777)"),
        (0o100644, "(mode 0644)"),  # st_mode with the file type bits
    ],
)
def test_check_mode(mode, refused):
    if refused is None:
        keys.check_mode("/etc/k", mode)
        return
    with pytest.raises(ConfigError) as info:
        keys.check_mode("/etc/k", mode)
    assert str(info.value).startswith("/etc/k: key material is ")
    assert refused in str(info.value)
    assert str(info.value).endswith("; run: chmod 600 /etc/k")
    assert info.value.exit_status == 2


def test_check_mode_quotes_odd_paths():
    with pytest.raises(ConfigError) as info:
        keys.check_mode("/etc/my keys/k", 0o644)
    assert str(info.value).endswith("run: chmod 600 '/etc/my keys/k'")


def write(path, text, mode):
    path.write_text(text)
    path.chmod(mode)
    return str(path)


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o400])
def test_read_key_file_private_enough(tmp_path, mode):
    path = write(tmp_path / "k.key", REF_CLAUSE, mode)
    assert keys.load_key_file(path) == keys.parse_key_file(REF_CLAUSE, path)


@pytest.mark.parametrize("mode", [0o644, 0o604])
def test_read_key_file_refuses_open_modes(tmp_path, mode):
    path = write(tmp_path / "k.key", REF_CLAUSE, mode)
    with pytest.raises(ConfigError) as info:
        keys.read_key_file(path)
    assert str(info.value) == f"{path}: key material is readable by others (mode {mode:04o}); run: chmod 600 {path}"


@pytest.mark.parametrize("mode", [0o606, 0o666, 0o660, 0o620])
def test_read_key_file_refuses_a_file_others_may_write(tmp_path, mode):
    path = write(tmp_path / "k.key", REF_CLAUSE, mode)
    with pytest.raises(ConfigError) as info:
        keys.read_key_file(path)
    assert str(info.value).startswith(f"{path}: writable by ")
    assert str(info.value).endswith(f"(mode {mode:04o}): whoever can write it chooses the commands ddns-edge runs; run: chmod go-w {path}")


def test_read_key_file_missing_is_oserror(tmp_path):
    with pytest.raises(OSError):
        keys.read_key_file(str(tmp_path / "nope"))


def test_read_key_file_directory(tmp_path):
    with pytest.raises(ConfigError) as info:
        keys.read_key_file(str(tmp_path))
    assert "not a regular file" in str(info.value)


def test_read_key_file_fifo_does_not_hang(tmp_path):
    path = tmp_path / "fifo"
    os.mkfifo(path, 0o600)
    with pytest.raises(ConfigError) as info:
        keys.read_key_file(str(path))
    assert "not a regular file" in str(info.value)


def test_read_key_file_too_large(tmp_path):
    path = write(tmp_path / "big", "#" * (keys.MAX_KEY_FILE + 1), 0o600)
    with pytest.raises(ConfigError) as info:
        keys.read_key_file(path)
    assert str(info.value).startswith(f"{path}: larger than 64 KiB; allowed: a BIND key clause")


def test_read_key_file_not_utf8(tmp_path):
    path = tmp_path / "k"
    path.write_bytes(b"# ok\n# \xff\n")
    path.chmod(0o600)
    with pytest.raises(ConfigError) as info:
        keys.read_key_file(str(path))
    assert str(info.value).startswith(f"{path}:2: byte 0xff is not UTF-8; the key file must be UTF-8 text")


# --- files written by BIND's own tools --------------------------------------------------


def run(*argv, cwd=None):
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed")
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("algorithm", algorithms.ALGORITHMS)
def test_tsig_keygen_output(algorithm):
    out = run("tsig-keygen", "-a", algorithm, "tsig-test")
    assert out.returncode == 0, out.stderr
    found = keys.parse_key_file(out.stdout, "tsig-test.key")
    assert (found.name, found.algorithm, found.line) == ("tsig-test", algorithm, 1)
    assert base64.b64encode(found.secret).decode() in out.stdout


@pytest.mark.parametrize(
    "argv,name",
    [
        (["ddns-confgen", "-q"], "ddns-key"),
        (["ddns-confgen", "-s", "www.example.com"], "ddns-key.www.example.com"),
        (["ddns-confgen", "-a", "hmac-sha384", "-k", "foo", "-z", "example.com"], "foo"),
    ],
)
def test_ddns_confgen_output(argv, name):
    out = run(*argv)
    assert out.returncode == 0, out.stderr
    found = keys.parse_key_file(out.stdout, "ddns.key")
    assert found.name == name
    assert base64.b64encode(found.secret).decode() in out.stdout


def test_dnssec_keygen_hmac_files(tmp_path):
    out = run("dnssec-keygen", "-a", "HMAC-SHA512", "-b", "512", "-n", "USER", "ddns-key", cwd=tmp_path)
    if out.returncode != 0:
        # BIND >= 9.13 makes no HMAC keys any more (the reference example above covers the files
        # older ones wrote): what it says must be that refusal, not some other failure
        assert re.search(r"unsupported algorithm|unknown algorithm", out.stderr + out.stdout, re.I), out.stderr
        return
    private, public = sorted(tmp_path.glob("K*.private")), sorted(tmp_path.glob("K*.key"))
    a = keys.parse_key_file(private[0].read_text(), str(private[0]))
    b = keys.parse_key_file(public[0].read_text(), str(public[0]))
    assert a.name == b.name == "ddns-key" and a.algorithm == b.algorithm == "hmac-sha512" and a.secret == b.secret


# --- properties -------------------------------------------------------------------------

KEY_ALPHABET = st.sampled_from(list('key "x" { } ; algorithm hmac-sha256 secret /*#/\n\\' + S256[:8]) + ["Private-key-format: v1.3\n", "Algorithm: 165\n", "Key: ", " IN KEY 0 3 165 "])


@settings(max_examples=500)
@given(st.one_of(st.text(max_size=200), st.lists(KEY_ALPHABET, max_size=60).map("".join)), st.one_of(st.none(), st.sampled_from(["x", "k"])))
def test_any_text_gives_key_or_config_error(text, want):
    try:
        found = keys.parse_key_file(text, "K.+165+1.private", want)
    except ConfigError as e:
        assert str(e).startswith("K.+165+1.private:")
    else:
        assert found.algorithm in algorithms.ALGORITHMS and found.secret


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_in_a_key_file_give_a_key_or_a_config_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("k") / "ddns-key.key"
    path.write_bytes(data)
    path.chmod(0o600)
    try:
        found = keys.load_key_file(str(path))
    except ConfigError as e:
        assert str(e).startswith(str(path)) and "\n" not in str(e)
    else:
        assert found.algorithm in algorithms.ALGORITHMS and found.secret


@pytest.mark.parametrize("text, ok", [
    ("QUJD", True), ("QQ==", True), ("QUI=", True), ("QUJDRA==", True), (" QUJD\n RA== ", True),
    ("QUJD=", False), ("QUJD===", False), ("QQ=", False), ("QQ", False), ("Q", False), ("QUI==", False),
    ("QQ==QQ==", False), ("====", False), ("QU=I", False), ("not base64!", False), ("", False),
])
def test_decode_secret_takes_base64_as_bind_does_on_every_python(text, ok):
    """Padding only fills the last group: 'QUJD=' is refused whatever b64decode of this Python does."""
    if ok:
        assert keys.decode_secret(text) == base64.b64decode("".join(text.split()))
    else:
        with pytest.raises(ValueError):
            keys.decode_secret(text)
