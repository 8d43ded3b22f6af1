"""uci sections -> a typed, validated Config; every error names the file and line (pure).

The schema (DESIGN.md): at most one `config agent`, any number of `config key` and
`config record` sections. Validation happens here, once: what leaves this module is typed
and checked, so the rest of the agent never re-reads strings. Key files are read only
through the `read_file` given to parse(); load() reads the config and checks file modes.

An empty value (`option zone ''`) counts as not given, as uci treats it.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from typing import Callable, overload

from ddns_edge import algorithms, echo_wire, files, keys, names, uci
from ddns_edge.addresses import ip_literal
from ddns_edge.errors import ConfigError
from ddns_edge.model import Agent, Config, EchoSource, Key, Record

LOG_LEVELS = ("debug", "info", "notice", "warning", "error")
SOURCES = ("auto", "interface", "echo")
TYPES = ("A", "AAAA")
BOOLEANS = {"1": True, "yes": True, "on": True, "true": True, "enabled": True,
            "0": False, "no": False, "off": False, "false": False, "disabled": False}
TTL_RANGE = (1, 7 * 86400)
ECHO_INTERVAL_RANGE = (10, 86400)
PORT_RANGE = (1, 65535)

OPTIONS = {
    "agent": ("log_level", "state_dir", "echo", "echo_interval", "echo_quorum", "hook", "hook_timeout"),
    "key": ("name", "algorithm", "secret", "file"),
    "record": ("enabled", "name", "type", "device", "interface", "source", "key", "ttl", "zone", "server", "port", "host_id", "mac",
               "policy", "mwan3_policy"),
}
LIST_OPTIONS = {"agent": ("echo",), "key": (), "record": ("device", "interface")}
POLICIES = ("failover", "all")
SECTION_TYPES = tuple(OPTIONS)

_IFNAMSIZ = 16
MAX_CONFIG = 8 << 20  # bytes: 20,000 records as LuCI writes them (about 230 bytes each) are 4.6 MB


ReadFile = Callable[[str], str]


def load(path: str) -> Config:
    """Read, check and parse the config at `path`; every failure is one ConfigError line.
    The file is read as files.read_regular reads: a FIFO, /dev/zero or a huge file is
    refused at once, never waited on or loaded (for `check`, and for a reload of `run`,
    which keeps the config it has). One that someone else owns or may write is refused
    before it is read (keys.check_trusted)."""
    sections, st = _read(path, check=lambda st: keys.check_trusted(path, st))
    if any(_holds_secret(s) for s in sections):
        keys.check_mode(path, st.st_mode)
    return from_sections(sections, path, keys.read_key_file)


def read_sections(path: str) -> list[uci.Section]:
    """The config's sections as uci reads them, not validated (`ddns-edge config` shows a
    config that check refuses too); one ConfigError line when it cannot be read or parsed."""
    return _read(path)[0]


def _read(path: str, check=None) -> tuple[list[uci.Section], os.stat_result]:
    try:
        data, st = files.read_regular(path, MAX_CONFIG, check=check)
    except files.Unusable as e:
        raise ConfigError(f"{e}; allowed: a uci config file, a regular file of at most {files.size_text(MAX_CONFIG)}", path) from None
    except OSError as e:
        raise ConfigError(f"cannot read the config file: {e.strerror or e}", path) from None
    return uci.parse(data, path), st


def _holds_secret(section: uci.Section) -> bool:
    """Whether a section carries an inline secret (in any section type: a misplaced one counts too)."""
    option = section.options.get("secret")
    return bool(option is not None and option.value) or bool(section.lists.get("secret"))


def parse(data: bytes | str, path: str, read_file: ReadFile = keys.read_key_file) -> Config:
    """Parse config text; key files named by `option file` are read with read_file(path) -> text."""
    return from_sections(uci.parse(data, path), path, read_file)


def from_sections(sections: list[uci.Section], path: str, read_file: ReadFile = keys.read_key_file) -> Config:
    """Validate uci sections into a Config; sections are checked in file order, first error wins."""
    base = os.path.dirname(path)
    wrapped: list[_Section] = []
    counts: dict[str, int] = {}
    for section in sections:
        index = counts.get(section.type, 0)
        counts[section.type] = index + 1
        wrapped.append(_Section(section, index, path))
    key_ids = [s.id for s in wrapped if s.raw.type == "key"]

    seen_names: dict[str, int] = {}
    agent_line: int | None = None
    agent = Agent()
    key_map: dict[str, Key] = {}
    records: list[Record] = []
    for s in wrapped:
        section = s.raw
        if section.type not in OPTIONS:
            raise ConfigError(f"unknown section type {section.type!r}; allowed: {', '.join(SECTION_TYPES)}{_hint(section.type, SECTION_TYPES)}", path, section.line)
        if section.name is not None:
            if section.name in seen_names:
                raise ConfigError(f"section name {section.name!r} is already used at line {seen_names[section.name]}; section names must be unique", path, section.line)
            seen_names[section.name] = section.line
        s.check_options()
        if section.type == "agent":
            if agent_line is not None:
                raise ConfigError(f"a second config agent (the first is at line {agent_line}); allowed: at most one", path, section.line)
            agent_line = section.line
            agent = _agent(s)
        elif section.type == "key":
            key_map[s.id] = _key(s, base, read_file)
        else:
            records.append(_record(s, key_ids))
    _check_unique(records, path)
    return Config(path, agent, key_map, tuple(records))


# --- the config without its secrets ------------------------------------------------------
#
# What LuCI's read-only users see (`ddns-edge config --json`, through the rpcd plugin): by the
# rule the log follows. A secret option (a TSIG secret, wherever it is written) says only
# that it is set; an echo source is shown as parse_source shows it in the log (a URL without
# its password, an exec: source by its program and place, never its command), and one it
# refuses not at all; an option the schema does not know is not shown (a misspelt secret).

SECRET_OPTIONS = ("secret",)


def redacted(sections: list[uci.Section]) -> list[dict]:
    """Each section as {".type", ".name", ".anonymous", option: value or [values]} without
    its secrets (above); "secret_set": whether a secret option is set (pure)."""
    out = []
    counts: dict[str, int] = {}
    for section in sections:
        index = counts.get(section.type, 0)
        counts[section.type] = index + 1
        shown: dict = {".type": section.type, ".name": section.name or f"@{section.type}[{index}]",
                       ".anonymous": section.name is None}
        known = OPTIONS.get(section.type, ())
        values: dict[str, list[str]] = {}
        given = [(v.line, n, v.value) for n, v in section.options.items()]
        given += [(v.line, n, v.value) for n, vs in section.lists.items() for v in vs]
        for _, n, v in sorted(given, key=lambda g: g[0]):  # in the file's order
            values.setdefault(n, []).append(v)
        for name, texts in values.items():
            if name in SECRET_OPTIONS:
                shown["secret_set"] = shown.get("secret_set", False) or any(texts)
            elif name not in known:
                shown[name] = f"(not an option of config {section.type}; not shown)"
            elif name == "echo":
                shown[name] = [_echo_shown(t, n) for n, t in enumerate(texts, 1)]
            else:
                as_list = name in LIST_OPTIONS.get(section.type, ()) and (section.type != "record" or name in section.lists)
                shown[name] = texts if as_list or len(texts) > 1 else texts[0]
        out.append(shown)
    return out


def _echo_shown(text: str, position: int) -> str:
    try:
        return echo_wire.parse_source(text, position).shown
    except ValueError:
        return f"(echo source {position}: not one ddns-edge check takes; not shown)"


# --- one section's options --------------------------------------------------------------


class _Section:
    """A uci section with helpers that read its options and raise errors at their lines."""

    def __init__(self, section: uci.Section, index: int, path: str):
        self.raw = section
        self.path = path
        self.id = section.name if section.name is not None else f"@{section.type}[{index}]"
        self.label = f"config {section.type} {self.id!r}" if section.name is not None else f"config {section.type} {self.id}"

    def check_options(self) -> None:
        kind = self.raw.type
        allowed = OPTIONS[kind]
        given = [(v.line, n, "option") for n, v in self.raw.options.items()]
        given += [(vs[0].line, n, "list") for n, vs in self.raw.lists.items()]
        for line, name, how in sorted(given):
            if name not in allowed:
                raise ConfigError(f"unknown {how} {name!r} in config {kind}; allowed: {', '.join(allowed)}{_hint(name, allowed)}", self.path, line)
            if how == "list" and name not in LIST_OPTIONS[kind]:
                raise ConfigError(f"{name} takes one value; write: option {name} 'VALUE'", self.path, line)

    def get(self, name: str) -> uci.Value | None:
        """The option's value, or None when absent or empty."""
        value = self.raw.options.get(name)
        return value if value is not None and value.value != "" else None

    def error(self, value: uci.Value | None, name: str, message: str) -> ConfigError:
        line = value.line if value is not None else self.raw.line
        return ConfigError(f"option {name}: {message}", self.path, line)

    def choice(self, name: str, allowed: tuple[str, ...], default: str, fold=str.lower) -> str:
        v = self.get(name)
        if v is None:
            return default
        for a in allowed:
            if fold(v.value.strip()) == fold(a):
                return a
        raise self.error(v, name, f"{_show(v.value)} is not allowed; allowed: {_or(allowed)}")

    @overload
    def integer(self, name: str, default: int, lo: int, hi: int, unit: str = "") -> int: ...
    @overload
    def integer(self, name: str, default: None, lo: int, hi: int, unit: str = "") -> int | None: ...

    def integer(self, name: str, default: int | None, lo: int, hi: int, unit: str = "") -> int | None:
        v = self.get(name)
        if v is None:
            return default
        text = v.value.strip()
        allowed = f"allowed: a whole number {lo}..{hi}{unit}"
        if not text.isascii() or not text.isdigit():
            raise self.error(v, name, f"{_show(v.value)} is not a whole number; {allowed}")
        if len(text) > 18:  # int() refuses very long digit strings; none of ours is near that
            raise self.error(v, name, f"{_show(text)} is out of range; {allowed}")
        number = int(text)
        if not lo <= number <= hi:
            raise self.error(v, name, f"{number} is out of range; {allowed}")
        return number

    def boolean(self, name: str, default: bool) -> bool:
        v = self.get(name)
        if v is None:
            return default
        try:
            return BOOLEANS[v.value.strip().lower()]
        except KeyError:
            raise self.error(v, name, f"{_show(v.value)} is not a boolean; allowed: 1/0, yes/no, on/off, true/false, enabled/disabled") from None

    def dns_name(self, name: str, min_labels: int, wildcard: bool = False) -> str | None:
        v = self.get(name)
        if v is None:
            return None
        try:
            return names.check(v.value.strip(), min_labels, wildcard)
        except ValueError as e:
            raise self.error(v, name, f"{_show(v.value)} is not a valid DNS name: {e}") from None

    @overload
    def absolute_path(self, name: str, default: str) -> str: ...
    @overload
    def absolute_path(self, name: str, default: None) -> str | None: ...

    def absolute_path(self, name: str, default: str | None) -> str | None:
        v = self.get(name)
        if v is None:
            return default
        if not v.value.startswith("/") or "\n" in v.value:
            raise self.error(v, name, f"{_show(v.value)} is not an absolute path; allowed: a path starting with /")
        return v.value


