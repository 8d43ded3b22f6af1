"""`ddns-edge run`: the shell around schedule.py. One thread, one event loop.

The loop sleeps in select() on the rtnetlink socket (link, address and route events), a wakeup
socket written by signal handlers (SIGHUP reload, SIGCHLD of a hook; the handlers only
record the signal and wake the loop), netifd's events (`ubus listen`, only while a record
names an OpenWrt network), and the schedule's deadline (None: no timer at all). Each
wakeup drains every queued event before acting, so a burst ends in one update to the final
address, with no delay added to a lone change.

What to do is the schedule's to say; this module does it (asks netifd, runs echo rounds,
syncs, runs and kills hooks, writes the state file, logs the schedule's notes) and feeds
back what happened. It holds no decision of its own.
"""

from __future__ import annotations

import os
import random
import selectors
import signal
import socket
import subprocess
import time
from typing import Callable

from ddns_edge import config as config_mod
from ddns_edge import dnsupdate, report, state, ubus
from ddns_edge.devices import View
from ddns_edge.errors import ConfigError
from ddns_edge.model import Agreement, Config, Outcome, Record, RouteChange
from ddns_edge.netlink import Subscription
from ddns_edge.schedule import EchoRound, Hook, Schedule
from ddns_edge.sync import Targets, sync

log = report.log


class Stop(BaseException):
    """Raised by the SIGTERM/SIGINT handler: leave the loop now, even mid-update.

    A BaseException, so that no `except Exception` on the way (logging, the echo) takes it
    for an error. Where a library swallows it anyway (dnspython wraps any exception met
    while parsing), the `stopping` flag remains, checked after every step that may block
    and, during an exchange, by dnsupdate's wait on the signal wakeup socket."""


