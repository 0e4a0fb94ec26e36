"""`python -m server_bridge.central serve | add-station | add-user | seed-demo | migrate` (CENTRAL_DB_URL is the default --db)."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from server_bridge.central.db import Database, db_url_from_env
from server_bridge.central.errors import CentralError

if TYPE_CHECKING:
    from server_bridge.central.alerts import AlertSettings

log = logging.getLogger("server_bridge.central")


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server_bridge.central.app import create_app
    from server_bridge.central.slowclients import guarded_protocol

    if args.payments:  # read by server_bridge.central.payments when the app starts
        from server_bridge.central.payments.service import check_merchant_file

        check_merchant_file(args.payments)  # a bad merchant file stops the start here, with its reason
        os.environ["CENTRAL_PAYMENTS"] = str(Path(args.payments).resolve())
        os.environ["CENTRAL_PUBLIC_URL"] = args.public_url or f"http://{args.host}:{args.port}"
    app = create_app(args.db, _alert_settings(args), eval_every_s=args.eval_every, flush_s=args.heartbeat_flush,
                     inline_alerts=args.alerts == "inline")
    print(f"central dashboard: http://{args.host}:{args.port}/", file=sys.stderr, flush=True)
    # Stations retry anything unanswered, so a stop need not wait long for idle keep-alive clients.
    # Slow clients are cut off: header and body read deadlines, a cap on open connections (slowclients.py).
    http = guarded_protocol(args.header_timeout, args.body_timeout, args.max_connections)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level.lower(), access_log=False,
                timeout_graceful_shutdown=2, http=http, timeout_keep_alive=5)
    return 0


def _alert_settings(args: argparse.Namespace) -> AlertSettings:
    from server_bridge.central.alerts import AlertSettings

    return AlertSettings(offline_after_s=args.offline_after, low_stock_min=args.low_stock,
                         sample_every_s=args.sample_every)


def _alerts(args: argparse.Namespace) -> int:
    """The alert evaluator on its own (pair with `serve --alerts off`); runs until interrupted."""
    from server_bridge.central import schema_migrations
    from server_bridge.central.alerts import AlertEngine
    from server_bridge.central.wiring import build_registry

    schema_migrations.upgrade(args.db)
    db = Database(args.db)
    registry = build_registry()
    engine = AlertEngine(db, _alert_settings(args), registry.alert_rules, every_s=args.eval_every,
                         chores=registry.chores)
    try:
        while True:
            started = time.monotonic()
            try:
                engine.run_once()
            except Exception:  # logged; the next pass tries again (e.g. a concurrent writer)
                log.exception("alert.evaluate_failed")
            time.sleep(max(0.0, args.eval_every - (time.monotonic() - started)))
    except KeyboardInterrupt:
        return 0
    finally:
        db.dispose()


def _add_station(args: argparse.Namespace) -> int:
    from server_bridge.central import schema_migrations
    from server_bridge.central.fleet import add_station

    schema_migrations.upgrade(args.db)
    db = Database(args.db)
    try:
        with db.session() as s:
            token = add_station(s, args.station, time.time(), name=args.name, rotate=args.rotate)
    finally:
        db.dispose()
    print(token)
    return 0


def _add_user(args: argparse.Namespace) -> int:
    """A console user with a one-time password, printed alone on stdout; it must be changed at first login."""
    from server_bridge.central import accounts, audit, schema_migrations

    schema_migrations.upgrade(args.db)
    db = Database(args.db)
    try:
        with db.session() as s:
            password = accounts.add_user(s, args.user, args.role, time.time(), reset=args.reset)
            audit.record(s, "cli", "user.password_reset" if args.reset else "user.added", f"user:{args.user}",
                         role_given=args.role)
    finally:
        db.dispose()
    print(password)
    return 0


def _seed_demo(args: argparse.Namespace) -> int:
    from server_bridge.central import schema_migrations
    from server_bridge.central.members import seed_demo

    schema_migrations.upgrade(args.db)
    db = Database(args.db)
    try:
        with db.session() as s:
            # No tokens here: `add-station --station K01` claims a demo station and prints its token.
            seed_demo(s, time.time(), issue_tokens=False)
        history: dict[str, int] = {}
        if args.days:
            from server_bridge.central.demo_history import seed_history
            from server_bridge.central.wiring import build_registry

            history = seed_history(db, build_registry().projections, args.days, time.time())
    finally:
        db.dispose()
    print(json.dumps({"ok": True, "history_events": history} if args.days else {"ok": True}))
    return 0


def _add_bundle(args: argparse.Namespace) -> int:
    """Store a configuration bundle file (checked like a console upload) and optionally roll it out."""
    from sqlalchemy import select

    from mallcommon.bundle import BundleProblem, bundle_from_json
    from server_bridge.central import audit, bundles, schema_migrations

    try:
        bundle = bundle_from_json(Path(args.file).read_bytes())
    except (OSError, BundleProblem) as exc:
        print(json.dumps({"ok": False, "error": str(exc)}, ensure_ascii=False), file=sys.stderr)
        return 2
    schema_migrations.upgrade(args.db)
    db = Database(args.db)
    try:
        with db.session() as s:
            existing = s.scalar(select(bundles.ConfigBundle.version).limit(1))
            if args.if_none and existing is not None:
                print(json.dumps({"ok": True, "stored": False, "reason": "the centre has bundles already"}))
                return 0
            row = bundles.store_bundle(s, bundle, "cli", args.note)
            audit.record(s, "cli", "config.stored", f"config:v{row.version}", etag=row.etag, note=args.note)
            to = None if args.roll_out in (None, "all") else [x for x in args.roll_out.split(",") if x]
            if args.roll_out is not None:
                bundles.roll_out(s, row.version, to, "cli")
                audit.record(s, "cli", "config.rolled_out", f"config:v{row.version}", to=to or "all")
            version, etag = row.version, row.etag
    finally:
        db.dispose()
    print(json.dumps({"ok": True, "stored": True, "version": version, "etag": etag, "rolled_out": args.roll_out}))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from server_bridge.central import schema_migrations

    schema_migrations.upgrade(args.db)
    print(json.dumps({"ok": True}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m server_bridge.central")
    parser.add_argument("--log-level", default="WARNING")
    verbs = parser.add_subparsers(dest="verb", required=True)

    def verb(name: str, func: object, help_: str) -> argparse.ArgumentParser:
        p = verbs.add_parser(name, help=help_)
        p.add_argument("--db", default=None, help="SQLAlchemy URL (default: $CENTRAL_DB_URL or sqlite)")
        p.set_defaults(func=func)
        return p

    def alert_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--offline-after", type=float, default=60.0, help="seconds without heartbeat")
        p.add_argument("--low-stock", type=int, default=3)
        p.add_argument("--eval-every", type=float, default=5.0, help="alert evaluation period (s)")
        p.add_argument("--sample-every", type=float, default=60.0, help="device uptime sampling period (s)")

    serve = verb("serve", _serve, "run the API and dashboard")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8700)
    alert_flags(serve)
    serve.add_argument("--alerts", choices=["inline", "off"], default="inline",
                       help="off when a separate `alerts` process evaluates them")
    serve.add_argument("--header-timeout", type=float, default=10.0,
                       help="seconds a client has to send a request's headers (then 408 and closed)")
    serve.add_argument("--body-timeout", type=float, default=30.0,
                       help="seconds a client has to send a request's body after its headers")
    serve.add_argument("--max-connections", type=int, default=1000,
                       help="open connections; one more is answered 503 and closed")
    serve.add_argument("--heartbeat-flush", type=float, default=0.5,
                       help="seconds between heartbeat writes; 0 writes each one through (slower)")
    serve.add_argument("--payments", default=None, metavar="PATH",
                       help="merchant.json (WeChat Pay / Alipay credentials): turns on payments (docs/payments.md)")
    serve.add_argument("--public-url", default=None,
                       help="URL the payment providers reach this centre at (notify URLs); default http://HOST:PORT")
    add = verb("add-station", _add_station, "register a station; prints its new bearer token alone")
    add.add_argument("--station", required=True)
    add.add_argument("--name", default="")
    add.add_argument("--rotate", action="store_true", help="issue a new token for an existing station")
    user = verb("add-user", _add_user, "add a console user; prints a one-time password alone (changed at first login)")
    user.add_argument("--user", required=True)
    user.add_argument("--role", required=True, choices=["viewer", "desk", "ops", "admin"])
    user.add_argument("--reset", action="store_true", help="a new one-time password for an existing user")
    demo = verb("seed-demo", _seed_demo, "demo stations K01, K02 (claim each with add-station) and members; idempotent")
    demo.add_argument("--days", type=int, default=0,
                      help="also a realistic history of N days for demo stations H01, H02, through the ingest")
    bundle = verb("add-bundle", _add_bundle, "store a configuration bundle (JSON, from `python -m kiosk bundle export`)"
                  " as the next version")
    bundle.add_argument("--file", required=True)
    bundle.add_argument("--note", default="")
    bundle.add_argument("--roll-out", default=None, metavar="all|K01,K02", help="roll it out at once")
    bundle.add_argument("--if-none", action="store_true", help="only when the centre has no bundle yet (make run)")
    verb("migrate", _migrate, "apply schema migrations")
    alert_flags(verb("alerts", _alerts, "evaluate alert rules in this process (pair with serve --alerts off)"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.db = db_url_from_env(args.db)
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.WARNING), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        return int(args.func(args) or 0)
    except CentralError as exc:
        print(json.dumps({"ok": False, "code": exc.code, "error": exc.message}), file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
