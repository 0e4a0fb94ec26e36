"""Bounded storage: uptime samples rolled up and expired without changing the KPI, heartbeats kept as the latest
snapshot plus changes, and an alert pass that re-reads only what changed judging exactly like a full one."""
from __future__ import annotations

import json
import random
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import func, insert, select

from server_bridge.central import schema_migrations
from server_bridge.central.alerts import AlertSettings, FleetView, RuleContext, evaluate, overdue
from server_bridge.central.db import Database, make_engine
from server_bridge.central.fleet import (
    HeartbeatBuffer,
    Retention,
    add_station,
    roll_up_and_prune,
    uptime_counts,
)
from server_bridge.central.localpg import LocalPostgres
from server_bridge.central.models import (
    Alert,
    DeviceSample,
    DeviceUptimeDaily,
    DeviceUptimeHourly,
    HealthChange,
    Station,
)
from server_bridge.central.schemas import Heartbeat
from tests.fixtures.central import REGISTRY

T0 = 1_764_028_800.0  # a UTC midnight
SETTINGS = AlertSettings(offline_after_s=60, low_stock_min=3, min_charged_battery=80)


def count(db: Database, model: type) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_uptime_counts_are_the_same_after_roll_up_and_expiry(central_db: Database) -> None:
    rng = random.Random(4)
    rows = [{"station_id": sid, "at": T0 + k * 600 + 7, "station_up": rng.random() < 0.9,
             "printer_up": None if sid == "K03" else rng.random() < 0.8, "lockers_up": rng.randint(0, 2),
             "lockers_total": 2} for sid in ("K01", "K02", "K03") for k in range(3 * 144)]  # 3 days, every 10 min
    with central_db.session() as s:
        s.execute(insert(DeviceSample), rows)
    now = T0 + 3 * 86400 - 1800  # half an hour before the end of day 3
    windows = [T0, T0 + 86400, T0 + 2 * 86400, T0 + 2 * 86400 + 5 * 3600]
    with central_db.session() as s:
        before = {w: uptime_counts(s, w) for w in windows}
    with central_db.session() as s:
        roll_up_and_prune(s, now, Retention(raw_samples_s=6 * 3600, hourly_s=86400))
    assert count(central_db, DeviceSample) == 3 * 39, "raw rows older than 6 h are gone (now is 30 min before the last)"
    assert count(central_db, DeviceUptimeDaily) == 3 * 2, "two complete days per station"
    assert count(central_db, DeviceUptimeHourly) == 3 * 23, "the complete hours of the day not rolled up yet"
    with central_db.session() as s:
        assert min(s.scalars(select(DeviceUptimeHourly.hour))) == T0 + 2 * 86400, "hours of rolled-up days expire"
        after = {w: uptime_counts(s, w) for w in windows}
    assert after == before
    with central_db.session() as s:  # a second run the same hour changes nothing
        assert roll_up_and_prune(s, now + 60, Retention(raw_samples_s=6 * 3600, hourly_s=86400))["hours"] == 0


def beat(ts: float, battery: int = 90, paper_out: bool = False, online: bool = True,
         occupied: int = 5) -> Heartbeat:
    slots = [{"slot": i, "state": "occupied" if i <= occupied else "empty", "item": f"P-{i}" if i <= occupied else None,
              "battery": battery, "charging": True} for i in range(1, 9)]
    return Heartbeat.model_validate({
        "ts": ts, "version": "1.0", "uptime_s": ts - T0, "camera": {"connected": True, "fps": 10.0 + ts % 5},
        "printer": {"online": True, "paper_out": paper_out},
        "lockers": [{"locker_id": "PB1", "item_type": "power_bank", "online": online, "slots": slots}],
        "outbox": {"depth": int(ts) % 7}})


def test_heartbeats_keep_the_latest_snapshot_plus_changes(central_db: Database) -> None:
    clock = [T0]
    buf = HeartbeatBuffer(central_db, clock=lambda: clock[0], snapshot_every_s=60)
    for k in range(40):  # every 15 s for 10 min: uptime, fps, outbox and battery (above 80 %) move
        clock[0] = T0 + 15 * k
        buf.put("K01", beat(clock[0], battery=85 + k % 10))
        buf.flush()
    assert count(central_db, HealthChange) == 1, "nothing the rules judge changed: one change row (the first)"
    assert buf.snapshots == 10, "the snapshot is rewritten once a minute"
    clock[0] += 15
    buf.put("K01", beat(clock[0], paper_out=True))
    buf.flush()
    clock[0] += 15
    buf.put("K01", beat(clock[0], battery=50))  # no longer charged enough to lend
    buf.flush()
    with central_db.session() as s:
        changes = s.scalars(select(HealthChange).order_by(HealthChange.at)).all()
        station = s.get(Station, "K01")
        assert station is not None
        assert station.last_heartbeat_at == clock[0] and station.health_changed_at == clock[0]
        assert station.health["lockers"][0]["slots"][0]["battery"] == 50
    assert [c.summary["printer"][1] for c in changes] == [False, True, False]
    assert [c.summary["lockers"][0][3].count("+") for c in changes] == [5, 5, 0], "items ready to lend"


