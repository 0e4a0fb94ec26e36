"""Printer verbs: `printer status|queue|test-page|reprint N` and `sim printer STATE` for the virtual printer."""
from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kiosk.bootstrap import build_printing
from kiosk.cli import CliError, emit
from kiosk.cli.station import load
from kiosk.config import StationConfig
from kiosk.services.printing import PrintOutcome, PrintService
from kiosk.services.receipts import StaffTestPage
from kiosk.store import Store

ROOT = Path(__file__).resolve().parents[2]
SIM_STATES = ("ok", "paper_out", "cover_open", "near_end", "offline")


def register(verbs: argparse._SubParsersAction, sim_verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("printer", help="receipt printer: status, queue, test page, reprint")
    sub = p.add_subparsers(dest="printer_verb", required=True)
    sub.add_parser("status", help="real-time status (DLE EOT) and queued jobs").set_defaults(func=cmd_status)
    sub.add_parser("queue", help="jobs waiting for the printer").set_defaults(func=cmd_queue)
    t = sub.add_parser("test-page", help="print the staff test page")
    t.add_argument("--staff", default="", help="staff id printed on the page")
    t.set_defaults(func=cmd_test_page)
    r = sub.add_parser("reprint", help="print the last N receipts again")
    r.add_argument("n", type=int)
    r.set_defaults(func=cmd_reprint)

    s = sim_verbs.add_parser("printer", help="switch the virtual printer's status (it reads DIR/status)")
    s.add_argument("state", choices=SIM_STATES)
    s.add_argument("--out", default=None, help="the virtual printer's folder (default: var/receipts of make run)")
    s.set_defaults(func=cmd_sim_printer)


def _service(args: argparse.Namespace) -> tuple[PrintService, StationConfig]:
    """The print service alone: its store and printer, nothing else of the station."""
    config = load(args)
    if config.printer is None:
        raise CliError("this station has no [printer] in its config")
    service = build_printing(config, Store(config.db_path), time.time)
    assert service is not None
    return service, config


def _outcome(o: PrintOutcome) -> dict[str, Any]:
    d = asdict(o)
    d["status"] = o.status.as_dict() if o.status is not None else None
    return d


def cmd_status(args: argparse.Namespace) -> int:
    service, _ = _service(args)
    status = service.status()
    emit({"ok": status.ready, "model": service.profile.model, **status.as_dict(), "reason": status.reason,
          "queued": service.pending()})
    return 0 if status.ready else 1


def cmd_queue(args: argparse.Namespace) -> int:
    service, _ = _service(args)
    rows = service.store.query("SELECT job_id, kind, created_at, status, attempts, error FROM print_jobs "
                               "WHERE status IN ('queued', 'printing') ORDER BY job_id")
    emit({"ok": True, "jobs": [dict(r) for r in rows]})
    return 0


def cmd_test_page(args: argparse.Namespace) -> int:
    service, config = _service(args)
    page = StaffTestPage(station_id=config.station_id, printer_model=service.profile.model,
                         printed_at=time.time(), staff_id=args.staff)
    outcome = service.print_receipt(page)
    emit({"ok": outcome.printed, **_outcome(outcome)})
    return 0 if outcome.printed else 1


def cmd_reprint(args: argparse.Namespace) -> int:
    if not 1 <= args.n <= 20:
        raise CliError("reprint between 1 and 20 receipts")
    service, _ = _service(args)
    outcomes = service.reprint_last(args.n)
    ok = bool(outcomes) and all(o.printed for o in outcomes)
    emit({"ok": ok, "reprinted": [_outcome(o) for o in outcomes]})
    return 0 if ok else 1


def cmd_sim_printer(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else ROOT / "var" / "receipts"
    if not out.is_dir():
        raise CliError(f"no virtual printer folder at {out}")
    tmp = out / "status.tmp"
    tmp.write_text(args.state + "\n", encoding="ascii")
    tmp.replace(out / "status")
    emit({"ok": True, "status": args.state, "status_file": str(out / "status")})
    return 0
