"""The rules of `ddns-edge run` (pure): fed with what happened and the time, asked for a plan.

Two rules this module keeps:
- Everything `run` decides lives here or in the two modules it drives: phases.py (a record's
  phases and the moves between them) and echo_checks.py (when each echo is asked). agent.py
  does what a Plan says and feeds back what happened; it decides nothing of its own and
  words nothing: every line the operator reads comes out of a plan (the shell's own words
  are its I/O failing: a bug's traceback, a socket it cannot open).
- Nothing here reads a clock, draws a random number or touches a socket or a file. `now`
  (monotonic seconds), `wall` (seconds since the epoch, for the state file) and `rand`
  (uniform in [0, 1), for jitter) come in as arguments; what to do goes out as values.

Theory of operation, in the shape of h11's ConnectionState: one method per kind of input,
and plain queries for what holds now.

    input                                      what it re-decides
    -----------------------------------------  ------------------------------------------------------
    start(devices, now)                        every record (the kernel's devices when `run` starts)
    kernel(changed, came_up, routes, now)      the records on each changed device, and a failing
                                               one at once when its link came up; a device that
                                               came, went, or went up or down: every network is
                                               asked of netifd again; any change on an echo's
                                               device: that echo. Only a route that came counts:
                                               what waits for one is tried at once, records and
                                               echo rounds alike; so does an address on a device
                                               that is up (DHCP clients and pppd add the route a
                                               moment after the address), but not an echo round
                                               without agreement (a LAN's neighbour table would
                                               undo its backoff)
    reread(changed, came_up, now, overflowed)  a full re-read of the kernel: as kernel(), and every
                                               network asked again; after an overflow (said) a
                                               route event may have been lost: it counts as one
    netifd(networks)                           those networks are asked again
    netifd_lost(why)                           (netifd's events are followed no more: said)
    bound(network, device, now)                netifd's answer: the records of that network
    mwan3_event()                              (mwan3track's connected/disconnected: mwan3 is asked)
    mwan3_status(interfaces, policies, now)    the records of several WANs (wans.py: which WAN is
                                               online, and what failover's order is)
    default_routes(routes, now)                the records of several WANs (without mwan3 a WAN is
                                               online with its address and a default route); a
                                               sync's exchanges leave by an online WAN when the
                                               main table's default route is via one mwan3 calls
                                               offline. Both are asked at start, after a reload,
                                               and (routes) after a route event, before anything
                                               else in that plan
    echoed(key, result, health, now, rand)     the records that use that echo; its next round
    synced(outcomes, now, wall, rand)          the records synced (phases.py: landed, failed, no
                                               route); the server's errors said once, then as a
                                               reminder; a failure has the zone and primary found
                                               afresh; a change that landed runs the hook
    hook_started(pid, hook, now)               when the hook is killed
    hook_failed(hook, why)                     (said)
    hook_ended(pid, status)                    (said, at error level when it failed)
    reload(config, now)                        records whose section changed start afresh (their
                                               server is read before anything is trusted); the
                                               others keep their phase and what they hold; every
                                               echo is asked afresh, every zone and primary found
                                               afresh (the servers' clocks are kept), the read of
                                               UPDATEs already sent stays
    reload_failed(error)                       (said: the old config stays in use)

    plan(now, wall) -> Plan   what to do now, and what to say (below)
    deadline()                when something is due next; None: nothing is pending
    due(now) -> Due           everything due now (the plan takes from it in order)

A plan (`plan`) first lets the time pass (phases.elapsed: a record without an address for a
minute is a warning), then holds what to say first, hooks to kill and to run, what to follow and which
targets to find afresh, then at most one thing that waits on the outside, in this order:
a network to ask netifd about, an echo round, a sync (of every record due, with the time
each exchange may take). Each one's answer changes what comes after it (netifd moves a
record to another device, an echo gives its address), so the shell feeds it back and asks
for the next plan, taking in the kernel's events in between, until a plan is empty; then it
sleeps until the deadline or an event. The state file's rows come in a plan with nothing
that waits on the outside: once per step, when it has settled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Collection, Mapping

from ddns_edge import report
from ddns_edge.detect import detect, echo_key
from ddns_edge.echo_checks import EchoRound, Echoes, Health
from ddns_edge.model import Addresses, Agreement, Config, Device, EchoKey, Outcome, Record, RouteChange, Wanted
from ddns_edge.wans import Mwan3, Wan, detect_wans
from ddns_edge.phases import (
    DEBUG,
    ERROR,
    FAILURE_PATIENCE,
    INFO,
    WARNING,
    AwaitingRoute,
    Event,
    Input,
    Rules,
    Track,
    decision,
    elapsed,
    exchange_timeout,
    outcome_event,
    sync_of,
    wake_at,
)

# ------------------------------------------------------------------ values


@dataclass(frozen=True)
class Hook:
    """The hook to run after a change landed."""

    record: Record
    old: str  # what the server held, comma-separated ("" for nothing)
    new: str
    source: str  # where the address came from ("interface wan0", "echo")
    path: str = ""  # the program, as configured when the change landed


@dataclass(frozen=True)
class Sync:
    """Records to sync, and how long each exchange may take."""

    wanted: Mapping[Record, Wanted]  # record (as configured) -> what to make of it
    timeouts: Mapping[Record, float]  # each record's (exchange_timeout: by its own failures in a row)
    leave_by: Mapping[int, str] = field(default_factory=dict)  # address family -> the device exchanges leave by (two WANs)

    def timeout(self, records: Collection[Record]) -> float:
        """How long each exchange of a sync of `records` (one zone's) may take: the longest of
        theirs, so that a zone being retried never lends its long wait to another."""
        return max((self.timeouts[r] for r in records), default=exchange_timeout(0))


@dataclass(frozen=True)
class Due:
    """Everything due now (a query: it stays due until the answer is fed back)."""

    networks: tuple[str, ...] = ()  # ask netifd which device each is on
    echo: tuple[EchoRound, ...] = ()
    sync: Mapping[Record, Wanted] = field(default_factory=dict)
    kill: tuple[int, ...] = ()  # hooks (process ids) that ran too long

    def __bool__(self) -> bool:
        return bool(self.networks or self.echo or self.sync or self.kill)


@dataclass(frozen=True)
class Plan:
    """What the shell does now, in this order, feeding back what happened."""

    notes: tuple[tuple[int, str], ...] = ()  # (level, line): say these first
    kill: tuple[int, ...] = ()  # hooks (process ids) to kill: they ran too long (said)
    hooks: tuple[Hook, ...] = ()  # to run -> hook_started or hook_failed
    follow_netifd: bool = False  # start following netifd's events (`ubus listen`), unless it is followed
    follow_neighbours: bool = False  # start following the neighbour table, unless it is, and re-read -> reread
    fresh_targets: bool = False  # find every record's zone and primary afresh (keep the servers' clocks)
    forget_targets: tuple[Record, ...] = ()  # find these records' zone and primary afresh
    network: str | None = None  # ask netifd which device it is on -> bound
    echo: EchoRound | None = None  # run the round -> echoed
    sync: Sync | None = None  # -> synced
    rows: tuple[dict, ...] | None = None  # write the state file (state.render) with these rows
    ask_mwan3: bool = False  # ask `ubus call mwan3 status` -> mwan3 (before the rest: it decides records)
    read_routes: bool = False  # read the main table's default routes -> default_routes (likewise)

    def __bool__(self) -> bool:
        return any((self.notes, self.kill, self.hooks, self.follow_netifd, self.follow_neighbours, self.fresh_targets,
                    self.forget_targets, self.network is not None, self.echo, self.sync, self.rows is not None,
                    self.ask_mwan3, self.read_routes))


@dataclass(frozen=True)
class RunningHook:
    kill_at: float  # monotonic
    what: str  # how the log names it: "hook PATH for NAME TYPE"


# ------------------------------------------------------------------ the schedule


class Schedule:
    def __init__(self, config: Config):
        self.config = config
        self.tracks: dict[tuple[str, str], Track] = {}
        self.devices: dict[str, Device] = {}
        self.networks: dict[str, str | None] = {}  # OpenWrt network -> its device, as netifd last said
        self.to_ask: set[str] = set()  # networks to ask netifd about
        self.hooks: dict[int, RunningHook] = {}  # by process id
        self._notes: list[tuple[int, str]] = []
        self._once = report.Once(self._note)
        self.rules = Rules(self._note, self._once)
        self.echoes = Echoes(self._note, self._once)
        self._to_run: list[Hook] = []
        self._forget: dict[Record, None] = {}
        self._fresh_targets = False
        self._follow: set[str] = set()
        self._rows_changed = True
        self.mwan3: Mwan3 | None = None  # what mwan3 said last (None: it does not run, or has not answered)
        self.defaults: tuple[tuple[int, str, int], ...] = ()  # the main table's default routes: (family, device, metric)
        self._ask_mwan3 = self._read_routes = False
        self._wans_known: set[str] = set()  # of "mwan3", "routes": asked once since start (records of several WANs wait for both)
        self._adopt(config)

    # ---------------------------------------------------------- inputs

    def start(self, devices: Mapping[str, Device], now: float) -> None:
        """The kernel's devices when `run` starts: decide every record."""
        self.devices = dict(devices)
        self.to_ask = self._networks()
        for key in self.tracks:
            self._decide(key, now)
        self._prune_echoes()
        self._note(INFO, f"following {len(self.tracks)} record(s); waiting for kernel events")
        self._follow = {"netifd"} if self.follows_networks else set()
        self._ask_mwan3 = self._read_routes = self.has_wans

    def kernel(self, changed: Mapping[str, Device | None], came_up: Collection[str], routes: Collection[RouteChange],
               now: float) -> None:
        """Devices whose link or addresses changed (None: the device is gone); `came_up`: those
        whose link came up; `routes`: the main table's route events."""
        self._devices(changed, came_up, now, every_network=False)
        if routes and self.has_wans:
            self._read_routes = True  # a WAN's default route may have come or gone
        if any(not r.gone for r in routes):  # a route that went frees nothing
            self._route_or_address(now, route=True)

    def reread(self, changed: Mapping[str, Device | None], came_up: Collection[str], now: float, overflowed: bool) -> None:
        """The kernel was read afresh (after an overflow of its event queue, or to follow the
        neighbour table): the devices that differ; every network is asked of netifd again."""
        if overflowed:
            self._note(WARNING, "kernel event queue overflowed (ENOBUFS); reading all links and addresses again")
        self._devices(changed, came_up, now, every_network=True)
        if overflowed:
            self._route_or_address(now, route=True)  # a route event may have been lost with the rest
            self._read_routes = self.has_wans

    def netifd(self, networks: Collection[str]) -> None:
        """netifd announced something (ifup, ifdown, an update) about `networks`: ask again."""
        self.to_ask |= set(networks) & self._networks()

    def netifd_lost(self, why: str | None = None) -> None:
        """netifd's events cannot be followed (`why`), or the listener ended (None)."""
        if why is None:
            self._note(WARNING, "ubus listen ended; devices are asked again on link events only")
        else:
            self._note(ERROR, f"cannot follow netifd's events (ubus listen: {why}); devices are asked again on link events only")

    def bound(self, network: str, device: str | None, now: float) -> None:
        """netifd says `network` is on `device` now (None: on none)."""
        self.to_ask.discard(network)
        if network in self.networks and self.networks[network] == device:
            return
        self.networks[network] = device
        for key, track in self.tracks.items():
            if track.record.interface == network:
                self.tracks[key] = replace(track, device=device)
                self._decide(key, now)
            elif track.record.wans_are == "interface" and network in track.record.wans:
                self._decide(key, now)
        self._prune_echoes()

    def mwan3_event(self) -> None:
        """mwan3track said connected or disconnected (the hotplug script's signal): ask mwan3."""
        self._ask_mwan3 = self.has_wans

    def mwan3_status(self, interfaces: Mapping[str, str] | None, policies: Mapping[tuple[str, int], tuple[str, ...]], now: float) -> None:
        """`ubus call mwan3 status`: each network's status (None: mwan3 does not answer: not
        installed, or not running) and each policy's ranking; the records of several WANs."""
        was = self.mwan3
        if interfaces is None and was is not None:  # unavailable is not empty: what it said last stands
            self._once.say(WARNING, "mwan3 does not answer now; its last status stands until it does", ("mwan3",), again_level=None)
            return
        self._once.forget(("mwan3",))
        self.mwan3 = None if interfaces is None else Mwan3(dict(interfaces), dict(policies))
        if "mwan3" not in self._wans_known:
            self._wans_known.add("mwan3")
            self._note(INFO, "mwan3 does not answer; a WAN is online while it has its address and a default route" if interfaces is None
                       else f"mwan3: {', '.join(f'{n} {v}' for n, v in sorted(interfaces.items())) or 'no interfaces'}")
        elif self.mwan3 != was and self.mwan3 is not None:
            self._note(INFO, f"mwan3: {', '.join(f'{n} {v}' for n, v in sorted(self.mwan3.interfaces.items()))}")
        self._decide_wans(now)

    def default_routes(self, routes: Collection[tuple[int, str, int]], now: float) -> None:
        """The main table's default routes now: (family, device, metric); the records of several WANs."""
        self.defaults = tuple(sorted(routes, key=lambda r: (r[0], r[2])))
        self._wans_known.add("routes")
        self._decide_wans(now)

    def echoed(self, key: EchoKey, result: Agreement, health: Health, now: float, rand: float) -> None:
        """An echo round over `key` ended (at `now`) with `result`; its sources fared as `health`."""
        if self.echoes.answered(key, result, health, now, rand, self.config.agent.echo_interval):
            for k, track in self.tracks.items():
                if echo_key(track.bound) == key:
                    self._decide(k, now)

    def synced(self, outcomes: Mapping[Record, Outcome | None], now: float, wall: float, rand: float) -> None:
        """A sync ended (at `now`): an Outcome per record, None where it failed unexpectedly
        (the shell said why)."""
        self._say_server(outcomes, now)
        for record, outcome in outcomes.items():
            key = (record.name, record.type)
            track = self.tracks.get(key)
            if track is None or track.record != record:
                continue  # reloaded meanwhile: that record starts afresh
            event = outcome_event(outcome)
            self._move(key, Input(event, now, outcome=outcome, wall=wall, rand=rand))
            self._rows_changed = True
            if event is Event.FAILED and outcome is not None:
                self._forget[record] = None  # the primary may have moved: found afresh
            if event is Event.LANDED and outcome is not None and outcome.changed and self.config.agent.hook:
                was = str(outcome.old) or _text(track.held.address)
                source = track.wanted.origin if track.wanted is not None else ""
                self._to_run.append(Hook(record, was, _text(outcome.address), source, self.config.agent.hook))

    def hook_started(self, pid: int, hook: Hook, now: float) -> None:
        self.hooks[pid] = RunningHook(now + self.config.agent.hook_timeout, self._hook_name(hook))

    def hook_failed(self, hook: Hook, why: str) -> None:
        self._note(ERROR, f"{self._hook_name(hook)}: cannot run it: {why}")

    def hook_ended(self, pid: int, status: int) -> None:
        running = self.hooks.pop(pid, None)
        if running is None:
            return  # killed: said then
        if status != 0:
            self._note(ERROR, f"{running.what}: exited with status {status}")
        else:
            self._note(DEBUG, f"{running.what}: done")

    def reload(self, config: Config, now: float) -> None:
        """A new config: records whose section is unchanged keep what is known of them (their
        phase, what they hold, a planned retry); changed and new ones start afresh; removed
        ones are left as they are at the server."""
        self._adopt(config)
        self.to_ask = self._networks()
        for key in self.tracks:
            self._decide(key, now)
        self._prune_echoes()
        self._fresh_targets = True
        self._ask_mwan3 = self._read_routes = self.has_wans
        self._follow = {name for name, wanted in (("netifd", self.follows_networks), ("neighbours", self.follows_neighbours)) if wanted}
        self._note(INFO, f"config reloaded: {len(self.tracks)} record(s)")

    def reload_failed(self, error: str) -> None:
        self._note(ERROR, f"config not reloaded, the old one stays in use: {error}")

    # ---------------------------------------------------------- queries

    def plan(self, now: float, wall: float) -> Plan:
        """What to do now (the module's last paragraph). What it hands out (notes, hooks to
        run, targets to find afresh, rows) is handed out once."""
        for key, track in self.tracks.items():  # time passed
            event = elapsed(track, now)
            if event is not None:
                self._move(key, Input(event, now))
        due = self.due(now)
        for pid in due.kill:
            running = self.hooks.pop(pid)
            self._note(ERROR, f"{running.what}: still running after {self.config.agent.hook_timeout} s; killed")
        hooks, self._to_run = tuple(self._to_run), []
        forget, self._forget = tuple(self._forget), {}
        fresh, self._fresh_targets = self._fresh_targets, False
        follow, self._follow = self._follow, set()
        ask_mwan3, read_routes = self._ask_mwan3, self._read_routes
        self._ask_mwan3 = self._read_routes = False
        local = ask_mwan3 or read_routes  # they decide records: the rest waits for their answer
        network = due.networks[0] if due.networks and not local else None
        echo = due.echo[0] if network is None and due.echo and not local else None
        sync = None
        if network is None and echo is None and due.sync and not local:
            sync = Sync(due.sync, {r: exchange_timeout(self.tracks[r.name, r.type].failures) for r in due.sync}, self._leave_by())
        rows = self._take_rows(now, wall) if network is None and echo is None and sync is None and not local else None
        notes, self._notes = tuple(self._notes), []
        return Plan(notes, due.kill, hooks, "netifd" in follow, "neighbours" in follow, fresh, forget, network, echo, sync, rows,
                    ask_mwan3, read_routes)

    def due(self, now: float) -> Due:
        """Everything due at `now`. The caller does it and reports back (bound, echoed, synced,
        hook_ended); until then it stays due."""
        sync = {}
        for track in self.tracks.values():
            wanted = sync_of(track, now)
            if wanted is not None:
                sync[track.record] = wanted
        kill = tuple(pid for pid, running in self.hooks.items() if running.kill_at <= now)
        return Due(tuple(sorted(self.to_ask)), self.echoes.due(now), sync, kill)

    def deadline(self) -> float | None:
        """When something is due next (monotonic); None: nothing is pending, sleep until an event.
        Networks to ask are not in it: a plan asks them as soon as they are due."""
        times = [t for track in self.tracks.values() for t in wake_at(track)]
        times += self.echoes.times()
        times += [running.kill_at for running in self.hooks.values()]
        return min(times) if times else None

    @property
    def follows_neighbours(self) -> bool:
        """Whether some record follows a host by its MAC (then the neighbour table is read)."""
        return any(t.record.mac is not None for t in self.tracks.values())

    @property
    def has_wans(self) -> bool:
        """Whether some record names several WANs (then mwan3 and the default routes are asked)."""
        return any(t.record.wans for t in self.tracks.values())

    @property
    def follows_networks(self) -> bool:
        """Whether some record names an OpenWrt network (then netifd's events are worth following)."""
        return bool(self._networks())

    # ---------------------------------------------------------- the rules

    def _adopt(self, config: Config) -> None:
        old = self.tracks
        self.tracks = {}
        for record in config.enabled_records():
            key = (record.name, record.type)
            track = old.get(key)
            if track is None or track.record != record:
                device = record.device if record.interface is None else self.networks.get(record.interface)
                check_at = track.check_at if track is not None else None  # copies of UPDATEs already sent
                track = Track(record, device, check_at=check_at)
            self.tracks[key] = track
        for name, rtype in old.keys() - self.tracks.keys():
            self._note(INFO, f"{name} {rtype}: no longer in the config; left as it is at the server")
        self.config = config
        self.echoes.clear()  # sources or interval may have changed: ask afresh
        self._rows_changed = True

    def _networks(self) -> set[str]:
        networks = {t.record.interface for t in self.tracks.values() if t.record.interface is not None}
        return networks | {w for t in self.tracks.values() if t.record.wans_are == "interface" for w in t.record.wans}

    def _devices(self, changed: Mapping[str, Device | None], came_up: Collection[str], now: float, every_network: bool) -> None:
        links = every_network
        for name, device in changed.items():
            old = self.devices.get(name)
            if device is None:
                self.devices.pop(name, None)
            else:
                self.devices[name] = device
            links = links or old is None or device is None or old.up != device.up
        if links:
            self.to_ask |= self._networks()  # netifd may have moved a network to another device
        self.echoes.changed(changed.keys(), now)  # new addresses behind the NAT may mean a new public one
        for key, track in self.tracks.items():
            if track.device in changed:
                if track.device in came_up:
                    self._move(key, Input(Event.LINK_UP, now))
                self._decide(key, now)
            elif track.record.wans and set(self._wan_devices(track.record)) & changed.keys():
                if set(self._wan_devices(track.record)) & set(came_up):
                    self._move(key, Input(Event.LINK_UP, now))
                self._decide(key, now)
        if any(d is not None and d.up and d.addresses for d in changed.values()):
            self._route_or_address(now, route=False)  # a source address may have come
        self._prune_echoes()

    def _route_or_address(self, now: float, route: bool) -> None:
        for key, track in self.tracks.items():
            if isinstance(track.phase, AwaitingRoute):
                self._move(key, Input(Event.ROUTE, now))
        self.echoes.route_or_address(now, route)

    def _decide(self, key: tuple[str, str], now: float) -> None:
        """What the record should carry now, as the event phases.decision makes of it."""
        track = self.tracks[key]
        record = track.bound
        if record.wans:
            found = self._detect_wans(record)
        elif record.interface is not None and record.interface not in self.networks:
            found = None  # netifd has not been asked yet: decided when it answers
        else:
            published = track.held.address.single if track.held.address is not None else None
            device = self.devices.get(track.device) if track.device is not None else None
            found = detect(record, device, published)
            if found.needs_echo:
                result = self.echoes.need(echo_key(record), now)
                if result is not None:
                    found = detect(record, device, published, result)
        self._move(key, Input(decision(track, found), now, found=found))

    def _wan_devices(self, record: Record) -> list[str]:
        if record.wans_are == "device":
            return list(record.wans)
        return [d for d in (self.networks.get(w) for w in record.wans) if d is not None]

    def _detect_wans(self, record: Record):
        """A record of several WANs (wans.detect_wans); None until netifd has named each network's
        device, mwan3 has been asked and the default routes read."""
        if not {"mwan3", "routes"} <= self._wans_known:
            return None
        if record.wans_are == "interface" and any(w not in self.networks for w in record.wans):
            return None
        family = 4 if record.type == "A" else 6
        defaults = {(f, d) for f, d, _ in self.defaults}
        given = []
        for name in record.wans:
            device = name if record.wans_are == "device" else self.networks.get(name)
            given.append(Wan(name, device, self.devices.get(device) if device else None, (family, device) in defaults))
        return detect_wans(record, given, self.mwan3)

    def _decide_wans(self, now: float) -> None:
        for key, track in self.tracks.items():
            if track.record.wans:
                self._decide(key, now)
        self._rows_changed = True

    def _leave_by(self) -> dict[int, str]:
        """Two WANs, mwan3 running: when the main table's default route (of a family) is via a
        device of a network mwan3 calls offline, exchanges leave by the device of the first
        network it calls online that has a default route (said at debug level)."""
        if self.mwan3 is None:
            return {}
        status_of: dict[str, str] = {}
        order: list[str] = []
        for track in self.tracks.values():
            if track.record.wans_are != "interface":
                continue
            for name in track.record.wans:
                device = self.networks.get(name)
                if device is not None and name in self.mwan3.interfaces and device not in status_of:
                    status_of[device] = self.mwan3.interfaces[name]
                    order.append(device)
        out = {}
        for family in (4, 6):
            routes = [d for f, d, _ in self.defaults if f == family]
            if not routes or status_of.get(routes[0], "online") == "online":
                continue
            other = next((d for d in order if status_of[d] == "online" and d in routes), None)
            if other is not None:
                out[family] = other
                self._note(DEBUG, f"the main table's IPv{family} default route is via {routes[0]}, which mwan3 calls "
                                  f"{status_of[routes[0]]}: the update leaves by {other}")
        return out

    def _move(self, key: tuple[str, str], inp: Input) -> None:
        track = self.tracks[key]
        moved = self.rules.move(track, inp)
        if moved is not track:
            self.tracks[key] = moved
            self._rows_changed = self._rows_changed or moved != track

    def _prune_echoes(self) -> None:
        self.echoes.prune({echo_key(t.bound) for t in self.tracks.values() if t.wanted is not None and t.wanted.needs_echo})

    def _say_server(self, outcomes: Mapping[Record, Outcome | None], now: float) -> None:
        """What the server said: when it is news for any of its records, an error; a timeout a
        warning while they have been failing for less than FAILURE_PATIENCE (a primary catching
        up after a burst answers in seconds), an error after; else as a reminder ("still failing") at info; no
        route: that the record waits for one, at info (the normal order of things for a moment;
        phases.py says when it lasts)."""
        failed: dict[tuple[str | None, str, bool, int], list[Record]] = {}
        for record, outcome in outcomes.items():
            if outcome is None:
                continue
            if outcome.ok:
                self._once.forget(("server", record.label))
            else:
                track = self.tracks.get((record.name, record.type))
                since = track.failing_since if track is not None and track.failing_since is not None else now
                level = ERROR if not outcome.unanswered or now - since >= FAILURE_PATIENCE else WARNING
                failed.setdefault((outcome.server, outcome.error or "", outcome.no_route, level), []).append(record)
        for (server, error, no_route, level), records in failed.items():
            subjects = [("server", r.label) for r in records]
            if no_route:
                labels = report.few([r.label for r in records])
                self._once.say(INFO, f"{labels}: no route to {server} yet; waiting for one", *subjects, again_level=DEBUG)
            else:
                self._once.say(level, error, *subjects, same=f"{_shape(error)} ({'error' if level == ERROR else 'warning'})",
                               again=f"still failing: {error}", again_level=INFO)

    def _hook_name(self, hook: Hook) -> str:
        return f"hook {hook.path} for {hook.record.label}"

    def _take_rows(self, now: float, wall: float) -> tuple[dict, ...] | None:
        """The state file's rows (state.render) when they changed since last taken, else None."""
        if not self._rows_changed:
            return None
        self._rows_changed = False
        return tuple(self._row(t, now, wall) for t in self.tracks.values())

    def _row(self, track: Track, now: float, wall: float) -> dict:
        wanted, held = track.wanted, track.held
        on_echo = wanted is not None and wanted.needs_echo
        at = track.at
        return {
            "name": track.record.name,
            "type": track.record.type,
            "address": None if held.address is None else str(held.address),
            "source": wanted.origin if wanted is not None and held.address is not None and wanted.address == held.address else None,
            "changed_at": track.changed_at,
            "confirmed_at": track.confirmed_at,
            "last_error": track.last_error,
            "error_at": track.error_at,
            "failures": track.failures,
            "next_retry": None if at is None else wall + max(0.0, at - now),
            "echo": self.echoes.row(echo_key(track.bound), now, wall) if on_echo else None,  # while the record takes its address from it
            "wans": None if not track.record.wans else {  # several WANs: which one(s) it should carry now, and why
                "policy": track.record.policy, "wans": list(track.record.wans),
                "choice": wanted.origin if wanted is not None else None, "why": wanted.reason if wanted is not None else None},
        }

    def _note(self, level: int, line: str) -> None:
        self._notes.append((level, line))


def _shape(error: str) -> str:
    """An error without its numbers (times, counts): the same failure again has the same shape."""
    return re.sub(r"\d+", "#", error)


def _text(address: Addresses | None) -> str:
    """An address (or several) as a hook's environment says it ("" for none)."""
    return "" if address is None else str(address)
