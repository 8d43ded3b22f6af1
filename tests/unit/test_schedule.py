"""The rules of `run` (schedule.py, phases.py, echo_checks.py), driven with a fixed clock:
events in, what is due and the plan out.

No socket, no sleep, no monkeypatch: a Sim holds a Schedule and a clock that the test moves,
feeds it what the kernel, netifd, the echo and the server would say, and reads back what is
due, the deadline, the plans (their lines, hooks, rows). One test (or one table) per rule of
the docstrings; test_phases.py checks the table of moves itself.
"""

from __future__ import annotations

import ipaddress
import logging

import pytest

from ddns_edge import config
from ddns_edge.addresses import IFA_F_PERMANENT, IFA_F_TEMPORARY, IFA_F_TENTATIVE
from ddns_edge.echo_wire import parse_source
from ddns_edge.echo_checks import NO_HEALTH, Health, echo_delay
from ddns_edge.model import Addresses, Address, Agreement, Answer, Current, Device, Outcome, RouteChange, Wanted
from ddns_edge.phases import BACKOFF_CAP, BackingOff, Confirmed, NoAddress, backoff, exchange_timeout
from ddns_edge.schedule import Hook, Schedule

ip = ipaddress.ip_address  # addresses are values, from the kernel to the wire


def one(address):
    """A record's one address, as it travels (model.Addresses)."""
    return Addresses.of(ipaddress.ip_address(address))

INFO, WARNING, DEBUG, ERROR = logging.INFO, logging.WARNING, logging.DEBUG, logging.ERROR
S256 = "Wi28mLDG6l5YrDIg27zPh5tvG2jWR4GBt1Sq3WUUop8="
KEY = f"config key 'home'\n\toption secret '{S256}'\n"
WAN = ip("198.51.100.2")
T0 = 1000.0  # monotonic
WALL0 = 1_700_000_000.0


def record(section="www", name="www.example.com", **options) -> str:
    options.setdefault("device", "wan0")
    return f"config record '{section}'\n\toption name '{name}'\n" + "".join(f"\toption {k} '{v}'\n" for k, v in options.items())


def conf(*records: str, agent: dict | None = None):
    text = KEY
    if agent:
        text += "config agent 'agent'\n" + "".join(
            f"\tlist {k} '{x}'\n" if isinstance(v, list) else f"\toption {k} '{v}'\n"
            for k, v in agent.items() for x in (v if isinstance(v, list) else [v])
        )
    return config.parse(text + "".join(records or (record(),)), "/etc/config/ddns-edge")


def addr(text: str | ipaddress.IPv4Address | ipaddress.IPv6Address, flags: int = IFA_F_PERMANENT, preferred: int = 0xFFFFFFFF) -> Address:
    address = ipaddress.ip_address(text)
    return Address(address, 64 if address.version == 6 else 24, flags, preferred)


def dev(name: str = "wan0", *addresses: str | Address, up: bool = True) -> Device:
    return Device(name, up, tuple(a if isinstance(a, Address) else addr(a) for a in addresses))


def agreed(address: str) -> Agreement:
    return Agreement(ipaddress.ip_address(address), "2 of 2 echo sources agree: a, b", ("a", "b"),
                     (("a", Answer(ipaddress.ip_address(address))), ("b", Answer(ipaddress.ip_address(address)))))


NO_AGREEMENT = Agreement(None, "no echo source gave a usable answer (a: an HTML page)", (), (("a", Answer(None, "an HTML page")),))


class Sim:
    """A schedule and a clock; `rand` is fixed at 0.5, so backoffs are exactly 1, 2, 4 ... s."""

    def __init__(self, cfg=None, devices=None):
        devices = (dev("wan0", WAN),) if devices is None else devices
        self.cfg = cfg or conf()
        self.now = T0
        self.s = Schedule(self.cfg)
        self.s.start({d.name: d for d in devices}, self.now)
        self._said = []
        self.rows = None  # the last rows a plan handed out

    def at(self, seconds: float) -> "Sim":
        self.now = T0 + seconds
        return self

    @property
    def record(self):
        return self.cfg.enabled_records()[0]

    def due(self):
        return self.s.due(self.now)

    def wanted(self) -> dict[str, str]:
        return {r.name: str(w.address) for r, w in self.due().sync.items()}  # texts: "A", or "A, B" for several WANs

    def land(self, changed=True, old=frozenset()):
        """The server took every due sync."""
        due = self.due().sync
        return self.s.synced({r: Outcome(w.address, changed, Current(old, 60), sent=changed, window=12.0) for r, w in due.items()},
                             self.now, WALL0 + self.now - T0, 0.5)

    def settle(self):
        """The read after an UPDATE's replay window: the server holds what this agent left."""
        self.now = self.s.deadline()
        due = self.due().sync
        assert due and all(w.known is None for w in due.values()), due
        return self.s.synced({r: Outcome(w.address, False, Current(w.address, 60)) for r, w in due.items()},
                             self.now, WALL0 + self.now - T0, 0.5)

    def fail(self, error="www.example.com A: update at 192.0.2.53 with key ddns-key: no answer within 5 s"):
        due = self.due().sync
        self.s.synced({r: Outcome(w.address, error=error, server="192.0.2.53", unanswered="no answer within" in error)
                       for r, w in due.items()}, self.now, WALL0 + self.now - T0, 0.5)

    def kernel(self, *devices: Device, gone=(), came_up=()):
        changed = {d.name: d for d in devices} | {name: None for name in gone}
        self.s.kernel(changed, set(came_up), (), self.now)

    def route(self, family=4):
        self.s.kernel({}, set(), [RouteChange(family)], self.now)

    def echoed(self, key, result, health=NO_HEALTH):
        self.s.echoed(key, result, health, self.now, 0.5)

    def plan(self, wall=None):
        """The plan now; its lines are kept for said() and notes()."""
        plan = self.s.plan(self.now, WALL0 + self.now - T0 if wall is None else wall)
        self._said += plan.notes
        self.rows = plan.rows if plan.rows is not None else self.rows
        return plan

    def tick(self, now):
        """Time passed: a plan at `now` (absolute) lets it."""
        self.now = now
        self.plan()

    def said(self) -> list[tuple[int, str]]:
        """The lines the plans said since last asked (a plan is made to hand them out)."""
        self.plan()
        said, self._said = self._said, []
        return said

    def notes(self, level=None) -> list[str]:
        return [line for lvl, line in self.said() if level is None or lvl == level]

    def track(self, name="www.example.com", rtype="A"):
        return self.s.tracks[(name, rtype)]


# ------------------------------------------------------------------ backoff


def test_backoff_doubles_from_one_second_to_five_minutes():
    mid = [backoff(n, 0.5) for n in range(1, 12)]
    assert mid[:5] == [1, 2, 4, 8, 16]
    assert mid[-1] == BACKOFF_CAP == 300
    assert backoff(0, 0.5) == 0
    assert backoff(10_000, 0.5) == 300  # no overflow after days of failures


@pytest.mark.parametrize("n", [1, 3, 8, 9, 40])
def test_backoff_jitter_stays_within_20_percent_and_the_cap(n):
    low, high = backoff(n, 0.0), backoff(n, 0.999)
    base = min(300, 2 ** (n - 1))
    assert low == pytest.approx(base * 0.8)
    assert high <= 300 and high <= base * 1.2
    assert low < high or base * 0.8 >= 300


