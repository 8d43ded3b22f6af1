"""config: uci sections -> typed, validated Config; errors at file:line."""

from __future__ import annotations

import base64
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddns_edge import config, uci
from ddns_edge.model import Agent, Config, Key, Record
from ddns_edge.echo_wire import parse_source
from ddns_edge.errors import ConfigError

PATH = "/etc/config/ddns-edge"
S256 = "Wi28mLDG6l5YrDIg27zPh5tvG2jWR4GBt1Sq3WUUop8="
SECRET = base64.b64decode(S256)
S512 = "bMyHJ/P3NvfPSAa6fuXCxR8duF+0vsHMzwRnSc2NrPZBu/Qq9tSzpeyYGH8IIjCu7u8j5KCOGfl6IROPdAxWMg=="
CLAUSE = f'key "ddns-key" {{\n\talgorithm hmac-sha512;\n\tsecret "{S512}";\n}};\n'
FILES = {"/etc/ddns-edge/ddns-key.key": CLAUSE, "/etc/config/rel.key": CLAUSE}


def read_file(path):
    try:
        return FILES[path]
    except KeyError:
        raise FileNotFoundError(2, "No such file or directory", path) from None


def parse(text):
    return config.parse(text, PATH, read_file)


KEY = f"config key 'home'\n\toption secret '{S256}'\n"  # lines 1-2
RECORD = "config record 'www'\n\toption name 'www.example.com'\n\toption device 'pppoe-wan'\n"


def test_full_example():
    text = f"""\
package 'ddns-edge'

config agent 'agent'
\toption log_level 'notice'
\toption state_dir '/tmp/ddns'
\tlist echo 'https://ip.example.net/'
\tlist echo 'dns://192.0.2.1/whoami.example.net/TXT'
\tlist echo "exec:ssh host 'echo \\$SSH_CONNECTION'"
\toption echo_interval '600'
\toption echo_quorum '2'
\toption hook '/etc/ddns-edge/on-change'

config key 'home'
\toption name 'ddns-key'
\toption algorithm 'HMAC-SHA512'
\toption secret '{S512}'

config key 'file'
\toption file '/etc/ddns-edge/ddns-key.key'

config record 'www'
\toption enabled '1'
\toption name 'www.example.com'
\toption type 'A'
\toption device 'pppoe-wan'
\toption source 'auto'
\toption key 'home'
\toption ttl '120'
\toption zone 'example.com'
\toption server '192.0.2.53'
\toption port '5353'

config record
\toption name 'www.example.com.'
\toption type 'aaaa'
\toption interface 'wan6'
\toption key 'file'
\toption enabled 'no'
"""
    secret512 = base64.b64decode(S512)
    assert parse(text) == Config(
        path=PATH,
        agent=Agent(
            log_level="notice",
            state_dir="/tmp/ddns",
            echo=tuple(map(parse_source, ("https://ip.example.net/", "dns://192.0.2.1/whoami.example.net/TXT", "exec:ssh host 'echo $SSH_CONNECTION'"), (1, 2, 3))),
            echo_interval=600,
            echo_quorum=2,
            hook="/etc/ddns-edge/on-change",
        ),
        keys={
            "home": Key("home", "ddns-key", "hmac-sha512", secret512, f"{PATH}:16"),
            "file": Key("file", "ddns-key", "hmac-sha512", secret512, "/etc/ddns-edge/ddns-key.key:1"),
        },
        records=(
            Record("www", "www.example.com", "A", "pppoe-wan", None, "auto", "home", 120, "example.com", "192.0.2.53", 5353, True, 21, PATH),
            Record("@record[1]", "www.example.com", "AAAA", None, "wan6", "auto", "file", 60, None, None, 53, False, 33, PATH),
        ),
    )


def test_defaults():
    cfg = parse(KEY + RECORD)
    assert cfg.agent == Agent()
    assert cfg.keys == {"home": Key("home", "home", "hmac-sha256", SECRET, f"{PATH}:2")}
    (r,) = cfg.records
    assert (r.type, r.source, r.key, r.ttl, r.zone, r.server, r.port, r.enabled, r.interface) == ("A", "auto", "home", 60, None, None, 53, True, None)
    assert cfg.enabled_records() == (r,)


def test_empty_config():
    assert parse("") == Config(PATH, Agent(), {}, ())


def test_anonymous_sections_are_named_as_uci_shows_them():
    text = f"config key 'a'\n\toption secret '{S256}'\nconfig key\n\toption name 'k2'\n\toption secret '{S256}'\nconfig agent\nconfig record\n\toption name 'a.example'\n\toption device 'eth1'\n\toption key '@key[1]'\n"
    cfg = parse(text)
    assert list(cfg.keys) == ["a", "@key[1]"]
    assert cfg.keys["@key[1]"].name == "k2"
    assert cfg.records[0].section == "@record[0]" and cfg.records[0].key == "@key[1]"


