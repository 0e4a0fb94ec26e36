"""Station verbs: run, status, lend, lendings, mqtt-auth, and `sim member-code`."""
from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path

import httpx

from device_profiles import ProfileError
from drivers.locker.acl import write_broker_auth
from drivers.locker.link import LockerError
from kiosk.bootstrap import Part, bootstrap
from kiosk.cli import CliError, ConfigUnusable, emit
from kiosk.config import StationConfig, load_config
from kiosk.lifecycle import EXIT_RESTART
from kiosk.services.diagnostics import HEALTH_FILE_FRESH_S, CameraHealth, CentralProbe, StationHealth, report
from kiosk.services.lending import LendingRefused, list_lendings
from kiosk.station import Station
from kiosk.store import Store
from kiosk.tokens import TokenBook, TokenKeys, TokenRejected
from kiosk.watchdog import Watchdog

log = logging.getLogger(__name__)


def register(verbs: argparse._SubParsersAction, sim_verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("run", help="run the station (Kivy UI, or --headless)")
    p.add_argument("--headless", action="store_true", help="no UI: lockers, returns, uploads, receipts")
    p.add_argument("--windowed", action="store_true")
    p.add_argument("--screenshot-dir", type=Path, default=None)
    p.set_defaults(func=cmd_run)

    p = verbs.add_parser("status", help="lockers, slots, printer, outbox (JSON)")
    p.set_defaults(func=cmd_status)

    p = verbs.add_parser("diag", help="one JSON health report; exit 1 when something needs a person")
    p.add_argument("--watch", type=float, default=None, metavar="SECONDS", help="refresh every SECONDS")
    p.set_defaults(func=cmd_diag)

    p = verbs.add_parser("lend", help="borrow an item for a member code, or pay its deposit by QR (--pay)")
    p.add_argument("--type", required=True, choices=["umbrella", "power_bank", "stroller"])
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--member-code")
    who.add_argument("--pay", choices=["wechat", "alipay"], help="non-member: deposit by QR (kiosk.cli.payments)")
    p.add_argument("--pay-timeout", type=float, default=300.0, help="seconds to wait for the payment")
    p.set_defaults(func=cmd_lend)

    p = verbs.add_parser("lendings", help="list lendings (JSON lines)")
    p.add_argument("--open", action="store_true")
    p.add_argument("--limit", type=int, default=200)
    p.set_defaults(func=cmd_lendings)

    p = verbs.add_parser("mqtt-auth", help="write the broker's password file + ACL for this station's devices")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--station", action="append", default=[], metavar="ID=LOCKER,LOCKER",
                   help="a further station sharing the broker, with the lockers it may command (e.g. K02=U2,P2)")
    p.add_argument("--sim-control", action="store_true",
                   help="also write the simulator control user and topics (development only, never production)")
    p.set_defaults(func=cmd_mqtt_auth)

    p = sim_verbs.add_parser("member-code", help="print a member code valid right now (demo)")
    p.add_argument("member_id")
    p.set_defaults(func=cmd_member_code)


def load(args: argparse.Namespace) -> StationConfig:
    """The station's config, or exit EX_CONFIG naming the file and key (systemd does not restart on it)."""
    if not args.config:
        raise ConfigUnusable("--config FILE is required")
    try:
        return load_config(args.config)
    except ProfileError as exc:
        raise ConfigUnusable(str(exc)) from exc


def build_station(args: argparse.Namespace, parts: Part, announce: bool = False) -> Station:
    """The station with only `parts` (tools beside a running station never announce it)."""
    config = load(args)
    try:
        return bootstrap(config, parts=parts, announce=announce)
    except ProfileError as exc:
        raise ConfigUnusable(str(exc)) from exc
    except (LockerError, OSError) as exc:
        raise CliError(str(exc)) from exc


def cmd_member_code(args: argparse.Namespace) -> int:

    config = load(args)
    try:
        key = config.site_key()
    except ProfileError as exc:
        raise CliError(str(exc)) from exc
    emit({"member_id": args.member_id, "code": TokenBook(TokenKeys(key)).member_code(args.member_id)})
    return 0


def cmd_mqtt_auth(args: argparse.Namespace) -> int:
    config = load(args)
    stations: dict[str, list[str]] = {config.station_id: [lk.id for lk in config.lockers]}
    for spec in args.station:
        sid, sep, lockers = spec.partition("=")
        if not sep or sid in stations:
            raise CliError(f"--station {spec!r}: expected ID=LOCKER,LOCKER (each station commands only its own "
                           "lockers) with an id not given before")
        stations[sid] = [lk for lk in lockers.split(",") if lk]
    try:
        auth = write_broker_auth(config.site, stations, [], args.out, sim_control=args.sim_control)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    emit({"ok": True, "password_file": str(auth.password_file), "acl_file": str(auth.acl_file),
          "creds_dir": str(auth.creds_dir)})
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    station = build_station(args, Part.PRINTER)
    try:
        station.lockers.start()
        for locker_id in station.profiles:
            station.lockers.wait_for_state(locker_id, timeout=3.0)
        health = station.health().as_dict()
        health["open_lendings"] = len(station.lending.lendings(open_only=True))
        for item_type in sorted({p.item_type for p in station.lending.profiles.values()}):
            health.setdefault("available", {})[item_type] = asdict(station.lending.availability(item_type))
        emit(health)
    finally:
        station.stop()
    return 0