@pytest.mark.parametrize(
    "agreed, failures, interval, want",
    [(True, 0, 300, 300), (True, 0, 10, 10), (False, 1, 300, 1.0), (False, 2, 300, 2.0), (False, 4, 300, 8.0), (False, 30, 300, 300)],
)
def test_echo_delay(agreed, failures, interval, want):
    assert echo_delay(agreed, failures, interval, 0.5) == want


# ------------------------------------------------------------------ start: what each record does first


@pytest.mark.parametrize(
    "options, devices, sync, echo, said",
    [
        ({}, [dev("wan0", WAN)], WAN, [], (INFO, "www.example.com A: 198.51.100.2 (interface wan0: public address on the interface)")),
        ({}, [], None, [], (INFO, "www.example.com A: no address (interface wan0: no such device); record left as it is")),
        ({"source": "interface"}, [dev("wan0", "100.64.0.2")], None, [],
         (INFO, "www.example.com A: no address (interface wan0: only a private address (100.64.0.2)); record left as it is")),
        ({}, [dev("wan0", "100.64.0.2")], None, [(4, "wan0")], None),  # auto behind CGNAT: the echo first, no warning
        ({"source": "echo", "device": ""}, [], None, [(4, None)], None),
        ({"type": "AAAA"}, [dev("wan0", addr("2001:db8::2", IFA_F_TENTATIVE))], None, [],
         (INFO, "www.example.com AAAA: no address (interface wan0: no usable address: 2001:db8::2 tentative); record left as it is")),
        ({"type": "AAAA"}, [dev("wan0", addr("2001:db8::9", IFA_F_TEMPORARY), "2001:db8::2")], "2001:db8::2", [], None),
    ],
    ids=["public", "no device", "private, source interface", "private, auto", "source echo", "tentative", "temporary skipped"],
)
def test_start(options, devices, sync, echo, said):
    sim = Sim(conf(record(**options)), devices)
    due = sim.due()
    assert list(sim.wanted().values()) == ([str(sync)] if sync else [])
    assert [r.key for r in due.echo] == echo
    # no address: a wakeup at the 60 s mark, to say so as a warning if it lasts; else no timer at all
    assert sim.s.deadline() == (T0 if sync or echo else T0 + 60 if said else None)
    notes = sim.said()
    if said:
        assert said in notes
    assert not [n for n in notes if n[0] >= WARNING]


def test_idle_after_landing_nothing_is_due_and_no_timer_runs():
    sim = Sim()
    sim.land()
    assert sim.plan().hooks == ()  # no hook configured
    assert not sim.due() and sim.s.deadline() == T0 + 12  # one read after the UPDATE's replay window
    sim.settle()
    assert not sim.due() and sim.s.deadline() is None
    sim.kernel(dev("wan0", WAN))  # an event that changes nothing for the record
    assert not sim.due() and sim.s.deadline() is None


# ------------------------------------------------------------------ coalescing


def test_a_burst_ends_in_one_sync_to_the_final_address():
    """The shell drains every queued event before asking what is due: a burst is one sync."""
    sim = Sim()
    sim.land()
    for last in (3, 4, 5):
        sim.kernel(dev("wan0", f"198.51.100.{last}"))
    assert sim.wanted() == {"www.example.com": "198.51.100.5"}
    sim.land()
    assert not sim.due()


def test_a_change_and_back_before_the_sync_sends_nothing():
    sim = Sim()
    sim.land()
    sim.settle()
    sim.kernel(dev("wan0", "198.51.100.3"))
    sim.kernel(dev("wan0", WAN))  # back to what the server holds, before anything was sent
    assert not sim.due() and sim.s.deadline() is None


# ------------------------------------------------------------------ retries and backoff


ERR = "www.example.com A: update at 192.0.2.53 with key ddns-key: no answer within 5 s"


def test_failures_back_off_and_say_each_retry():
    sim = Sim()
    sim.notes()
    for n, delay in enumerate([1, 2, 4, 8, 16], 1):
        assert sim.wanted() == {"www.example.com": str(WAN)}
        sim.fail()
        error = (WARNING, ERR) if n == 1 else (INFO, f"still failing: {ERR}")  # said once, then as a reminder
        assert sim.said() == [error, (INFO, f"www.example.com A: retry {n} in {delay:.1f} s")]
        assert sim.s.deadline() == sim.now + delay and not sim.due()
        (row,) = sim.rows
        assert row["failures"] == n and row["last_error"] == ERR and row["next_retry"] == WALL0 + sim.now - T0 + delay
        sim.now += delay


@pytest.mark.parametrize("failures, want", [(0, 5), (1, 10), (2, 20), (3, 20), (10_000, 20)])
def test_the_exchange_timeout_grows_with_the_failures_up_to_a_cap(failures, want):
    """A server slower than the fixed 5 s used to never get an update through."""
    assert exchange_timeout(failures) == want


def test_a_retry_is_given_a_longer_exchange_timeout():
    sim = Sim()
    assert sim.plan().sync.timeout([sim.record]) == 5
    sim.fail()
    sim.now += 1
    assert sim.plan().sync.timeout([sim.record]) == 10
    sim.fail()
    sim.now += 2
    sim.land()
    sim.kernel(dev("wan0", "198.51.100.3"))
    sim.fail()
    sim.now += 1
    assert sim.plan().sync.timeout([sim.record]) == 10  # landed between: counted afresh


def test_an_unexpected_failure_is_a_failure_too():
    sim = Sim()
    sim.s.synced({sim.record: None}, sim.now, WALL0, 0.5)
    assert sim.track().failures == 1 and sim.track().last_error == "unexpected error (see log)"
    assert sim.s.deadline() == T0 + 1


def test_a_new_address_resets_the_backoff_and_is_synced_at_once():
    sim = Sim()
    for _ in range(4):
        sim.fail()
        sim.now = sim.s.deadline()
    sim.fail()
    assert sim.track().failures == 5 and sim.s.deadline() == sim.now + 16
    sim.kernel(dev("wan0", "198.51.100.3"))
    assert sim.wanted() == {"www.example.com": "198.51.100.3"} and sim.track().failures == 0
    sim.fail()
    assert sim.s.deadline() == sim.now + 1  # the first retry again


def test_the_same_address_again_keeps_the_planned_retry():
    sim = Sim()
    sim.fail()
    sim.kernel(dev("wan0", WAN, "192.168.1.1"))  # a change that does not change the record
    assert not sim.due() and sim.s.deadline() == T0 + 1


@pytest.mark.parametrize(
    "failing, up_device, retried_now",
    [(True, "wan0", True), (False, "wan0", False), (True, "lan", False)],
    ids=["failing record, its link came up", "nothing failing", "another device came up"],
)
def test_a_link_coming_up_retries_a_failing_record_at_once(failing, up_device, retried_now):
    sim = Sim(devices=(dev("wan0", WAN), dev("lan", "192.168.1.1")))
    if failing:
        sim.fail()
    else:
        sim.land()
        sim.settle()
    sim.kernel(dev(up_device, WAN if up_device == "wan0" else "192.168.1.1", up=False))
    sim.now += 0.1
    sim.kernel(dev(up_device, WAN if up_device == "wan0" else "192.168.1.1"), came_up=[up_device])
    assert bool(sim.due().sync) is retried_now
    assert sim.s.deadline() == (sim.now if retried_now else (T0 + 1 if failing else None))


def test_an_address_back_to_the_confirmed_one_ends_a_retry():
    sim = Sim()
    sim.land()
    sim.settle()
    sim.kernel(dev("wan0", "198.51.100.3"))
    sim.fail()
    sim.kernel(dev("wan0", WAN))
    assert not sim.due() and sim.s.deadline() is None and sim.track().failures == 0