def test_an_alert_pass_reading_only_changes_judges_like_a_full_pass(tmp_path: Path) -> None:
    """Two centres get the same heartbeats; one evaluates with the engine's FleetView kept between passes,
    the other judges everything afresh each time: their alerts must be the same after every pass."""
    dbs = []
    for name in ("incremental", "full"):
        url = f"sqlite:///{tmp_path / name}.db"
        schema_migrations.upgrade(url)
        db = Database(url)
        with db.session() as s:
            for i in range(12):
                add_station(s, f"K{i:02d}", T0)
        dbs.append(db)
    rng = random.Random(7)
    view = FleetView()
    now = T0
    try:
        for _ in range(60):
            now += rng.choice([5, 20, 70])
            for i in rng.sample(range(12), rng.randint(0, 12)):
                hb = beat(now, battery=rng.choice([40, 90]), paper_out=rng.random() < 0.2,
                          online=rng.random() < 0.8, occupied=rng.randint(0, 8))
                for db in dbs:
                    buf = HeartbeatBuffer(db, clock=lambda at=now: at)
                    buf.put(f"K{i:02d}", hb)
                    buf.flush()
            for db, v in zip(dbs, (view, None), strict=True):
                with db.session() as s:
                    evaluate(s, now, SETTINGS, REGISTRY.alert_rules, v)
            incremental, full = (_alerts(db) for db in dbs)
            assert incremental == full
            assert view.health_read <= 12
            assert set(view.online) == {f"K{i:02d}" for i in range(12)} - view.offline
    finally:
        for db in dbs:
            db.dispose()
    assert len(full) > 10, "the scenario raised and cleared alerts"


def _alerts(db: Database) -> list[tuple[Any, ...]]:
    with db.session() as s:
        return [(a.kind, a.station_id, a.subject, a.status, a.raised_at, a.cleared_at, a.params)
                for a in s.scalars(select(Alert).order_by(Alert.kind, Alert.station_id, Alert.subject, Alert.id))]


def test_heartbeat_flush_writes_only_changed_snapshots_fast(central_db: Database) -> None:
    """Not a speed assertion: the bench measures that. This checks the counts the speed comes from."""
    buf = HeartbeatBuffer(central_db, clock=time.time, snapshot_every_s=3600)
    buf.put("K01", beat(T0))
    buf.put("K02", beat(T0))
    buf.flush()
    buf.put("K01", beat(T0 + 15))
    buf.put("K02", beat(T0 + 15, paper_out=True))
    buf.flush()
    assert (buf.flushed, buf.snapshots, buf.changes) == (4, 3, 3)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database (no migrations yet): a SQLite file, then the same on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    pg: LocalPostgres = request.getfixturevalue("local_postgres")
    return pg.create_database(f"m_{uuid.uuid4().hex[:12]}")


def test_revision_0015_keeps_every_health_change_deflated_and_the_overdue_rule_still_finds_open_lendings(
        blank_url: str) -> None:
    from alembic import command

    cfg = schema_migrations.alembic_config(blank_url)
    engine = make_engine(blank_url)
    summaries = [{"printer": [True, k % 2 == 0, False, False], "camera": True,
                  "lockers": [["PB1", "power_bank", True, ",".join(["o+"] * k + ["e"] * (8 - k)), 0]]}
                 for k in range(9)]
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0013")
            old = sa.table("health_changes", sa.column("station_id"), sa.column("at"), sa.column("digest"),
                           sa.column("summary", sa.JSON()))
            conn.execute(sa.insert(old), [{"station_id": f"K{k % 3:02d}", "at": T0 + k, "digest": f"{k:016d}",
                                           "summary": summary} for k, summary in enumerate(summaries)]
                         + [{"station_id": "K00", "at": T0, "digest": "dup", "summary": summaries[0]}])
            conn.execute(sa.insert(sa.table("lendings", *(sa.column(c) for c in (
                "lending_id", "item_type", "item_id", "station_id", "started_at", "due_at", "status")))), [
                {"lending_id": f"L{k}", "item_type": "umbrella", "item_id": f"U-{k}", "station_id": "K01",
                 "started_at": T0, "due_at": T0 + 60, "status": status}
                for k, status in enumerate(["open", "returned", "open", "bought"])])
            command.upgrade(cfg, "head")
    finally:
        engine.dispose()
    db = Database(blank_url)
    try:
        with db.session() as s:
            kept = [(c.station_id, c.at, c.summary) for c in s.scalars(select(HealthChange).order_by(HealthChange.at))]
            assert kept == [(f"K{k % 3:02d}", T0 + k, summary) for k, summary in enumerate(summaries)], \
                "every change is kept (the duplicate of the same station and instant once)"
            stored = s.scalar(sa.text("SELECT summary FROM health_changes ORDER BY at LIMIT 1"))
            assert len(stored) < len(json.dumps(summaries[0], separators=(",", ":"))), "stored deflated"
            found = list(overdue(s, RuleContext(T0 + 3600, SETTINGS, [], set())))
            assert sorted(f.subject for f in found) == ["L0", "L2"]
    finally:
        db.dispose()


