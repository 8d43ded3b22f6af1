"""phases.py: the docstring's tables are the code's (read and compared), and every move of the
table can be walked: each (phase, event) it names gives the phase it says, every other pair
changes nothing. The moves' effects on a record's life are test_schedule.py's."""

from __future__ import annotations

import ipaddress
import dataclasses
import inspect

import pytest

from ddns_edge import config, phases, report, schedule
from ddns_edge.model import Addresses, Current, Detection, Outcome
from ddns_edge.phases import (
    ANY,
    AS_DECIDED,
    PHASES,
    STAYS,
    TRANSITIONS,
    AwaitingEcho,
    AwaitingRoute,
    BackingOff,
    Confirmed,
    Due,
    Event,
    Held,
    Input,
    NoAddress,
    Rules,
    Track,
)

ip = ipaddress.ip_address  # addresses are values, from the kernel to the wire


def one(address):
    """A record's one address, as it travels (model.Addresses)."""
    return Addresses.of(ipaddress.ip_address(address))

S256 = "Wi28mLDG6l5YrDIg27zPh5tvG2jWR4GBt1Sq3WUUop8="
(RECORD,) = config.parse(f"config key 'k'\n\toption secret '{S256}'\n"
                         "config record 'www'\n\toption name 'www.example.com'\n\toption device 'wan0'\n", "/c").records
BY_NAME = {cls.__name__: cls for cls in PHASES}


def table(doc: str, head: str) -> list[list[str]]:
    """The rows of the docstring table whose header starts with `head`: cells cut at the
    columns of its rule (the dashes under the header); a line with an empty first cell goes
    on with the row above it."""
    lines = doc.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split() and line.split()[0] == head and set(lines[i + 1].split()) == {"-" * len(w) for w in lines[i + 1].split()})
    rule = lines[start + 1]
    cuts = [i for i, c in enumerate(rule) if c == "-" and (i == 0 or rule[i - 1] == " ")] + [None]
    rows: list[list[str]] = []
    for line in lines[start + 2:]:
        if not line.strip():
            break
        cells = [line[a:b].strip() if b else line[a:].strip() for a, b in zip(cuts, cuts[1:], strict=False)]
        if cells[0]:
            rows.append(cells)
        else:
            rows[-1] = [f"{x} {y}".strip() for x, y in zip(rows[-1], cells, strict=True)]
    return rows


def phases_of(text: str) -> frozenset:
    if text == "any":
        return ANY
    if text.startswith("any but "):
        return ANY - {BY_NAME[name.strip()] for name in text[len("any but "):].split(",")}
    return frozenset(BY_NAME[name.strip()] for name in text.split(","))


def target_of(text: str):
    return text if text in (STAYS, AS_DECIDED) else BY_NAME[text]


def test_the_table_of_moves_is_the_code_s():
    written = {row[0]: (phases_of(row[1]), target_of(row[2])) for row in table(phases.__doc__, "event")}
    assert written == {event.value: move for event, move in TRANSITIONS.items()}


def test_the_table_of_events_names_each_event_once_in_the_order_of_the_moves():
    moves = [row[0] for row in table(phases.__doc__, "event")]
    events = [row[0] for row in table(phases.__doc__[phases.__doc__.index("What each event is"):], "event")]
    assert moves == events == [e.value for e in Event]
    assert {"_" + e.name.lower() for e in Event} <= set(vars(Rules))  # one method each


def test_the_table_of_phases_is_the_code_s():
    written = {}
    for name, _ in table(phases.__doc__, "phase"):
        bare, _, fields = name.partition("(")
        written[bare] = tuple(f.strip() for f in fields.rstrip(")").split(",") if f.strip())
    assert written == {cls.__name__: tuple(f.name for f in dataclasses.fields(cls)) for cls in PHASES}


def test_the_schedule_s_inputs_are_its_methods():
    written = [row[0].split("(")[0] for row in table(schedule.__doc__, "input")]
    inputs = [name for name, f in vars(schedule.Schedule).items() if inspect.isfunction(f) and not name.startswith("_")
              and name not in ("plan", "due", "deadline")]
    assert written == inputs


# ------------------------------------------------------------------ walking the table

T = 100.0
WAN, NEW = "198.51.100.2", "198.51.100.3"
AT = {Due: Due(T - 1), BackingOff: BackingOff(T + 4), AwaitingRoute: AwaitingRoute(T - 3, T + 7)}
FOUND = {
    Event.ECHO_FIRST: Detection(None, "echo", "only a private address; the echo has not answered yet", True, awaiting_echo=True),
    Event.NO_ADDRESS: Detection(None, "interface wan0", "no IPv4 address"),
    Event.THE_CONFIRMED: Detection(one(WAN), "interface wan0", "public address on the interface"),
    Event.NEW_ADDRESS: Detection(one("198.51.100.9"), "interface wan0", "public address on the interface"),
    Event.SAME_ADDRESS: Detection(one(NEW), "interface wan0", "public address on the interface, again"),
}
SOME = {NoAddress: NoAddress(T - 61)}
OUTCOME = {
    Event.LANDED: Outcome(one(NEW), True, Current(frozenset({WAN}), 60), sent=True, window=12.0),
    Event.FAILED: Outcome(one(NEW), error="no answer within 5 s"),
    Event.NO_ROUTE: Outcome(one(NEW), error="no route to the server", no_route=True),
}


def in_phase(cls) -> Track:
    """A record in `cls`, with what a record in it plausibly holds: WAN confirmed at the
    server, and NEW wanted where a sync is planned."""
    wanted = {AwaitingEcho: FOUND[Event.ECHO_FIRST], NoAddress: FOUND[Event.NO_ADDRESS], Confirmed: FOUND[Event.THE_CONFIRMED]}
    phase = AT.get(cls) or SOME.get(cls) or cls()
    want = wanted.get(cls, Detection(one(NEW), "interface wan0", "public address on the interface") if cls in AT else None)
    return Track(RECORD, "wan0", phase, want, Held(one(WAN), True), check_at=T - 1, failures=2 if cls in (BackingOff, AwaitingRoute) else 0)


def inputs(event: Event) -> Input:
    return Input(event, T, found=FOUND.get(event), outcome=OUTCOME.get(event), wall=1e9, rand=0.5)


@pytest.mark.parametrize("event", list(Event), ids=[e.value for e in Event])
@pytest.mark.parametrize("cls", PHASES, ids=[c.__name__ for c in PHASES])
def test_every_cell_of_the_table(cls, event):
    rules = Rules(lambda level, line: None, report.Once(lambda level, line: None))
    track = in_phase(cls)
    moved = rules.move(track, inputs(event))
    froms, to = TRANSITIONS[event]
    if cls not in froms:
        assert moved is track  # nothing changes
    elif to == STAYS:
        assert type(moved.phase) is cls
    elif to == AS_DECIDED:
        assert type(moved.phase) in (Confirmed, NoAddress, AwaitingEcho)
        assert type(moved.phase) is {AwaitingEcho: AwaitingEcho, NoAddress: NoAddress}.get(cls, Confirmed)  # the read of a record at rest leaves it there
    else:
        assert type(moved.phase) is to