# ------------------------------------------------------------------ "left as it is"


def test_an_address_that_goes_leaves_the_record_and_says_so_once_at_info():
    sim = Sim()
    sim.land()
    sim.settle()
    sim.notes()
    sim.kernel(dev("wan0"))  # the address went
    line = "www.example.com A: no address (interface wan0: no IPv4 address); record left as it is (198.51.100.2)"
    assert sim.notes() == [line] and sim.notes(INFO) == [] and not sim.due()
    sim.kernel(dev("wan0", "fe80::1"))
    sim.kernel(dev("wan0", up=False))
    assert sim.notes() == []  # the same news is not repeated
    sim.kernel(dev("wan0", WAN, up=True))
    assert not sim.due() and sim.s.deadline() is None  # back to what the server holds: no timer
    sim.kernel(dev("wan0"))
    assert sim.said() == [(INFO, line)]  # news again after it was fine


def test_the_device_going_is_a_reason_too():
    sim = Sim()
    sim.land()
    sim.kernel(gone=["wan0"])
    assert "www.example.com A: no address (interface wan0: no such device); record left as it is (198.51.100.2)" in sim.notes(INFO)


NAK = "www.example.com A: no address (interface wan0: no IPv4 address); record left as it is (198.51.100.2)"
LONG = "www.example.com A: no address (interface wan0: no IPv4 address) for 60 s; record left as it is (198.51.100.2)"


def test_a_renumbering_under_netifd_is_info_only_and_leaves_no_timer():
    """netifd applies a DHCP renumbering as down, then up (issue 19): the lease is lost (a NAK)
    and the address goes with the default route at once; 0.1-3 s later the new address comes,
    and its route in the same update. Nothing in between is worth a warning."""
    sim = Sim()
    sim.land()
    sim.settle()
    sim.notes()
    sim.at(100).kernel(dev("wan0"))  # the NAK: address and route gone
    assert sim.said() == [(INFO, NAK)] and not sim.due()
    assert sim.s.deadline() == T0 + 160  # woken at the 60 s mark only while the address is missing
    sim.at(103.1)
    sim.tick(sim.now)
    sim.kernel(dev("wan0", "198.51.100.150"))  # the new lease (the route with it: see routes())
    assert sim.wanted() == {"www.example.com": "198.51.100.150"}
    assert [level for level, _ in sim.said()] == [INFO]  # "198.51.100.150 (interface wan0: ...)"
    sim.land(old=frozenset({WAN}))
    sim.settle()
    sim.tick(T0 + 160)  # the mark, had it stayed: nothing to say
    assert sim.notes() == [] and sim.s.deadline() is None


def test_a_record_without_an_address_for_a_minute_is_a_warning_once():
    sim = Sim()
    sim.land()
    sim.settle()
    sim.notes()
    sim.at(100).kernel(dev("wan0"))
    sim.notes()
    sim.tick(T0 + 159.9)  # not yet
    assert sim.notes() == [] and sim.s.deadline() == T0 + 160
    sim.tick(T0 + 160)
    assert sim.said() == [(WARNING, LONG)]
    assert sim.s.deadline() is None  # said: no timer any more
    sim.tick(T0 + 500)
    sim.at(510).kernel(gone=["wan0"])  # another reason: news at info, the warning is not repeated
    assert sim.said() == [(INFO, "www.example.com A: no address (interface wan0: no such device); "
                                         "record left as it is (198.51.100.2)")]
    sim.tick(T0 + 1000)
    assert sim.notes() == [] and sim.s.deadline() is None
    # back, then gone again: a new minute, a new warning
    sim.at(1000).kernel(dev("wan0", WAN))
    assert not sim.due() and sim.s.deadline() is None
    sim.at(1001).kernel(dev("wan0"))
    assert sim.s.deadline() == T0 + 1061
    sim.tick(T0 + 1061)
    assert sim.notes(WARNING) == [LONG]


def test_a_record_without_an_address_from_the_start_is_a_warning_after_a_minute():
    sim = Sim(devices=())
    assert sim.notes(WARNING) == [] and sim.s.deadline() == T0 + 60
    sim.tick(T0 + 60)
    assert sim.notes(WARNING) == ["www.example.com A: no address (interface wan0: no such device) for 60 s; record left as it is"]
    assert sim.s.deadline() is None


# ------------------------------------------------------------------ the echo


ECHO_CONF = conf(record(), agent={"echo": ["http://192.0.2.80/a", "http://192.0.2.80/b"], "echo_interval": 60})


def behind_nat() -> Sim:
    return Sim(ECHO_CONF, (dev("wan0", "100.64.0.2"),))


def test_the_echo_is_asked_only_while_needed():
    sim = behind_nat()
    (rnd,) = sim.due().echo
    assert rnd.key == (4, "wan0") and not sim.due().sync
    sim.echoed(rnd.key, agreed("203.0.113.5"))
    assert sim.wanted() == {"www.example.com": "203.0.113.5"} and not sim.due().echo
    sim.land()
    sim.settle()
    assert sim.s.deadline() == T0 + 60  # re-checked every echo_interval while needed
    # a device event behind the NAT (a reconnect): ask at once
    sim.at(20).kernel(dev("wan0", "100.64.0.3"))
    assert [r.key for r in sim.due().echo] == [(4, "wan0")]
    sim.echoed((4, "wan0"), agreed("203.0.113.6"))
    assert sim.wanted() == {"www.example.com": "203.0.113.6"}
    sim.land()
    sim.settle()
    sim.notes()
    # another device's events do not matter
    sim.at(40).kernel(dev("lan", "192.168.1.1"))
    assert not sim.due() and sim.s.deadline() == T0 + 80
    # a public address on the device again: the echo stops, its timer with it
    sim.at(50).kernel(dev("wan0", WAN))
    assert "echo over IPv4 via wan0: no longer needed; stopped" in sim.notes(INFO)
    assert sim.wanted() == {"www.example.com": str(WAN)} and not sim.s.echoes.checks
    sim.land()
    sim.settle()
    assert sim.s.deadline() is None


def test_rounds_without_agreement_back_off_and_leave_the_record():
    sim = behind_nat()
    sim.notes()
    delays = []
    for _ in range(4):
        sim.echoed((4, "wan0"), NO_AGREEMENT)
        delays.append(sim.s.deadline() - sim.now)
        sim.now = sim.s.deadline()
    assert delays == [1, 2, 4, 8] and not sim.due().sync
    notes = sim.said()
    assert (INFO, "www.example.com A: no address (echo: only a private address (100.64.0.2) on wan0; no echo source gave a "
                  "usable answer (a: an HTML page)); record left as it is") in notes
    assert [line for level, line in notes if level == WARNING] == [
        "echo over IPv4 via wan0: a rejected: an HTML page",
        "echo over IPv4 via wan0: no echo source gave a usable answer (a: an HTML page); next try in 1.0 s",
    ]  # the record's own line is info (it may be brief), a warning once it lasts a minute (above)
    sim.echoed((4, "wan0"), NO_AGREEMENT)
    infos = sim.notes(INFO)
    assert "echo over IPv4 via wan0: a rejected again: an HTML page" in infos
    assert "echo over IPv4 via wan0: still no agreement; next try in 16.0 s" in infos
    # agreement ends the backoff: the next round after the interval
    sim.now = sim.s.deadline()
    sim.echoed((4, "wan0"), agreed("203.0.113.5"))
    assert sim.s.echoes.checks[(4, "wan0")].failures == 0 and sim.s.echoes.checks[(4, "wan0")].next_at == sim.now + 60
    assert sim.wanted() == {"www.example.com": "203.0.113.5"}


