"""Alerts: rules find conditions, the engine raises each once, ops acknowledge and resolve, history stays.

A rule is `fn(session, ctx) -> Iterable[Finding]`, listed with its severity in `wiring.register_core` (a device
rule is judged only for stations that are online: an offline station's last health is stale).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import JSON, Table, func, insert, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server_bridge.central.db import Database
from server_bridge.central.errors import NotFound
from server_bridge.central.fleet import Retention, is_online, roll_up_and_prune, stock
from server_bridge.central.models import (
    Alert,
    Complaint,
    DeviceSample,
    Lending,
    ProjectionFailure,
    Station,
    StationHealth,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertSettings:
    offline_after_s: float = 60.0
    low_stock_min: int = 3
    min_charged_battery: int = 80
    complaint_response_s: float = 3600.0
    complaint_close_s: float = 86400.0
    sample_every_s: float = 60.0


@dataclass(frozen=True)
class Finding:
    station_id: str
    subject: str = ""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class RuleContext:
    now: float
    settings: AlertSettings
    stations: list[Any]  # stations rows: device rules get those to judge, with `health`; others see FleetView's
    online: set[str]


AlertRule = Callable[[Session, RuleContext], Iterable[Finding]]


@dataclass(frozen=True)
class RuleSpec:
    fn: AlertRule
    severity: str
    device: bool


def station_offline(session: Session, ctx: RuleContext) -> Iterable[Finding]:
    for st in ctx.stations:
        if st.station_id not in ctx.online:
            yield Finding(st.station_id, "", {"last_heartbeat_at": st.last_heartbeat_at})


def printer_flag(flag: str) -> AlertRule:
    def rule(session: Session, ctx: RuleContext) -> Iterable[Finding]:
        for st in ctx.stations:
            printer = (st.health or {}).get("printer")
            if st.station_id in ctx.online and printer and printer.get(flag):
                yield Finding(st.station_id, "printer")
    return rule


def printer_offline(session: Session, ctx: RuleContext) -> Iterable[Finding]:
    for st in ctx.stations:
        printer = (st.health or {}).get("printer")
        if st.station_id in ctx.online and printer is not None and not printer.get("online"):
            yield Finding(st.station_id, "printer")


def locker_offline(session: Session, ctx: RuleContext) -> Iterable[Finding]:
    for st in ctx.stations:
        if st.station_id in ctx.online:
            for lk in (st.health or {}).get("lockers", []):
                if not lk.get("online"):
                    yield Finding(st.station_id, lk["locker_id"], {"item_type": lk.get("item_type")})


def low_stock(session: Session, ctx: RuleContext) -> Iterable[Finding]:
    for st in ctx.stations:
        if st.station_id in ctx.online:
            for lk in (st.health or {}).get("lockers", []):
                if lk.get("item_type") in ("umbrella", "power_bank") and lk.get("online"):
                    ready = stock(lk, ctx.settings.min_charged_battery)
                    if ready < ctx.settings.low_stock_min:
                        yield Finding(st.station_id, lk["locker_id"],
                                      {"ready": ready, "min": ctx.settings.low_stock_min,
                                       "item_type": lk.get("item_type")})


def overdue(session: Session, ctx: RuleContext) -> Iterable[Finding]:
    rows = session.scalars(select(Lending).where(Lending.status == "open", Lending.due_at < ctx.now))
    for lending in rows:
        yield Finding(lending.station_id, lending.lending_id,
                      {"item_id": lending.item_id, "item_type": lending.item_type, "due_at": lending.due_at})


def complaint_response(session: Session, ctx: RuleContext) -> Iterable[Finding]:
    limit = ctx.now - ctx.settings.complaint_response_s
    for c in session.scalars(select(Complaint).where(Complaint.first_response_at.is_(None),
                                                     Complaint.closed_at.is_(None), Complaint.filed_at < limit)):
        yield Finding(c.station_id, c.complaint_id, {"category": c.category, "floor": c.floor})


def complaint_close(session: Session, ctx: RuleContext) -> Iterable[Finding]:
    limit = ctx.now - ctx.settings.complaint_close_s
    for c in session.scalars(select(Complaint).where(Complaint.closed_at.is_(None), Complaint.filed_at < limit)):
        yield Finding(c.station_id, c.complaint_id, {"category": c.category, "floor": c.floor})


def projection_failed(session: Session, ctx: RuleContext) -> Iterable[Finding]:
    for f in session.scalars(select(ProjectionFailure)):
        yield Finding(f.station_id, f"{f.type}#{f.seq}", {"error": f.error[:200]})


UPLOAD_SEVERITY = "critical"
CHORES_EVERY_S = 60.0  # the registry's chores (e.g. the desk's retention purge) run with the pass this often


def upload_problem(problem: str) -> AlertRule:
    """Uploads that cannot progress by themselves (ingest sets the station's problem and raises the alert at
    once with `raise_now`; the station's recovery clears the problem, and then the pass clears the alert)."""
    def rule(session: Session, ctx: RuleContext) -> Iterable[Finding]:
        for st in ctx.stations:
            if st.upload_problem == problem:
                yield Finding(st.station_id, "", dict(st.upload_problem_detail or {}))
    return rule


def _key(kind: str, station_id: str, subject: str) -> str:
    return f"{kind}|{station_id}|{subject}"[:160]


class FleetView:
    """The alert pass's picture of the fleet, kept between passes by the engine.

    A pass reads only the stations that are offline, have an upload problem, are new, or whose health summary
    changed since the pass before (one scan PostgreSQL filters by itself: `health_changed_at` is the
    changed-since watermark), and the health document only of the changed ones and of those that came back
    online. Device rules are re-judged only for those and for stations that went on- or offline; their other
    findings are carried over. `stations` (what non-device rules see) are those rows, which include every
    offline station and every upload problem.

    Decoded health documents are not kept: per station only what the uptime sample needs (`devices`). The first
    pass (a fresh view) reads every document, in chunks of `CHUNK` judged and dropped one after another."""

    CHANGE_MARGIN_S = 10.0  # a heartbeat is committed up to a flush period after it is stamped
    CHUNK = 2000

    def __init__(self) -> None:
        self.devices: dict[str, tuple[bool | None, int, int]] = {}  # printer ok, lockers online, lockers
        self.changed_at: dict[str, float | None] = {}
        self.known: set[str] = set()
        self.offline: set[str] = set()
        self.online: set[str] = set()
        self.found: dict[str, dict[str, list[Finding]]] = {}  # device rule -> station -> its findings
        self.stations: list[Any] = []
        self.to_read: list[str] = []  # stations whose health document the pass must read
        self.health_read = 0  # health documents read by the last pass
        self._changed_mark: float | None = None

    @property
    def cold(self) -> bool:
        return self._changed_mark is None

    def refresh(self, session: Session, now: float, settings: AlertSettings) -> set[str]:
        """Read what may have changed; returns the stations device rules must judge again."""
        cut = now - settings.offline_after_s
        st = Station.__table__.c
        q = select(*Station.__table__.columns)
        if not self.cold:
            # new stations are found by this scan too: never beaten (NULL) or beaten since (changed_at moved)
            q = q.where(or_(st.last_heartbeat_at.is_(None), st.last_heartbeat_at < cut,
                            st.upload_problem.is_not(None), st.health_changed_at > self._changed_mark))
        if session.get_bind().dialect.name == "postgresql":
            # a filtered scan of ~100 B rows: two parallel workers started per pass cost more than they save
            session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        rows = list(session.execute(q.order_by(st.station_id)).all())
        changed = [r.station_id for r in rows
                   if r.station_id not in self.changed_at or r.health_changed_at != self.changed_at[r.station_id]]
        self.changed_at.update((r.station_id, r.health_changed_at) for r in rows)
        self.known.update(r.station_id for r in rows)
        offline = {r.station_id for r in rows if not is_online(r, now, settings.offline_after_s)}
        flipped = (offline ^ self.offline) if not self.cold else set(self.known)
        self.offline, self.online = offline, self.known - offline
        self.to_read = sorted(set(changed) | (flipped & self.online))
        # next time: what changed since a little before this pass (a beat is stamped before it is committed)
        self._changed_mark = now - self.CHANGE_MARGIN_S
        self.stations = rows
        return set(changed) | flipped

    def with_health(self, session: Session, station_ids: Iterable[str]) -> Iterator[list[Any]]:
        """The stations to judge, with `health` (read here, `CHUNK` at a time, only for `to_read`)."""
        by_id = {r.station_id: r for r in self.stations}
        ids = sorted(sid for sid in station_ids if sid in self.known)
        wanted = set(self.to_read)
        self.health_read = 0
        for i in range(0, len(ids), self.CHUNK):
            chunk = ids[i:i + self.CHUNK]
            need = [sid for sid in chunk if sid in wanted]
            docs: dict[str, Any] = dict(session.execute(
                select(StationHealth.station_id, self._health_column(session))
                .where(StationHealth.station_id.in_(need))).tuples().all()) if need else {}
            self.health_read += len(docs)
            for sid in need:
                self.devices[sid] = _devices(docs.get(sid))
            yield [SimpleNamespace(**by_id[sid]._asdict(), health=docs.get(sid)) if sid in by_id
                   else SimpleNamespace(station_id=sid, health=docs.get(sid)) for sid in chunk]

    @staticmethod
    def _health_column(session: Session) -> Any:
        # PostgreSQL drops the null fields first (a third of a snapshot's bytes: unset battery, fault, ...),
        # so Python decodes ~2.9 KB instead of ~4.3 KB; rules read health with .get, which sees the same.
        if session.get_bind().dialect.name == "postgresql":
            return func.json_strip_nulls(StationHealth.health, type_=JSON).label("health")
        return StationHealth.health


def _devices(health: dict[str, Any] | None) -> tuple[bool | None, int, int]:
    """What the uptime sample needs of a health document: printer up (None: no printer), lockers online, lockers."""
    health = health or {}
    printer = health.get("printer")
    lockers = health.get("lockers", [])
    return (None if printer is None else bool(printer.get("online") and not printer.get("paper_out")),
            sum(1 for lk in lockers if lk.get("online")), len(lockers))


def evaluate(session: Session, now: float, settings: AlertSettings, rules: Mapping[str, RuleSpec],
             view: FleetView | None = None) -> list[Alert]:
    """One pass over every rule (`registry.alert_rules`); returns the alerts raised in this pass.

    With the engine's `view` only what changed since its last pass is judged again (see FleetView); device
    rules get `ctx.stations` rows with `health`, other rules rows without it."""
    view = view or FleetView()
    dirty = view.refresh(session, now, settings)
    ctx = RuleContext(now, settings, view.stations, view.online)
    raised: list[Alert] = []
    device = {kind: spec for kind, spec in rules.items() if spec.device}
    for kind in device:
        cache = view.found.setdefault(kind, {})
        for sid in dirty:
            cache.pop(sid, None)
    for chunk in view.with_health(session, dirty):  # every station on a fresh view: judged a chunk at a time
        device_ctx = RuleContext(now, settings, chunk, view.online)
        for kind, spec in device.items():
            cache = view.found[kind]
            for f in spec.fn(session, device_ctx):
                cache.setdefault(f.station_id, []).append(f)
    # every live or not-yet-cleared alert in one query, not one per rule (rules raise only their own kind)
    live: dict[str, list[Alert]] = {}
    for alert in session.scalars(select(Alert).where(
            Alert.kind.in_(list(rules)), or_(Alert.open_key.is_not(None), Alert.cleared_at.is_(None)))):
        live.setdefault(alert.kind, []).append(alert)
    for kind, spec in rules.items():
        if spec.device:
            findings: Iterable[Finding] = (f for fs in view.found[kind].values() for f in fs)
        else:
            findings = spec.fn(session, ctx)
        found = {_key(kind, f.station_id, f.subject): f for f in findings}
        candidates = live.get(kind, [])
        blocked: set[str] = set()
        for alert in candidates:
            key = _key(kind, alert.station_id, alert.subject)
            if key in found:
                # Still (or again) true: an unresolved alert stays the one alert; a resolved one is not
                # raised again until its condition has cleared once.
                alert.cleared_at = None
                blocked.add(key)
            elif alert.cleared_at is None and (not spec.device or alert.station_id in view.online):
                alert.cleared_at = now
        for key, f in found.items():
            if key in blocked:
                continue
            alert = Alert(kind=kind, station_id=f.station_id, subject=f.subject, severity=spec.severity,
                          params=f.params, open_key=key, status="open", raised_at=now)
            session.add(alert)
            raised.append(alert)
            log.warning("alert.raised kind=%s station=%s subject=%s", kind, f.station_id, f.subject)
    return raised


def raise_now(session: Session, kind: str, severity: str, station_id: str, params: dict[str, Any], now: float,
              subject: str = "") -> bool:
    """Raise an alert from where the condition is seen (it may be gone before the next pass, e.g. an upload
    problem recovered within a second). Same rules as a pass: one live alert per key; the next pass marks it
    cleared when its rule no longer finds the condition. True when a new alert was raised."""
    table = cast(Table, Alert.__table__)
    row = {"kind": kind, "station_id": station_id, "subject": subject, "severity": severity,
           "params": params, "open_key": _key(kind, station_id, subject), "status": "open", "raised_at": now}
    dialect = session.get_bind().dialect.name
    stmt = (postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)).on_conflict_do_nothing()
    raised = session.connection().execute(stmt, [row]).rowcount == 1
    if raised:
        log.warning("alert.raised kind=%s station=%s subject=%s", kind, station_id, subject)
    return raised