def _show(text: str) -> str:
    """A value for a message: quoted, and cut short."""
    return repr(text if len(text) <= 64 else text[:61] + "...")


def _or(items) -> str:
    return " | ".join(items)


def _hint(word: str, allowed) -> str:
    close = difflib.get_close_matches(word, list(allowed), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- agent ------------------------------------------------------------------------------


def _agent(s: _Section) -> Agent:
    echo_values = list(s.raw.lists.get("echo", []))
    single = s.get("echo")
    if single is not None:
        echo_values.append(single)
    echo = tuple(_echo_source(s, v, n) for n, v in enumerate(echo_values, 1))
    quorum = s.get("echo_quorum")
    echo_quorum = None
    if quorum is not None:
        if not echo:
            raise s.error(quorum, "echo_quorum", "needs list echo (the built-in echo list has its own quorum); allowed: 1..the number of echo sources")
        echo_quorum = s.integer("echo_quorum", None, 1, len(echo), f" (of {len(echo)} echo sources)")
    return Agent(
        log_level=s.choice("log_level", LOG_LEVELS, "info"),
        state_dir=_state_dir(s),
        echo=echo,
        echo_interval=s.integer("echo_interval", Agent.echo_interval, *ECHO_INTERVAL_RANGE, " seconds"),
        echo_quorum=echo_quorum,
        hook=s.absolute_path("hook", None),
        hook_timeout=s.integer("hook_timeout", Agent.hook_timeout, 1, 3600, " seconds"),
    )


# Where state may live: a directory of the agent's own below these (tmpfs on OpenWrt and on
# most Linux systems: no flash wear). The OpenWrt init script creates it for user ddns-edge
# and never takes over one that exists and is not the agent's: a shared directory such as
# /tmp itself is refused here, before the script would meet it.
STATE_ROOTS = ("/var/run", "/run", "/tmp")


def _state_dir(s: _Section) -> str:
    v = s.get("state_dir")
    if v is None:
        return Agent.state_dir
    path = s.absolute_path("state_dir", Agent.state_dir)  # (v is there: the default is never taken)
    parts = path.rstrip("/").split("/")[1:]
    below = next((len(root.split("/")) - 1 for root in STATE_ROOTS if path.startswith(root + "/")), None)
    if below is None or len(parts) <= below or any(p in ("", ".", "..") or not p.isprintable() for p in parts):
        raise s.error(v, "state_dir", f"{_show(v.value)} is not a directory of the agent's own below {_or(STATE_ROOTS)}; "
                      "allowed: e.g. '/var/run/ddns-edge' (the init script creates it for the agent, and never takes over one that is not the agent's)")
    return path.rstrip("/")


def _echo_source(s: _Section, v: uci.Value, position: int) -> EchoSource:
    """echo_wire's own parser, so that `check` refuses what a round would; the value is not
    repeated (a URL may hold a password)."""
    try:
        return echo_wire.parse_source(v.value, position)
    except ValueError as e:
        raise ConfigError(f"echo: {e}; {echo_wire.ALLOWED}", s.path, v.line) from None


# --- key --------------------------------------------------------------------------------


def _key(s: _Section, base: str, read_file: ReadFile) -> Key:
    name_v, alg_v, secret_v, file_v = (s.get(n) for n in ("name", "algorithm", "secret", "file"))
    want = None
    if name_v is not None:
        want = keys.check_key_name(name_v.value.strip())
        if want is None:
            raise s.error(name_v, "name", f"{_show(name_v.value)} is not a valid TSIG key name; allowed: a DNS name such as ddns-key or ddns-key.example.com")
    algorithm = None
    if alg_v is not None:
        algorithm = algorithms.canonical(alg_v.value)
        if algorithm is None:
            raise s.error(alg_v, "algorithm", f"{_show(alg_v.value)} is not a TSIG algorithm; allowed: {_or(algorithms.ALGORITHMS)}")
    if secret_v is not None and file_v is not None:
        later = max(secret_v, file_v, key=lambda v: v.line)
        raise ConfigError(f"{s.label} has both option secret and option file; allowed: exactly one of them", s.path, later.line)
    if secret_v is None and file_v is None:
        raise ConfigError(f"{s.label} has neither option secret nor option file; allowed: exactly one (secret: the base64 key; file: {keys.FORMATS})", s.path, s.raw.line)

    if secret_v is not None:
        try:
            secret = keys.decode_secret(secret_v.value)
        except ValueError as e:
            raise s.error(secret_v, "secret", f"the secret is {e}; allowed: the base64 key as ddns-edge keygen or tsig-keygen prints it") from None
        algorithm = algorithm or algorithms.DEFAULT
        name = want
        origin = f"{s.path}:{secret_v.line}"
    else:
        assert file_v is not None  # one of secret and file is there (checked above)
        file_path = os.path.join(base, file_v.value) if base and not file_v.value.startswith("/") else file_v.value
        try:
            text = read_file(file_path)
        except OSError as e:
            raise s.error(file_v, "file", f"cannot read {file_path}: {e.strerror or e}; allowed: a readable key file, {keys.FORMATS}") from None
        except ConfigError as e:
            if e.line is not None:
                raise
            raise s.error(file_v, "file", f"{file_path}: {e.message}") from None  # the file as a whole: at the line naming it
        found = keys.parse_key_file(text, file_path, want)
        if algorithm is not None and algorithm != found.algorithm:
            raise s.error(alg_v, "algorithm", f"{algorithm} differs from {found.algorithm} in {file_path}; leave option algorithm out or make them agree")
        algorithm = found.algorithm
        name = want or found.name
        secret = found.secret
        origin = f"{file_path}:{found.line}"
    if name is None:
        if s.raw.name is None:
            raise ConfigError(f"{s.label} needs option name: an anonymous section has no name to use as the TSIG key name", s.path, s.raw.line)
        name = s.raw.name
    return Key(s.id, name, algorithm, secret, origin)


# --- record -----------------------------------------------------------------------------


def _record(s: _Section, key_ids: list[str]) -> Record:
    path, line = s.path, s.raw.line
    name = s.dns_name("name", 2, wildcard=True)
    if name is None:
        raise ConfigError(f"{s.label} needs option name, e.g. option name 'www.example.com'", path, line)
    rtype = s.choice("type", TYPES, "A")
    source = s.choice("source", SOURCES, "auto")
    device, interface, wans = _wans(s, source)
    zone = s.dns_name("zone", 1)
    if zone is not None:
        if not names.is_inside(name, zone):
            raise s.error(s.get("zone"), "zone", f"{name} is not inside zone {zone}; allowed: the zone that holds the name (or leave zone out to find it)")
    return Record(
        section=s.id,
        name=name,
        type=rtype,
        device=device,
        interface=interface,
        source=source,
        key=_record_key(s, key_ids),
        ttl=s.integer("ttl", 60, *TTL_RANGE, " seconds"),
        zone=zone,
        server=_server(s),
        port=s.integer("port", 53, *PORT_RANGE),
        enabled=s.boolean("enabled", True),
        line=line,
        path=path,
        **wans,
        **_lan_host(s, rtype, source),
    )


_MAC_RE = re.compile(r"[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}\Z")


def _lan_host(s: _Section, rtype: str, source: str) -> dict:
    """option host_id / option mac: a host behind the router, on the record's (LAN) device."""
    given = [(n, v) for n in ("host_id", "mac") if (v := s.get(n)) is not None]
    if not given:
        return {}
    if len(given) > 1:
        later = max((v for _, v in given), key=lambda v: v.line)
        raise ConfigError(f"{s.label} has both option host_id and option mac; allowed: one of them", s.path, later.line)
    ((name, v),) = given
    if rtype != "AAAA":
        raise s.error(v, name, "only for type AAAA: a host behind the router has its own IPv6 address (its A record is "
                               "the router's WAN address, as a record without host_id or mac gives it); allowed: option type 'AAAA'")
    if source == "echo":
        raise s.error(v, name, "not with option source 'echo': the host's address comes from the router's own device")
    text = v.value.strip()
    if name == "host_id":
        try:
            iid = ipaddress.IPv6Address(text)
        except ValueError:
            iid = None
        if iid is None or iid.scope_id or not 0 < int(iid) < 1 << 64:
            raise s.error(v, name, f"{_show(text)} is not an interface identifier; allowed: the host part of an IPv6 address "
                                   "(its low 64 bits), e.g. '::1234' or '::a8bb:ccff:fedd:eeff'")
        return {"host_id": str(iid)}
    if not _MAC_RE.match(text) or int(text[:2], 16) & 1 or not int(re.sub("[:-]", "", text), 16):
        raise s.error(v, name, f"{_show(text)} is not a host's MAC address; allowed: six hex bytes, e.g. 'aa:bb:cc:dd:ee:ff' "
                               "(not a multicast one, not all zeros)")
    return {"mac": text.lower().replace("-", ":")}


def _values(s: _Section, name: str) -> list[uci.Value]:
    """An option given once or as a list, its non-empty values in the file's order."""
    values = [v for v in s.raw.lists.get(name, []) if v.value != ""]
    single = s.get(name)
    if single is not None:
        values.append(single)
    return sorted(values, key=lambda v: v.line)


def _wans(s: _Section, source: str) -> tuple[str | None, str | None, dict]:
    """option/list device, option/list interface, option policy, option mwan3_policy: one WAN
    (device, interface) as ever, or two and more (the Record's wans, wans_are, policy)."""
    path, line = s.path, s.raw.line
    devices, networks = _values(s, "device"), _values(s, "interface")
    policy_v, mwan3_v = s.get("policy"), s.get("mwan3_policy")
    policy = s.choice("policy", POLICIES, "failover")
    if devices and networks:
        later = max(devices[0], networks[0], key=lambda v: v.line)
        if s.raw.lists.get("device") or s.raw.lists.get("interface"):
            raise ConfigError(f"{s.label} names its WANs both by device and by interface; allowed: one way "
                              "(list interface for OpenWrt networks, as mwan3 names them; list device for kernel interfaces)", path, later.line)
        raise ConfigError(f"{s.label} has both option device and option interface; allowed: one of them", path, later.line)
    values, kind = (devices, "device") if devices else (networks, "interface")
    names = [_device_name(s, v) if kind == "device" else _network_name(s, v) for v in values]
    seen: dict[str, int] = {}
    for v, text in zip(values, names, strict=True):
        if text in seen:
            raise ConfigError(f"{s.label}: {kind} {text!r} is named twice (first at line {seen[text]}); allowed: each WAN once", path, v.line)
        seen[text] = v.line
    if len(names) < 2:
        for given, option in ((policy_v, "policy"), (mwan3_v, "mwan3_policy")):
            if given is not None:
                raise s.error(given, option, f"needs two WANs or more (list {kind} given twice or more); this record names "
                                         f"{'one' if names else 'none'}")
        if not names and source != "echo":
            raise ConfigError(
                f"{s.label} needs option device (a kernel interface such as 'pppoe-wan') or option interface (a network such as 'wan'); "
                "allowed without them: option source 'echo'",
                path,
                line,
            )
        device = names[0] if names and kind == "device" else None
        return device, names[0] if names and kind == "interface" else None, {}
    second = values[1]
    if source == "echo":
        raise ConfigError(f"{s.label} names {len(names)} WANs and option source 'echo': the echo sees only the WAN the "
                          "main table's default route takes; allowed: option source 'interface' or 'auto' (each WAN's own address)",
                          path, second.line)
    for option in ("host_id", "mac"):
        if s.get(option) is not None:
            raise s.error(s.get(option), option, f"a host behind the router is on one device; not with {len(names)} WANs")
    mwan3_policy = None
    if mwan3_v is not None:
        if kind == "device":
            raise s.error(mwan3_v, "mwan3_policy", "mwan3 ranks networks: name the WANs by list interface, as mwan3's config does")
        if policy == "all":
            raise s.error(mwan3_v, "mwan3_policy", "only with option policy 'failover' (policy 'all' publishes every online WAN, unranked)")
        if not uci.NAME_RE.match(mwan3_v.value):
            raise s.error(mwan3_v, "mwan3_policy", f"{_show(mwan3_v.value)} is not an mwan3 policy name; allowed: A-Z a-z 0-9 _ such as 'wan_wanb'")
        mwan3_policy = mwan3_v.value
    return None, None, {"wans": tuple(names), "wans_are": kind, "policy": policy, "mwan3_policy": mwan3_policy}


def _device_name(s: _Section, v: uci.Value) -> str:
    text = v.value
    # the kernel counts bytes: IFNAMSIZ (16) with the final NUL
    if len(text.encode()) >= _IFNAMSIZ or text in (".", "..") or any(c in "/:" or c.isspace() or not c.isprintable() for c in text):
        raise s.error(v, "device", f"{_show(text)} is not a kernel interface name; allowed: 1..15 bytes (in UTF-8) without '/', ':' or spaces, e.g. 'pppoe-wan' or 'eth1'")
    return text


def _network_name(s: _Section, v: uci.Value) -> str:
    if not uci.NAME_RE.match(v.value):
        raise s.error(v, "interface", f"{_show(v.value)} is not an OpenWrt network name; allowed: A-Z a-z 0-9 _ such as 'wan' or 'wan6'")
    return v.value


def _server(s: _Section) -> str | None:
    v = s.get("server")
    if v is None:
        return None
    text = v.value.strip()
    literal = ip_literal(text)
    if literal is not None:
        return str(literal)
    try:
        return names.check_host(text)
    except ValueError as e:
        raise s.error(v, "server", f"{_show(v.value)} is neither an IP address nor a host name ({e}); allowed: e.g. '192.0.2.53', '2001:db8::53' or 'ns1.example.com' (the port goes in option port)") from None


def _record_key(s: _Section, key_ids: list[str]) -> str:
    v = s.get("key")
    defined = ", ".join(key_ids)
    if v is not None:
        if v.value not in key_ids:
            allowed = f"allowed: one of the key sections ({defined})" if key_ids else "no config key section is defined; add one"
            raise s.error(v, "key", f"no config key section named {_show(v.value)}; {allowed}")
        return v.value
    if len(key_ids) == 1:
        return key_ids[0]
    if not key_ids:
        raise ConfigError(f"{s.label} has no option key and no config key section is defined; add a config key section", s.path, s.raw.line)
    raise ConfigError(f"{s.label} has no option key and there are {len(key_ids)} key sections ({defined}); allowed: option key naming one of them", s.path, s.raw.line)


def _check_unique(records: list[Record], path: str) -> None:
    seen: dict[tuple[str, str], Record] = {}
    for r in records:
        if not r.enabled:
            continue
        k = (r.name.lower(), r.type)
        if k in seen:
            first = seen[k]
            raise ConfigError(
                f"{r.name} {r.type} is already managed by config record {first.section!r} (line {first.line}); "
                "allowed: one enabled record per name and type (disable one with option enabled '0')",
                path,
                r.line,
            )
        seen[k] = r
