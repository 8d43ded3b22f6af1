"""TSIG key files and inline secrets -> key material (pure, but for reading files).

Three file formats are read, recognised by their content:

- a BIND key clause, as written by tsig-keygen, ddns-confgen and `ddns-edge keygen`:
  `key "NAME" { algorithm hmac-sha256; secret "BASE64"; };` with `#`, `//` and `/* */`
  comments; other top-level statements (ddns-confgen's update-policy snippet) are skipped.
  The secret may be split over several quoted strings and may hold spaces.
- dnssec-keygen's `K<name>.+<alg>+<id>.private` (`Private-key-format: v1.x`,
  `Algorithm: 165 (HMAC_SHA512)`, `Key: BASE64`); the name comes from the file name.
- dnssec-keygen's `K<name>.+<alg>+<id>.key` (`ddns-key. IN KEY 0 3 165 BASE64 ...`);
  the name is the record's owner.

Errors are ConfigErrors naming the key file and the line in it; none repeats a secret.
A file holding key material must not be accessible to others (mode & 007): see check_mode;
and, as the config, be owned by root (or the user reading it) and written by no one else:
see check_trusted.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import stat
from typing import NamedTuple

from ddns_edge import algorithms, files, names, uci
from ddns_edge.errors import ConfigError

MAX_KEY_FILE = 64 * 1024
FORMATS = "a BIND key clause (tsig-keygen, ddns-confgen, ddns-edge keygen) or a dnssec-keygen K*.private / K*.key file"
CLAUSE_SHAPE = 'key "NAME" { algorithm hmac-sha256; secret "BASE64"; };'

_K_FILE_RE = re.compile(r"K(?P<name>.+)\.\+(?P<alg>\d+)\+(?P<id>\d+)\.(?:private|key)\Z")
_KEY_RR_RE = re.compile(
    r"\s*(?P<owner>[^\s;]+)\s+(?:\d+\s+)?(?:(?:IN|CH|HS|CLASS\d+)\s+)?(?:\d+\s+)?(?:KEY|DNSKEY)"
    r"\s+(?P<flags>\d+)\s+(?P<proto>\d+)\s+(?P<alg>\d+)\s+(?P<data>[^;]*)",
    re.IGNORECASE,
)
_SAFE_WORD_RE = re.compile(r"[a-z][a-z-]{0,19}\Z")  # a statement word we may repeat


class KeyFile(NamedTuple):
    """What a key file holds: (name, algorithm, secret, line). name is None when the file has none."""

    name: str | None
    algorithm: str
    secret: bytes
    line: int  # line of the key clause / Key: field / KEY record

    def __repr__(self) -> str:
        return f"KeyFile(name={self.name!r}, algorithm={self.algorithm!r}, secret=<{len(self.secret)} bytes>, line={self.line})"


# Base64 as BIND reads a secret (RFC 4648 4): groups of four, and padding only to fill the
# last one. Checked here rather than left to b64decode(validate=True), which takes excess
# padding after a full group ('QUJD=') up to Python 3.12 and refuses it from 3.13.
BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def decode_secret(text: str) -> bytes:
    """Base64 text (whitespace ignored) -> bytes; ValueError says what is wrong, never the text."""
    compact = "".join(text.split())
    if not compact:
        raise ValueError("empty")
    if not BASE64.fullmatch(compact):
        raise ValueError("not valid base64 (A-Z a-z 0-9 + / and = padding)")
    secret = base64.b64decode(compact, validate=True)
    if not secret:
        raise ValueError("empty")
    return secret


def check_key_name(text: str) -> str | None:
    """A TSIG key name without its trailing dot, or None when it is not a valid DNS name (names.py)."""
    try:
        return names.check(text)
    except ValueError:
        return None


def check_mode(path: str, mode: int) -> None:
    """Refuse a file holding key material when others may read, write or run it (group is fine)."""
    others = mode & 0o007
    if not others:
        return
    what = " and ".join(w for bit, w in ((4, "readable"), (2, "writable"), (1, "executable")) if others & bit)
    raise ConfigError(f"key material is {what} by others (mode {stat.S_IMODE(mode):04o}); run: chmod 600 {shlex.quote(path)}", path)


def check_trusted(path: str, st: os.stat_result) -> None:
    """Refuse the config or a key file when someone but root or this user owns it, or its
    group or others may write it (files.untrusted): it chooses what runs."""
    why = files.untrusted(path, st, os.geteuid())
    if why is not None:
        raise ConfigError(why, path)


def _check_key_file(path: str, st: os.stat_result) -> None:
    check_trusted(path, st)
    check_mode(path, st.st_mode)


def read_key_file(path: str) -> str:
    """Read a key file: OSError when it cannot be read, ConfigError for its kind, mode, size or bytes."""
    try:
        data, _ = files.read_regular(path, MAX_KEY_FILE, check=lambda st: _check_key_file(path, st))
    except files.Unusable as e:
        raise ConfigError(f"{e}; allowed: {FORMATS}", path) from None
    return uci.decode(data, path, "key file")


def load_key_file(path: str, want_name: str | None = None) -> KeyFile:
    """read_key_file + parse_key_file."""
    return parse_key_file(read_key_file(path), path, want_name)


def parse_key_file(text: str, path: str, want_name: str | None = None) -> KeyFile:
    """Key material from the text of a key file; want_name picks a clause, or must agree with the file."""
    text = text.replace("\r\n", "\n")
    if re.search(r"^\s*Private-key-format\s*:", text, re.MULTILINE | re.IGNORECASE):
        return _parse_private(text, path, want_name)
    for number, line in enumerate(text.split("\n"), 1):
        m = _KEY_RR_RE.match(line)
        if m and not line.lstrip().startswith((";", "#", "/")):  # not in a comment
            return _parse_key_rr(m, number, path, want_name)
    return _parse_clauses(text, path, want_name)


def _name_from_file_name(path: str) -> str | None:
    m = _K_FILE_RE.match(os.path.basename(path))
    return check_key_name(m.group("name")) if m else None


def _hmac_number(field: str, path: str, line: int) -> str:
    m = re.match(r"\s*(\d+)", field)
    number = int(m.group(1)) if m else None
    found = algorithms.BY_NUMBER.get(number) if number is not None else None
    if found is None:
        shown = f" {number}" if number is not None else ""
        raise ConfigError(f"algorithm{shown} is not a TSIG HMAC algorithm (a DNSSEC key?); allowed: {algorithms.ALLOWED_NUMBERS}", path, line)
    return found.name


def _decode(text: str, path: str, line: int, where: str) -> bytes:
    try:
        return decode_secret(text)
    except ValueError as e:
        raise ConfigError(f"{where}: the secret is {e}; allowed: the base64 key as the key generator wrote it", path, line) from None


def _parse_private(text: str, path: str, want_name: str | None) -> KeyFile:
    fields: dict[str, tuple[str, int]] = {}
    for number, text_line in enumerate(text.split("\n"), 1):
        if ":" in text_line:
            name, value = text_line.split(":", 1)
            fields.setdefault(name.strip().lower(), (value.strip(), number))
    version, line = fields["private-key-format"]
    if not re.fullmatch(r"v1\.\d+", version):
        raise ConfigError("unsupported Private-key-format; allowed: v1.2 or v1.3 (dnssec-keygen)", path, line)
    if "algorithm" not in fields:
        raise ConfigError("no Algorithm: field; a dnssec-keygen .private file has one, e.g. Algorithm: 165 (HMAC_SHA512)", path, line)
    algorithm = _hmac_number(fields["algorithm"][0], path, fields["algorithm"][1])
    if "key" not in fields:
        raise ConfigError("no Key: field; a dnssec-keygen HMAC .private file holds the secret as Key: BASE64", path, line)
    value, line = fields["key"]
    secret = _decode(value, path, line, "Key")
    return KeyFile(want_name or _name_from_file_name(path), algorithm, secret, line)


def _parse_key_rr(m: re.Match, line: int, path: str, want_name: str | None) -> KeyFile:
    algorithm = _hmac_number(m.group("alg"), path, line)
    owner = check_key_name(m.group("owner"))
    if owner is None:
        raise ConfigError("the KEY record's owner is not a valid DNS name; allowed: the key name, e.g. ddns-key.", path, line)
    if want_name is not None and not names.same(owner, want_name):
        raise ConfigError(f"the key here is named {owner!r}, not {want_name!r} as option name says; leave option name out or make them agree", path, line)
    secret = _decode(m.group("data"), path, line, "KEY record")
    return KeyFile(owner, algorithm, secret, line)


# --- BIND key clauses -------------------------------------------------------------------


class _Token(NamedTuple):
    kind: str  # "word", "string" or one of "{", "}", ";"
    text: str
    line: int


def _tokens(text: str, path: str) -> list[_Token]:
    """named.conf tokens; comments (#, //, /* */) dropped."""
    out: list[_Token] = []
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif c == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise ConfigError("unterminated /* comment; close it with */", path, line)
            line += text.count("\n", i, end)
            i = end + 2
        elif c == '"':
            start, i, parts = line, i + 1, []
            while True:
                if i >= n:
                    raise ConfigError('unterminated " string; close it with "', path, start)
                c = text[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\" and i + 1 < n:
                    i += 1
                    c = text[i]
                line += c == "\n"
                parts.append(c)
                i += 1
            out.append(_Token("string", "".join(parts), start))
        elif c in "{};":
            out.append(_Token(c, c, line))
            i += 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in '{};"#' and not text.startswith(("//", "/*"), i):
                i += 1
            out.append(_Token("word", text[start:i], line))
    return out


class _Clause(NamedTuple):
    name: str
    line: int
    algorithm: _Token | None
    secret: list[_Token]
    secret_line: int


def _clause_error(message: str, path: str, line: int) -> ConfigError:
    return ConfigError(f"{message}; a key clause looks like: {CLAUSE_SHAPE}", path, line)


def _parse_clause(toks: list[_Token], i: int, path: str) -> tuple[_Clause, int]:
    """Parse `key NAME { ... };` starting at toks[i] (the word key); returns the clause and the next index."""
    start = toks[i].line

    def at(j: int) -> _Token:
        return toks[j] if j < len(toks) else _Token("end", "", toks[-1].line)

    name_tok = at(i + 1)
    if name_tok.kind not in ("word", "string") or not name_tok.text:
        raise _clause_error("expected a key name after 'key'", path, name_tok.line)
    name = check_key_name(name_tok.text)
    if name is None:
        raise _clause_error("the key name is not a valid DNS name", path, name_tok.line)
    if at(i + 2).kind != "{":
        raise _clause_error("expected '{' after the key name", path, at(i + 2).line)
    j = i + 3
    algorithm: _Token | None = None
    secret: list[_Token] = []
    secret_line = 0
    while at(j).kind != "}":
        tok = at(j)
        if tok.kind == "end":
            raise _clause_error("the key clause is not closed with '};'", path, start)
        word = tok.text.lower() if tok.kind == "word" else ""
        if word not in ("algorithm", "secret"):
            shown = f" {tok.text!r}" if tok.kind == "word" and _SAFE_WORD_RE.match(tok.text) else ""
            raise _clause_error(f"unknown statement{shown} in the key clause; allowed: algorithm, secret", path, tok.line)
        if (word == "algorithm" and algorithm is not None) or (word == "secret" and secret):
            raise _clause_error(f"{word} is given twice in the key clause", path, tok.line)
        j += 1
        values: list[_Token] = []
        while at(j).kind in ("word", "string") and (word == "secret" or not values):
            values.append(at(j))
            j += 1
        if word == "algorithm" and not values:
            raise _clause_error(f"algorithm needs a name; allowed: {algorithms.ALLOWED}", path, tok.line)
        if word == "secret" and (not values or any(v.kind != "string" for v in values)):
            raise _clause_error("the secret must be a quoted base64 string", path, tok.line)
        if at(j).kind != ";":
            raise _clause_error(f"expected ';' after the {word} statement", path, at(j).line)
        j += 1
        if word == "algorithm":
            algorithm = values[0]
        else:
            secret, secret_line = values, tok.line
    if at(j + 1).kind != ";":
        raise _clause_error("expected ';' after the key clause's '}'", path, at(j).line)
    return _Clause(name, start, algorithm, secret, secret_line), j + 2


def _parse_clauses(text: str, path: str, want_name: str | None) -> KeyFile:
    toks = _tokens(text, path)
    clauses: list[_Clause] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok.kind == "word" and tok.text.lower() == "key":
            clause, i = _parse_clause(toks, i, path)
            clauses.append(clause)
        elif tok.kind == "{":  # some other statement's block (update-policy, zone ...): skip it
            depth = 0
            while i < len(toks):
                depth += (toks[i].kind == "{") - (toks[i].kind == "}")
                i += 1
                if depth == 0:
                    break
        else:
            i += 1
    if not clauses:
        raise ConfigError(f"no key found; allowed: {FORMATS}, e.g. {CLAUSE_SHAPE}", path)
    listed = ", ".join(c.name for c in clauses)
    if want_name is not None:
        chosen = [c for c in clauses if names.same(c.name, want_name)]
        if not chosen:
            raise ConfigError(f"no key clause named {want_name!r} (as option name says); this file has: {listed}", path)
        clause = chosen[0]
    elif len(clauses) > 1:
        raise ConfigError(f"{len(clauses)} key clauses ({listed}); choose one with option name in the config key section", path)
    else:
        clause = clauses[0]
    if clause.algorithm is None:
        raise _clause_error(f"the key clause has no algorithm; allowed: {algorithms.ALLOWED}", path, clause.line)
    algorithm = algorithms.canonical(clause.algorithm.text)
    if algorithm is None:
        raise ConfigError(f"algorithm {clause.algorithm.text!r} is not a TSIG algorithm; allowed: {algorithms.ALLOWED}", path, clause.algorithm.line)
    if not clause.secret:
        raise _clause_error("the key clause has no secret", path, clause.line)
    secret = _decode("".join(t.text for t in clause.secret), path, clause.secret_line, "secret")
    return KeyFile(clause.name, algorithm, secret, clause.line)
