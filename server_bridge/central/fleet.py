"""Station registry and heartbeats. Heartbeats are buffered and written in one transaction per flush:
a health snapshot is superseded by the next one, so losing <1 s of them on a crash costs nothing."""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    Float,
    Integer,
    Table,
    Text,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy import cast as sa_cast
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from server_bridge.central.auth import hash_token, new_token
from server_bridge.central.db import Database
from server_bridge.central.errors import StationExists
from server_bridge.central.models import (
    DeviceSample,
    DeviceUptimeDaily,
    DeviceUptimeHourly,
    HealthChange,
    Station,
    StationHealth,
    deflate_json,
)
from server_bridge.central.schemas import Heartbeat

log = logging.getLogger(__name__)

_BEAT = (update(Station).where(Station.station_id == bindparam("sid"))
         .values(last_heartbeat_at=bindparam("at"), version=bindparam("version"), uptime_s=bindparam("uptime"),
                 health_digest=bindparam("digest", type_=Text),
                 health_changed_at=func.coalesce(bindparam("changed_at", type_=Float), Station.health_changed_at)))
# PostgreSQL: each flush is one statement per table whatever the number of stations, its rows one JSON
# document (json.dumps in C; the snapshots' JSON is spliced in as it is). Not arrays: psycopg escapes every
# quote of a text[] element in Python, with the GIL held (~0.4 ms a snapshot, stalling the event loop).
# The stored digest decides what changed (not this instance's memory: with several instances a station's beats
# may reach any of them), and a beat older than the one stored (another instance flushed a newer one) changes
# nothing. RETURNING names the rows written and whether their summary changed.
_BEAT_PG = text("""UPDATE stations AS s SET last_heartbeat_at = v.at, version = v.version, uptime_s = v.uptime,
    health_digest = v.digest,
    health_changed_at = CASE WHEN s.health_digest IS DISTINCT FROM v.digest THEN v.at ELSE s.health_changed_at END
    FROM json_to_recordset(CAST(:rows AS json)) AS v(sid text, at float8, version text, uptime float8, digest text)
    WHERE s.station_id = v.sid AND (s.last_heartbeat_at IS NULL OR s.last_heartbeat_at <= v.at)
    RETURNING s.station_id, s.health_changed_at = v.at""")
_SNAPSHOT_PG = text("""INSERT INTO station_health (station_id, health)
    SELECT v.sid, v.health FROM json_to_recordset(CAST(:rows AS json)) AS v(sid text, health json)
    ON CONFLICT (station_id) DO UPDATE SET health = excluded.health""")
_CHANGES_PG = text("""INSERT INTO health_changes (station_id, at, summary)
    SELECT v.sid, v.at, decode(v.summary, 'base64')
    FROM json_to_recordset(CAST(:rows AS json)) AS v(sid text, at float8, summary text)
    ON CONFLICT DO NOTHING""")

HEALTH_CHANGES = cast(Table, HealthChange.__table__)
_HEALTH = cast(Table, StationHealth.__table__)


def add_station(session: Session, station_id: str, now: float, name: str = "", rotate: bool = False) -> str:
    """Registers a station, claims one registered without a token (seed-demo), or with `rotate` replaces its
    token; returns the new bearer token, shown only this once."""
    token = new_token()
    station = session.get(Station, station_id)
    if station is not None and station.token_hash and not rotate:
        raise StationExists(f"station {station_id} already has a token (use --rotate for a new one)")
    if station is None:
        session.add(Station(station_id=station_id, name=name, token_hash=hash_token(token), created_at=now,
                            acked_seq=0))
    else:
        station.token_hash = hash_token(token)
        station.name = name or station.name
    log.info("station.token_issued station=%s rotate=%s", station_id, rotate)
    return token


def register_station(session: Session, station_id: str, now: float, name: str = "") -> bool:
    """A station record without a token yet (no request can authenticate as it until `add_station`)."""
    if session.get(Station, station_id) is not None:
        return False
    session.add(Station(station_id=station_id, name=name, token_hash="", created_at=now, acked_seq=0))
    return True