def test_records_of_one_family_and_device_share_one_round():
    cfg = conf(record(), record("mail", "mail.example.com"), record("v6", "www.example.com", type="AAAA"),
               agent={"echo": ["http://192.0.2.80/a"]})
    sim = Sim(cfg, (dev("wan0", "100.64.0.2", "fd00::2"),))
    assert sorted(r.key for r in sim.due().echo) == [(4, "wan0"), (6, "wan0")]
    sim.echoed((4, "wan0"), agreed("203.0.113.5"))
    assert sim.wanted() == {"www.example.com": "203.0.113.5", "mail.example.com": "203.0.113.5"}
    assert [r.key for r in sim.due().echo] == [(6, "wan0")]


def test_an_answer_for_an_echo_no_longer_needed_is_ignored():
    sim = behind_nat()
    sim.kernel(dev("wan0", WAN))
    sim.echoed((4, "wan0"), agreed("203.0.113.5"))
    assert sim.wanted() == {"www.example.com": str(WAN)} and not sim.s.echoes.checks


def test_the_source_health_lives_with_its_check():
    sim = behind_nat()
    (rnd,) = sim.due().echo
    assert rnd.health == Health()
    health = rnd.health.after(ECHO_CONF.agent.echo[0], Answer(None, "an HTML page"), sim.now, 0.5)  # as echo.ask returns it
    sim.echoed(rnd.key, NO_AGREEMENT, health)
    sim.now = sim.s.deadline()
    assert sim.due().echo[0].health == health and health.backed_off(ECHO_CONF.agent.echo[0], sim.now)
    # an answer that met no route is kept too (the sources asked before it fared as they did)
    unreachable = Agreement(None, "no route", (), (("b", Answer(None, "Network is unreachable", True)),))
    sim.echoed(rnd.key, unreachable, Health())
    sim.now = sim.s.deadline()
    assert sim.due().echo[0].health == Health()


# ------------------------------------------------------------------ reload


def test_reload_keeps_what_is_confirmed_for_unchanged_records_and_forgets_changed_ones():
    cfg = conf(record(), record("mail", "mail.example.com"), record("old", "old.example.com"))
    sim = Sim(cfg)
    sim.land()
    sim.notes()
    new = conf(record(), record("mail", "mail.example.com", ttl=300), record("new", "new.example.com"))
    sim.at(5).s.reload(new, sim.now)
    # www: unchanged, confirmed: nothing to send; mail: changed, read afresh; new: new
    assert sim.wanted() == {"mail.example.com": str(WAN), "new.example.com": str(WAN)}
    assert sim.track().held.address == {WAN} and sim.track("mail.example.com").held.address is None
    notes = sim.notes(INFO)
    assert "old.example.com A: no longer in the config; left as it is at the server" in notes
    assert notes[-1] == "config reloaded: 3 record(s)"
    sim.land()  # (the state file is written when nothing waits on the server)
    assert [r["name"] for r in sim.plan().rows] == ["www.example.com", "mail.example.com", "new.example.com"]


def test_reload_keeps_a_planned_retry_and_asks_every_echo_afresh():
    sim = Sim(conf(record(), record("nat", "nat.example.com", device="wan1"), agent={"echo": ["http://192.0.2.80/a"]}),
              (dev("wan0", WAN), dev("wan1", "100.64.0.2")))
    sim.echoed((4, "wan1"), agreed("203.0.113.5"))
    sim.fail()
    assert sim.s.deadline() == T0 + 1
    sim.at(0.5).s.reload(sim.cfg, sim.now)
    assert [r.key for r in sim.due().echo] == [(4, "wan1")]  # asked again at once
    assert sim.track().at == T0 + 1 and sim.track().failures == 1  # www's retry stays


# ------------------------------------------------------------------ option interface (netifd)


def test_a_network_is_asked_of_netifd_before_its_record_is_decided():
    sim = Sim(conf(record(device="", interface="wan")), (dev("pppoe-wan", WAN),))
    assert sim.due().networks == ("wan",) and not sim.due().sync and sim.notes(WARNING) == []
    sim.s.bound("wan", "pppoe-wan", sim.now)
    assert sim.due().networks == () and sim.wanted() == {"www.example.com": str(WAN)}
    sim.land()
    # a link came or went: netifd may have moved the network; the same answer changes nothing
    sim.kernel(dev("eth1"))
    assert sim.due().networks == ("wan",)
    sim.s.bound("wan", "pppoe-wan", sim.now)
    assert not sim.due()
    # netifd's own event; then it names no device
    sim.s.netifd({"wan", "lan"})
    assert sim.due().networks == ("wan",)  # lan: no record names it
    sim.s.bound("wan", None, sim.now)
    assert "www.example.com A: no address (network wan: netifd names no device for it now); record left as it is (198.51.100.2)" in sim.notes(INFO)


def test_a_network_on_a_new_device_moves_its_records():
    sim = Sim(conf(record(device="", interface="wan")), (dev("pppoe-wan", WAN), dev("eth1", "198.51.100.9")))
    sim.s.bound("wan", "pppoe-wan", sim.now)
    sim.land()
    sim.s.bound("wan", "eth1", sim.now)
    assert sim.wanted() == {"www.example.com": "198.51.100.9"}
    sim.land()
    sim.kernel(dev("eth1", "198.51.100.10"))  # the record now follows eth1's events
    assert sim.wanted() == {"www.example.com": "198.51.100.10"}


# ------------------------------------------------------------------ hooks


def test_a_change_that_landed_runs_the_hook_and_a_hook_too_slow_is_killed():
    sim = Sim(conf(record(), agent={"hook": "/etc/ddns-edge/on-change", "hook_timeout": 5}))
    sim.land(old=frozenset({ip("192.0.2.9")}))
    (hook,) = sim.plan().hooks
    assert hook == Hook(sim.record, "192.0.2.9", str(WAN), "interface wan0", "/etc/ddns-edge/on-change")  # texts: the hook's environment
    assert sim.plan().hooks == ()  # handed out once
    sim.s.hook_started(4242, hook, sim.now)
    assert sim.s.deadline() == T0 + 5 and sim.due().kill == ()
    assert sim.at(5).due().kill == (4242,)
    plan = sim.plan()
    assert plan.kill == (4242,) and sim.plan().kill == ()  # killed once
    assert plan.notes[-1] == (ERROR, "hook /etc/ddns-edge/on-change for www.example.com A: still running after 5 s; killed")
    sim.said()
    sim.s.hook_ended(4242, -9)  # (the shell reaps it: nothing more to say)
    assert sim.notes() == [] and sim.s.deadline() == T0 + 12  # (the read after the UPDATE's replay window)
    # already right at the server: no hook
    sim.kernel(dev("wan0", "198.51.100.3"))
    sim.land(changed=False)
    assert sim.plan().hooks == ()


def test_the_hook_says_what_this_agent_confirmed_when_the_server_held_nothing_else():
    sim = Sim(conf(record(), agent={"hook": "/bin/true"}))
    sim.land(changed=False)
    sim.kernel(dev("wan0", "198.51.100.3"))
    sim.land(old=frozenset())
    (hook,) = sim.plan().hooks
    assert (hook.old, hook.new) == (str(WAN), "198.51.100.3")


def test_a_hook_runs_the_program_configured_when_its_change_landed():
    """The hook is run by the next plan: a reload between (SIGHUP) that removed the option
    must not leave it without a program (it would have been Popen([None]))."""
    sim = Sim(conf(record(), agent={"hook": "/bin/true"}))
    sim.land()
    sim.s.reload(conf(record()), sim.now)
    (hook,) = sim.plan().hooks
    assert hook.path == "/bin/true"