def test_enabled_records_and_duplicates_only_among_enabled():
    text = KEY + RECORD + "config record 'old'\n\toption name 'WWW.example.com'\n\toption device 'eth0'\n\toption enabled 'off'\n"
    cfg = parse(text)
    assert [r.section for r in cfg.records] == ["www", "old"]
    assert [r.section for r in cfg.enabled_records()] == ["www"]


def test_same_name_both_types():
    text = KEY + RECORD + "config record 'www6'\n\toption name 'www.example.com'\n\toption type AAAA\n\toption device 'pppoe-wan'\n"
    assert [r.type for r in parse(text).records] == ["A", "AAAA"]


def test_key_section_after_records_is_found():
    cfg = parse(RECORD + KEY)
    assert cfg.records[0].key == "home"


@pytest.mark.parametrize("value,expected", [(v, True) for v in ("1", "yes", "on", "true", "enabled", "TRUE", "Yes")] + [(v, False) for v in ("0", "no", "off", "false", "disabled")])
def test_booleans(value, expected):
    assert parse(KEY + RECORD + f"\toption enabled '{value}'\n").records[0].enabled is expected


@pytest.mark.parametrize(
    "option,value,field,expected",
    [
        ("ttl", "1", "ttl", 1),
        ("ttl", "604800", "ttl", 604800),
        ("ttl", "0060", "ttl", 60),
        ("port", "1", "port", 1),
        ("port", "65535", "port", 65535),
        ("zone", "example.com.", "zone", "example.com"),
        ("zone", "www.example.com", "zone", "www.example.com"),
        ("zone", "EXAMPLE.com", "zone", "EXAMPLE.com"),
        ("zone", "com", "zone", "com"),
        ("server", "2001:db8::53", "server", "2001:db8::53"),
        ("server", "ns1.example.com.", "server", "ns1.example.com"),
        ("server", "localhost", "server", "localhost"),
        ("source", "interface", "source", "interface"),
        ("source", "ECHO", "source", "echo"),
        ("zone", "", "zone", None),  # empty counts as not given, as in uci
        ("name", "*.example.com", "name", "*.example.com"),
        ("name", "_acme-challenge.example.com", "name", "_acme-challenge.example.com"),
        ("device", "br-lan.10", "device", "br-lan.10"),
        ("device", "abcdefghijklmno", "device", "abcdefghijklmno"),
        ("device", "\u00e4" * 7 + "x", "device", "\u00e4" * 7 + "x"),  # 15 bytes
        ("server", "ns1.123.example", "server", "ns1.123.example"),
    ],
)
def test_record_values(option, value, field, expected):
    text = KEY + RECORD + f"\toption {option} '{value}'\n"  # given twice, the last wins
    assert getattr(parse(text).records[0], field) == expected


def test_source_echo_needs_no_device():
    text = KEY + "config record 'r'\n\toption name 'a.example.com'\n\toption source 'echo'\n"
    r = parse(text).records[0]
    assert (r.device, r.interface, r.source) == (None, None, "echo")


@pytest.mark.parametrize(
    "echo",
    [
        "http://ip.example/",
        "https://[2001:db8::1]:8443/ip",
        "HTTPS://ip.example",
        "dns://192.0.2.1/whoami.example",
        "dns://ns.example/o-o.myaddr.l.google.com/txt",
        "dns://2001:db8::1/whoami.example/AAAA",
        "exec:ssh host 'echo $SSH_CONNECTION'",
    ],
)
def test_echo_sources(echo):
    cfg = parse(f"config agent\n\tlist echo \"{echo}\"\n")
    assert [s.text for s in cfg.agent.echo] == [echo]


def test_option_echo_is_one_source():
    assert parse("config agent\n\toption echo 'https://a.example/'\n").agent.echo == (parse_source("https://a.example/"),)


ALLOWED_RECORD = "allowed: enabled, name, type, device, interface, source, key, ttl, zone, server, port"

