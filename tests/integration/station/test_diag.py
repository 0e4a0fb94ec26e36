"""`python -m kiosk diag`: one JSON report, and a non-zero exit when a person is needed."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.fixtures.station import StationStack

ROOT = Path(__file__).resolve().parents[3]


def diag(stack: StationStack) -> tuple[int, dict]:
    proc = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(stack.config_path), "diag"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1])


def test_diag_is_ok_when_all_is_well_and_names_the_offline_locker(station_stack: StationStack) -> None:
    for lid in ("U1", "U2", "P1"):
        station_stack.start_sim(lid)
    rc, report = diag(station_stack)
    assert rc == 0 and report["ok"] is True, report["problems"]
    assert {lk["locker_id"]: len(lk["slots"]) for lk in report["lockers"]} == {"U1": 24, "U2": 24, "P1": 12}
    assert report["broker"]["reachable"] is True and report["outbox"]["depth"] == 0

    station_stack.sims["U2"].stop()
    station_stack.control("P1", {"op": "fault", "slot": 3})
    rc, report = diag(station_stack)
    assert rc == 1
    codes = {(p["code"], p["device"]) for p in report["problems"]}
    assert ("locker_offline", "U2") in codes and ("slot_fault", "P1") in codes


def test_diag_reports_an_unreachable_broker(station_stack: StationStack) -> None:
    station_stack.broker.stop()
    rc, report = diag(station_stack)
    assert rc == 1 and ("broker_unreachable", "broker") in {(p["code"], p["device"]) for p in report["problems"]}


def test_status_lists_lockers_and_what_can_be_borrowed(station_stack: StationStack) -> None:
    for lid in ("U1", "U2", "P1"):
        station_stack.start_sim(lid, fill=2)
    proc = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(station_stack.config_path), "status"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0
    assert {k: v["count"] for k, v in report["available"].items()} == {"umbrella": 4, "power_bank": 2}
    assert report["available"]["umbrella"]["lockers_online"] is True and report["open_lendings"] == 0


def test_an_upload_link_that_is_down_refused_or_stuck_is_a_problem() -> None:
    """Before issue 12, diag said ok while the centre answered 401 to every upload."""
    from kiosk.services.diagnostics import LinkState, OutboxHealth, StationHealth, UploadLink, assess

    def codes(state: LinkState, oldest_s: float | None = None, **link: object) -> set[str]:
        health = StationHealth(ts=0.0, version="t", uptime_s=1.0, outbox=OutboxHealth(5, oldest_s),
                               central=UploadLink("http://centre", state, **link))  # type: ignore[arg-type]
        return {p.code for p in assess(health)}

    assert codes(LinkState.UP, oldest_s=2.0) == set()
    assert codes(LinkState.CONNECTING) == set()
    assert codes(LinkState.REFUSED, http_status=401, last_error="HTTP 401") == {"upload_refused"}
    assert codes(LinkState.UNREACHABLE, last_error="ConnectError") == {"upload_down"}
    assert codes(LinkState.UP, oldest_s=400.0) == {"upload_stuck"}  # the centre answers, yet nothing leaves
    assert codes(LinkState.UP, heartbeat_error="HTTP 422") == {"heartbeat_refused"}