def test_roll_up_and_prune_deletes_only_health_changes_past_retention(central_db: Database) -> None:
    clock = [T0]
    buf = HeartbeatBuffer(central_db, clock=lambda: clock[0])
    for day in range(10):
        clock[0] = T0 + day * 86400
        buf.put("K01", beat(clock[0], paper_out=day % 2 == 1))
        buf.flush()
    with central_db.session() as s:
        done = roll_up_and_prune(s, T0 + 9 * 86400 + 60, Retention(health_changes_s=5 * 86400))
    assert done["changes_deleted"] == 5
    with central_db.session() as s:
        assert list(s.scalars(select(HealthChange.at).order_by(HealthChange.at))) == [
            T0 + day * 86400 for day in range(5, 10)]


@pytest.mark.postgres
def test_a_steady_pass_on_postgresql_reads_the_health_of_changed_stations_only(local_postgres: LocalPostgres,
                                                                               postgres_template: str) -> None:
    """300 stations; after the first (cold) pass, a pass reads the health document of exactly the stations whose
    summary changed, no more, and raises and clears on them like a fresh view would."""
    url = local_postgres.create_database(f"t_{uuid.uuid4().hex[:12]}", template=postgres_template)
    db = Database(url)
    statements: list[str] = []
    sa.event.listen(db.engine, "before_cursor_execute",
                    lambda conn, cursor, stmt, params, context, many: statements.append(stmt))
    try:
        ids = [f"K{i:03d}" for i in range(300)]
        with db.session() as s:
            for sid in ids:
                add_station(s, sid, T0)
        now = T0 + 10
        buf = HeartbeatBuffer(db, clock=lambda: now)
        for sid in ids:
            buf.put(sid, beat(now))
        buf.flush()
        view = FleetView()
        with db.session() as s:
            evaluate(s, now + 1, SETTINGS, REGISTRY.alert_rules, view)
        assert view.health_read == 300, "the cold pass reads every station"
        now += 30
        for sid in ids:  # everyone beats, five change what the rules judge
            buf.put(sid, beat(now, paper_out=sid in ("K007", "K100", "K299"), occupied=0 if sid == "K042" else 5,
                              online=sid != "K150"))
        buf.flush()
        statements.clear()
        with db.session() as s:
            raised = evaluate(s, now + 1, SETTINGS, REGISTRY.alert_rules, view)
        assert view.health_read == 5
        health_reads = [q for q in statements if "station_health" in q]
        assert len(health_reads) == 1 and "IN" in health_reads[0]
        assert sorted((a.kind, a.station_id) for a in raised) == sorted(
            [("printer_paper_out", "K007"), ("printer_paper_out", "K100"), ("printer_paper_out", "K299"),
             ("low_stock", "K042"), ("locker_offline", "K150")])
        now += 30
        buf.put("K007", beat(now))  # paper back: cleared, read again; nobody else read
        buf.flush()
        with db.session() as s:
            evaluate(s, now + 1, SETTINGS, REGISTRY.alert_rules, view)
        assert view.health_read == 1
        with db.session() as s:
            fresh = FleetView()
            evaluate(s, now + 1, SETTINGS, REGISTRY.alert_rules, fresh)
            live = {(a.kind, a.station_id) for a in s.scalars(select(Alert).where(Alert.cleared_at.is_(None)))}
        assert live == {("printer_paper_out", "K100"), ("printer_paper_out", "K299"), ("low_stock", "K042"),
                        ("locker_offline", "K150")}
    finally:
        db.dispose()
