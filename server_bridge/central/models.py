"""Tables of the centre: stations and their raw events, and the projections built from those events."""
from __future__ import annotations

import json
import zlib
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, column_property, mapped_column

from server_bridge.central.db import Base

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for event volumes.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def deflate_json(text_: str) -> bytes:
    """Compact JSON text → raw deflate (no zlib header): a 216 B health summary stores as ~110 B. PostgreSQL
    compresses only values of rows over ~2 KB, so a short, repetitive document is stored whole otherwise."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(text_.encode()) + c.flush()


class DeflatedJSON(TypeDecorator[Any]):
    """A JSON value stored deflated (`deflate_json`); reads and writes as the Python value."""
    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        return None if value is None else deflate_json(json.dumps(value, separators=(",", ":")))

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json.loads(zlib.decompress(value, -15))


class StationHealth(Base):
    """The newest health snapshot of a station (JSON, ~1-2 KB), rewritten when its summary changes or once a
    minute. Kept off `stations`, whose row every heartbeat updates: that row stays ~150 B (cheap, HOT updates
    on PostgreSQL) and the alert pass's scan of `stations` reads no JSON."""
    __tablename__ = "station_health"
    station_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    health: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class Station(Base):
    __tablename__ = "stations"
    __table_args__ = (Index("ix_stations_token_hash", "token_hash"),)
    station_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    acked_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_heartbeat_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    version: Mapped[str | None] = mapped_column(String(40), nullable=True)
    uptime_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    # read-only here, loaded when used (station_health holds it; fleet.HeartbeatBuffer writes it)
    health: Mapped[dict | None] = column_property(
        select(StationHealth.health).where(StationHealth.station_id == station_id).scalar_subquery(), deferred=True)
    # An upload that cannot make progress on its own: gap (the station is past what we have: a restored
    # database) | seq_reused (another event under a stored seq: a re-imaged station). Cleared on recovery.
    upload_problem: Mapped[str | None] = mapped_column(String(20), nullable=True)
    upload_problem_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    upload_problem_detail: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # The summary of `health` the alert rules judge (fleet.health_summary): its digest, and when it last
    # changed, so an alert pass re-reads only stations whose health changed since the one before.
    health_digest: Mapped[str | None] = mapped_column(String(16), nullable=True)
    health_changed_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("station_id", "seq", name="events_station_seq"),
                      Index("events_type", "type"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    ts: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict] = mapped_column(JSON)
    received_at: Mapped[float] = mapped_column(Float)


class Lending(Base):
    """One start of an item's timeline. Its return fields are derived: the timeline's pairing decides them
    (`return_kind` reported = a return event closed it, inferred = the item's next start did)."""
    __tablename__ = "lendings"
    # item look-ups use (item_id, started_at); the overdue rule reads open lendings only (revision 0015)
    __table_args__ = (Index("lendings_item_started", "item_id", "started_at"),
                      Index("lendings_open_due", "due_at", postgresql_where=text("status = 'open'"),
                            sqlite_where=text("status = 'open'")))
    lending_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    item_type: Mapped[str] = mapped_column(String(20))
    item_id: Mapped[str] = mapped_column(String(64))
    station_id: Mapped[str] = mapped_column(String(32))
    locker_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    slot: Mapped[int | None] = mapped_column(Integer, nullable=True)
    started_at: Mapped[float] = mapped_column(Float)
    due_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(12))  # open | returned | bought
    returned_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    return_station_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    return_locker_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    return_slot: Mapped[int | None] = mapped_column(Integer, nullable=True)
    fee_cents: Mapped[int | None] = mapped_column(Integer, nullable=True)
    price_cents: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cmd_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    return_kind: Mapped[str | None] = mapped_column(String(10), nullable=True)  # reported | inferred


class LendingReturn(Base):
    """Every reported return of an item (the returns log), kept whatever it was paired with.

    `outcome`: closed (it ended `lending_id`), duplicate (the same return reported again), unmatched (no
    lending was out at that moment: its start has not arrived, or a second return with none in between)."""
    __tablename__ = "lending_returns"
    __table_args__ = (UniqueConstraint("station_id", "seq", name="lending_returns_station_seq"),
                      Index("lending_returns_item_at", "item_id", "returned_at"),
                      Index("lending_returns_outcome", "outcome", postgresql_where=text("outcome <> 'closed'"),
                            sqlite_where=text("outcome <> 'closed'")))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(BigInteger)
    item_id: Mapped[str] = mapped_column(String(64))
    returned_at: Mapped[float] = mapped_column(Float)
    named_lending_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    member_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    locker_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    slot: Mapped[int | None] = mapped_column(Integer, nullable=True)
    fee_cents: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cmd_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lending_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome: Mapped[str] = mapped_column(String(10), default="unmatched")


class Member(Base):
    __tablename__ = "members"
    member_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    level: Mapped[str] = mapped_column(String(20))
    points: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float)


