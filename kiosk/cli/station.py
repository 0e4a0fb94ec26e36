"""Station verbs: run, status, lend, lendings, mqtt-auth, and `sim member-code`."""
from __future__ import annotations

import argparse
import signal
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kiosk.cli import CliError, emit


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

    p = verbs.add_parser("lend", help="borrow an item for a member code (as the screen would)")
    p.add_argument("--type", required=True, choices=["umbrella", "power_bank", "stroller"])
    p.add_argument("--member-code", required=True)
    p.set_defaults(func=cmd_lend)

    p = verbs.add_parser("lendings", help="list lendings (JSON lines)")
    p.add_argument("--open", action="store_true")
    p.add_argument("--limit", type=int, default=200)
    p.set_defaults(func=cmd_lendings)

    p = verbs.add_parser("mqtt-auth", help="write the broker's password file + ACL for this station's devices")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--station", action="append", default=[], help="further station ids sharing the broker")
    p.set_defaults(func=cmd_mqtt_auth)

    p = sim_verbs.add_parser("member-code", help="print a member code valid right now (demo)")
    p.add_argument("member_id")
    p.set_defaults(func=cmd_member_code)


def load(args: argparse.Namespace) -> Any:
    from device_profiles import ProfileError
    from kiosk.config import load_config

    if not args.config:
        raise CliError("--config FILE is required")
    try:
        return load_config(args.config)
    except ProfileError as exc:
        raise CliError(str(exc)) from exc


def build_station(args: argparse.Namespace, **kw: Any) -> Any:
    from device_profiles import ProfileError
    from drivers.locker.link import LockerError
    from kiosk.station import Station

    config = load(args)
    try:
        return Station.build(config, **kw)
    except (ProfileError, LockerError, OSError) as exc:
        raise CliError(str(exc)) from exc


def cmd_member_code(args: argparse.Namespace) -> int:
    from device_profiles import ProfileError
    from kiosk.tokens import TokenBook, TokenKeys

    config = load(args)
    try:
        key = config.site_key()
    except ProfileError as exc:
        raise CliError(str(exc)) from exc
    emit({"member_id": args.member_id, "code": TokenBook(TokenKeys(key)).member_code(args.member_id)})
    return 0


def cmd_mqtt_auth(args: argparse.Namespace) -> int:
    from drivers.locker.acl import write_broker_auth

    config = load(args)
    auth = write_broker_auth(config.site, [config.station_id, *args.station], [lk.id for lk in config.lockers],
                             args.out)
    emit({"ok": True, "password_file": str(auth.password_file), "acl_file": str(auth.acl_file),
          "creds_dir": str(auth.creds_dir)})
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    station = build_station(args, with_uploader=False, with_camera=False, announce=False)
    try:
        station.lockers.start()
        for locker_id in station.profiles:
            station.lockers.wait_for_state(locker_id, timeout=3.0)
        health = station.health()
        health["open_lendings"] = len(station.lending.lendings(open_only=True))
        for item_type in sorted({p.item_type for p in station.lending.profiles.values()}):
            health.setdefault("available", {})[item_type] = asdict(station.lending.availability(item_type))
        emit(health)
    finally:
        station.stop()
    return 0


def cmd_lend(args: argparse.Namespace) -> int:
    from drivers.locker.link import LockerError
    from kiosk.services.lending import LendingRefused
    from kiosk.tokens import TokenRejected

    station = build_station(args, with_uploader=False, with_camera=False, announce=False)
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
    from kiosk.services.lending import list_lendings
    from kiosk.store import Store

    config = load(args)
    store = Store(config.db_path)
    for lending in list_lendings(store, args.open, args.limit, newest_first=False):
        emit(asdict(lending))
    store.close()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    station = build_station(args)
    station.start()
    try:
        if args.headless:
            done = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: done.set())
            emit({"ok": True, "station": station.config.station_id, "running": "headless"})
            from kiosk.watchdog import Watchdog

            with Watchdog() as wd:
                while not done.wait(wd.interval_s):
                    wd.ping()
        else:
            from kiosk.ui.app import run_ui

            run_ui(station, windowed=args.windowed, screenshot_dir=args.screenshot_dir)
    except KeyboardInterrupt:
        pass
    finally:
        station.stop()
    return 0


def probe_central(url: str, timeout_s: float = 3.0) -> dict[str, Any]:
    import httpx

    try:
        answer = httpx.get(url.rstrip("/") + "/openapi.json", timeout=timeout_s)
        return {"url": url, "reachable": answer.status_code == 200, "status": answer.status_code}
    except httpx.HTTPError as exc:
        return {"url": url, "reachable": False, "error": type(exc).__name__}


def running_station_health(path: Path, fresh_s: float) -> dict[str, Any] | None:
    import json
    import time

    try:
        if time.time() - path.stat().st_mtime > fresh_s:
            return None
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def cmd_diag(args: argparse.Namespace) -> int:
    import time

    from drivers.locker.link import LockerError
    from kiosk.services.diagnostics import HEALTH_FILE_FRESH_S, report

    station = build_station(args, with_uploader=False, with_camera=False, announce=False)
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
            health["broker"] = {"address": f"{config.broker.host}:{config.broker.port}", "reachable": reachable}
            running = running_station_health(station.health_file, HEALTH_FILE_FRESH_S)
            health["station_process"] = {"running": running is not None}
            if running is not None:
                health["camera"] = running.get("camera")
                health["central"] = running.get("central")
            elif config.camera is not None:
                health["camera"] = {"connected": False, "fps": 0.0, "decode_rate": 0.0}
            if config.central is not None:
                health["central_probe"] = probe_central(config.central.url)
            result = report(health)
            emit(result)
            if args.watch is None:
                return 0 if result["ok"] else 1
            time.sleep(max(0.5, args.watch))
    finally:
        station.stop()
