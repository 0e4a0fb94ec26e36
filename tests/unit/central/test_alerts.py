"""Alert rules with an injected clock: raised once, acknowledged and resolved by ops, history kept."""
from __future__ import annotations

from sqlalchemy import select

from server_bridge.central.alerts import AlertSettings, acknowledge, evaluate, resolve
from server_bridge.central.db import Database
from server_bridge.central.fleet import HeartbeatBuffer
from server_bridge.central.ingest import ingest_batch
from server_bridge.central.models import Alert
from server_bridge.central.schemas import Batch, Heartbeat
from tests.fixtures.central import REGISTRY, envelope

SETTINGS = AlertSettings(offline_after_s=60, low_stock_min=3, min_charged_battery=80)
T0 = 1_764_000_000.0


def beat(printer: dict | None = None, slots: list[dict] | None = None, online: bool = True,
         item_type: str = "umbrella") -> Heartbeat:
    if slots is None:
        slots = [{"slot": i, "state": "occupied", "item": f"U-{i}"} for i in range(1, 6)]
    return Heartbeat.model_validate({
        "ts": T0, "version": "1.0", "uptime_s": 10, "printer": printer or {"online": True}, "camera": None,
        "lockers": [{"locker_id": "UL1", "item_type": item_type, "online": online, "slots": slots, "faults": []}],
        "outbox": {"depth": 0}})


def heartbeat_at(db: Database, station: str, hb: Heartbeat, at: float) -> None:
    buf = HeartbeatBuffer(db, clock=lambda: at)
    buf.put(station, hb)
    buf.flush()


def run(db: Database, now: float) -> list[tuple[str, str, str]]:
    with db.session() as s:
        evaluate(s, now, SETTINGS, REGISTRY.alert_rules)
    with db.session() as s:
        return [(a.kind, a.station_id, a.status) for a in s.scalars(select(Alert).order_by(Alert.id))]


def live(db: Database, kind: str) -> list[Alert]:
    with db.session() as s:
        return list(s.scalars(select(Alert).where(Alert.kind == kind, Alert.open_key.is_not(None))))


def test_station_offline_is_raised_once_then_acknowledged_and_resolved(central_db: Database) -> None:
    heartbeat_at(central_db, "K01", beat(), T0)
    heartbeat_at(central_db, "K02", beat(), T0)
    assert run(central_db, T0 + 30) == []
    run(central_db, T0 + 61)
    run(central_db, T0 + 90)
    offline = live(central_db, "station_offline")
    assert sorted(a.station_id for a in offline) == ["K01", "K02"]
    with central_db.session() as s:
        acknowledge(s, offline[0].id, "alice", T0 + 100)
    heartbeat_at(central_db, "K01", beat(), T0 + 120)
    run(central_db, T0 + 121)
    with central_db.session() as s:
        a = s.get(Alert, offline[0].id)
        assert a.status == "acknowledged" and a.acknowledged_by == "alice" and a.cleared_at is not None
        resolve(s, a.id, "alice", T0 + 130)
    run(central_db, T0 + 131)
    assert [a.station_id for a in live(central_db, "station_offline")] == ["K02"]
    with central_db.session() as s:
        history = s.scalars(select(Alert).where(Alert.status == "resolved")).all()
        assert len(history) == 1 and history[0].resolved_by == "alice"


def test_resolved_alert_comes_back_only_after_the_condition_cleared(central_db: Database) -> None:
    heartbeat_at(central_db, "K01", beat(printer={"online": True, "paper_out": True}), T0)
    run(central_db, T0 + 1)
    [alert] = live(central_db, "printer_paper_out")
    with central_db.session() as s:
        resolve(s, alert.id, "bob", T0 + 2)
    run(central_db, T0 + 3)
    assert live(central_db, "printer_paper_out") == []  # still out of paper, but ops already dealt with it
    heartbeat_at(central_db, "K01", beat(printer={"online": True}), T0 + 4)
    run(central_db, T0 + 5)
    heartbeat_at(central_db, "K01", beat(printer={"online": True, "paper_out": True}), T0 + 6)
    run(central_db, T0 + 7)
    assert len(live(central_db, "printer_paper_out")) == 1


def test_low_stock_counts_only_charged_power_banks(central_db: Database) -> None:
    slots = [{"slot": i, "state": "occupied", "item": f"P-{i}", "battery": b} for i, b in
             enumerate([95, 90, 40, 30, 20], start=1)]
    heartbeat_at(central_db, "K01", beat(slots=slots, item_type="power_bank"), T0)
    run(central_db, T0 + 1)
    [alert] = live(central_db, "low_stock")
    assert alert.params["ready"] == 2 and alert.subject == "UL1"


def test_locker_offline_and_printer_cover_open(central_db: Database) -> None:
    heartbeat_at(central_db, "K01", beat(printer={"online": True, "cover_open": True}, online=False), T0)
    kinds = {k for k, _, _ in run(central_db, T0 + 1)}
    assert {"locker_offline", "printer_cover_open"} <= kinds


def test_complaint_sla_clocks(central_db: Database) -> None:
    with central_db.session() as s:
        ingest_batch(s, "K01", Batch.model_validate({"events": [envelope(1, "complaint.filed", {
            "complaint_id": "C-9", "category": "parking", "floor": "B1", "filed_at": T0})]}), T0, REGISTRY.projections)
    heartbeat_at(central_db, "K01", beat(), T0 + 3500)
    run(central_db, T0 + 3599)
    assert live(central_db, "complaint_response_sla") == []
    run(central_db, T0 + 3601)
    assert [a.subject for a in live(central_db, "complaint_response_sla")] == ["C-9"]
    assert live(central_db, "complaint_close_sla") == []
    run(central_db, T0 + 86401)
    assert [a.subject for a in live(central_db, "complaint_close_sla")] == ["C-9"]


def test_overdue_lending(central_db: Database) -> None:
    with central_db.session() as s:
        ingest_batch(s, "K01", Batch.model_validate({"events": [envelope(1, "lending.started", {
            "lending_id": "L-1", "member_id": "M1", "item_type": "umbrella", "item_id": "U-1",
            "station_id": "K01", "started_at": T0, "due_at": T0 + 100})]}), T0, REGISTRY.projections)
    run(central_db, T0 + 99)
    assert live(central_db, "lending_overdue") == []
    run(central_db, T0 + 101)
    assert [a.subject for a in live(central_db, "lending_overdue")] == ["L-1"]


def test_the_stations_own_health_shape_is_accepted() -> None:
    """kiosk.station.Station.health() sends a fault count and fields the centre does not know yet."""
    beat = Heartbeat.model_validate({
        "ts": T0, "version": "0.3.0", "uptime_s": 12.5,
        "printer": {"online": True, "paper_out": False, "paper_near_end": True, "cover_open": False},
        "camera": {"connected": True, "fps": 14.9, "decode_rate": 0.5, "last_frame_age_s": 0.1, "error": None},
        "lockers": [{"locker_id": "UL1", "item_type": "umbrella", "online": True, "faults": 2,
                     "slots": [{"slot": 1, "state": "fault", "item": None, "battery": None}]}],
        "outbox": {"depth": 0, "oldest_age_s": None}, "mqtt": {"stats": {}}, "central": None,
        "disk": {"free_bytes": 1, "total_bytes": 2}})
    assert beat.lockers[0].faults == ["faulty slots: 2"]
    assert "mqtt" not in beat.model_dump()