def health_summary(beat: Heartbeat, min_battery: int) -> dict[str, Any]:
    """What the alert rules judge, without what moves every beat (uptime, battery levels, fps, outbox):
    a new summary is a health *change* (logged in `health_changes`, re-judged by the next alert pass).
    A slot is `<state initial>[+ lendable][L left open][F:<fault>]`; a field a device rule reads belongs here."""
    p, c = beat.printer, beat.camera

    def slot(s: Any, item_type: str) -> str:
        return (s.state[0] + ("+" if lendable(item_type, s.state, s.battery, min_battery) else "")
                + ("L" if s.left_open else "") + (f"F:{s.fault}" if s.fault else ""))

    return {"printer": None if p is None else [p.online, p.paper_out, p.paper_near_end, p.cover_open],
            "camera": None if c is None else c.connected,
            "lockers": [[lk.locker_id, lk.item_type, lk.online, ",".join(slot(s, lk.item_type) for s in lk.slots),
                         len(lk.faults)] for lk in beat.lockers]}


def summary_digest(summary: dict[str, Any]) -> str:
    return _digest(json.dumps(summary, separators=(",", ":")))


def _digest(summary_json: str) -> str:
    return hashlib.blake2b(summary_json.encode(), digest_size=8).hexdigest()


class Beat(NamedTuple):
    """What a flush needs of one accepted heartbeat, worked out when it arrives. Only atoms (str, float, bytes):
    such a tuple is not tracked by Python's cycle collector. Keeping the validated models instead (~80
    container objects a beat, a fleet's worth between flushes) made every full collection walk a million
    objects: ~250 ms pauses of the event loop, most of the centre's CPU per beat (bench/heartbeat_pg.py)."""
    at: float
    version: str
    uptime_s: float
    digest: str           # of `summary`
    summary: str          # health_summary as JSON
    snapshot: str | None  # the model as JSON, when the snapshot looked due on arrival
    body: bytes           # the request body, to rebuild the snapshot in the rare case it was not foreseen