# (id, text, line, fragments: what is wrong and what is allowed)
ERRORS = [
    # sections
    ("unknown section type", KEY + "config recrod 'x'\n", 3, ["unknown section type 'recrod'", "allowed: agent, key, record", "did you mean 'record'?"]),
    ("two agents", "config agent\nconfig agent 'b'\n", 2, ["a second config agent (the first is at line 1)", "allowed: at most one"]),
    ("duplicate section name", KEY + "config record 'home'\n", 3, ["section name 'home' is already used at line 1", "must be unique"]),
    ("unknown option", KEY + RECORD + "\toption tll '60'\n", 6, ["unknown option 'tll' in config record", ALLOWED_RECORD, "did you mean 'ttl'?"]),
    ("unknown list", KEY + RECORD + "\tlist names 'x'\n", 6, ["unknown list 'names' in config record", ALLOWED_RECORD]),
    ("enabled on a key", KEY + "\toption enabled '1'\n", 3, ["unknown option 'enabled' in config key", "allowed: name, algorithm, secret, file"]),
    ("list for a single option", KEY + RECORD + "\tlist ttl '60'\n", 6, ["ttl takes one value", "option ttl 'VALUE'"]),
    ("secret in a record", KEY + RECORD + f"\toption secret '{S256}'\n", 6, ["unknown option 'secret' in config record", ALLOWED_RECORD]),
    # agent
    ("log level", "config agent\n\toption log_level 'verbose'\n", 2, ["option log_level: 'verbose' is not allowed", "allowed: debug | info | notice | warning | error"]),
    ("state_dir relative", "config agent\n\toption state_dir 'run'\n", 2, ["option state_dir: 'run' is not an absolute path", "allowed: a path starting with /"]),
    *(("state_dir " + d, f"config agent\n\toption state_dir '{d}'\n", 2, [f"option state_dir: '{d}' is not a directory of the agent's own below /var/run | /run | /tmp", "allowed: e.g. '/var/run/ddns-edge'"])
      for d in ("/tmp", "/tmp/", "/var/run", "/etc/ddns-edge", "/tmp/../etc", "/var/run//x", "/runaway/x", "/tmp/./x")),
    ("hook relative", "config agent\n\toption hook 'hook.sh'\n", 2, ["option hook:", "allowed: a path starting with /"]),
    ("echo interval low", "config agent\n\toption echo_interval '5'\n", 2, ["option echo_interval: 5 is out of range", "allowed: a whole number 10..86400 seconds"]),
    ("echo interval not a number", "config agent\n\toption echo_interval '5m'\n", 2, ["'5m' is not a whole number", "10..86400"]),
    ("echo quorum without echo", "config agent\n\toption echo_quorum '1'\n", 2, ["option echo_quorum: needs list echo", "allowed: 1..the number of echo sources"]),
    ("echo quorum too high", "config agent\n\tlist echo 'https://a.example/'\n\toption echo_quorum '2'\n", 3, ["option echo_quorum: 2 is out of range", "allowed: a whole number 1..1 (of 1 echo sources)"]),
    ("echo quorum zero", "config agent\n\tlist echo 'https://a.example/'\n\toption echo_quorum '0'\n", 3, ["0 is out of range"]),
    ("echo unknown scheme", "config agent\n\tlist echo 'https://a.example/'\n\tlist echo 'ftp://x/'\n", 3, ["echo: unknown scheme 'ftp:'", "allowed: http://HOST/..., https://HOST/..., dns://SERVER/NAME[/A|AAAA|TXT], exec:COMMAND"]),
    ("echo no scheme", "config agent\n\tlist echo 'ip.example'\n", 2, ["echo: not an echo source", "allowed: http://"]),
    ("echo http without host", "config agent\n\tlist echo 'http:///ip'\n", 2, ["the http URL has no host", "allowed: http://"]),
    ("echo http single slash", "config agent\n\tlist echo 'https:ip.example'\n", 2, ["the https URL has no host"]),
    ("echo spaces", "config agent\n\tlist echo 'https://a b/'\n", 2, ["must not hold spaces"]),
    ("echo dns without name", "config agent\n\tlist echo 'dns://192.0.2.1'\n", 2, ["needs a server and a name", "dns://SERVER/NAME[/A|AAAA|TXT]"]),
    ("echo dns bad type", "config agent\n\tlist echo 'dns://192.0.2.1/whoami.example/MX'\n", 2, ["must be A, AAAA or TXT"]),
    ("echo exec empty", "config agent\n\tlist echo 'exec: '\n", 2, ["exec: needs a command"]),
    # key
    ("key without secret or file", "config key 'k'\n\toption name 'x'\n", 1, ["config key 'k' has neither option secret nor option file", "allowed: exactly one"]),
    ("key with both", f"config key 'k'\n\toption secret '{S256}'\n\toption file '/etc/ddns-edge/ddns-key.key'\n", 3, ["has both option secret and option file", "allowed: exactly one of them"]),
    ("key empty secret is absent", "config key 'k'\n\toption secret ''\n", 1, ["has neither option secret nor option file"]),
    ("key bad base64", "config key 'k'\n\toption secret 'not base64!'\n", 2, ["option secret: the secret is not valid base64", "allowed: the base64 key"]),
    ("key bad padding", f"config key 'k'\n\toption secret '{S256[:-1]}'\n", 2, ["option secret: the secret is not valid base64"]),
    ("key bad algorithm", f"config key 'k'\n\toption algorithm 'sha256'\n\toption secret '{S256}'\n", 2, ["option algorithm: 'sha256' is not a TSIG algorithm", "allowed: hmac-md5 | hmac-sha1 | hmac-sha224 | hmac-sha256 | hmac-sha384 | hmac-sha512"]),
    ("key algorithm differs from file", "config key 'k'\n\toption algorithm 'hmac-sha256'\n\toption file '/etc/ddns-edge/ddns-key.key'\n", 2, ["option algorithm: hmac-sha256 differs from hmac-sha512 in /etc/ddns-edge/ddns-key.key", "leave option algorithm out or make them agree"]),
    ("key file missing", "config key 'k'\n\toption file '/etc/nope.key'\n", 2, ["option file: cannot read /etc/nope.key: No such file or directory", "allowed: a readable key file"]),
    ("key file relative resolved next to config", "config key 'k'\n\toption file 'nope.key'\n", 2, ["cannot read /etc/config/nope.key"]),
    ("key file name mismatch", "config key 'k'\n\toption name 'other'\n\toption file '/etc/ddns-edge/ddns-key.key'\n", None, ["no key clause named 'other'", "this file has: ddns-key"]),
    ("key bad name", f"config key 'k'\n\toption name 'a b'\n\toption secret '{S256}'\n", 2, ["option name: 'a b' is not a valid TSIG key name", "allowed: a DNS name"]),
    ("anonymous key without name", f"config key\n\toption secret '{S256}'\n", 1, ["config key @key[0] needs option name", "anonymous section"]),
    # record
    ("record without name", KEY + "config record 'r'\n\toption device 'eth0'\n", 3, ["config record 'r' needs option name", "option name 'www.example.com'"]),
    ("record one label", KEY + "config record 'r'\n\toption name 'localhost'\n\toption device 'eth0'\n", 4, ["'localhost' is not a valid DNS name: it needs at least 2 labels"]),
    ("record bad chars", KEY + "config record 'r'\n\toption name 'www example.com'\n\toption device 'eth0'\n", 4, ["is not a valid DNS name", "labels may hold only letters, digits, '-' and '_'"]),
    ("record long label", KEY + f"config record 'r'\n\toption name '{'a' * 64}.example.com'\n\toption device 'eth0'\n", 4, ["a label is longer than 63 characters"]),
    ("record long name", KEY + "config record 'r'\n\toption name '" + ".".join(["a" * 60] * 5) + "'\n\toption device 'eth0'\n", 4, ["longer than 253 characters"]),
    ("record empty label", KEY + "config record 'r'\n\toption name 'www..example.com'\n\toption device 'eth0'\n", 4, ["empty label"]),
    ("record bad type", KEY + RECORD + "\toption type 'CNAME'\n", 6, ["option type: 'CNAME' is not allowed", "allowed: A | AAAA"]),
    ("record bad source", KEY + RECORD + "\toption source 'stun'\n", 6, ["option source: 'stun' is not allowed", "allowed: auto | interface | echo"]),
    ("record no device", KEY + "config record 'r'\n\toption name 'a.example.com'\n", 3, ["config record 'r' needs option device", "or option interface", "allowed without them: option source 'echo'"]),
    ("record interface source needs device", KEY + "config record 'r'\n\toption name 'a.example.com'\n\toption source 'interface'\n", 3, ["needs option device"]),
    ("record device and interface", KEY + RECORD + "\toption interface 'wan'\n", 6, ["has both option device and option interface", "allowed: one of them"]),
    ("device too long", KEY + RECORD.replace("pppoe-wan", "abcdefghijklmnop"), 5, ["option device: 'abcdefghijklmnop' is not a kernel interface name", "allowed: 1..15 bytes (in UTF-8) without '/', ':' or spaces"]),
    ("device of 16 bytes in 8 characters", KEY + RECORD.replace("pppoe-wan", "\u00e4" * 8), 5, ["option device: '\u00e4\u00e4\u00e4\u00e4\u00e4\u00e4\u00e4\u00e4' is not a kernel interface name", "1..15 bytes"]),
    *((f"server {a}", KEY + RECORD + f"\toption server '{a}'\n", 6, [f"option server: '{a}' is neither an IP address nor a host name (it ends in a label of digits only", "'192.0.2.53'"])
      for a in ("1.2.3.4.5", "192.0.2.300", "ns1.123")),
    ("device with slash", KEY + RECORD.replace("pppoe-wan", "eth0/1"), 5, ["is not a kernel interface name"]),
    ("device with space", KEY + RECORD.replace("pppoe-wan", "eth 0"), 5, ["is not a kernel interface name"]),
    ("device dot", KEY + RECORD.replace("pppoe-wan", ".."), 5, ["is not a kernel interface name"]),
    ("interface bad", KEY + "config record 'r'\n\toption name 'a.example.com'\n\toption interface 'wan-6'\n", 5, ["option interface: 'wan-6' is not an OpenWrt network name", "allowed: A-Z a-z 0-9 _"]),
    ("ttl zero", KEY + RECORD + "\toption ttl '0'\n", 6, ["option ttl: 0 is out of range", "allowed: a whole number 1..604800 seconds"]),
    ("ttl too big", KEY + RECORD + "\toption ttl '604801'\n", 6, ["604801 is out of range", "1..604800"]),
    ("ttl huge", KEY + RECORD + "\toption ttl '" + "9" * 5000 + "'\n", 6, ["'9999", "...' is out of range", "1..604800"]),
    ("ttl negative", KEY + RECORD + "\toption ttl '-1'\n", 6, ["'-1' is not a whole number", "1..604800"]),
    ("ttl unicode digits", KEY + RECORD + "\toption ttl '\u0661\u0662'\n", 6, ["is not a whole number"]),
    ("port zero", KEY + RECORD + "\toption port '0'\n", 6, ["option port: 0 is out of range", "allowed: a whole number 1..65535"]),
    ("port too big", KEY + RECORD + "\toption port '65536'\n", 6, ["65536 is out of range"]),
    ("enabled not boolean", KEY + RECORD + "\toption enabled 'maybe'\n", 6, ["option enabled: 'maybe' is not a boolean", "allowed: 1/0, yes/no, on/off, true/false, enabled/disabled"]),
    ("zone outside", KEY + RECORD + "\toption zone 'example.org'\n", 6, ["option zone: www.example.com is not inside zone example.org", "allowed: the zone that holds the name"]),
    ("zone sibling suffix", KEY + RECORD + "\toption zone 'ample.com'\n", 6, ["is not inside zone ample.com"]),
    ("zone bad", KEY + RECORD + "\toption zone 'exa mple.com'\n", 6, ["option zone: 'exa mple.com' is not a valid DNS name"]),
    ("server bad", KEY + RECORD + "\toption server '192.0.2.53:53'\n", 6, ["option server: '192.0.2.53:53' is neither an IP address nor a host name", "the port goes in option port"]),
    ("missing key", KEY + RECORD + "\toption key 'office'\n", 6, ["option key: no config key section named 'office'", "allowed: one of the key sections (home)"]),
    ("missing key none defined", RECORD + "\toption key 'office'\n", 4, ["no config key section named 'office'", "no config key section is defined; add one"]),
    ("no key sections", RECORD, 1, ["config record 'www' has no option key and no config key section is defined", "add a config key section"]),
    ("several keys, none chosen", KEY + f"config key 'office'\n\toption secret '{S256}'\n" + RECORD, 5, ["has no option key and there are 2 key sections (home, office)", "allowed: option key naming one of them"]),
    ("duplicate enabled record", KEY + RECORD + "config record 'w2'\n\toption name 'WWW.example.com.'\n\toption device 'eth0'\n", 6, ["WWW.example.com A is already managed by config record 'www' (line 3)", "allowed: one enabled record per name and type"]),
]


