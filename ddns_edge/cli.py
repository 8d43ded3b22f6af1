"""Command line: parse arguments, call one function per command, map errors to exit codes.

Each command imports what it needs inside its function, so `keygen` loads no dnspython
and `check` no pyroute2 (tests/unit/test_cli.py pins what each one loads).

Exit status: 0 success, 1 a runtime failure (an update that did not land), 2 bad usage,
config or key. Expected failures are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import TYPE_CHECKING, Callable

from ddns_edge import __version__, algorithms, lean, report
from ddns_edge.errors import DdnsEdgeError
from ddns_edge.model import Agreement, Config, Detection, EchoKey, Record, Wanted

if TYPE_CHECKING:
    from ddns_edge.devices import View

DEFAULT_CONFIG = "/etc/config/ddns-edge"
SPEAKS_DNS = ("once", "detect", "run")  # and check --online: dnspython is loaded lean (lean.py) before them only


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ddns-edge",
        description="Keep DNS records on the router's WAN address, driven by kernel events, with TSIG-signed RFC 2136 updates.",
    )
    parser.add_argument("-c", "--config", default=DEFAULT_CONFIG, metavar="PATH", help=f"uci config file (default {DEFAULT_CONFIG})")
    parser.add_argument("-v", "--verbose", action="store_const", const="debug", dest="log_level", help="log level debug")
    parser.add_argument("--log-level", choices=sorted(report.LEVELS, key=report.LEVELS.__getitem__), help="override the config's log_level")
    parser.add_argument("--syslog", action="store_true",
                        help="log to the system log, each line at its own priority (the procd init script does this)")
    parser.add_argument("--syslog-socket", default=report.SYSLOG_SOCKET, metavar="PATH",
                        help=f"the system log's socket (default {report.SYSLOG_SOCKET})")
    parser.add_argument("--version", action="version", version=f"ddns-edge {__version__}")
    parser.add_argument("--time-limit", type=_seconds, metavar="SECONDS",
                        help="give up after this many seconds, saying so (exit 1): for callers that must answer in time (LuCI)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser("once", help="find each record's address, update what differs, exit")
    check = sub.add_parser("check", help="validate the config and keys")
    check.add_argument("--online", action="store_true", help="also prove each key against its server with a signed SOA query")
    sub.add_parser("detect", help="print each record's address and where it came from")
    sub.add_parser("run", help="stay in the foreground, follow kernel events, update on change")
    status = sub.add_parser("status", help="print what the running agent last wrote to its state file")
    status.add_argument("--json", action="store_true", help="the state file as it is, for scripts")
    shown = sub.add_parser("config", help="print the config without its secrets (TSIG secrets, echo passwords, exec: commands)")
    shown.add_argument("--json", action="store_true", help="as {\"sections\": [...]}, for scripts (LuCI's read-only view)")
    keygen = sub.add_parser("keygen", help="print a new TSIG key as a BIND key clause, with the server side as comments")
    keygen.add_argument("name", metavar="NAME", help="the TSIG key name, e.g. ddns-key")
    *others, last = [name + (" (default)" if name == algorithms.DEFAULT else "") for name in algorithms.ALGORITHMS]
    keygen.add_argument("-a", "--algorithm", default=algorithms.DEFAULT, metavar="ALG", help=f"{', '.join(others)} or {last}")
    keygen.add_argument("--zone", metavar="ZONE", help="fill the server-side examples in for this zone (default: example.com)")
    return parser


def _seconds(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 3600:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds 1..3600")
    return int(text)


class TimeLimit(BaseException):
    """--time-limit ran out (a BaseException, as KeyboardInterrupt: no `except Exception` on
    the way takes it for a failure of its own, and every `finally` runs: an exec: echo
    source's command is killed)."""


def _time_limit(seconds: int) -> None:
    def expired(signum, frame):
        raise TimeLimit(f"gave up after {seconds} s (--time-limit {seconds})")
    signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    report.setup(args.log_level or "info", syslog=args.syslog_socket if args.syslog else None)
    if args.command in SPEAKS_DNS or getattr(args, "online", False):
        lean.dnspython()
    try:
        if args.time_limit:
            _time_limit(args.time_limit)
        return COMMANDS[args.command](args)
    except DdnsEdgeError as e:
        print(f"ddns-edge: {e}", file=sys.stderr)
        return e.exit_status
    except TimeLimit as e:
        print(f"ddns-edge: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if args.time_limit:
            signal.alarm(0)


def _load(args: argparse.Namespace) -> Config:
    from ddns_edge import config

    cfg = config.load(args.config)
    report.set_level(args.log_level or cfg.agent.log_level)
    return cfg


def _detect_all(cfg: Config, say_rejections: bool = True) -> dict[Record, Detection]:
    """{Record: Detection} for each enabled record, from the devices' addresses now, and
    from one echo round per address family and device for the records that need it."""
    from dataclasses import replace

    from ddns_edge import detect, devices, netlink, ubus

    view = devices.View()
    view.reset(netlink.dump(neighbours=any(r.mac for r in cfg.enabled_records())))
    resolve = ubus.Resolver()
    rounds: dict[EchoKey, Agreement] = {}
    out = {}
    wans_now = None  # made (mwan3 asked, routes read) for the first record of several WANs
    for config_record in cfg.enabled_records():
        record = config_record
        if record.wans:
            wans_now = wans_now or _wans_now(view)
            out[record] = wans_now(record, resolve)
            continue
        if record.interface is not None:
            record = replace(record, device=resolve(record.interface))
        device = view.device(record.device) if record.device is not None else None
        found = detect.detect(record, device)
        if found.needs_echo:
            key = detect.echo_key(record)
            if key not in rounds:
                rounds[key] = _echo_round(cfg, key, say_rejections)
            found = detect.detect(record, device, None, rounds[key])
        out[config_record] = found
    return out


def _wans_now(view: View) -> Callable[[Record, Callable[[str], str | None]], Detection]:
    """For records of several WANs: what mwan3 says (once), the default routes now, and a
    function of a record and a network resolver to its Detection (wans.detect_wans)."""
    from ddns_edge import netlink, ubus, wans

    interfaces = wans.parse_interfaces(ubus.mwan3_status("interfaces") or "")
    policies = wans.parse_policies(ubus.mwan3_status("policies") or "") if interfaces is not None else {}
    mwan3 = None if interfaces is None else wans.Mwan3(interfaces, policies)
    defaults = {(f, view.names.get(i)) for f, i, _ in netlink.default_routes()}

    def detect(record, resolve):
        family = 4 if record.type == "A" else 6
        given = []
        for name in record.wans:
            device = name if record.wans_are == "device" else resolve(name)
            given.append(wans.Wan(name, device, view.device(device) if device else None, (family, device) in defaults))
        return wans.detect_wans(record, given, mwan3)

    return detect


def _echo_round(cfg: Config, key: EchoKey, say_rejections: bool) -> Agreement:
    from ddns_edge import detect, echo

    sources, quorum = echo.sources_of(cfg.agent)
    result, _ = echo.ask(sources, *key, quorum)
    label = detect.echo_label(key)
    for shown, answer in result.answers:
        if answer.address is None and say_rejections:
            report.log.warning("%s: %s rejected: %s", label, shown, answer.rejected)
        else:
            report.log.debug("%s: %s: %s", label, shown, answer)
    report.log.debug("%s: %s", label, result)
    return result


def cmd_once(args: argparse.Namespace) -> int:
    from ddns_edge.sync import Targets, sync

    cfg = _load(args)
    wanted = {}
    failed = 0
    for record, found in _detect_all(cfg).items():
        if found.address is None:
            report.log.error("%s: %s; record left as it is", record.label, found)
            failed += 1
        else:
            wanted[record] = Wanted(found.address)
    outcomes = sync(cfg, wanted, Targets())
    for error in dict.fromkeys(o.error for o in outcomes.values() if not o.ok):
        report.log.error("%s", error)  # (no route too: `once` waits for none)
    failed += sum(not o.ok for o in outcomes.values())
    return 1 if failed else 0


def cmd_check(args: argparse.Namespace) -> int:
    cfg = _load(args)
    records = cfg.enabled_records()
    print(f"{cfg.path}: ok: {len(records)} record(s) enabled, {len(cfg.keys)} key(s)")
    if not args.online:
        return 0
    from ddns_edge import dnsupdate
    from ddns_edge.errors import UpdateError
    from ddns_edge.sync import Targets

    targets = Targets()
    proven = set()
    failed = 0
    for record in records:
        key = cfg.keys[record.key]
        try:
            target = targets(record)
            if (target, record.key) in proven:
                continue
            serial = dnsupdate.prove_key(target, key)
        except UpdateError as e:
            print(f"ddns-edge: {record.name} {record.type}: {e}", file=sys.stderr)
            failed += 1
            continue
        proven.add((target, record.key))
        print(f"key {key.name}: accepted by {target} for zone {target.zone} (serial {serial})")
    return 1 if failed else 0


def cmd_detect(args: argparse.Namespace) -> int:
    cfg = _load(args)
    missing = 0
    for record, found in _detect_all(cfg, say_rejections=False).items():  # printed below instead
        print(f"{record.name} {record.type} {found}")
        missing += found.address is None
        if found.needs_echo:
            for shown, answer in found.answers:
                print(f"  {shown}: {answer}")
    return 1 if missing else 0


def cmd_run(args: argparse.Namespace) -> int:
    from ddns_edge import agent

    cfg = _load(args)
    return agent.run(cfg, args.config, args.log_level)


def cmd_status(args: argparse.Namespace) -> int:
    import json

    from ddns_edge import state

    cfg = _load(args)
    try:
        data = state.read(cfg.agent.state_dir)
    except FileNotFoundError:
        print(f"ddns-edge: no state file in {cfg.agent.state_dir}: is `ddns-edge run` running?", file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:
        print(f"ddns-edge: {state.path_in(cfg.agent.state_dir)}: unreadable state file: {e}", file=sys.stderr)
        return 1
    print(json.dumps(data, indent=2) if args.json else state.format_table(data))
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    import json

    from ddns_edge import config

    sections = config.redacted(config.read_sections(args.config))
    if args.json:
        print(json.dumps({"sections": sections}, indent=2))
        return 0
    for section in sections:
        name = "" if section[".anonymous"] else f" '{section['.name']}'"
        print(f"config {section['.type']}{name}")
        for option, value in section.items():
            if option == "secret_set":
                print(f"\t# option secret: {'set' if value else 'empty'} (not shown)")
            elif not option.startswith("."):
                for v in value if isinstance(value, list) else [value]:
                    quoted = "'" + v.replace("'", "'\\''") + "'"
                    print(f"\t{'list' if isinstance(value, list) else 'option'} {option} {quoted}")
        print()
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    from ddns_edge import keygen

    sys.stdout.write(keygen.generate(args.name, args.algorithm, args.zone))
    return 0


COMMANDS = {"keygen": cmd_keygen, "once": cmd_once, "check": cmd_check, "detect": cmd_detect, "run": cmd_run, "status": cmd_status,
            "config": cmd_config}