def acknowledge(session: Session, alert_id: int, by: str, now: float) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound("no such alert")
    if alert.status == "open":
        alert.status, alert.acknowledged_at, alert.acknowledged_by = "acknowledged", now, by
        log.info("alert.acknowledged id=%d by=%s", alert_id, by)
    return alert


def resolve(session: Session, alert_id: int, by: str, now: float) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound("no such alert")
    if alert.status != "resolved":
        if alert.acknowledged_at is None:
            alert.acknowledged_at, alert.acknowledged_by = now, by
        alert.status, alert.resolved_at, alert.resolved_by = "resolved", now, by
        alert.open_key = None
        log.info("alert.resolved id=%d by=%s", alert_id, by)
    return alert


def sample_devices(session: Session, now: float, settings: AlertSettings, view: FleetView | None = None) -> int:
    """A row per station for the uptime KPI (one multi-row insert; rolled up and expired by
    fleet.roll_up_and_prune)."""
    if view is None:  # judge nothing: read what the sample needs
        view = FleetView()
        view.refresh(session, now, settings)
        for _ in view.with_health(session, view.known):
            pass
    rows = []
    for sid in sorted(view.known):
        up = sid in view.online
        printer_ok, lockers_online, lockers = view.devices.get(sid, (None, 0, 0))
        rows.append({"station_id": sid, "at": now, "station_up": up,
                     "printer_up": None if printer_ok is None else bool(up and printer_ok),
                     "lockers_up": lockers_online if up else 0, "lockers_total": lockers})
    if rows:
        session.connection().execute(insert(cast(Table, DeviceSample.__table__)), rows)
    return len(rows)