@pytest.mark.parametrize("text,line,fragments", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_errors(text, line, fragments):
    with pytest.raises(ConfigError) as info:
        parse(text)
    message = str(info.value)
    if line is None:  # an error inside a key file names that file
        assert message.startswith("/etc/ddns-edge/ddns-key.key"), message
    else:
        assert message.startswith(f"{PATH}:{line}: "), message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    assert info.value.exit_status == 2


def test_first_error_in_file_order_wins():
    text = RECORD + "\toption ttl 'x'\n" + "config key 'k'\n\toption secret 'bad!'\n"
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert info.value.line == 4


def test_key_file_errors_name_the_key_file_line():
    FILES["/etc/ddns-edge/broken.key"] = 'key "x" {\n algorithm hmac-sha256;\n secret "%%%";\n};\n'
    with pytest.raises(ConfigError) as info:
        parse("config key 'k'\n\toption file '/etc/ddns-edge/broken.key'\n")
    assert str(info.value).startswith("/etc/ddns-edge/broken.key:3: secret: the secret is not valid base64")


def test_relative_key_file_is_next_to_the_config():
    cfg = parse("config key 'k'\n\toption file 'rel.key'\n")
    assert cfg.keys["k"].origin == "/etc/config/rel.key:1"
    assert cfg.keys["k"].name == "ddns-key"


@pytest.mark.parametrize(
    "options,name",
    [
        ("\toption file '/etc/ddns-edge/ddns-key.key'\n", "ddns-key"),  # from the clause
        ("\toption name 'DDNS-key.'\n\toption file '/etc/ddns-edge/ddns-key.key'\n", "DDNS-key"),  # option name, matching
        (f"\toption secret '{S256}'\n", "home"),  # the section name
        (f"\toption name 'tsig.example.com.'\n\toption secret '{S256}'\n", "tsig.example.com"),
    ],
)
def test_key_name_defaults(options, name):
    assert parse("config key 'home'\n" + options).keys["home"].name == name


def test_records_are_hashable():
    cfg = parse(KEY + RECORD)
    assert {cfg.records[0]: 1}


# --- secrets never show -----------------------------------------------------------------


def test_repr_hides_secrets():
    cfg = parse(KEY + "config key 'f'\n\toption file '/etc/ddns-edge/ddns-key.key'\n" + RECORD + "\toption key 'home'\n")
    for text in (repr(cfg), str(cfg), repr(cfg.keys), repr(cfg.keys["f"])):
        for secret in (S256, S512, repr(SECRET), repr(base64.b64decode(S512)), S256[:16], S512[:16]):
            assert secret not in text


@pytest.mark.parametrize(
    "text",
    [
        f"config key 'k'\n\toption secret '{S256}!'\n",
        f"config key 'k'\n\toption secret '{S256}'\n\toption file 'x'\n",
        f"config key 'k'\n\toption algorithm 'md5'\n\toption secret '{S256}'\n",
        f"config key\n\toption secret '{S256}'\n",
        f"config key 'k'\n\toption secret '{S256}'\n\tlist secret '{S256}'\n",
        f"config key 'k'\n\tlist secret '{S256}'\n",
        f"config record 'r'\n\toption secret '{S256}'\n",
        f"config key 'k'\n\toption secret '{S256[:-1]}'\n",
        f"config key 'k'\n\toption sceret '{S256}'\n",
    ],
)
def test_errors_never_show_a_secret(text):
    with pytest.raises(ConfigError) as info:
        parse(text)
    for part in (S256, S256[:-1], S256[:12], S256[-12:]):
        assert part not in str(info.value)


# --- the config without its secrets (LuCI's read-only users) ----------------------------

PW = "hunter2"
SHOWN = f"""\
config agent
\tlist echo 'https://alice:{PW}@echo.example.net/ip'
\tlist echo 'dns://ns1.example.net/whoami.test/TXT'
\tlist echo "exec:sshpass -p {PW} ssh me@vps 'echo $SSH_CONNECTION'"
\tlist echo 'ftp://carol:{PW}@example.net/'
\tlist echo 'http://192.0.2.80/ip'
\toption state_dir '/var/run/ddns-edge'
\toption secert '{PW}'

config key 'home'
\toption name 'ddns-key'
\toption secret '{S256}'

config key 'empty'
\toption secret ''

config record 'www'
\toption name 'www.example.com'
\toption device 'wan0'
\tlist secret '{PW}'

config bogus 'b'
\toption anything '{PW}'
"""


def test_redacted_shows_the_config_without_any_secret():
    sections = config.redacted(uci.parse(SHOWN, "/c"))
    assert sections == [
        {".type": "agent", ".name": "@agent[0]", ".anonymous": True,
         "echo": ["https://alice@echo.example.net/ip", "dns://ns1.example.net/whoami.test/TXT", "exec:sshpass (echo source 3)",
                  "(echo source 4: not one ddns-edge check takes; not shown)", "http://192.0.2.80/ip"],
         "state_dir": "/var/run/ddns-edge", "secert": "(not an option of config agent; not shown)"},
        {".type": "key", ".name": "home", ".anonymous": False, "name": "ddns-key", "secret_set": True},
        {".type": "key", ".name": "empty", ".anonymous": False, "secret_set": False},
        {".type": "record", ".name": "www", ".anonymous": False, "name": "www.example.com", "device": "wan0", "secret_set": True},
        {".type": "bogus", ".name": "b", ".anonymous": False, "anything": "(not an option of config bogus; not shown)"},
    ]
    text = repr(sections)
    for secret in (PW, S256, S256[:12], "sshpass -p", "SSH_CONNECTION"):
        assert secret not in text


def test_redacted_shows_an_echo_source_as_the_log_names_it():
    """One rule: what the read-only view shows of a source is what the log says of it."""
    sections = config.redacted(uci.parse(SHOWN, "/c"))
    texts = [v.value for v in uci.parse(SHOWN, "/c")[0].lists["echo"]]
    for position, (text, shown) in enumerate(zip(texts, sections[0]["echo"], strict=True), 1):
        try:
            logged = parse_source(text, position).shown
        except ValueError:
            continue
        assert shown == logged


# --- load: files and modes --------------------------------------------------------------


def write(path, text, mode):
    path.write_text(text)
    path.chmod(mode)
    return str(path)


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o400])
def test_load_inline_secret_private_modes(tmp_path, mode):
    path = write(tmp_path / "ddns-edge", KEY + RECORD, mode)
    cfg = config.load(path)
    assert cfg.path == path and cfg.keys["home"].secret == SECRET


