"""`ddns-edge run`: one thread, one event loop; kernel events in, compare-and-swap updates out.

Theory of operation. The loop sleeps in select() on the rtnetlink socket (link and
address events), a wakeup socket written by signal handlers (SIGHUP reload, SIGCHLD of a
hook), netifd's events (`ubus listen`, only while a record names an OpenWrt network with
`option interface`), and the earliest pending deadline (a retry after a failure, a hook
that must be killed, an echo re-check). With nothing pending there is no deadline: while
nothing changes no timer fires and no packet leaves.

The echo (echo.py) is asked only while some record needs it: its device has only a
private address (`source auto`) or it says `source echo`. Records of one address family
and device share one EchoCheck: a round at once when the need arises and on every address
or link event of the device (a PPPoE reconnect behind NAT), then every echo_interval
seconds, with a growing backoff after rounds that found no agreement. When no record
needs it any more (the device's own address is public again) the check and its timer go.

Each wakeup drains every queued netlink message before acting, so a burst of changes
ends in one update to the final address, with no fixed delay added to a lone change.
A record is acted on only when the address it should carry (sources.detect) differs
from the one this agent last confirmed at the server.
"""

from __future__ import annotations

import ipaddress
import os
import random
import selectors
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field

from ddns_edge import dnsupdate, echo, plan, report, state, ubus
from ddns_edge.errors import ConfigError
from ddns_edge.netlink import RTM_DELLINK, RTM_NEWLINK, Subscription, View
from ddns_edge.sources import Detection, detect, echo_key
from ddns_edge.updater import Targets, sync

log = report.log


class Stop(BaseException):
    """Raised by the SIGTERM/SIGINT handler: leave the loop now, even mid-update.

    A BaseException, so that no `except Exception` on the way (logging, the echo) takes it
    for an error. Where a library swallows it anyway (dnspython wraps any exception met
    while parsing), the `stopping` flag remains, checked after every step that may block
    and, during an exchange, by dnsupdate's wait on the signal wakeup socket."""


@dataclass
class Track:
    """What the agent knows of one record between events."""

    record: object
    confirmed: str | None = None  # the address this agent last confirmed at the server
    wanted: Detection | None = None
    failures: int = 0
    retry_at: float | None = None  # monotonic; None: nothing pending
    last_error: str | None = None
    error_at: float | None = None
    changed_at: float | None = None
    confirmed_at: float | None = None
    said: str | None = field(default=None, repr=False)  # the last "left as it is" line, said once

    def as_state(self) -> dict:
        r = self.record
        return {
            "name": r.name,
            "type": r.type,
            "address": self.confirmed,
            "source": self.wanted.origin if self.wanted and self.wanted.address == self.confirmed else None,
            "changed_at": self.changed_at,
            "confirmed_at": self.confirmed_at,
            "last_error": self.last_error,
            "error_at": self.error_at,
            "failures": self.failures,
            "next_retry": None if self.retry_at is None else time.time() + max(0.0, self.retry_at - time.monotonic()),
        }


@dataclass
class EchoCheck:
    """The echo for one (family, device): its last outcome and when to ask again."""

    family: int
    device: str | None
    next_at: float | None  # monotonic; None: nothing pending
    result: echo.Agreement | None = None
    failures: int = 0  # rounds in a row without agreement
    health: dict = field(default_factory=dict)  # source text -> echo.Health
    said: dict = field(default_factory=dict)  # source shown -> the last rejection logged
    said_outcome: str | None = None

    @property
    def label(self) -> str:
        return echo.round_label(self.family, self.device)


