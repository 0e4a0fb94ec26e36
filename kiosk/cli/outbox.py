"""Outbox verbs (staff): `outbox refused` lists the events the centre refused for their content (parked in the
store with its reason), `outbox resend` sends them again once the centre is fixed (docs/central.md, "Refused
events"). A running station's uploader picks them up within a poll; nothing else needs restarting."""
from __future__ import annotations

import argparse
from datetime import UTC, datetime

from kiosk.cli import CliError, emit
from kiosk.cli.station import load
from kiosk.store import Store


def register(verbs: argparse._SubParsersAction, sim_verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("outbox", help="events the centre refused: list them, resend them after a fix")
    sub = p.add_subparsers(dest="outbox_verb", required=True)
    q = sub.add_parser("refused", help="the parked events with the centre's reason (JSON lines)")
    q.add_argument("--data", action="store_true", help="also print each event's data")
    q.set_defaults(func=cmd_refused)
    q = sub.add_parser("resend", help="send parked events again (audited: an outbox.resent event names you)")
    which = q.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every parked event")
    which.add_argument("--seq", type=int, action="append", metavar="N", help="this parked event (repeatable)")
    q.add_argument("--by", required=True, help="who resends: your staff id or name (kept in the audit)")
    q.set_defaults(func=cmd_resend)


def cmd_refused(args: argparse.Namespace) -> int:
    store = Store(load(args).db_path)
    try:
        for row in store.outbox_refused():
            ev = row.event
            line = {"seq": ev.seq, "id": ev.event_id, "type": ev.type, "ts": ev.ts, "reason": row.reason,
                    "refused_at": datetime.fromtimestamp(row.refused_at, UTC).isoformat(timespec="seconds")}
            emit({**line, "data": ev.data} if args.data else line)
    finally:
        store.close()
    return 0


def cmd_resend(args: argparse.Namespace) -> int:
    store = Store(load(args).db_path)
    try:
        try:
            chosen = store.resend_refused(args.by, None if args.all else list(args.seq))
        except ValueError as exc:
            raise CliError(str(exc)) from exc
        left = [row.event.seq for row in store.outbox_refused()]
    finally:
        store.close()
    if not chosen:
        raise CliError("no such parked event" if args.seq else "nothing is parked")
    emit({"ok": True, "resent": chosen, "still_parked": left})
    return 0