@pytest.mark.parametrize("mode,what", [(0o644, "readable"), (0o604, "readable"), (0o640 | 0o001, "executable")])
def test_load_inline_secret_open_modes_refused(tmp_path, mode, what):
    path = write(tmp_path / "ddns-edge", KEY + RECORD, mode)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert str(info.value) == f"{path}: key material is {what} by others (mode {mode:04o}); run: chmod 600 {path}"
    assert info.value.exit_status == 2


def test_load_without_inline_secret_may_be_world_readable(tmp_path):
    key = write(tmp_path / "k.key", CLAUSE, 0o600)
    path = write(tmp_path / "ddns-edge", f"config key 'k'\n\toption file '{key}'\n" + RECORD, 0o644)
    cfg = config.load(path)
    assert cfg.keys["k"] == Key("k", "ddns-key", "hmac-sha512", base64.b64decode(S512), f"{key}:1")


def test_load_relative_key_file(tmp_path):
    write(tmp_path / "k.key", CLAUSE, 0o600)
    path = write(tmp_path / "ddns-edge", "config key 'k'\n\toption file 'k.key'\n", 0o644)
    assert config.load(path).keys["k"].origin == f"{tmp_path}/k.key:1"


def test_load_key_file_open_mode_refused(tmp_path):
    key = write(tmp_path / "k.key", CLAUSE, 0o644)
    path = write(tmp_path / "ddns-edge", f"config key 'k'\n\toption file '{key}'\n", 0o600)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert str(info.value) == f"{path}:2: option file: {key}: key material is readable by others (mode 0644); run: chmod 600 {key}"


