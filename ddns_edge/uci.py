"""uci syntax -> sections with line numbers (pure: text in, sections out).

Reads what OpenWrt's `uci` reads (libuci's file.c, strict mode, as the `uci` command runs):

    package NAME                  anywhere, any number of times: parsed and ignored (libuci
                                  loads /etc/config/NAME as one package, `single`)
    config TYPE ['NAME']          opens a section; no name (or '') makes it anonymous
    option NAME VALUE             one value; given twice in a section, the last wins
    list NAME VALUE               appends to a list

The keywords may be shortened to their first letter (p, c, o, l), as uci allows.
Words are unquoted, 'single quoted' (everything literal up to the next ') or "double
quoted"; in double quotes and unquoted a backslash takes the next character literally,
and a backslash at the end of a line joins the next line. Adjacent parts make one word,
like the shell: 'it'\\''s' is it's. Quoted values may span lines. Outside quotes, `#`
starts a comment to the end of the line and `;` ends a statement. Names of sections and
options are [A-Za-z0-9_]+; a section type is printable ASCII without spaces.

This module knows nothing of ddns-edge's schema; config.py gives the sections meaning.
Every error is a ConfigError naming the line; no error repeats a value, since a value
may be a secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator, NamedTuple

from ddns_edge.errors import ConfigError

KEYWORDS = {"package": "package", "config": "config", "option": "option", "list": "list"}
KEYWORDS.update({k[0]: k for k in list(KEYWORDS)})
ALLOWED_KEYWORDS = "package, config, option, list"

NAME_RE = re.compile(r"[A-Za-z0-9_]+\Z")
PACKAGE_RE = re.compile(r"[A-Za-z0-9_-]+\Z")
TYPE_RE = re.compile(r"[!-~]+\Z")  # uci_validate_type: printable ASCII, no space
_SAFE_WORD_RE = re.compile(r"[a-z_]{1,16}\Z")  # a word we may repeat in a message

_BLANK = " \t\r\v\f"  # whitespace but newline (CR of CRLF is dropped up front)
_WORD_END = _BLANK + "\n;#"

# Option names whose values Section.__repr__ hides (the one place uci knows the schema).
SENSITIVE_OPTIONS = frozenset({"secret"})


@dataclass(frozen=True)
class Value:
    """One option or list value and the line where it starts."""

    value: str
    line: int


@dataclass(frozen=True)
class Section:
    """`config TYPE ['NAME']` with its options and lists, in file order."""

    type: str
    name: str | None
    line: int
    options: dict[str, Value] = field(default_factory=dict)
    lists: dict[str, list[Value]] = field(default_factory=dict)

    def __repr__(self) -> str:
        def show(name: str, v: Value) -> str:
            return f"<hidden>@{v.line}" if name in SENSITIVE_OPTIONS else f"{v.value!r}@{v.line}"

        opts = ", ".join(f"{k}={show(k, v)}" for k, v in self.options.items())
        lists = ", ".join(f"{k}=[{', '.join(show(k, v) for v in vs)}]" for k, vs in self.lists.items())
        return f"Section(type={self.type!r}, name={self.name!r}, line={self.line}, options={{{opts}}}, lists={{{lists}}})"


class _Word(NamedTuple):
    text: str
    quoted: bool  # some part of it was quoted (so '' is a word, not nothing)
    line: int


def decode(data: bytes | str, path: str, what: str = "file") -> str:
    """UTF-8 bytes (or text) -> text with LF line ends; errors name the line."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            line = data.count(b"\n", 0, e.start) + 1
            raise ConfigError(f"byte 0x{data[e.start]:02x} is not UTF-8; the {what} must be UTF-8 text", path, line) from None
    else:
        text = data
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ConfigError(f"NUL byte; the {what} must be text", path, line)
    if text.startswith("\ufeff"):
        raise ConfigError(f"the {what} starts with a byte order mark, which uci cannot read; save it as UTF-8 without BOM", path, 1)
    text = text.replace("\r\n", "\n")
    if "\r" in text:
        line = text.count("\n", 0, text.index("\r")) + 1
        ends = "CR only (old Mac style)" if "\n" not in text else "CR in some places"
        raise ConfigError(f"a line ends with a lone CR (carriage return): the {what}'s line endings are {ends}; "
                          "uci reads LF (or CRLF) line endings: save it with LF", path, line)
    return text