class Agent:
    def __init__(self, config, config_path: str, log_level: str | None = None, rcvbuf: int | None = None):
        self.config = config
        self.config_path = config_path
        self.log_level = log_level
        self.rcvbuf = rcvbuf
        self.view = View()
        self.targets = Targets()
        self.tracks: dict[tuple[str, str], Track] = {}
        self.echoes: dict[tuple[int, str | None], EchoCheck] = {}
        self.hooks: list[tuple[subprocess.Popen, float, str]] = []
        self.reload_wanted = False
        self.stopping = False
        self.statefile = state.StateFile(config.agent.state_dir)
        self.resolve = ubus.Resolver()  # option interface: network name -> device, through netifd
        self.listener: ubus.Listener | None = None
        self.sel: selectors.BaseSelector | None = None
        self._adopt(config)

    # ------------------------------------------------------------ records

    def _adopt(self, config) -> None:
        """Track the enabled records of `config`, keeping what is known of unchanged ones."""
        old = self.tracks
        self.tracks = {}
        for record in config.enabled_records():
            record = ubus.bind(record, self.resolve)
            key = (record.name, record.type)
            track = old.get(key)
            if track is None or track.record != record:
                track = Track(record)  # new or changed: re-read the server before trusting anything
            self.tracks[key] = track
        for key in old.keys() - self.tracks.keys():
            log.info("%s %s: no longer in the config; left as it is at the server", *key)
        self.config = config
        self.echo_sources, self.echo_quorum = echo.sources_of(config.agent)
        self.echoes = {}  # sources or interval may have changed: ask afresh

    def _evaluate(self, track: Track, now: float) -> None:
        """Recompute what `track`'s record should carry; schedule an update when it differs."""
        record = track.record
        published = ipaddress.ip_address(track.confirmed) if track.confirmed else None
        addresses = self.view.addresses(record.device)
        found = detect(record, addresses, published)
        if found.needs_echo:
            check = self._echo_check(record, now)
            if check.result is None:  # a round is due: decide when it has answered
                track.wanted = found
                track.retry_at = None
                return
            found = detect(record, addresses, published, check.result)
        previous = track.wanted
        track.wanted = found
        if found.address is None:
            track.retry_at = None
            line = f"{record.name} {record.type}: {found}; record left as it is" + (f" ({track.confirmed})" if track.confirmed else "")
            if line != track.said:
                log.warning("%s", line)
                track.said = line
            return
        track.said = None
        if found.address == track.confirmed:
            track.retry_at = None
            track.failures = 0
            return
        if previous is None or previous.address != found.address:
            log.info("%s %s: %s", record.name, record.type, found)
            track.failures = 0  # a new address resets the backoff
            track.retry_at = now
        elif track.retry_at is None:
            track.retry_at = now

    def _evaluate_devices(self, devices: set, now: float) -> None:
        went_up, self.view.went_up = self.view.went_up, set()
        for check in self.echoes.values():
            if check.device in devices:
                check.next_at = now  # new addresses behind the NAT may mean a new public one
        for track in self.tracks.values():
            device = track.record.device
            if device in devices:
                if track.failures and device in went_up:
                    track.retry_at = now  # the link came (back) up: retry failed records at once
                self._evaluate(track, now)
        self._prune_echoes()

    # ------------------------------------------------------------ option interface

    def _networks(self) -> set[str]:
        return {t.record.interface for t in self.tracks.values() if t.record.interface}

    def _rebind(self, networks: set[str] | None, now: float) -> None:
        """Ask netifd again for the device of `networks` (None: all); follow any that moved."""
        moved = False
        for track in self.tracks.values():
            record = track.record
            if record.interface is None or (networks is not None and record.interface not in networks):
                continue
            bound = ubus.bind(record, self.resolve)
            if bound.device != record.device:
                track.record = bound
                self._evaluate(track, now)
                moved = True
        if moved:
            self._prune_echoes()

    def _listen_ubus(self) -> None:
        """Follow netifd's ifup/ifdown events while some record names a network."""
        if self.listener is not None or not self._networks() or self.sel is None:
            return
        try:
            self.listener = ubus.Listener()
        except OSError as e:
            log.error("cannot follow netifd's events (ubus listen: %s); devices are asked again on link events only", e.strerror or e)
            return
        self.sel.register(self.listener, selectors.EVENT_READ, "ubus")

    def _on_ubus(self, now: float) -> None:
        networks, alive = self.listener.read()
        if networks:
            self._rebind(networks, now)
        if not alive:
            log.warning("ubus listen ended; devices are asked again on link events only")
            self.sel.unregister(self.listener)
            self.listener.close()
            self.listener = None

    # ------------------------------------------------------------ the echo

    def _echo_check(self, record, now: float) -> EchoCheck:
        key = echo_key(record)
        check = self.echoes.get(key)
        if check is None:
            check = self.echoes[key] = EchoCheck(*key, next_at=now)
        return check

    def _prune_echoes(self) -> None:
        """Forget the checks no record needs any more: their timers stop."""
        needed = {echo_key(t.record) for t in self.tracks.values() if t.wanted is not None and t.wanted.needs_echo}
        for key in self.echoes.keys() - needed:
            log.info("%s: no longer needed; stopped", self.echoes.pop(key).label)

    def _run_echoes(self, now: float) -> None:
        """Run the echo rounds that are due, then re-decide the records that use them."""
        for key, check in list(self.echoes.items()):
            if check.next_at is None or check.next_at > now:
                continue
            try:
                result = echo.ask(self.echo_sources, check.family, check.device, self.echo_quorum, check.health)
            except Exception as e:  # a bug must not end the daemon: log, back off, go on
                log.error("%s failed unexpectedly: %s: %s", check.label, type(e).__name__, e, exc_info=log.isEnabledFor(10))
                result = echo.Agreement(None, "the echo round failed unexpectedly (see log)")
            after = time.monotonic()
            check.failures = 0 if result.address is not None else check.failures + 1
            delay = echo.next_check(result.address is not None, check.failures, self.config.agent.echo_interval, random.random())
            check.next_at = after + delay
            self._say_round(check, result, delay)
            check.result = result
            for track in self.tracks.values():
                if echo_key(track.record) == key:
                    self._evaluate(track, after)

    def _say_round(self, check: EchoCheck, result: echo.Agreement, delay: float) -> None:
        """Log a round: each rejection (warning when new), and the outcome."""
        for shown, answer in result.answers:
            if answer.address is not None:
                check.said.pop(shown, None)
                log.debug("%s: %s: %s", check.label, shown, answer.address)
            elif check.said.get(shown) != answer.rejected:
                check.said[shown] = answer.rejected
                log.warning("%s: %s rejected: %s", check.label, shown, answer.rejected)
            else:
                log.info("%s: %s rejected again: %s", check.label, shown, answer.rejected)
        if result.address is not None:
            check.said_outcome = None
            before = check.result.address if check.result is not None else None
            (log.info if result.address != before else log.debug)("%s: %s; next check in %d s", check.label, result, delay)
        elif str(result) != check.said_outcome:
            check.said_outcome = str(result)
            log.warning("%s: %s; next try in %.1f s", check.label, result, delay)
        else:
            log.info("%s: still no agreement; next try in %.1f s", check.label, delay)

    # ------------------------------------------------------------ acting

    def _act(self, now: float) -> None:
        due = [t for t in self.tracks.values() if t.retry_at is not None and t.retry_at <= now and t.wanted and t.wanted.address]
        if not due:
            return
        wanted = {t.record: t.wanted.address for t in due}
        try:
            outcomes = sync(self.config, wanted, self.targets)
        except Exception as e:  # a bug must not end the daemon: log, back off, go on
            log.error("update round failed unexpectedly: %s: %s", type(e).__name__, e, exc_info=log.isEnabledFor(10))
            outcomes = {t.record: None for t in due}
        wall = time.time()
        after = time.monotonic()
        for track in due:
            outcome = outcomes.get(track.record)
            if outcome is not None and outcome.ok:
                old = track.confirmed
                track.confirmed = outcome.address
                track.confirmed_at = wall
                track.failures = 0
                track.retry_at = None
                track.last_error = None
                if outcome.changed:
                    track.changed_at = wall
                    old_text = ", ".join(sorted(outcome.old.rdatas)) or old or ""
                    self._run_hook(track, old_text, outcome.address, after)
            else:
                track.failures += 1
                track.last_error = outcome.error if outcome is not None else "unexpected error (see log)"
                track.error_at = wall
                delay = plan.backoff(track.failures, random.random())
                track.retry_at = after + delay
                log.info("%s %s: retry %d in %.1f s", track.record.name, track.record.type, track.failures, delay)
        self._write_state()

    def _write_state(self) -> None:
        self.statefile.write(state.render([t.as_state() for t in self.tracks.values()], time.time()))

    # ------------------------------------------------------------ hooks

    def _run_hook(self, track: Track, old: str, new: str, now: float) -> None:
        hook = self.config.agent.hook
        if not hook:
            return
        env = dict(os.environ)
        env.update(
            DDNS_EDGE_NAME=track.record.name,
            DDNS_EDGE_TYPE=track.record.type,
            DDNS_EDGE_OLD=old,
            DDNS_EDGE_NEW=new,
            DDNS_EDGE_SOURCE=track.wanted.origin if track.wanted else "",
        )
        what = f"hook {hook} for {track.record.name} {track.record.type}"
        try:
            proc = subprocess.Popen([hook], env=env, stdin=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        except OSError as e:
            log.error("%s: cannot run it: %s", what, e.strerror or e)
            return
        self.hooks.append((proc, now + self.config.agent.hook_timeout, what))

    def _reap_hooks(self, now: float) -> None:
        alive = []
        for proc, deadline, what in self.hooks:
            code = proc.poll()
            if code is None and now >= deadline:
                log.error("%s: still running after %d s; killed", what, self.config.agent.hook_timeout)
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                proc.wait()
            elif code is None:
                alive.append((proc, deadline, what))
            elif code != 0:
                log.error("%s: exited with status %d", what, code)
            else:
                log.debug("%s: done", what)
        self.hooks = alive

    # ------------------------------------------------------------ reload

    def _reload(self, now: float) -> None:
        from ddns_edge import config as config_mod

        self.reload_wanted = False
        try:
            new = config_mod.load(self.config_path)
        except ConfigError as e:
            log.error("config not reloaded, the old one stays in use: %s", e)
            return
        report.set_level(self.log_level or new.agent.log_level)
        if new.agent.state_dir != self.config.agent.state_dir:
            self.statefile = state.StateFile(new.agent.state_dir)
        self.targets = Targets()
        self._adopt(new)
        self._listen_ubus()
        for track in self.tracks.values():
            self._evaluate(track, now)
        self._prune_echoes()
        log.info("config reloaded: %d record(s)", len(self.tracks))
        self._write_state()

    # ------------------------------------------------------------ the loop

    def _deadline(self) -> float | None:
        times = [t.retry_at for t in self.tracks.values() if t.retry_at is not None]
        times += [deadline for _, deadline, _ in self.hooks]
        times += [c.next_at for c in self.echoes.values() if c.next_at is not None]
        return min(times) if times else None

    def _resync_kernel(self, sub: Subscription, now: float) -> None:
        changed = self.view.reset(sub.dump())
        if self._networks():
            self._rebind(None, now)
        self._evaluate_devices(changed, now)

    def run(self) -> int:
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        old_handlers = {}

        def stop(signum, frame):
            self.stopping = True
            raise Stop()

        def hup(signum, frame):
            self.reload_wanted = True

        def nothing(signum, frame):
            pass

        for signum, handler in ((signal.SIGTERM, stop), (signal.SIGINT, stop), (signal.SIGHUP, hup), (signal.SIGCHLD, nothing)):
            old_handlers[signum] = signal.signal(signum, handler)
        old_wakeup = signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
        dnsupdate.interrupt_with(wake_r.fileno(), self._check_stop)
        sub = None
        try:
            sub = Subscription(self.rcvbuf)  # subscribe first, then dump: no event falls between
            now = time.monotonic()
            self.view.reset(sub.dump())
            for track in self.tracks.values():
                self._evaluate(track, now)
            self._prune_echoes()
            self._write_state()
            log.info("following %d record(s); waiting for kernel events", len(self.tracks))
            with selectors.DefaultSelector() as sel:
                self.sel = sel
                sel.register(sub, selectors.EVENT_READ, "netlink")
                sel.register(wake_r, selectors.EVENT_READ, "wake")
                self._listen_ubus()
                while True:
                    if self.reload_wanted:  # (a signal's wakeup byte may have been read during an exchange)
                        self._reload(time.monotonic())
                    self._run_echoes(time.monotonic())
                    self._check_stop()
                    now = time.monotonic()
                    self._act(now)
                    self._check_stop()
                    self._reap_hooks(time.monotonic())
                    deadline = self._deadline()
                    timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                    ready = sel.select(timeout)
                    self._check_stop()
                    now = time.monotonic()
                    for key, _ in ready:
                        if key.data == "wake":
                            try:
                                while wake_r.recv(4096):
                                    pass
                            except BlockingIOError:
                                pass
                        elif key.data == "ubus":
                            self._on_ubus(now)
                        else:
                            self._on_netlink(sub, now)
        except Stop:
            log.info("stopping")
            return 0
        finally:
            dnsupdate.interrupt_with(None)
            signal.set_wakeup_fd(old_wakeup)
            for signum, handler in old_handlers.items():
                signal.signal(signum, handler)
            if sub is not None:
                sub.close()
            if self.listener is not None:
                self.listener.close()
                self.listener = None
            self.sel = None
            wake_r.close()
            wake_w.close()

    def _check_stop(self) -> None:
        if self.stopping:
            raise Stop()

    def _on_netlink(self, sub: Subscription, now: float) -> None:
        try:
            messages = sub.read()
        except Subscription.Overflow:
            log.warning("kernel event queue overflowed (ENOBUFS); reading all links and addresses again")
            self._resync_kernel(sub, now)
            return
        devices = set()
        links = False
        for msg in messages:
            name = self.view.apply(msg)
            if name is not None:
                devices.add(name)
                links = links or msg["header"]["type"] in (RTM_NEWLINK, RTM_DELLINK)
        if links and self._networks():
            self._rebind(None, now)  # a device came or went: netifd may have moved a network
        if devices:
            self._evaluate_devices(devices, now)


def run(config, config_path: str, log_level: str | None = None) -> int:
    rcvbuf = int(os.environ.get("DDNS_EDGE_RCVBUF", "0")) or None  # tests shrink it to provoke ENOBUFS
    return Agent(config, config_path, log_level, rcvbuf).run()