@pytest.mark.parametrize("status, said", [
    (0, (DEBUG, "hook /bin/true for www.example.com A: done")),
    (3, (ERROR, "hook /bin/true for www.example.com A: exited with status 3")),
    (None, (ERROR, "hook /bin/true for www.example.com A: cannot run it: Permission denied")),
])
def test_what_a_hook_did_is_said(status, said):
    sim = Sim(conf(record(), agent={"hook": "/bin/true"}))
    sim.land()
    (hook,) = sim.plan().hooks
    sim.said()
    if status is None:
        sim.s.hook_failed(hook, "Permission denied")
    else:
        sim.s.hook_started(77, hook, sim.now)
        sim.s.hook_ended(77, status)
    assert sim.said() == [said] and sim.s.hooks == {}


# ------------------------------------------------------------------ the state file's rows


def test_rows_say_what_is_published_from_where_and_are_given_only_when_changed():
    sim = Sim()
    assert sim.plan().rows is None  # a sync is due: the state file waits for its outcome
    sim.at(2).land()
    (row,) = sim.plan(WALL0 + 2).rows
    assert row == {"name": "www.example.com", "type": "A", "address": str(WAN), "source": "interface wan0",
                   "changed_at": WALL0 + 2, "confirmed_at": WALL0 + 2, "last_error": None, "error_at": None,
                   "failures": 0, "next_retry": None, "echo": None, "wans": None}
    assert sim.plan().rows is None  # unchanged
    sim.kernel(dev("wan0", "198.51.100.3"))
    assert sim.plan().rows is None  # due
    sim.fail()
    (row,) = sim.plan(WALL0 + 2).rows
    assert row["address"] == str(WAN) and row["source"] is None  # wanted is not what is published yet
    assert row["failures"] == 1 and row["next_retry"] == WALL0 + 3


def test_a_row_names_no_source_for_an_address_this_agent_never_set():
    """It said "not set by this agent (from interface wan0)" while nothing was published."""
    sim = Sim(devices=())
    (row,) = sim.plan().rows
    assert row["address"] is None and row["source"] is None


def test_notes_go_out_once():
    sim = Sim()
    assert sim.notes() and sim.notes() == []


def test_a_sync_for_a_record_reloaded_meanwhile_is_not_taken():
    sim = Sim()
    old = sim.record
    sim.s.reload(conf(record(ttl=300)), sim.now)
    sim.s.synced({old: Outcome(one(WAN), True)}, sim.now, WALL0, 0.5)
    assert sim.track().held.address is None and sim.wanted() == {"www.example.com": str(WAN)}


def test_a_sync_for_echo_sources_parsed_from_the_config():
    # the echo sources reach the schedule as parsed values (config.py used echo_wire's parser)
    assert ECHO_CONF.agent.echo == (parse_source("http://192.0.2.80/a"), parse_source("http://192.0.2.80/b"))


# ------------------------------------------------------------------ one message per change, and the replay defence


def test_a_change_swaps_from_the_rrset_this_agent_knows_without_reading_it():
    sim = Sim()
    assert sim.due().sync[sim.record].known is None  # at start: read first
    sim.land()
    sim.kernel(dev("wan0", "198.51.100.3"))
    assert sim.due().sync[sim.record] == Wanted(one("198.51.100.3"), Current(frozenset({WAN}), 60))


@pytest.mark.parametrize("after", ["an unexpected failure", "a reload of the record", "a verification due"])
def test_what_is_not_known_is_read_first(after):
    sim = Sim()
    sim.land()
    if after == "an unexpected failure":
        sim.kernel(dev("wan0", "198.51.100.3"))
        sim.s.synced({sim.record: None}, sim.now, WALL0, 0.5)  # the shell said why; nothing is known of it
        sim.now = sim.s.deadline()
    elif after == "a reload of the record":
        sim.s.reload(conf(record(ttl=300)), sim.now)
        sim.kernel(dev("wan0", "198.51.100.3"))
    else:
        sim.at(12).kernel(dev("wan0", "198.51.100.3"))
    (wanted,) = sim.due().sync.values()
    assert wanted.address == {ip("198.51.100.3")} and wanted.known is None


def test_a_retry_after_a_failure_swaps_from_what_is_known_without_reading():
    """Issue 24: a timed-out UPDATE was followed by a read, and a primary catching up after
    a burst answers reads ahead of the UPDATEs it has queued: the read showed the old address,
    the UPDATE after it failed its prerequisite, and a second read followed (4 UPDATEs and 5
    reads per agent with the primary stopped 10 s). The retry is the same swap: when the
    first copy landed after all, its prerequisite fails and the record is read there."""
    sim = Sim()
    sim.land()
    sim.kernel(dev("wan0", "198.51.100.3"))
    sim.fail()  # no answer: the UPDATE may or may not have landed
    sim.now = sim.s.deadline()
    assert sim.due().sync[sim.record] == Wanted(one("198.51.100.3"), Current(frozenset({WAN}), 60))
    sim.fail("www.example.com A: update at 192.0.2.53 with key ddns-key: the server refused it (REFUSED)")
    sim.now = sim.s.deadline()
    assert sim.due().sync[sim.record].known == Current(frozenset({WAN}), 60)


@pytest.mark.parametrize("sent, unanswered, want", [(True, True, True), (True, False, False), (False, True, False)])
def test_the_retry_of_an_update_that_got_no_answer_says_so(sent, unanswered, want):
    """The retry of an UPDATE that left and got no answer carries `unanswered` (sync.py takes
    the record found at its address for that UPDATE landed); not after an answered failure
    (REFUSED ...) or a failure before any UPDATE left; and not once a sync landed."""
    sim = Sim()
    sim.land()
    sim.kernel(dev("wan0", "198.51.100.3"))
    sim.s.synced({sim.record: Outcome(one("198.51.100.3"), error="e", sent=sent, window=12.0, unanswered=unanswered)}, sim.now, WALL0, 0.5)
    sim.now = sim.s.deadline()
    assert sim.due().sync[sim.record] == Wanted(one("198.51.100.3"), Current(frozenset({WAN}), 60), want)
    sim.land()
    assert sim.track().unanswered is None


def test_the_retrys_own_first_copy_found_landed_is_no_warning():
    """The swap after a timeout found the record already at its address (its prerequisite
    failed, the read showed it): the first copy landed, its answer lost. Info, not the warning
    of a late copy or another writer."""
    sim = Sim()
    sim.land()
    sim.kernel(dev("wan0", "198.51.100.3"))
    sim.fail()
    sim.now = sim.s.deadline()
    sim.notes()
    sim.s.synced({sim.record: Outcome(one("198.51.100.3"), False, Current(frozenset({ip("198.51.100.3")}), 60))}, sim.now, WALL0, 0.5)
    said = sim.said()
    assert (INFO, "www.example.com A: 198.51.100.3 already, from the UPDATE whose answer did not come") in said
    assert [line for level, line in said if level >= WARNING] == []
    assert sim.track().failures == 0 and sim.track().held.known