def _statements(text: str, path: str) -> Iterator[list[_Word]]:
    """Split text into statements, each a list of words (quotes and escapes resolved)."""
    i, n, line = 0, len(text), 1
    words: list[_Word] = []
    while i < n:
        c = text[i]
        if c == "\n" or c == ";":
            line += c == "\n"
            i += 1
            if words:
                yield words
                words = []
            continue
        if c in _BLANK:
            i += 1
            continue
        if c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        start, parts, quoted = line, [], False
        while i < n and text[i] not in _WORD_END:
            c = text[i]
            if c == "'":
                end = text.find("'", i + 1)
                if end < 0:
                    raise ConfigError("unterminated ' quote (no closing ' before the end of the file); a quoted value ends with the quote it starts with", path, line)
                parts.append(text[i + 1 : end])
                line += text.count("\n", i, end)
                quoted, i = True, end + 1
            elif c == '"':
                opened, i, quoted = line, i + 1, True
                while True:
                    if i >= n:
                        raise ConfigError('unterminated " quote (no closing " before the end of the file); a quoted value ends with the quote it starts with', path, opened)
                    c = text[i]
                    if c == '"':
                        i += 1
                        break
                    if c == "\\" and i + 1 < n:
                        i += 1
                        c = text[i]
                        if c == "\n":  # backslash-newline joins the lines
                            line += 1
                            i += 1
                            continue
                    elif c == "\\":  # a lone backslash at the end of the file
                        i += 1
                        continue
                    line += c == "\n"
                    parts.append(c)
                    i += 1
            elif c == "\\":
                if i + 1 < n and text[i + 1] == "\n":
                    line += 1
                elif i + 1 < n:
                    parts.append(text[i + 1])
                i += 2
            else:
                parts.append(c)
                i += 1
        words.append(_Word("".join(parts), quoted, start))
    if words:
        yield words


class _Open:
    """A section being read (Section is frozen)."""

    def __init__(self, type_: str, name: str | None, line: int):
        self.type, self.name, self.line = type_, name, line
        self.options: dict[str, Value] = {}
        self.lists: dict[str, list[Value]] = {}

    def close(self) -> Section:
        return Section(self.type, self.name, self.line, self.options, self.lists)


def parse(data: bytes | str, path: str) -> list[Section]:
    """Parse uci text into its sections, in file order; raises ConfigError with the line."""
    text = decode(data, path, "config")
    sections: list[Section] = []
    current: _Open | None = None
    for words in _statements(text, path):
        head, args = words[0], words[1:]
        line = head.line
        keyword = None if head.quoted else KEYWORDS.get(head.text)
        if keyword is None:
            shown = f" {head.text!r}" if not head.quoted and _SAFE_WORD_RE.match(head.text) else ""
            raise ConfigError(f"unknown keyword{shown}; allowed: {ALLOWED_KEYWORDS}", path, line)

        if keyword == "package":  # libuci checks the name and goes on; the section stays open
            if len(args) != 1 or not PACKAGE_RE.match(args[0].text):
                raise ConfigError("package needs one name of letters, digits, '_' or '-': package NAME", path, line)
            continue

        if keyword == "config":
            if not args or not args[0].text:
                raise ConfigError("config needs a section type: config TYPE ['NAME']", path, line)
            if not TYPE_RE.match(args[0].text):
                raise ConfigError("invalid section type; allowed: printable characters without spaces, e.g. config record 'www'", path, line)
            name = args[1].text if len(args) > 1 else ""
            if name and not NAME_RE.match(name):
                raise ConfigError("invalid section name; allowed characters: A-Z a-z 0-9 _", path, line)
            if len(args) > 2:
                raise ConfigError("unexpected words after the section name; a section starts with: config TYPE ['NAME']", path, line)
            if current is not None:
                sections.append(current.close())
            current = _Open(args[0].text, name or None, line)
            continue

        # option or list
        if current is None:
            raise ConfigError(f"{keyword} outside a section; start one first with: config TYPE ['NAME']", path, line)
        if not args or not args[0].text:
            raise ConfigError(f"{keyword} needs a name and a value: {keyword} NAME 'VALUE'", path, line)
        name = args[0].text
        if not NAME_RE.match(name):
            raise ConfigError(f"invalid {keyword} name; allowed characters: A-Z a-z 0-9 _", path, line)
        if len(args) < 2:
            raise ConfigError(f"{keyword} {name} has no value; write: {keyword} {name} 'VALUE'", path, line)
        if len(args) > 2:
            raise ConfigError(f"{keyword} {name}: more than one value; quote a value that holds spaces: {keyword} {name} 'a b'", path, line)
        value = Value(args[1].text, args[1].line)
        if keyword == "option":
            if name in current.lists:
                first = current.lists[name][0].line
                raise ConfigError(f"option {name} is also a list (line {first}); use either option (one value) or list (several)", path, line)
            current.options[name] = value
        else:
            if name in current.options:
                first = current.options[name].line
                raise ConfigError(f"list {name} is also an option (line {first}); use either option (one value) or list (several)", path, line)
            current.lists.setdefault(name, []).append(value)
    if current is not None:
        sections.append(current.close())
    return sections