class MemberVisit(Base):
    __tablename__ = "member_visits"
    __table_args__ = (Index("member_visits_member_at", "member_id", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(String(64))
    station_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(40))


class PointsEntry(Base):
    """Every points change, tied to the event that caused it (so a replay cannot apply it twice)."""
    __tablename__ = "points_ledger"
    __table_args__ = (UniqueConstraint("station_id", "seq", name="points_station_seq"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(String(64), index=True)
    delta: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    station_id: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[float] = mapped_column(Float)


class Complaint(Base):
    __tablename__ = "complaints"
    complaint_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(30))
    floor: Mapped[str] = mapped_column(String(20))
    shop: Mapped[str | None] = mapped_column(String(100), nullable=True)
    text: Mapped[str] = mapped_column(Text, default="")
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    member_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    phone_masked: Mapped[str | None] = mapped_column(String(20), nullable=True)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    filed_at: Mapped[float] = mapped_column(Float)
    first_response_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    closed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | answered | closed


class Rating(Base):
    __tablename__ = "ratings"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(32))
    flow: Mapped[str] = mapped_column(String(40))
    score: Mapped[int] = mapped_column(Integer)
    lang: Mapped[str] = mapped_column(String(10))
    at: Mapped[float] = mapped_column(Float, index=True)


class MaintenanceRecord(Base):
    __tablename__ = "maintenance"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(32))
    staff_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(12))
    device: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[float] = mapped_column(Float)


class DeviceSample(Base):
    """One sample per station per evaluation: feeds the device-uptime KPI."""
    __tablename__ = "device_samples"
    __table_args__ = (Index("device_samples_at", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[float] = mapped_column(Float)
    station_up: Mapped[bool] = mapped_column(Boolean)
    printer_up: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    lockers_up: Mapped[int] = mapped_column(Integer, default=0)
    lockers_total: Mapped[int] = mapped_column(Integer, default=0)


class Alert(Base):
    """`open_key` is set while the alert is not resolved, so one condition has at most one live alert."""
    __tablename__ = "alerts"
    __table_args__ = (Index("alerts_status", "status", "raised_at"),
                      Index("alerts_key_hist", "kind", "station_id", "subject"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    station_id: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64), default="")
    severity: Mapped[str] = mapped_column(String(10))  # critical | warning
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    open_key: Mapped[str | None] = mapped_column(String(160), unique=True, nullable=True)
    status: Mapped[str] = mapped_column(String(12))  # open | acknowledged | resolved
    raised_at: Mapped[float] = mapped_column(Float)
    cleared_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    acknowledged_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resolved_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ProjectionFailure(Base):
    """An event stored but not applied because its projection raised; ops see it as an alert."""
    __tablename__ = "projection_failures"
    __table_args__ = (UniqueConstraint("station_id", "seq", name="projection_failures_station_seq"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(64))
    error: Mapped[str] = mapped_column(Text)
    at: Mapped[float] = mapped_column(Float)


class RefusedEvent(Base):
    """An event the centre refused for its content (its `data` fails its type's model): kept here in quarantine
    with the reason instead of in `events`, never projected while refused. Its seq counts as received for the
    station's contiguous `acked_seq`, so the events after it are stored and projected (docs/central.md,
    "Refused events"). `accepted_at`: the station sent it again and it now passes; it is then in `events`
    and was projected once."""
    __tablename__ = "refused_events"
    __table_args__ = (Index("refused_events_open", "accepted_at", "station_id"),)
    station_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    ts: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict] = mapped_column(JSON)
    code: Mapped[str] = mapped_column(String(40))
    field: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    refusals: Mapped[int] = mapped_column(Integer, default=1)
    first_refused_at: Mapped[float] = mapped_column(Float)
    last_refused_at: Mapped[float] = mapped_column(Float)
    accepted_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class _UptimeCounts:
    samples: Mapped[int] = mapped_column(Integer)
    station_up: Mapped[int] = mapped_column(Integer)
    printer_samples: Mapped[int] = mapped_column(Integer)
    printer_up: Mapped[int] = mapped_column(Integer)
    lockers_total: Mapped[int] = mapped_column(Integer)
    lockers_up: Mapped[int] = mapped_column(Integer)


class DeviceUptimeHourly(_UptimeCounts, Base):
    """device_samples summed per station per hour (raw rows expire; fleet.roll_up_and_prune)."""
    __tablename__ = "device_uptime_hourly"
    station_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    hour: Mapped[float] = mapped_column(Float, primary_key=True, index=True)


class DeviceUptimeDaily(_UptimeCounts, Base):
    """Hours summed per station per UTC day: kept for good (about 60 bytes per station per day)."""
    __tablename__ = "device_uptime_daily"
    station_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[float] = mapped_column(Float, primary_key=True, index=True)


class HealthChange(Base):
    """A station's health summary each time it changed (`station_health` holds only the latest), kept
    `fleet.Retention.health_changes_s`. ~200 B a row (revision 0015): keyed by (station, at), the summary
    deflated, and on PostgreSQL a BRIN index on `at` (rows arrive in time order) for the retention delete."""
    __tablename__ = "health_changes"
    __table_args__ = (Index("ix_health_changes_at", "at", postgresql_using="brin"),)
    station_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[float] = mapped_column(Float, primary_key=True)
    summary: Mapped[dict] = mapped_column(DeflatedJSON)