def cmd_lend(args: argparse.Namespace) -> int:
    station = build_station(args, Part.PRINTER)
    if args.pay:
        from kiosk.cli.payments import lend_paid

        return lend_paid(station, args)
    from kiosk.cli.payments import refuse_owed_fees

    refuse_owed_fees(station)  # a fee owed here blocks this borrow too, as on the screen
    try:
        try:
            member = station.tokens.verify_member(args.member_code)
        except TokenRejected as exc:
            emit({"ok": False, "error": exc.reason, "message": str(exc)})
            return 1
        station.start(handle_returns=False, background=False)
        try:
            result = station.lending.borrow(member, args.type)
        except (LendingRefused, LockerError) as exc:
            emit({"ok": False, "error": getattr(exc, "code", "locker_error"), "message": str(exc)})
            return 1
        receipt = result.receipt
        emit({"ok": True, "lending": asdict(result.lending), "return_token": result.return_token,
              "receipt": asdict(receipt) if receipt is not None and hasattr(receipt, "__dataclass_fields__")
              else None})
        return 0
    finally:
        station.stop()


def cmd_lendings(args: argparse.Namespace) -> int:
    config = load(args)
    store = Store(config.db_path)
    for lending in list_lendings(store, args.open, args.limit, newest_first=False):
        emit(asdict(lending))
    store.close()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run until stopped, whatever is missing outside the process: the broker, the centre, a printer or a
    camera may come later (each part reconnects by itself); only a config that can never work exits (78)."""
    station = build_station(args, Part.ALL, announce=True)
    if not args.headless and station.remote is not None:
        # before the command thread starts: its first fetch may come while Kivy is still importing, and a
        # screenshot command must then wait for the first frame, not be refused with "no_screen"
        station.remote.expect_display()
    station.start(wait=False)
    try:
        if args.headless:
            done = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: done.set())
            emit({"ok": True, "station": station.config.station_id, "running": "headless"})
            restart = station.lifecycle.restart_requested
            with Watchdog() as wd:
                while not done.wait(min(wd.interval_s, 0.5)) and not restart.is_set():
                    wd.ping()
        else:
            from kiosk.ui.app import run_ui  # Kivy: only the verb that draws pays for it

            run_ui(station, windowed=args.windowed, screenshot_dir=args.screenshot_dir)
    except KeyboardInterrupt:
        pass
    finally:
        station.stop()
    if station.lifecycle.restart_requested.is_set():
        log.warning("station.exit_for_restart status=%d", EXIT_RESTART)
        return EXIT_RESTART  # systemd's Restart=always starts us again (kiosk.service), as does `make run`
    return 0


def probe_central(url: str, timeout_s: float = 3.0) -> CentralProbe:
    try:
        answer = httpx.get(url.rstrip("/") + "/openapi.json", timeout=timeout_s)
        return CentralProbe(url, answer.status_code == 200, status=answer.status_code)
    except httpx.HTTPError as exc:
        return CentralProbe(url, False, error=type(exc).__name__)


def running_station_health(path: Path, fresh_s: float) -> StationHealth | None:
    """The running station's own health file, when it is fresh (the station process is alive)."""
    try:
        if time.time() - path.stat().st_mtime > fresh_s:
            return None
        data = json.loads(path.read_text())
        return StationHealth.from_dict(data) if isinstance(data, dict) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def cmd_diag(args: argparse.Namespace) -> int:
    station = build_station(args, Part.PRINTER)
    config = station.config
    try:
        try:
            station.lockers.start()
            reachable = True
        except LockerError:
            reachable = False
        for locker_id in station.profiles if reachable else ():
            station.lockers.wait_for_state(locker_id, timeout=2.0)
        while True:
            health = station.health()
            running = running_station_health(station.health_file, HEALTH_FILE_FRESH_S)
            camera, central, faults, services = health.camera, health.central, health.faults, health.services
            if running is not None:  # only the station process sees its camera, upload link and all its services
                camera, central, services = running.camera, running.central, running.services
                faults = tuple({*faults, *running.faults})
            elif config.camera is not None:
                camera = CameraHealth(connected=False, error="the station is not running")
            health = replace(health, camera=camera, central=central, faults=faults, services=services,
                             station_process=running is not None,
                             central_probe=probe_central(config.central.url) if config.central else None)
            result = report(health)
            emit(result)
            if args.watch is None:
                return 0 if result["ok"] else 1
            time.sleep(max(0.5, args.watch))
    finally:
        station.stop()