# Whoever can change the config or a key file chooses what runs (exec: echo sources, the
# hook), as root where root runs check or detect: only root (or the user reading them) may
# own them, and neither their group nor others may write them, secret or not.

TRUST_CASES = [  # (mode, owner: "me" or another uid, what is refused or None)
    (0o600, "me", None),
    (0o640, "me", None),
    (0o644, "me", None),  # the config without a secret may be readable
    (0o660, "me", "writable by its group (mode 0660)"),
    (0o620, "me", "writable by its group (mode 0620)"),
    (0o602, "me", "writable by others (mode 0602)"),
    (0o666, "me", "writable by its group and others (mode 0666)"),
    (0o600, 4242, "owned by uid 4242, not by root"),
]


@pytest.mark.parametrize("which", ["config", "key file"])
@pytest.mark.parametrize("mode,owner,refused", TRUST_CASES)
def test_load_refuses_a_config_or_key_file_someone_else_may_change(tmp_path, which, mode, owner, refused):
    """A key file is refused at the config's line that names it."""
    key = write(tmp_path / "k.key", CLAUSE, mode if which == "key file" else 0o600)
    path = write(tmp_path / "ddns-edge", f"config key 'k'\n\toption file '{key}'\n" + RECORD, mode if which == "config" else 0o600)
    changed, where = (path, f"{path}: ") if which == "config" else (key, f"{path}:2: option file: {key}: ")
    if which == "key file" and mode == 0o644:
        refused = "key material is readable by others (mode 0644)"
    if owner != "me":
        if os.geteuid() != 0:
            pytest.skip("chown needs root")
        os.chown(changed, owner, -1)
    if refused is None:
        assert config.load(path).keys["k"].name == "ddns-key"
        return
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert str(info.value).startswith(where + refused) and info.value.exit_status == 2
    if "key material" not in refused:
        fix = f"run: chown root {changed}" if owner != "me" else f"run: chmod go-w {changed}"
        assert str(info.value).endswith(f"whoever {'owns it' if owner != 'me' else 'can write it'} chooses the commands ddns-edge runs; {fix}")


