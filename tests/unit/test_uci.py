"""uci.parse: the syntax OpenWrt's uci reads, table-driven, plus properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddns_edge import uci
from ddns_edge.errors import ConfigError

PATH = "/etc/config/ddns-edge"


def flat(sections):
    """Sections as plain data: (type, name, line, {opt: (value, line)}, {list: [(value, line)]})."""
    return [
        (
            s.type,
            s.name,
            s.line,
            {k: (v.value, v.line) for k, v in s.options.items()},
            {k: [(v.value, v.line) for v in vs] for k, vs in s.lists.items()},
        )
        for s in sections
    ]


# (id, text, one section's expected options {name: (value, line)}); the section is `config t 'n'` on line 1
OPTION_VALUES = [
    ("unquoted", "config t 'n'\noption a b\n", {"a": ("b", 2)}),
    ("single", "config t 'n'\noption a 'b c'\n", {"a": ("b c", 2)}),
    ("double", 'config t \'n\'\noption a "b c"\n', {"a": ("b c", 2)}),
    ("single takes backslash literally", "config t 'n'\noption a 'x\\y'\n", {"a": ("x\\y", 2)}),
    ("double escapes quote", 'config t \'n\'\noption a "say \\"hi\\""\n', {"a": ('say "hi"', 2)}),
    ("double escapes backslash", 'config t \'n\'\noption a "x\\\\y"\n', {"a": ("x\\y", 2)}),
    ("double backslash-n is n", 'config t \'n\'\noption a "x\\ny"\n', {"a": ("xny", 2)}),
    ("unquoted escape", "config t 'n'\noption a b\\ c\n", {"a": ("b c", 2)}),
    ("shell-style concatenation", "config t 'n'\noption a 'it'\\''s'\n", {"a": ("it's", 2)}),
    ("mixed parts", "config t 'n'\noption a x'y'\"z\"\n", {"a": ("xyz", 2)}),
    ("hash in quotes", "config t 'n'\noption a 'x # y'\n", {"a": ("x # y", 2)}),
    ("comment after value", "config t 'n'\noption a 'b' # note\n", {"a": ("b", 2)}),
    ("comment glued to value", "config t 'n'\noption a b#note\n", {"a": ("b", 2)}),
    ("empty quoted value", "config t 'n'\noption a ''\n", {"a": ("", 2)}),
    ("tabs and spaces", "config\tt\t'n'\n\t  option \t a\t 'b'  \n", {"a": ("b", 2)}),
    ("CRLF", "config t 'n'\r\noption a 'b'\r\noption c d\r\n", {"a": ("b", 2), "c": ("d", 3)}),
    ("no final newline", "config t 'n'\noption a b", {"a": ("b", 2)}),
    ("last wins", "config t 'n'\noption a 1\noption a 2\n", {"a": ("2", 3)}),
    ("multi-line single quote", "config t 'n'\noption a 'x\ny'\noption b c\n", {"a": ("x\ny", 2), "b": ("c", 4)}),
    ("multi-line double quote", 'config t \'n\'\noption a "x\ny"\noption b c\n', {"a": ("x\ny", 2), "b": ("c", 4)}),
    ("backslash-newline in double quotes joins", 'config t \'n\'\noption a "x\\\ny"\noption b c\n', {"a": ("xy", 2), "b": ("c", 4)}),
    ("backslash-newline unquoted joins", "config t 'n'\noption a x\\\ny\noption b c\n", {"a": ("xy", 2), "b": ("c", 4)}),
    ("semicolon separates statements", "config t 'n'; option a b; option c 'd'\n", {"a": ("b", 1), "c": ("d", 1)}),
    ("short keywords", "c t 'n'\no a b\n", {"a": ("b", 2)}),
    ("value with utf-8", "config t 'n'\noption a 'caf\u00e9'\n", {"a": ("caf\u00e9", 2)}),
    ("value holding a quote char in double", "config t 'n'\noption a \"it's\"\n", {"a": ("it's", 2)}),
]


@pytest.mark.parametrize("text,options", [c[1:] for c in OPTION_VALUES], ids=[c[0] for c in OPTION_VALUES])
def test_option_values(text, options):
    (section,) = uci.parse(text, PATH)
    assert (section.type, section.name, section.line) == ("t", "n", 1)
    assert {k: (v.value, v.line) for k, v in section.options.items()} == options


def test_bytes_input_same_as_text():
    text = "config t 'n'\noption a 'caf\u00e9'\n"
    assert uci.parse(text.encode(), PATH) == uci.parse(text, PATH)


def test_whole_file():
    text = """\