def test_the_servers_error_is_a_warning_for_30_s_of_failing_then_an_error():
    """Issue 24: a primary that fell behind a burst answers within seconds; an error line from
    every router for it was noise. Failing for 30 s is an error, said once, then reminders."""
    sim = Sim()
    sim.notes()
    levels = []
    for delay in (1, 2, 4, 8, 16, 32):
        sim.fail()
        levels.append([level for level, line in sim.said() if ERR in line][0])
        sim.now += delay + 5
    assert levels == [WARNING, INFO, INFO, INFO, ERROR, INFO]  # failing since T0: 0, 6, 13, 22, then 35 s
    sim.land()
    sim.kernel(dev("wan0", "198.51.100.3"))
    sim.fail()
    assert [level for level, line in sim.said() if ERR in line] == [WARNING]  # landed between: counted afresh
    refused = "www.example.com A: update at 192.0.2.53 with key ddns-key: refused (REFUSED)"
    sim.now = sim.s.deadline()
    sim.fail(refused)
    assert [level for level, line in sim.said() if refused in line] == [ERROR]  # the server answered no: an error at once


def test_an_unchanged_record_keeps_what_it_knows_across_a_reload():
    sim = Sim()
    sim.land()
    sim.s.reload(sim.cfg, sim.now)
    sim.kernel(dev("wan0", "198.51.100.3"))
    assert sim.due().sync[sim.record].known == Current(frozenset({WAN}), 60)


def test_every_update_sent_is_checked_once_its_replay_window_has_passed():
    sim = Sim()
    sim.s.synced({sim.record: Outcome(one(WAN), True, Current(), sent=True, window=14.0)}, sim.now, WALL0, 0.5)
    assert sim.s.deadline() == T0 + 14 and not sim.due()
    sim.at(5).kernel(dev("wan0", "198.51.100.3"))  # another change inside the window: the window moves
    sim.s.synced({sim.record: Outcome(one("198.51.100.3"), True, Current(frozenset({WAN}), 60), sent=True, window=14.0)},
                 sim.now, WALL0, 0.5)
    assert sim.s.deadline() == T0 + 19
    sim.now = T0 + 19
    assert sim.due().sync == {sim.record: Wanted(one("198.51.100.3"), None)}  # read, set back if it must
    sim.s.synced({sim.record: Outcome(one("198.51.100.3"), False, Current(frozenset({ip("198.51.100.3")}), 60))}, sim.now, WALL0, 0.5)
    assert not sim.due() and sim.s.deadline() is None and sim.notes(WARNING) == []
    # an UPDATE that failed (no answer) may land late all the same
    sim.kernel(dev("wan0", "198.51.100.4"))
    sim.s.synced({sim.record: Outcome(one("198.51.100.4"), error="no answer", sent=True, window=14.0)}, sim.now, WALL0, 0.5)
    assert sim.track().check_at == sim.now + 14 and sim.track().at == sim.now + 1


def test_a_late_copy_found_by_the_read_is_said_and_set_back():
    """A->B->A: the UPDATE to .3 was held and landed after the one back to .2 (the issue's case)."""
    sim = Sim()
    sim.land()
    sim.kernel(dev("wan0", "198.51.100.3"))
    sim.land(old=frozenset({WAN}))
    sim.kernel(dev("wan0", WAN))
    sim.land(old=frozenset({ip("198.51.100.3")}))
    sim.notes()
    sim.now = sim.s.deadline()
    assert sim.due().sync == {sim.record: Wanted(one(WAN), None)}
    # the read finds .3 (the held copy landed) and the swap sets .2 back
    sim.s.synced({sim.record: Outcome(one(WAN), True, Current(frozenset({ip("198.51.100.3")}), 60), sent=True, window=12.0)},
                 sim.now, WALL0, 0.5)
    assert sim.notes(WARNING) == ["www.example.com A: the server held 198.51.100.3, not 198.51.100.2 as this agent left it "
                                  "(a delayed or replayed UPDATE, or another writer); set back to 198.51.100.2"]
    assert sim.s.deadline() == sim.now + 12  # and that swap is checked in turn
    sim.settle()
    assert sim.s.deadline() is None


def test_a_failed_prerequisite_found_on_the_way_is_said_too():
    sim = Sim()
    sim.land()
    sim.settle()
    sim.kernel(dev("wan0", "198.51.100.3"))
    # swapped from what this agent knew (.2): NXRRSET, read .9, swapped from .9
    sim.s.synced({sim.record: Outcome(one("198.51.100.3"), True, Current(frozenset({ip("198.51.100.9")}), 60), sent=True, window=12.0)},
                 sim.now, WALL0, 0.5)
    assert any("the server held 198.51.100.9, not 198.51.100.2" in n for n in sim.notes(WARNING))


def test_a_record_left_as_it_is_is_still_checked_against_late_copies():
    sim = Sim()
    sim.land()
    sim.kernel(dev("wan0"))  # the address went: nothing to publish now
    sim.now = sim.s.deadline()
    assert sim.due().sync == {sim.record: Wanted(one(WAN), None)}  # what this agent left there


def test_a_failed_check_waits_for_its_retry():
    sim = Sim()
    sim.land()
    sim.now = sim.s.deadline()
    sim.fail()
    assert not sim.due() and sim.s.deadline() == sim.now + 1  # no busy loop on a check that failed
    sim.now += 1
    assert sim.due().sync == {sim.record: Wanted(one(WAN), None)}


def test_a_reload_keeps_the_check_of_updates_already_sent():
    sim = Sim()
    sim.land()
    sim.at(1).s.reload(conf(record(ttl=300)), sim.now)
    sim.fail()  # the changed record's read fails: nothing sent this time
    assert sim.track().check_at == T0 + 12  # the check of the UPDATE sent before the reload stays


# ------------------------------------------------------------------ routes (the address first, the route a moment later)


def no_route(sim):
    due = sim.due().sync
    error = "www.example.com A: update at 192.0.2.53 with key ddns-key: no route to the server (Network is unreachable)"
    sim.s.synced({r: Outcome(w.address, error=error, no_route=True, server="192.0.2.53") for r, w in due.items()}, sim.now, WALL0, 0.5)


@pytest.mark.parametrize("event", ["a route", "an address on a device that is up"])
def test_a_sync_without_a_route_waits_for_one_without_backoff_or_error(event):
    sim = Sim()
    sim.notes()
    no_route(sim)
    assert sim.said() == [(INFO, "www.example.com A: no route to 192.0.2.53 yet; waiting for one")]  # no "retry", no error
    assert sim.track().failures == 0 and not sim.due() and sim.s.deadline() == T0 + 10
    sim.now += 0.003
    if event == "a route":
        sim.route()
    else:
        sim.kernel(dev("wan0", WAN, "fe80::1"))
    assert sim.wanted() == {"www.example.com": str(WAN)}  # at once
    no_route(sim)  # (still none: pppd brings the link up before the route)
    assert sim.s.deadline() == T0 + 10  # the patience counts from the first failure
    sim.now += 0.003
    sim.route()
    sim.land()
    assert sim.track().failures == 0 and sim.track().phase == Confirmed() and sim.notes(ERROR) == []


def test_no_route_for_ten_seconds_is_an_error_then_backoff_and_still_a_route_retries_at_once():
    sim = Sim()
    no_route(sim)
    sim.now = sim.s.deadline()
    assert sim.now == T0 + 10 and sim.wanted()
    no_route(sim)
    (error,) = sim.notes(ERROR)
    assert error.startswith("still no route after 10 s: www.example.com A: update at 192.0.2.53")
    assert sim.track().failures == 1 and sim.s.deadline() == sim.now + 1
    sim.now = sim.s.deadline()
    no_route(sim)
    assert sim.notes(ERROR) == [] and sim.track().failures == 2  # said once; the backoff goes on
    sim.now += 0.5
    sim.route()
    assert sim.wanted()  # a route still ends the wait at once