def test_load_refuses_an_untrusted_config_before_reading_it(tmp_path):
    path = write(tmp_path / "ddns-edge", "config bogus\n", 0o664)  # a syntax error would come later
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert "writable by its group" in str(info.value)


def test_load_key_file_missing(tmp_path):
    path = write(tmp_path / "ddns-edge", f"config key 'k'\n\toption file '{tmp_path}/none.key'\n", 0o600)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert str(info.value).startswith(f"{path}:2: option file: cannot read {tmp_path}/none.key: No such file or directory")


ALLOWED_FILE = "; allowed: a uci config file, a regular file of at most 8 MiB"


@pytest.mark.parametrize("make, reason", [
    (lambda p: None, "cannot read the config file: No such file or directory"),
    (os.mkdir, "not a regular file (a directory)" + ALLOWED_FILE),
    (lambda p: os.mkfifo(p, 0o600), "not a regular file (a FIFO)" + ALLOWED_FILE),  # used to hang check and a reload
    (lambda p: os.symlink("/dev/zero", p), "not a regular file (a character device)" + ALLOWED_FILE),  # used to eat all memory
    (lambda p: p.write_bytes(b"# padding\n" * 900_000), "larger than 8 MiB" + ALLOWED_FILE),
], ids=["missing", "directory", "fifo", "/dev/zero", "9 MB"])
def test_load_refuses_what_is_not_a_config_file_at_once(tmp_path, hang_guard, make, reason):
    path = tmp_path / "ddns-edge"
    make(path)
    with pytest.raises(ConfigError) as info:
        config.load(str(path))
    assert str(info.value) == f"{path}: {reason}"