class AlertEngine:
    """Evaluates rules every `every_s` seconds in a background thread (one per centre instance)."""

    def __init__(self, db: Database, settings: AlertSettings, rules: Mapping[str, RuleSpec], every_s: float = 5.0,
                 clock: Callable[[], float] = time.time, retention: Retention | None = None,
                 chores: Mapping[str, Callable[[Session, float], Any]] | None = None) -> None:
        self.db, self.settings, self.rules, self.every_s, self.clock = db, settings, rules, every_s, clock
        self.chores = dict(chores or {})
        self._last_chores = -1e18
        self.retention = retention or Retention()
        self.view = FleetView()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_sample = -1e18
        self._last_rollup = -1e18
        self.last_pass_s = 0.0

    def run_once(self) -> list[Alert]:
        now = self.clock()
        started = time.perf_counter()
        try:
            with self.db.session() as session:
                raised = evaluate(session, now, self.settings, self.rules, self.view)
        except Exception:
            self.view = FleetView()  # the pass rolled back: judge everything afresh next time
            raise
        self.last_pass_s = time.perf_counter() - started
        if now - self._last_sample >= self.settings.sample_every_s:
            with self.db.session() as session:
                sample_devices(session, now, self.settings, self.view)
            self._last_sample = now
        if now - self._last_rollup >= self.retention.every_s:
            with self.db.session() as session:
                roll_up_and_prune(session, now, self.retention)
            self._last_rollup = now
        if self.chores and now - self._last_chores >= CHORES_EVERY_S:
            for name, chore in self.chores.items():
                try:
                    with self.db.session() as session:
                        chore(session, now)
                except Exception:  # one chore failing does not stop the others nor the alerts
                    log.exception("alert.chore_failed chore=%s", name)
            self._last_chores = now
        return raised

    def start(self) -> AlertEngine:
        self._thread = threading.Thread(target=self._run, name="alert-engine", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.run_once()
            except Exception:  # e.g. two instances raising the same alert at once: the next pass settles it
                log.exception("alert.evaluate_failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