def test_a_route_event_asks_again_an_echo_that_failed():
    sim = behind_nat()
    sim.echoed((4, "wan0"), NO_AGREEMENT)
    assert sim.s.deadline() == T0 + 1
    sim.now += 0.2
    sim.route()
    assert [r.key for r in sim.due().echo] == [(4, "wan0")]


def test_a_route_changes_nothing_for_records_that_do_not_wait_for_one():
    sim = Sim()
    sim.land()
    sim.settle()
    sim.route()
    assert not sim.due() and sim.s.deadline() is None


def test_an_echo_round_without_a_route_learns_nothing_and_waits_for_one():
    sim = behind_nat()
    sim.echoed((4, "wan0"), agreed("203.0.113.5"))
    sim.land()
    sim.settle()
    sim.notes()
    sim.at(20).kernel(dev("wan0", "100.64.0.3"))  # a reconnect: the address first
    unreachable = Agreement(None, "no echo source gave a usable answer", (),
                            (("a", Answer(None, "Network is unreachable", True)), ("b", Answer(None, "Network is unreachable", True))))
    sim.echoed((4, "wan0"), unreachable)
    assert sim.notes(WARNING) == [] and sim.s.echoes.checks[(4, "wan0")].failures == 0
    assert sim.s.echoes.checks[(4, "wan0")].result.address == ipaddress.ip_address("203.0.113.5")  # what it was
    assert not sim.due() and sim.s.deadline() == sim.now + 10
    sim.now += 0.01
    sim.route()  # the route: asked at once
    assert [r.key for r in sim.due().echo] == [(4, "wan0")]


def test_a_record_on_the_echo_shows_its_last_round_in_the_state_file():
    sim = behind_nat()
    sim.echoed((4, "wan0"), agreed("203.0.113.5"))
    sim.land()
    (row,) = sim.at(3).plan(WALL0 + 3).rows
    assert row["source"] == "echo" and row["echo"] == {
        "address": "203.0.113.5", "agreed": ["a", "b"], "reason": "2 of 2 echo sources agree: a, b", "at": WALL0}
    sim.at(4).kernel(dev("wan0", WAN))  # a public address: the echo is no longer the record's
    sim.land()
    (row,) = sim.plan(WALL0 + 4).rows
    assert row["echo"] is None


def test_an_address_elsewhere_keeps_the_backoff_of_an_echo_without_agreement():
    sim = Sim(ECHO_CONF, (dev("wan0", "100.64.0.2"), dev("br-lan", "2001:db8:1:10::1")))
    sim.echoed((4, "wan0"), NO_AGREEMENT)
    sim.now = sim.s.deadline()
    sim.echoed((4, "wan0"), NO_AGREEMENT)
    planned = sim.s.deadline()
    sim.now += 0.1
    sim.kernel(dev("br-lan", "2001:db8:1:10::1", "2001:db8:1:10::2"))  # LAN churn, not a route
    assert not sim.due().echo and sim.s.deadline() == planned


def test_a_read_after_a_window_that_meets_no_route_waits_for_one_too():
    """It used to be synced again at every step until the route patience ran out (a busy
    loop of failing exchanges): the read after an UPDATE's window was not moved behind the
    wait for a route."""
    sim = Sim()
    sim.land()
    sim.now = sim.s.deadline()  # the read is owed
    no_route(sim)
    sim.now += 0.001
    assert not sim.due() and sim.s.deadline() == T0 + 12 + 10
    sim.route()
    assert sim.due().sync == {sim.record: Wanted(one(WAN), None)}  # the route: read at once


def test_a_wait_for_a_route_ends_with_a_failure_of_the_server():
    """A record that met no route, then a server that timed out, backs off: it used to stay
    "waiting for a route", and every address on a LAN (a neighbour table changes every few
    seconds) retried it at once."""
    sim = Sim(devices=(dev("wan0", WAN), dev("br-lan", "192.168.1.1")))
    no_route(sim)
    sim.now += 0.1
    sim.route()
    sim.fail()
    assert sim.track().phase == BackingOff(sim.now + 1)
    sim.now += 0.5
    sim.kernel(dev("br-lan", "192.168.1.1", "192.168.1.2"))
    assert not sim.due() and sim.s.deadline() == sim.now + 0.5


def test_only_a_route_that_came_counts():
    sim = Sim()
    no_route(sim)
    sim.now += 0.1
    sim.s.kernel({}, set(), [RouteChange(4, gone=True), RouteChange(6, gone=True)], sim.now)
    assert not sim.due()
    sim.s.kernel({}, set(), [RouteChange(6, gone=True), RouteChange(6)], sim.now)
    assert sim.wanted() == {"www.example.com": str(WAN)}


def test_an_overflow_is_said_rereads_every_network_and_counts_as_a_route():
    sim = Sim(conf(record(), record("nat", "nat.example.com", device="", interface="wan")), (dev("wan0", WAN),))
    sim.s.bound("wan", "wan0", sim.now)
    no_route(sim)
    sim.notes()
    sim.now += 0.1
    sim.s.reread({}, set(), sim.now, overflowed=True)
    assert sim.said()[0] == (WARNING, "kernel event queue overflowed (ENOBUFS); reading all links and addresses again")
    assert sim.due().networks == ("wan",) and set(r.name for r in sim.due().sync) == {"www.example.com", "nat.example.com"}
    # a re-read for the neighbour table: every network too, but no route
    sim.s.bound("wan", "wan0", sim.now)
    no_route(sim)
    sim.notes()
    sim.s.reread({}, set(), sim.now, overflowed=False)
    assert sim.notes() == [] and sim.due().networks == ("wan",) and not sim.due().sync


def test_a_plan_holds_one_thing_that_waits_on_the_outside_in_order():
    """netifd first (it may move a record to another device), then an echo round (it gives
    an address), then a sync of everything due; the state file when nothing waits."""
    cfg = conf(record(), record("nat", "nat.example.com", device="wan1"), record("net", "net.example.com", device="", interface="wan"),
               record("lan", "lan.example.com", device="", interface="lan"), agent={"echo": ["http://192.0.2.80/a"]})
    sim = Sim(cfg, (dev("wan0", WAN), dev("wan1", "100.64.0.2"), dev("eth1", "198.51.100.9")))
    plans = []
    while plan := sim.plan():
        plans.append((plan.network, plan.echo and plan.echo.key, plan.sync and sorted(r.name for r in plan.sync.wanted),
                      plan.rows is not None))
        if plan.network:
            sim.s.bound(plan.network, {"wan": "eth1", "lan": None}[plan.network], sim.now)
        elif plan.echo:
            sim.echoed(plan.echo.key, agreed("203.0.113.5"))
        elif plan.sync:
            sim.land()
    assert plans == [("lan", None, None, False), ("wan", None, None, False), (None, (4, "wan1"), None, False),
                     (None, None, ["nat.example.com", "net.example.com", "www.example.com"], False), (None, None, None, True)]


def test_a_failure_finds_the_zone_and_primary_afresh_and_a_reload_every_one():
    sim = Sim(conf(record(), record("mail", "mail.example.com")))
    due = sim.due().sync
    www, mail = sim.cfg.enabled_records()
    sim.s.synced({www: Outcome(one(WAN), error="www.example.com A: update: no answer within 5 s", server="192.0.2.53"),
                  mail: Outcome(one(WAN), error="mail.example.com A: no route to the server", no_route=True, server="192.0.2.53")},
                 sim.now, WALL0, 0.5)
    assert set(due) == {www, mail}
    plan = sim.plan()
    assert plan.forget_targets == (www,) and not plan.fresh_targets  # not for no route: the target is fine
    assert sim.plan().forget_targets == ()
    sim.s.reload(sim.cfg, sim.now)
    assert sim.plan().fresh_targets and not sim.plan().fresh_targets