def luci_records(count: int) -> str:
    """`count` records as LuCI writes them: every option spelt out, about 230 bytes each."""
    return "".join(f"config record 'cfg{i:06x}'\n\toption enabled '1'\n\toption name 'host{i:05d}.example.com'\n"
                   "\toption type 'A'\n\toption device 'wan'\n\toption source 'auto'\n\toption key 'home'\n"
                   "\toption ttl '60'\n\toption zone 'example.com'\n\toption server '192.0.2.53'\n\toption port '53'\n\n"
                   for i in range(count))


@pytest.mark.parametrize("count", [10_000, 20_000])
def test_thousands_of_records_are_accepted(tmp_path, count):
    """The cap was 1 MiB: 10,000 records as LuCI writes them (2.3 MB) were refused."""
    text = KEY + luci_records(count)
    assert len(text) > 230 * count
    cfg = config.load(write(tmp_path / "ddns-edge", text, 0o600))
    assert len(cfg.enabled_records()) == count


def test_load_reports_syntax_error_with_line(tmp_path):
    path = write(tmp_path / "ddns-edge", "config agent\n\toption log_level\n", 0o600)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert str(info.value).startswith(f"{path}:2: option log_level has no value")


def test_load_mode_checked_even_when_config_is_otherwise_bad(tmp_path):
    path = write(tmp_path / "ddns-edge", f"config key 'k'\n\toption secret '{S256}'\n\toption bogus 'x'\n", 0o644)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert "key material is readable by others" in str(info.value)


# --- property ---------------------------------------------------------------------------

LINES = st.sampled_from(
    [
        "config agent\n", "config key 'k'\n", "config record 'r'\n", "config record\n", "config key\n",
        f"\toption secret '{S256}'\n", "\toption file 'rel.key'\n", "\toption name 'www.example.com'\n",
        "\toption device 'eth0'\n", "\toption interface 'wan'\n", "\toption source 'echo'\n", "\toption key 'k'\n",
        "\toption type 'AAAA'\n", "\toption zone 'example.com'\n", "\toption ttl '0'\n", "\toption enabled '0'\n",
        "\tlist echo 'https://a.example/'\n", "\toption echo_quorum '1'\n", "\toption name 'k'\n", "\toption algorithm 'hmac-sha1'\n",
    ]
)


@settings(max_examples=500)
@given(st.one_of(st.lists(LINES, max_size=12).map("".join), st.text(max_size=120)))
def test_any_config_gives_config_or_config_error(text):
    try:
        cfg = parse(text)
    except ConfigError as e:
        assert str(e).startswith((f"{PATH}:", "/etc/config/rel.key"))
        assert S256 not in str(e)
    else:
        for r in cfg.records:
            assert r.key in cfg.keys
        assert S256 not in repr(cfg)


@pytest.mark.parametrize("given, taken", [
    ("/var/run/ddns-edge", "/var/run/ddns-edge"),
    ("/run/ddns-edge", "/run/ddns-edge"),
    ("/tmp/run/ddns-edge/", "/tmp/run/ddns-edge"),
    ("/tmp/a b/ddns", "/tmp/a b/ddns"),
])
def test_state_dir_is_a_directory_of_its_own_below_a_tmpfs_root(given, taken):
    cfg = config.parse(f"config agent\n\toption state_dir '{given}'\n", "/etc/config/ddns-edge")
    assert cfg.agent.state_dir == taken