class HeartbeatBuffer:
    """Keeps the newest heartbeat per station in memory; `flush()` writes them all at once (group commit).

    Every beat moves `last_heartbeat_at`; the health snapshot (JSON) is rewritten only when its summary
    changed or it is `snapshot_every_s` old, and each change of summary is kept in `health_changes`.
    What a crash loses: the beats accepted since the last flush (at most one flush period, `flush_s`, plus
    the flush in flight; on PostgreSQL a committed flush is also asynchronous, a few hundred ms more). A
    heartbeat is a snapshot the station sends again every interval, so the next beat repairs it; events never
    go this way (they are stored before they are acknowledged)."""

    def __init__(self, db: Database, flush_s: float = 0.5, clock: Callable[[], float] = time.time,
                 min_battery: int = 80, snapshot_every_s: float = 60.0) -> None:
        self.db = db
        self.flush_s = flush_s
        self.clock = clock
        self.min_battery = min_battery
        self.snapshot_every_s = snapshot_every_s
        self._lock = threading.Lock()
        self._pending: dict[str, Beat] = {}
        self._written: dict[str, tuple[str, float]] = {}  # station -> (digest, at) of the snapshot stored
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.flushed = 0
        self.snapshots = 0
        self.changes = 0

    def put(self, station_id: str, beat: Heartbeat, body: bytes = b"", at: float | None = None) -> None:
        """Keep the beat for the next flush; with `flush_s <= 0` write it through at once (the naive way).
        `body` is the request's JSON (the snapshot is rebuilt from it if it turns out due at the flush)."""
        at = self.clock() if at is None else at
        summary = json.dumps(health_summary(beat, self.min_battery), separators=(",", ":"))
        digest = _digest(summary)
        written = self._written.get(station_id)
        due = written is None or written[0] != digest or at - written[1] >= self.snapshot_every_s
        snapshot = beat.model_dump_json() if due else None
        entry = Beat(at, beat.version, beat.uptime_s, digest, summary, snapshot,
                     b"" if due else (body or beat.model_dump_json().encode()))
        with self._lock:
            self._pending[station_id] = entry
        if self.flush_s <= 0:
            self.flush()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> int:
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        try:
            return self._write(pending)
        except Exception:
            with self._lock:  # not written: keep what no newer beat has replaced, for the next flush
                for sid, entry in pending.items():
                    self._pending.setdefault(sid, entry)
            raise

    def _snapshot(self, entry: Beat) -> str:
        if entry.snapshot is not None:
            return entry.snapshot
        # a flush in between moved what the snapshot is compared with: rebuild it from the body
        return Heartbeat.model_validate_json(entry.body).model_dump_json()

    def _write(self, pending: dict[str, Beat]) -> int:
        order = sorted(pending)  # the same row-lock order in every instance (no deadlock between flushes)
        rows = [{"sid": sid, "at": pending[sid].at, "version": pending[sid].version,
                 "uptime": pending[sid].uptime_s, "digest": pending[sid].digest} for sid in order]
        snapshots: dict[str, list[Any]] = {"sid": [], "health": []}
        changes: list[dict[str, Any]] = []
        written_now: dict[str, tuple[str, float]] = {}
        with self.db.engine.begin() as conn:
            unknown = [sid for sid in order if sid not in self._written]
            for i in range(0, len(unknown), 5000):  # first beat of a station this process has seen
                for sid, digest, at in conn.execute(select(
                        Station.station_id, Station.health_digest, Station.health_changed_at).where(
                        Station.station_id.in_(unknown[i:i + 5000]))):
                    self._written[sid] = (digest or "", at or 0.0)
            if self.db.dialect == "postgresql":  # one statement each, whatever the number of stations
                # a snapshot is superseded within seconds: not worth waiting for the WAL flush (a crash loses
                # at most the last few hundred ms of heartbeats, never consistency)
                conn.execute(text("SET LOCAL synchronous_commit = off"))
                updated = [(sid, bool(changed)) for sid, changed in conn.execute(_BEAT_PG, {"rows": json.dumps(rows)})]
            else:  # SQLite has one writer: read what is stored, then write, in this transaction
                stored: dict[str, tuple[str | None, float | None]] = {}
                for i in range(0, len(order), 5000):
                    for sid, digest, last in conn.execute(select(
                            Station.station_id, Station.health_digest, Station.last_heartbeat_at).where(
                            Station.station_id.in_(order[i:i + 5000]))):
                        stored[sid] = (digest, last)
                updated = []
                for sid in order:
                    if sid in stored:
                        digest, last = stored[sid]
                        if last is None or last <= pending[sid].at:
                            updated.append((sid, digest != pending[sid].digest))
                changed_now = dict(updated)
                if changed_now:
                    conn.execute(_BEAT, [{**r, "changed_at": r["at"] if changed_now[r["sid"]] else None}
                                         for r in rows if r["sid"] in changed_now])
            for sid, changed in updated:
                entry = pending[sid]
                if changed or entry.at - self._written.get(sid, ("", 0.0))[1] >= self.snapshot_every_s:
                    snapshots["sid"].append(sid)
                    snapshots["health"].append(self._snapshot(entry))  # JSON text, spliced in as it is
                    written_now[sid] = (entry.digest, entry.at)
                if changed:
                    changes.append({"sid": sid, "at": entry.at, "summary": entry.summary})
            if self.db.dialect == "postgresql":
                if snapshots["sid"]:
                    conn.execute(_SNAPSHOT_PG, {"rows": _records(snapshots, "health")})
                if changes:  # stored deflated (models.DeflatedJSON): ~110 B instead of ~220
                    conn.execute(_CHANGES_PG, {"rows": json.dumps([
                        {**c, "summary": base64.b64encode(deflate_json(c["summary"])).decode()} for c in changes])})
            else:
                if snapshots["sid"]:
                    stmt = sqlite_insert(_HEALTH).values(station_id=bindparam("sid"), health=bindparam("health"))
                    conn.execute(stmt.on_conflict_do_update(index_elements=["station_id"],
                                                            set_={"health": stmt.excluded.health}),
                                 [{"sid": sid, "health": json.loads(h)}
                                  for sid, h in zip(snapshots["sid"], snapshots["health"], strict=True)])
                if changes:
                    conn.execute(sqlite_insert(HEALTH_CHANGES).on_conflict_do_nothing(), [
                        {"station_id": c["sid"], "at": c["at"], "summary": json.loads(c["summary"])} for c in changes])
        self._written.update(written_now)  # only once committed: a failed flush is retried against the old
        self.flushed += len(updated)
        self.snapshots += len(snapshots["sid"])
        self.changes += len(changes)
        return len(updated)

    def start(self) -> HeartbeatBuffer:
        if self.flush_s <= 0:
            return self
        self._thread = threading.Thread(target=self._run, name="heartbeat-flush", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.flush_s):
            try:
                self.flush()
            except Exception:  # a failed flush must not stop later ones; the next beat retries
                log.exception("heartbeat.flush_failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()


def _records(columns: dict[str, list[Any]], raw: str) -> str:
    """Rows as one JSON array of objects; the column `raw` holds JSON text already, spliced in unparsed."""
    plain = [k for k in columns if k != raw]
    return "[" + ",".join(json.dumps(dict(zip(plain, values, strict=True)))[:-1] + f',"{raw}":{doc}}}'
                          for *values, doc in zip(*(columns[k] for k in plain), columns[raw], strict=True)) + "]"


def station_rows(session: Session) -> list[Any]:
    """Every station as a read-only row (attribute access like the model, without ORM bookkeeping: the
    alert pass reads all of them every few seconds)."""
    return list(session.execute(select(*Station.__table__.columns, StationHealth.health)
                                .outerjoin(StationHealth, StationHealth.station_id == Station.station_id)
                                .order_by(Station.station_id)).all())


def is_online(station: Any, now: float, offline_after_s: float) -> bool:
    return station.last_heartbeat_at is not None and now - station.last_heartbeat_at <= offline_after_s


def lendable(item_type: str | None, state: str | None, battery: int | None, min_battery: int) -> bool:
    """An item ready to lend: in an occupied slot, and for power banks only a charged one."""
    return state == "occupied" and (item_type != "power_bank" or (battery or 0) >= min_battery)


def stock(locker: dict[str, Any], min_battery: int) -> int:
    """Items ready to lend in one locker."""
    return sum(1 for slot in locker.get("slots", [])
               if lendable(locker.get("item_type"), slot.get("state"), slot.get("battery"), min_battery))


# Bounded storage: uptime samples rolled up per station per hour and day, raw rows and old changes expired ----
@dataclass(frozen=True)
class Retention:
    raw_samples_s: float = 6 * 3600.0       # device_samples rows (one per station per sample pass)
    hourly_s: float = 40 * 86400.0          # device_uptime_hourly rows (days stay in device_uptime_daily)
    health_changes_s: float = 30 * 86400.0  # health_changes rows
    every_s: float = 300.0                  # how often the alerts process rolls up and prunes


_SAMPLES = cast(Table, DeviceSample.__table__)
_HOURLY = cast(Table, DeviceUptimeHourly.__table__)
_DAILY = cast(Table, DeviceUptimeDaily.__table__)
HOUR, DAY = 3600.0, 86400.0


def _bucket(session: Session, col: Any, size: float) -> Any:
    # PostgreSQL rounds a float cast to integer; SQLite truncates (and may lack floor()). Times are positive.
    if session.get_bind().dialect.name == "postgresql":
        return func.floor(col / size) * size
    return sa_cast(col / size, Integer) * size


def _rollup(session: Session, source: Table, at: Any, target: Table, key: str, size: float, lo: float,
            hi: float, counts: dict[str, Any]) -> int:
    if hi <= lo:
        return 0
    bucket = _bucket(session, at, size)
    q = (select(source.c.station_id, bucket, *counts.values()).where(at >= lo, at < hi)
         .group_by(source.c.station_id, bucket))
    result = session.connection().execute(insert(target).from_select(["station_id", key, *counts], q))
    return int(result.rowcount or 0)


def roll_up_and_prune(session: Session, now: float, retention: Retention) -> dict[str, int]:
    """Complete hours of raw samples → hourly rows, complete (UTC) days of hours → daily rows; then raw rows
    past retention (never ones not rolled up yet), hourly rows past theirs and old health changes go."""
    done: dict[str, int] = {}
    last_hour = session.scalar(select(func.max(_HOURLY.c.hour)))
    first_raw = session.scalar(select(func.min(_SAMPLES.c.at)))
    lo = last_hour + HOUR if last_hour is not None else (
        None if first_raw is None else float(int(first_raw // HOUR) * HOUR))
    hi = float(int(now // HOUR) * HOUR)
    c = _SAMPLES.c
    done["hours"] = 0 if lo is None else _rollup(session, _SAMPLES, c.at, _HOURLY, "hour", HOUR, lo, hi, {
        "samples": func.count(), "station_up": func.sum(case((c.station_up, 1), else_=0)),
        "printer_samples": func.count(c.printer_up), "printer_up": func.sum(case((c.printer_up, 1), else_=0)),
        "lockers_total": func.sum(c.lockers_total), "lockers_up": func.sum(c.lockers_up)})
    last_day = session.scalar(select(func.max(_DAILY.c.day)))
    first_hour = session.scalar(select(func.min(_HOURLY.c.hour)))
    lo = last_day + DAY if last_day is not None else (
        None if first_hour is None else float(int(first_hour // DAY) * DAY))
    h = _HOURLY.c
    done["days"] = 0 if lo is None else _rollup(session, _HOURLY, h.hour, _DAILY, "day", DAY, lo,
                                                float(int(now // DAY) * DAY), {
        k: func.sum(getattr(h, k)) for k in ("samples", "station_up", "printer_samples", "printer_up",
                                             "lockers_total", "lockers_up")})
    rolled_to = session.scalar(select(func.max(_HOURLY.c.hour)))
    if rolled_to is not None:
        cut = min(now - retention.raw_samples_s, rolled_to + HOUR)
        done["raw_deleted"] = int(session.connection().execute(delete(_SAMPLES).where(_SAMPLES.c.at < cut)).rowcount or 0)
    last_day = session.scalar(select(func.max(_DAILY.c.day)))
    if last_day is not None:
        cut = min(now - retention.hourly_s, last_day + DAY)
        done["hourly_deleted"] = int(session.connection().execute(delete(_HOURLY).where(_HOURLY.c.hour < cut)).rowcount or 0)
    done["changes_deleted"] = int(session.connection().execute(delete(HEALTH_CHANGES).where(
        HEALTH_CHANGES.c.at < now - retention.health_changes_s)).rowcount or 0)
    log.info("storage.rolled_up %s", done)
    return done


def uptime_counts(session: Session, since: float) -> dict[str, list[int]]:
    """Per station since `since`: [samples, station up, printer samples, printer up, locker-samples, lockers
    up], from daily rows, then hourly rows, then raw samples not rolled up yet (each span read once)."""
    agg: dict[str, list[int]] = {}

    def add(rows: Any) -> None:
        for row in rows:
            a = agg.setdefault(row[0], [0, 0, 0, 0, 0, 0])
            for i, v in enumerate(row[1:]):
                a[i] += int(v or 0)

    first_hour = session.scalar(select(func.min(_HOURLY.c.hour)))
    last_hour = session.scalar(select(func.max(_HOURLY.c.hour)))
    cols = ("samples", "station_up", "printer_samples", "printer_up", "lockers_total", "lockers_up")
    start = since
    if first_hour is not None and since < first_hour:
        d = _DAILY.c
        add(session.execute(select(d.station_id, *(func.sum(getattr(d, k)) for k in cols))
                            .where(d.day >= since, d.day < first_hour).group_by(d.station_id)))
        start = first_hour
    if last_hour is not None:
        h = _HOURLY.c
        add(session.execute(select(h.station_id, *(func.sum(getattr(h, k)) for k in cols))
                            .where(h.hour >= float(int(start // HOUR) * HOUR)).group_by(h.station_id)))
        start = max(start, last_hour + HOUR)
    c = _SAMPLES.c
    add(session.execute(select(c.station_id, func.count(), func.sum(case((c.station_up, 1), else_=0)),
                               func.count(c.printer_up), func.sum(case((c.printer_up, 1), else_=0)),
                               func.sum(c.lockers_total), func.sum(c.lockers_up))
                        .where(c.at >= start).group_by(c.station_id)))
    return agg