def test_what_to_follow_is_said_at_start_and_after_a_reload():
    sim = Sim(conf(record()))
    plan = sim.plan()
    assert not plan.follow_netifd and not plan.follow_neighbours
    sim.s.reload(conf(record(), record("net", "net.example.com", device="", interface="wan"),
                      record("tv", "tv.example.com", type="AAAA", device="br-lan", mac="02:00:00:00:00:01")), sim.now)
    plan = sim.plan()
    assert plan.follow_netifd and plan.follow_neighbours
    assert not sim.plan().follow_netifd  # once
    sim = Sim(conf(record(device="", interface="wan")))
    assert sim.plan().follow_netifd


def test_the_shell_s_troubles_are_worded_here():
    sim = Sim()
    sim.notes()
    sim.s.netifd_lost()
    sim.s.netifd_lost("No such file or directory")
    sim.s.reload_failed("/etc/config/ddns-edge:3: option ttl: 0 is out of range")
    assert sim.said() == [
        (WARNING, "ubus listen ended; devices are asked again on link events only"),
        (ERROR, "cannot follow netifd's events (ubus listen: No such file or directory); devices are asked again on link events only"),
        (ERROR, "config not reloaded, the old one stays in use: /etc/config/ddns-edge:3: option ttl: 0 is out of range"),
    ]


def test_start_says_what_it_follows_after_each_record():
    sim = Sim(conf(record(), record("mail", "mail.example.com")))
    assert sim.said()[-1] == (INFO, "following 2 record(s); waiting for kernel events")


def test_the_read_of_a_record_without_an_address_keeps_its_minute():
    sim = Sim()
    sim.land()
    sim.at(1).kernel(dev("wan0"))
    assert sim.track().phase == NoAddress(T0 + 1)
    sim.settle()  # the read after the UPDATE's window, at T0 + 12
    assert sim.track().phase == NoAddress(T0 + 1)
    sim.notes()
    sim.tick(T0 + 61)
    assert sim.notes(WARNING) == [LONG]


def test_records_without_a_route_to_one_server_are_one_line_naming_a_few():
    sim = Sim(conf(*(record(f"h{i}", f"h{i}.example.com") for i in range(5))))
    sim.notes()
    no_route(sim)
    assert sim.said() == [(INFO, "h0.example.com A, h1.example.com A, h2.example.com A and 2 more: "
                                 "no route to 192.0.2.53 yet; waiting for one")]


# ------------------------------------------------------------------ two WANs (wans.py)

WANB = "203.0.113.2"


def two_wans(policy="failover", **options):
    text = (f"config record 'www'\n\toption name 'www.example.com'\n\tlist interface 'wan'\n\tlist interface 'wanb'\n"
            f"\toption policy '{policy}'\n" + "".join(f"\toption {k} '{v}'\n" for k, v in options.items()))
    sim = Sim(conf(text), devices=(dev("wan0", WAN), dev("wan1", WANB)))
    plan = sim.plan()
    assert (plan.ask_mwan3, plan.read_routes, plan.sync) == (True, True, None)  # asked first, before anything else
    sim.s.bound("wan", "wan0", sim.now)
    sim.s.bound("wanb", "wan1", sim.now)
    return sim


ROUTES = [(4, "wan0", 0), (4, "wan1", 20)]


def settled_on_both(sim):
    """mwan3 calls both WANs online, each has its default route, and the record landed."""
    sim.s.mwan3_status({"wan": "online", "wanb": "online"}, {}, sim.now)
    sim.s.default_routes(ROUTES, sim.now)
    sim.land()
    sim.settle()


@pytest.mark.parametrize("policy,mwan3,published", [
    ("failover", {"wan": "online", "wanb": "online"}, WAN),
    ("failover", {"wan": "offline", "wanb": "online"}, WANB),
    ("failover", None, WAN),
    ("all", {"wan": "online", "wanb": "online"}, f"{WAN}, {WANB}"),
    ("all", {"wan": "online", "wanb": "offline"}, WAN),
])
def test_two_wans_wait_for_mwan3_and_the_routes_then_publish(policy, mwan3, published):
    sim = two_wans(policy)
    assert sim.wanted() == {}
    sim.s.mwan3_status(mwan3, {}, sim.now)
    assert sim.wanted() == {}  # the default routes are not read yet
    sim.s.default_routes(ROUTES, sim.now)
    assert sim.wanted() == {"www.example.com": str(published)}


def test_a_failover_is_one_sync_and_the_return_another():
    sim = two_wans()
    settled_on_both(sim)
    assert sim.due().sync == {}
    sim.s.mwan3_event()
    plan = sim.plan()
    assert plan.ask_mwan3 and plan.sync is None
    sim.s.mwan3_status({"wan": "offline", "wanb": "online"}, {}, sim.now)
    plan = sim.plan()
    assert [str(w.address) for w in plan.sync.wanted.values()] == [WANB]
    assert plan.sync.leave_by == {4: "wan1"}  # the main table still points at wan0, which mwan3 calls offline
    assert any("default route is via wan0, which mwan3 calls offline: the update leaves by wan1" in line for _, line in plan.notes)
    sim.land(old=frozenset({WAN}))
    sim.settle()
    sim.s.mwan3_status({"wan": "online", "wanb": "online"}, {}, sim.now)
    plan = sim.plan()
    assert [w.address for w in plan.sync.wanted.values()] == [{WAN}] and plan.sync.leave_by == {}


def test_without_mwan3_a_wan_without_a_default_route_is_offline():
    sim = two_wans()
    sim.s.mwan3_status(None, {}, sim.now)
    sim.s.default_routes(ROUTES, sim.now)
    assert sim.wanted() == {"www.example.com": str(WAN)}
    sim.land()
    sim.settle()
    sim.s.kernel({}, set(), [RouteChange(4, gone=True)], sim.now)
    assert sim.plan().read_routes
    sim.s.default_routes([(4, "wan1", 20)], sim.now)
    assert sim.wanted() == {"www.example.com": WANB}


def test_a_backup_address_change_syncs_only_in_policy_all():
    for policy, expect in (("failover", {}), ("all", {"www.example.com": f"{WAN}, 203.0.113.9"})):
        sim = two_wans(policy)
        settled_on_both(sim)
        sim.kernel(dev("wan1", "203.0.113.9"))
        assert sim.wanted() == expect, policy


def test_both_wans_down_leave_the_record_and_the_row_says_why():
    sim = two_wans()
    settled_on_both(sim)
    sim.s.mwan3_status({"wan": "offline", "wanb": "offline"}, {}, sim.now)
    assert sim.wanted() == {}
    sim.plan()
    row = sim.rows[0]
    assert row["address"] == str(WAN)
    assert row["wans"]["choice"] == "failover of wan, wanb"
    assert row["wans"]["why"].startswith("no WAN online: wan (wan0) offline (mwan3: offline)"), row


def test_mwan3_not_answering_after_it_did_keeps_its_last_verdicts():
    sim = two_wans()
    sim.s.mwan3_status({"wan": "offline", "wanb": "online"}, {}, sim.now)
    sim.s.default_routes(ROUTES, sim.now)
    sim.land()
    sim.settle()
    sim.s.mwan3_status(None, {}, sim.now)  # (the kernel's rule would take wan back)
    assert sim.wanted() == {}
    assert "mwan3 does not answer now; its last status stands until it does" in sim.notes(WARNING)