# ddns-edge
package 'ddns-edge'

config agent 'agent'
\toption log_level 'info'
\tlist echo 'https://a.example/'
\tlist echo "dns://192.0.2.1/whoami.example/A"   # second

config key
\toption secret 'c2VjcmV0'

config record 'www'
\toption name www.example.com
"""
    assert flat(uci.parse(text, PATH)) == [
        ("agent", "agent", 4, {"log_level": ("info", 5)}, {"echo": [("https://a.example/", 6), ("dns://192.0.2.1/whoami.example/A", 7)]}),
        ("key", None, 9, {"secret": ("c2VjcmV0", 10)}, {}),
        ("record", "www", 12, {"name": ("www.example.com", 13)}, {}),
    ]


@pytest.mark.parametrize(
    "text,name",
    [
        ("config t\n", None),
        ("config t ''\n", None),
        ('config t ""\n', None),
        ("config t name_1\n", "name_1"),
        ("config t 'Name_1'\n", "Name_1"),
        ("config t 'n' # comment\n", "n"),
    ],
)
def test_section_names(text, name):
    (section,) = uci.parse(text, PATH)
    assert section.name == name


def test_empty_and_comment_only():
    assert uci.parse("", PATH) == []
    assert uci.parse("\n\n  # nothing\n\t\n", PATH) == []
    assert uci.parse(b"", PATH) == []


def test_section_without_options():
    assert flat(uci.parse("config a\nconfig b 'x'\n", PATH)) == [("a", None, 1, {}, {}), ("b", "x", 2, {}, {})]


def test_package_lines_anywhere_are_ignored_as_libuci_does():
    """libuci loads /etc/config/NAME as one package: a `package` line anywhere, any number of
    times, is read and ignored, and the section around it goes on (it used to be refused
    after the first section)."""
    text = "package a\nconfig t 'n'\noption a b\npackage b\noption c d\np c\nconfig t 'm'\n"
    n, m = uci.parse(text, PATH)
    assert (n.name, {k: v.value for k, v in n.options.items()}) == ("n", {"a": "b", "c": "d"})
    assert (m.name, m.line) == ("m", 7)


def test_type_may_hold_punctuation_like_uci():
    (section,) = uci.parse("config my-type.v2 'n'\n", PATH)
    assert section.type == "my-type.v2"


ALLOWED_KEYWORDS = "allowed: package, config, option, list"

# (id, text, line, fragments the message must hold: what is wrong and what is allowed)
ERRORS = [
    ("unterminated single", "config t 'n'\noption a 'b\n\n", 2, ["unterminated ' quote", "ends with the quote"]),
    ("unterminated double", 'config t \'n\'\noption x y\noption a "b\n', 3, ['unterminated " quote', "ends with the quote"]),
    ("unterminated double by escape", 'config t \'n\'\noption a "b\\"\n', 2, ['unterminated " quote']),
    ("unterminated in section name", "config t 'n\n", 1, ["unterminated ' quote"]),
    ("option outside a section", "option a b\n", 1, ["option outside a section", "config TYPE ['NAME']"]),
    ("list outside a section", "# hi\nlist a b\n", 2, ["list outside a section", "config TYPE ['NAME']"]),
    ("missing value", "config t 'n'\noption a\n", 2, ["option a has no value", "option a 'VALUE'"]),
    ("missing list value", "config t 'n'\nlist a # x\n", 2, ["list a has no value", "list a 'VALUE'"]),
    ("missing name", "config t 'n'\noption\n", 2, ["needs a name and a value", "option NAME 'VALUE'"]),
    ("unknown keyword", "config t 'n'\nopt a b\n", 2, ["unknown keyword 'opt'", ALLOWED_KEYWORDS]),
    ("unknown keyword uppercase not echoed", "config t 'n'\nOption a b\n", 2, ["unknown keyword;", ALLOWED_KEYWORDS]),
    ("quoted keyword", "'config' t\n", 1, ["unknown keyword", ALLOWED_KEYWORDS]),
    ("keyword glued to comment", "config t 'n'\noptions a b\n", 2, ["unknown keyword 'options'", ALLOWED_KEYWORDS]),
    ("config without type", "config\n", 1, ["config needs a section type", "config TYPE ['NAME']"]),
    ("config with empty type", "config '' n\n", 1, ["config needs a section type"]),
    ("bad type", "config 't y' n\n", 1, ["invalid section type", "allowed: printable characters without spaces"]),
    ("bad section name", "config t 'my-name'\n", 1, ["invalid section name", "A-Z a-z 0-9 _"]),
    ("section name with space", "config t 'a b'\n", 1, ["invalid section name", "A-Z a-z 0-9 _"]),
    ("bad option name", "config t 'n'\noption my-opt x\n", 2, ["invalid option name", "A-Z a-z 0-9 _"]),
    ("bad list name", "config t 'n'\nlist 'a.b' x\n", 2, ["invalid list name", "A-Z a-z 0-9 _"]),
    ("trailing garbage after value", "config t 'n'\noption a b c\n", 2, ["more than one value", "option a 'a b'"]),
    ("trailing garbage after quoted value", "config t 'n'\noption a 'b' 'c'\n", 2, ["more than one value"]),
    ("trailing garbage after section", "config t n extra\n", 1, ["unexpected words after the section name", "config TYPE ['NAME']"]),
    ("option and list", "config t 'n'\noption a x\nlist a y\n", 3, ["list a is also an option (line 2)", "either option (one value) or list (several)"]),
    ("list and option", "config t 'n'\nlist a x\noption a y\n", 3, ["option a is also a list (line 2)", "either option"]),
    ("package without name", "package\n", 1, ["package needs one name", "package NAME"]),
    ("package bad name", "package 'a b'\n", 1, ["package needs one name of letters, digits, '_' or '-'"]),
    ("statement after semicolon", "config t 'n'; bogus\n", 1, ["unknown keyword 'bogus'", ALLOWED_KEYWORDS]),
    ("unquoted semicolon splits", "config t 'n'\noption a b;zz\n", 2, ["unknown keyword 'zz'", ALLOWED_KEYWORDS]),
    ("line counted through multi-line quote", "config t 'n'\noption a 'x\ny\nz'\nwhat\n", 5, ["unknown keyword 'what'"]),
    ("CRLF line numbers", "config t 'n'\r\n\r\noption a\r\n", 3, ["option a has no value"]),
    ("package after a section, bad name", "config t\noption a b\npackage 'x y'\n", 3, ["package needs one name"]),
    ("CR-only line endings", "config t 'n'\roption a 'b'\r", 1, ["a line ends with a lone CR", "line endings are CR only (old Mac style)", "save it with LF"]),
    ("a lone CR among LFs", "config t 'n'\noption a 'b'\roption c 'd'\n", 2, ["a line ends with a lone CR", "CR in some places"]),
    ("BOM", "\ufeffconfig t\n", 1, ["byte order mark", "UTF-8 without BOM"]),
    ("NUL", "config t\noption a 'b\x00'\n", 2, ["NUL byte", "must be text"]),
]


@pytest.mark.parametrize("text,line,fragments", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_errors(text, line, fragments):
    with pytest.raises(ConfigError) as info:
        uci.parse(text, PATH)
    message = str(info.value)
    assert message.startswith(f"{PATH}:{line}: "), message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    assert info.value.exit_status == 2


@pytest.mark.parametrize(
    "data,line",
    [
        (b"config t 'n'\noption a '\xff'\n", 2),
        (b"\xc3\n", 1),
        (b"config t\n\n\noption a '\xe9t\xe9'\n", 4),
    ],
)
def test_non_utf8_names_the_line(data, line):
    with pytest.raises(ConfigError) as info:
        uci.parse(data, PATH)
    assert str(info.value).startswith(f"{PATH}:{line}: byte 0x")
    assert "must be UTF-8 text" in str(info.value)


SECRET = "Wi28mLDG6l5YrDIg27zPh5tvG2jWR4GBt1Sq3WUUop8="


@pytest.mark.parametrize(
    "text",
    [
        f"config key 'k'\noption secret '{SECRET}\n",  # unterminated
        f"config key 'k'\noption secret {SECRET} extra\n",  # trailing garbage
        f"config key 'k'\noption secret\n{SECRET}\n",  # value on its own line
        f"config key 'k'\noption secret\n'{SECRET}'\n",
        f"config key 'k'\n{SECRET[:10]}\n",
        f"option secret '{SECRET}'\n",  # outside a section
        f"config key 'k'\noption secret '{SECRET}'\nlist secret '{SECRET}'\n",
    ],
)
def test_errors_never_repeat_a_value(text):
    with pytest.raises(ConfigError) as info:
        uci.parse(text, PATH)
    for part in (SECRET, SECRET[:10], SECRET[-12:]):
        assert part not in str(info.value)


def test_section_repr_hides_secret_option():
    (section,) = uci.parse(f"config key 'k'\noption secret '{SECRET}'\noption name 'n'\n", PATH)
    assert SECRET not in repr(section)
    assert "'n'" in repr(section)


# --- properties -------------------------------------------------------------------------


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_any_bytes_give_sections_or_config_error(data):
    try:
        sections = uci.parse(data, PATH)
    except ConfigError as e:
        assert str(e).startswith(f"{PATH}:")
    else:
        assert all(isinstance(s, uci.Section) for s in sections)


UCI_ALPHABET = st.sampled_from(list("config option list package 'n\"\\#;\t \r\n\u00e9x_-0"))


@settings(max_examples=500)
@given(st.one_of(st.text(max_size=200), st.lists(UCI_ALPHABET, max_size=80).map("".join)))
def test_any_text_gives_sections_or_config_error(text):
    try:
        sections = uci.parse(text, PATH)
    except ConfigError as e:
        assert str(e).startswith(f"{PATH}:")
        assert e.line is not None and 1 <= e.line <= text.count("\n") + 1
    else:
        for s in sections:
            assert uci.NAME_RE.match(s.name or "x")
            assert all(uci.NAME_RE.match(k) for k in [*s.options, *s.lists])


def quote(value: str) -> str:
    """uci's own export quoting: single quotes, ' written as '\\''."""
    return "'" + value.replace("'", "'\\''") + "'"


NAMES = st.from_regex(r"[A-Za-z0-9_]{1,8}", fullmatch=True)
# CR is left out: CRLF is read as LF everywhere, even inside quotes.
VALUES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=30)


@settings(max_examples=300)
@given(st.lists(st.tuples(NAMES, st.one_of(st.none(), NAMES), st.dictionaries(NAMES, VALUES, max_size=4)), max_size=4))
def test_export_then_parse_round_trips(sections):
    text = "package 'ddns-edge'\n"
    for type_, name, options in sections:
        text += f"\nconfig {type_}" + (f" {quote(name)}" if name else "") + "\n"
        for key, value in options.items():
            text += f"\toption {key} {quote(value)}\n"
    parsed = uci.parse(text, PATH)
    assert [(s.type, s.name, {k: v.value for k, v in s.options.items()}) for s in parsed] == [
        (t, n, o) for t, n, o in sections
    ]
