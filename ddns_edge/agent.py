"""`ddns-edge run`: the shell around schedule.py. One thread, one event loop.

The loop sleeps in select() on the rtnetlink socket (link, address and route events), a wakeup
socket written by signal handlers (SIGHUP reload, SIGCHLD of a hook, SIGUSR1 from the
package's mwan3 hotplug script: mwan3track said connected or disconnected, so mwan3 is asked
again; the handlers only record the signal and wake the loop), netifd's events (`ubus listen`, only while a record
names an OpenWrt network), and the schedule's deadline (None: no timer at all). Each
wakeup drains every queued event before acting, so a burst ends in one update to the final
address, with no delay added to a lone change.

What to do, and what to say, is the schedule's (a Plan at a time); this module does it
(logs the plan's lines, asks netifd, runs an echo round, syncs, runs and kills hooks, writes
the state file) and feeds back what happened, then asks for the next plan, taking in the
events that came meanwhile, until a plan is empty. Its own lines are only for its I/O
failing unexpectedly (a bug, with its traceback at debug level) and for stopping.
"""

from __future__ import annotations

import os
import random
import selectors
import signal
import socket
import subprocess
import time
from types import FrameType
from typing import Any, Callable, Iterable, Mapping

from ddns_edge import config as config_mod
from ddns_edge import dnsupdate, netlink, report, state, ubus, wans
from ddns_edge.devices import Change, View
from ddns_edge.echo_checks import EchoRound, Health
from ddns_edge.errors import ConfigError
from ddns_edge.model import Agreement, Config, Device, Outcome, Record, RouteChange
from ddns_edge.netlink import Subscription
from ddns_edge.schedule import Hook, Schedule
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
                 ask: Callable[..., tuple[Agreement, Health]] | None = None, sync: Callable[..., dict[Record, Outcome]] = sync):
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
        self.hooks: dict[int, subprocess.Popen] = {}
        self.sel: selectors.BaseSelector | None = None
        self.sub: Subscription | None = None
        self.wake: int | None = None  # the signal wakeup socket, while run() runs
        self.reload_wanted = False
        self.mwan3_wanted = False  # SIGUSR1: mwan3track said connected/disconnected (the package's hotplug script)
        self.stopping = False

    # ------------------------------------------------------------ doing what the schedule says

    def _step(self) -> bool:
        """Do one plan of the schedule, feeding back what happened; False when it was empty."""
        s = self.schedule
        self._reap_hooks()
        plan = s.plan(time.monotonic(), time.time())
        for level, line in plan.notes:
            log.log(level, "%s", line)
        for pid in plan.kill:
            self._kill_hook(pid)
        for hook in plan.hooks:
            self._run_hook(hook)
        if plan.follow_netifd:
            self._listen_ubus()
        if plan.follow_neighbours and not self._netlink().neighbours:
            self._netlink().follow_neighbours()  # a record by MAC is new: read the neighbour table too
            self._reread(overflowed=False)
        if plan.ask_mwan3:
            self._ask_mwan3()
        if plan.read_routes:
            self._read_routes()
        if plan.fresh_targets:
            self.targets = self.targets.fresh()
        for record in plan.forget_targets:
            self.targets.forget(record)
        if plan.network is not None:
            s.bound(plan.network, self.resolve(plan.network), time.monotonic())
        if plan.echo is not None:
            result, health = self._ask_echo(plan.echo)
            s.echoed(plan.echo.key, result, health, time.monotonic(), random.random())
        if plan.sync is not None:
            outcomes: Mapping[Record, Outcome | None]
            dnsupdate.leave_by(dict(plan.sync.leave_by))
            try:
                with dnsupdate.interruptible(self.wake, self._check_stop):  # a signal ends a wait for the server
                    outcomes = self.sync(self.config, plan.sync.wanted, self.targets, timeout=plan.sync.timeout)
            except Exception as e:  # a bug must not end the daemon: log, back off, go on
                log.error("update round failed unexpectedly: %s: %s", type(e).__name__, e, exc_info=log.isEnabledFor(10))
                outcomes = {record: None for record in plan.sync.wanted}
            s.synced(outcomes, time.monotonic(), time.time(), random.random())
        if plan.rows is not None:
            self.statefile.write(state.render(list(plan.rows), time.time()))
        return bool(plan)

    def _ask_mwan3(self) -> None:
        interfaces = wans.parse_interfaces(ubus.mwan3_status("interfaces") or "")
        policies = {}
        if interfaces is not None and any(r.mwan3_policy for r in self.config.enabled_records()):
            policies = wans.parse_policies(ubus.mwan3_status("policies") or "")
        self.schedule.mwan3_status(interfaces, policies, time.monotonic())

    def _read_routes(self) -> None:
        try:
            routes = netlink.default_routes()
        except OSError as e:
            log.error("cannot read the default routes: %s", e.strerror or e)
            routes = []
        names = self.view.names  # ifindex -> device name
        self.schedule.default_routes([(f, names[i], m) for f, i, m in routes if i in names], time.monotonic())

    def _ask_echo(self, rnd: EchoRound) -> tuple[Agreement, Health]:
        # echo.py (ssl, subprocess, the resolver) is imported at the first round: most routers
        # have a public WAN address and never need it (about 2 MB of RSS).
        from ddns_edge import echo

        family, device = rnd.key
        sources, quorum = echo.sources_of(self.config.agent)
        try:
            return (self.ask or echo.ask)(sources, family, device, quorum, rnd.health)
        except Exception as e:  # a bug must not end the daemon: log, back off, go on
            log.error("echo round failed unexpectedly: %s: %s", type(e).__name__, e, exc_info=log.isEnabledFor(10))
            return Agreement(None, "the echo round failed unexpectedly (see log)"), rnd.health

    # ------------------------------------------------------------ hooks

    def _run_hook(self, hook: Hook) -> None:
        env = dict(os.environ, DDNS_EDGE_NAME=hook.record.name, DDNS_EDGE_TYPE=hook.record.type,
                   DDNS_EDGE_OLD=hook.old, DDNS_EDGE_NEW=hook.new, DDNS_EDGE_SOURCE=hook.source)
        try:
            proc = subprocess.Popen([hook.path], env=env, stdin=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        except OSError as e:
            self.schedule.hook_failed(hook, e.strerror or str(e))
            return
        self.hooks[proc.pid] = proc
        self.schedule.hook_started(proc.pid, hook, time.monotonic())

    def _reap_hooks(self) -> None:
        for pid, proc in list(self.hooks.items()):
            code = proc.poll()
            if code is not None:
                del self.hooks[pid]
                self.schedule.hook_ended(pid, code)

    def _kill_hook(self, pid: int) -> None:
        proc = self.hooks.pop(pid)
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()

    # ------------------------------------------------------------ events

    def _on_netlink(self, sub: Subscription) -> None:
        try:
            events = sub.read()
        except Subscription.Overflow:
            self._reread(overflowed=True)
            return
        changes = [change for change in map(self.view.apply, events) if change is not None]
        routes = [e for e in events if isinstance(e, RouteChange)]
        if changes or routes:
            self.schedule.kernel(*self._devices(changes), routes, time.monotonic())

    def _reread(self, overflowed: bool) -> None:
        changes = self.view.reset(self._netlink().dump())
        self.schedule.reread(*self._devices(changes), time.monotonic(), overflowed)

    def _devices(self, changes: Iterable[Change]) -> tuple[dict[str, Device | None], set[str]]:
        """The changed devices as they are now, and those whose link came up."""
        changes = list(changes)
        return {c.name: self.view.device(c.name) for c in changes}, {c.name for c in changes if c.came_up}

    def _netlink(self) -> Subscription:
        if self.sub is None:
            raise RuntimeError("the loop is not running")
        return self.sub

    def _selector(self) -> selectors.BaseSelector:
        if self.sel is None:
            raise RuntimeError("the loop is not running")
        return self.sel

    def _on_ubus(self) -> None:
        listener = self.listener
        if listener is None:  # (only registered while there is one)
            return
        networks, alive = listener.read()
        self.schedule.netifd(networks)
        if not alive:
            self.schedule.netifd_lost()
            self._selector().unregister(listener)
            listener.close()
            self.listener = None

    def _listen_ubus(self) -> None:
        """Follow netifd's ifup/ifdown events (the schedule says when: some record names a network)."""
        if self.listener is not None:
            return
        try:
            self.listener = ubus.Listener()
        except OSError as e:
            self.schedule.netifd_lost(e.strerror or str(e))
            return
        self._selector().register(self.listener, selectors.EVENT_READ, "ubus")

    def _reload(self) -> None:
        self.reload_wanted = False
        try:
            new = config_mod.load(self.config_path)
        except ConfigError as e:
            self.schedule.reload_failed(str(e))
            return
        report.set_level(self.log_level or new.agent.log_level)
        if new.agent.state_dir != self.config.agent.state_dir:
            self.statefile = state.StateFile(new.agent.state_dir)
        self.config = new
        self.schedule.reload(new, time.monotonic())

    # ------------------------------------------------------------ the loop

    def run(self) -> int:
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        old_handlers: dict[int, Callable[[int, FrameType | None], Any] | int | None] = {}

        def stop(signum, frame):
            self.stopping = True
            raise Stop()

        def hup(signum, frame):
            self.reload_wanted = True

        def usr1(signum, frame):
            self.mwan3_wanted = True

        def nothing(signum, frame):
            pass

        for signum, handler in ((signal.SIGTERM, stop), (signal.SIGINT, stop), (signal.SIGHUP, hup), (signal.SIGCHLD, nothing),
                                (signal.SIGUSR1, usr1)):
            old_handlers[signum] = signal.signal(signum, handler)
        old_wakeup = signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
        self.wake = wake_r.fileno()
        sub = None
        try:
            sub = Subscription(self.rcvbuf)  # subscribe first, then dump: no event falls between
            if self.schedule.follows_neighbours:
                sub.follow_neighbours()
            self.sub = sub
            self.view.reset(sub.dump())
            self.schedule.start(self.view.all(), time.monotonic())
            with selectors.DefaultSelector() as sel:
                self.sel = sel
                sel.register(sub, selectors.EVENT_READ, "netlink")
                sel.register(wake_r, selectors.EVENT_READ, "wake")
                while True:
                    if self.reload_wanted:  # (a signal's wakeup byte may have been read during an exchange)
                        self._reload()
                    if self.mwan3_wanted:
                        self.mwan3_wanted = False
                        self.schedule.mwan3_event()
                    did = self._step()
                    self._check_stop()
                    timeout: float | None = 0.0  # after a plan: take in what came meanwhile, and ask for the next
                    if not did:
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
            self.wake = None
            signal.set_wakeup_fd(old_wakeup)
            for number, previous in old_handlers.items():
                signal.signal(number, previous)
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