class Loop:
    def __init__(self, config: Config, config_path: str, log_level: str | None = None, rcvbuf: int | None = None,
                 ask: Callable[..., Agreement] | None = None, sync: Callable[..., dict[Record, Outcome]] = sync):
        self.ask = ask  # echo.ask (imported at the first round) and sync.sync; tests hand in stand-ins
        self.sync = sync
        self.config = config
        self.config_path = config_path
        self.log_level = log_level
        self.rcvbuf = rcvbuf
        self.schedule = Schedule(config)
        self.view = View()
        self.targets = Targets()
        self.statefile = state.StateFile(config.agent.state_dir)
        self.resolve = ubus.Resolver()  # option interface: network name -> device, through netifd
        self.listener: ubus.Listener | None = None
        self.hooks: dict[int, tuple[subprocess.Popen, str]] = {}
        self.sel: selectors.BaseSelector | None = None
        self.sub: Subscription | None = None
        self.reload_wanted = False
        self.stopping = False

    # ------------------------------------------------------------ doing what is due

    def _step(self) -> None:
        """Do what the schedule says is due now, feeding back what happened. What the schedule
        has to say is said before each step that may block, so the log keeps the order of events."""
        s = self.schedule
        s.tick(time.monotonic())
        self._say()
        for network in s.due(time.monotonic()).networks:
            s.bound(network, self.resolve(network), time.monotonic())
        self._say()
        for rnd in s.due(time.monotonic()).echo:
            s.echoed(rnd.key, self._ask_echo(rnd), time.monotonic(), random.random())
            self._say()
            self._check_stop()
        wanted = s.due(time.monotonic()).sync
        if wanted:
            try:
                outcomes = self.sync(self.config, wanted, self.targets, timeout=s.timeout)
            except Exception as e:  # a bug must not end the daemon: log, back off, go on
                log.error("update round failed unexpectedly: %s: %s", type(e).__name__, e, exc_info=log.isEnabledFor(10))
                outcomes = {record: None for record in wanted}
            for hook in s.synced(outcomes, time.monotonic(), time.time(), random.random()):
                self._run_hook(hook)
            self._say()
            self._check_stop()
        self._reap_hooks()
        for pid in s.due(time.monotonic()).kill:
            self._kill_hook(pid)
        rows = s.take_rows(time.monotonic(), time.time())
        if rows is not None:
            self.statefile.write(state.render(rows, time.time()))

    def _ask_echo(self, rnd: EchoRound) -> Agreement:
        # echo.py (ssl, subprocess, the resolver) is imported at the first round: most routers
        # have a public WAN address and never need it (about 2 MB of RSS).
        from ddns_edge import echo

        family, device = rnd.key
        sources, quorum = echo.sources_of(self.config.agent)
        try:
            return (self.ask or echo.ask)(sources, family, device, quorum, rnd.health)
        except Exception as e:  # a bug must not end the daemon: log, back off, go on
            log.error("echo round failed unexpectedly: %s: %s", type(e).__name__, e, exc_info=log.isEnabledFor(10))
            return Agreement(None, "the echo round failed unexpectedly (see log)")

    def _say(self) -> None:
        for level, line in self.schedule.take_notes():
            log.log(level, "%s", line)

    # ------------------------------------------------------------ hooks

    def _run_hook(self, hook: Hook) -> None:
        path = self.config.agent.hook
        env = dict(os.environ, DDNS_EDGE_NAME=hook.record.name, DDNS_EDGE_TYPE=hook.record.type,
                   DDNS_EDGE_OLD=hook.old, DDNS_EDGE_NEW=hook.new, DDNS_EDGE_SOURCE=hook.source)
        what = f"hook {path} for {hook.record.label}"
        try:
            proc = subprocess.Popen([path], env=env, stdin=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        except OSError as e:
            log.error("%s: cannot run it: %s", what, e.strerror or e)
            return
        self.hooks[proc.pid] = (proc, what)
        self.schedule.hook_started(proc.pid, time.monotonic())

    def _reap_hooks(self) -> None:
        for pid, (proc, what) in list(self.hooks.items()):
            code = proc.poll()
            if code is None:
                continue
            if code != 0:
                log.error("%s: exited with status %d", what, code)
            else:
                log.debug("%s: done", what)
            del self.hooks[pid]
            self.schedule.hook_ended(pid)

    def _kill_hook(self, pid: int) -> None:
        proc, what = self.hooks.pop(pid)
        log.error("%s: still running after %d s; killed", what, self.config.agent.hook_timeout)
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()
        self.schedule.hook_ended(pid)

    # ------------------------------------------------------------ events

    def _on_netlink(self, sub: Subscription) -> None:
        try:
            events = sub.read()
        except Subscription.Overflow:
            log.warning("kernel event queue overflowed (ENOBUFS); reading all links and addresses again")
            self._feed(self.view.reset(sub.dump()), resync=True)
            self.schedule.routes(time.monotonic())  # a route event may have been lost with the rest
            return
        changed = {name for name in map(self.view.apply, events) if name is not None}
        if changed:
            self._feed(changed)
        if any(isinstance(e, RouteChange) and not e.gone for e in events):
            self.schedule.routes(time.monotonic())

    def _feed(self, names: set[str], resync: bool = False) -> None:
        went_up, self.view.went_up = self.view.went_up, set()
        self.schedule.kernel({name: self.view.device(name) for name in names}, went_up, time.monotonic(), resync)

    def _on_ubus(self) -> None:
        networks, alive = self.listener.read()
        self.schedule.netifd(networks)
        if not alive:
            log.warning("ubus listen ended; devices are asked again on link events only")
            self.sel.unregister(self.listener)
            self.listener.close()
            self.listener = None

    def _listen_ubus(self) -> None:
        """Follow netifd's ifup/ifdown events while some record names a network."""
        if self.listener is not None or not self.schedule.follows_networks:
            return
        try:
            self.listener = ubus.Listener()
        except OSError as e:
            log.error("cannot follow netifd's events (ubus listen: %s); devices are asked again on link events only", e.strerror or e)
            return
        self.sel.register(self.listener, selectors.EVENT_READ, "ubus")

    def _reload(self) -> None:
        self.reload_wanted = False
        try:
            new = config_mod.load(self.config_path)
        except ConfigError as e:
            log.error("config not reloaded, the old one stays in use: %s", e)
            return
        report.set_level(self.log_level or new.agent.log_level)
        if new.agent.state_dir != self.config.agent.state_dir:
            self.statefile = state.StateFile(new.agent.state_dir)
        self.config = new
        self.targets = self.targets.fresh()  # zones and primaries are found afresh
        self.schedule.reload(new, time.monotonic())
        self._listen_ubus()
        if self.schedule.follows_neighbours and not self.sub.neighbours:
            self.sub.follow_neighbours()  # a record by MAC is new: read the neighbour table too
            self._feed(self.view.reset(self.sub.dump()), resync=True)

    # ------------------------------------------------------------ the loop

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
            if self.schedule.follows_neighbours:
                sub.follow_neighbours()
            self.sub = sub
            self.view.reset(sub.dump())
            self.view.went_up = set()
            self.schedule.start(self.view.all(), time.monotonic())
            self._say()
            log.info("following %d record(s); waiting for kernel events", len(self.schedule.tracks))
            with selectors.DefaultSelector() as sel:
                self.sel = sel
                sel.register(sub, selectors.EVENT_READ, "netlink")
                sel.register(wake_r, selectors.EVENT_READ, "wake")
                self._listen_ubus()
                while True:
                    if self.reload_wanted:  # (a signal's wakeup byte may have been read during an exchange)
                        self._reload()
                    self._step()
                    self._check_stop()
                    deadline = self.schedule.deadline()
                    timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                    ready = sel.select(timeout)
                    self._check_stop()
                    for key, _ in ready:
                        if key.data == "wake":
                            _drain(wake_r)
                        elif key.data == "ubus":
                            self._on_ubus()
                        else:
                            self._on_netlink(sub)
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


def _drain(sock: socket.socket) -> None:
    try:
        while sock.recv(4096):
            pass
    except BlockingIOError:
        pass


def run(config: Config, config_path: str, log_level: str | None = None) -> int:
    rcvbuf = int(os.environ.get("DDNS_EDGE_RCVBUF", "0")) or None  # tests shrink it to provoke ENOBUFS
    return Loop(config, config_path, log_level, rcvbuf).run()
