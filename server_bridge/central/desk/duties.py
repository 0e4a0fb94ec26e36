"""The desk's written duties at the centre (issue 17): service supplies, bag-storage incidents, shift handovers.

Station events `supplies.moved`, `supplies.checked`, `storage.incident`, `storage.overnight` and `shift.handover`
become the tables below (migration 0009); alert rules `supplies_low` (one per station and item while at or below
the profile's line — the alert key keeps it to one however many hand-outs follow), `supplies_check_overdue` (the
充足与完好 check past its schedule) and `storage_overnight`; KPI panels `supplies_used` and `storage_incidents`
(their rows are the CSV `/export/kpi-<panel>.csv`). Storage incidents' personal fields are purged past retention
by `desk.retention` (rule `storage_incident`).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, Float, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from server_bridge.central import charts
from server_bridge.central.alerts import Finding, RuleContext
from server_bridge.central.db import Base
from server_bridge.central.kpis import KpiWindow, Panel, _day
from server_bridge.central.models import BigId
from server_bridge.central.registry import Registry
from server_bridge.central.schemas import Envelope, Epoch

Id = Annotated[str, Field(min_length=1, max_length=64)]
Item = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,32}$")]
OVERNIGHT_ALERT_S = 12 * 3600
MAX_PHOTO_B64 = 400_000


# tables ----------------------------------------------------------------------------------------
class DeskSupplyStock(Base):
    __tablename__ = "desk_supply_stock"
    station_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    item: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    stock: Mapped[int] = mapped_column(Integer)
    out: Mapped[int] = mapped_column(Integer, default=0)
    low_at: Mapped[int] = mapped_column(Integer)
    full: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[float] = mapped_column(Float)


class DeskSupplyMove(Base):
    __tablename__ = "desk_supply_moves"
    __table_args__ = (Index("desk_supply_moves_at", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(32))
    item: Mapped[str] = mapped_column(String(32))
    delta: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(12))
    by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    at: Mapped[float] = mapped_column(Float)


class DeskSupplyCheck(Base):
    """The last 充足与完好 check per station, and when the next is due."""

    __tablename__ = "desk_supply_checks"
    station_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    staff_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Float)
    next_due_at: Mapped[float] = mapped_column(Float)
    items: Mapped[list] = mapped_column(JSON, default=list)


class DeskStorageIncident(Base):
    __tablename__ = "desk_storage_incidents"
    __table_args__ = (Index("desk_storage_incidents_at", "at"),)
    incident_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(12))  # lost_tag | overnight | damage
    deposit_id: Mapped[str] = mapped_column(String(32))
    locker_id: Mapped[str] = mapped_column(String(32))
    slot: Mapped[int] = mapped_column(Integer)
    staff_id: Mapped[str] = mapped_column(String(64))
    second_staff_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    contents: Mapped[str | None] = mapped_column(Text, nullable=True)
    id_masked: Mapped[str | None] = mapped_column(String(24), nullable=True)
    found_item_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    photos: Mapped[list] = mapped_column(JSON, default=list)  # base64 JPEGs, small copies
    at: Mapped[float] = mapped_column(Float)
    purged_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class DeskOvernight(Base):
    __tablename__ = "desk_storage_overnight"
    station_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    bags: Mapped[list] = mapped_column(JSON, default=list)
    at: Mapped[float] = mapped_column(Float)


class DeskHandover(Base):
    __tablename__ = "desk_handovers"
    __table_args__ = (Index("desk_handovers_station_at", "station_id", "at"),)
    handover_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(32))
    outgoing: Mapped[str] = mapped_column(String(64))
    incoming: Mapped[str] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[dict] = mapped_column(JSON, default=dict)


# event data --------------------------------------------------------------------------------------
class _Data(BaseModel):
    model_config = ConfigDict(extra="allow")


class SuppliesMoved(_Data):
    move_id: Id
    item: Item
    kind: Literal["free", "returnable", "consumable"]
    delta: int = Field(ge=-1000, le=1000)
    reason: Literal["handout", "returned", "restock", "check"]
    stock: int = Field(ge=0, le=1000)
    out: int = Field(default=0, ge=0, le=1000)
    low_at: int = Field(ge=0, le=1000)
    full: int = Field(ge=1, le=1000)
    by: Id | None = None
    at: Epoch


class CheckedItem(_Data):
    item: Item
    count: int = Field(ge=0, le=1000)
    condition: Literal["ok", "damaged", "expired"]


class SuppliesChecked(_Data):
    staff_id: Id
    items: list[CheckedItem] = Field(max_length=32)
    at: Epoch
    next_due_at: Epoch


class StorageIncident(_Data):
    incident_id: Id
    kind: Literal["lost_tag", "overnight", "damage"]
    deposit_id: Id
    locker_id: Id
    slot: int = Field(ge=1, le=256)
    staff_id: Id
    second_staff_id: Annotated[str, Field(max_length=64)] | None = None
    contents: Annotated[str, Field(max_length=2000)] | None = None
    id_masked: Annotated[str, Field(max_length=24, pattern=r"^\*+[0-9A-Z]{4}$")] | None = None
    found_item_id: Id | None = None
    photos_jpeg_b64: list[Annotated[str, Field(max_length=MAX_PHOTO_B64, pattern=r"^[A-Za-z0-9+/=]*$")]] = \
        Field(default_factory=list, max_length=3)
    at: Epoch


class OvernightBag(_Data):
    deposit_id: Id
    locker_id: Id
    slot: int = Field(ge=1, le=256)
    started_at: Epoch


class StorageOvernight(_Data):
    day: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]
    count: int = Field(ge=0, le=10_000)
    bags: list[OvernightBag] = Field(max_length=10_000)
    at: Epoch


class LockerCount(_Data):
    items: int = Field(ge=0, le=256)
    empty: int = Field(ge=0, le=256)
    fault: int = Field(ge=0, le=256)
    online: int = Field(ge=0, le=1)


class ShiftHandover(_Data):
    handover_id: Id
    outgoing: Id
    incoming: Id
    at: Epoch
    since: Epoch | None = None
    lockers: dict[Id, LockerCount] = Field(max_length=64)
    desk: dict[Item, Annotated[int, Field(ge=0, le=1000)]] = Field(default_factory=dict, max_length=32)
    supplies_used: dict[Item, Annotated[int, Field(ge=0, le=100_000)]] = Field(default_factory=dict, max_length=32)
    open: dict[Annotated[str, Field(max_length=32)], Annotated[int, Field(ge=0, le=1_000_000)]] = \
        Field(default_factory=dict, max_length=32)
    problems: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=100)
    note: Annotated[str, Field(max_length=1000)] = ""


# projections -------------------------------------------------------------------------------------
def project_moved(session: Session, station_id: str, event: Envelope) -> None:
    d = SuppliesMoved.model_validate(event.data)
    row = session.get(DeskSupplyStock, (station_id, d.item))
    if row is None:
        session.add(DeskSupplyStock(station_id=station_id, item=d.item, kind=d.kind, stock=d.stock, out=d.out,
                                    low_at=d.low_at, full=d.full, updated_at=d.at))
    else:
        row.kind, row.stock, row.out, row.low_at, row.full, row.updated_at = (d.kind, d.stock, d.out, d.low_at,
                                                                              d.full, d.at)
    session.add(DeskSupplyMove(station_id=station_id, item=d.item, delta=d.delta, reason=d.reason, by=d.by, at=d.at))


def project_checked(session: Session, station_id: str, event: Envelope) -> None:
    d = SuppliesChecked.model_validate(event.data)
    items = [i.model_dump() for i in d.items]
    row = session.get(DeskSupplyCheck, station_id)
    if row is None:
        session.add(DeskSupplyCheck(station_id=station_id, staff_id=d.staff_id, at=d.at, next_due_at=d.next_due_at,
                                    items=items))
    elif d.at >= row.at:
        row.staff_id, row.at, row.next_due_at, row.items = d.staff_id, d.at, d.next_due_at, items


def project_incident(session: Session, station_id: str, event: Envelope) -> None:
    d = StorageIncident.model_validate(event.data)
    if session.get(DeskStorageIncident, d.incident_id) is None:
        session.add(DeskStorageIncident(
            incident_id=d.incident_id, station_id=station_id, kind=d.kind, deposit_id=d.deposit_id,
            locker_id=d.locker_id, slot=d.slot, staff_id=d.staff_id, second_staff_id=d.second_staff_id,
            contents=d.contents, id_masked=d.id_masked, found_item_id=d.found_item_id, photos=d.photos_jpeg_b64,
            at=d.at))


def project_overnight(session: Session, station_id: str, event: Envelope) -> None:
    d = StorageOvernight.model_validate(event.data)
    if session.get(DeskOvernight, (station_id, d.day)) is None:
        session.add(DeskOvernight(station_id=station_id, day=d.day, count=d.count,
                                  bags=[b.model_dump() for b in d.bags], at=d.at))


def project_handover(session: Session, station_id: str, event: Envelope) -> None:
    d = ShiftHandover.model_validate(event.data)
    if session.get(DeskHandover, d.handover_id) is None:
        body = d.model_dump(exclude={"handover_id", "outgoing", "incoming", "at", "note"})
        session.add(DeskHandover(handover_id=d.handover_id, station_id=station_id, outgoing=d.outgoing,
                                 incoming=d.incoming, at=d.at, note=d.note, body=body))


# alert rules -------------------------------------------------------------------------------------
def supplies_low(session: Session, ctx: RuleContext) -> Iterable[Finding]:
    for row in session.scalars(select(DeskSupplyStock).where(DeskSupplyStock.stock <= DeskSupplyStock.low_at)):
        yield Finding(row.station_id, row.item, {"stock": row.stock, "low_at": row.low_at, "full": row.full})


def supplies_check_overdue(session: Session, ctx: RuleContext) -> Iterable[Finding]:
    checked = {r.station_id: r for r in session.scalars(select(DeskSupplyCheck))}
    keeping = set(session.scalars(select(DeskSupplyStock.station_id).distinct()))
    for station_id in sorted(keeping | set(checked)):
        row = checked.get(station_id)
        if row is None or row.next_due_at < ctx.now:
            yield Finding(station_id, "supplies", {"due_at": None if row is None else row.next_due_at})


def storage_overnight(session: Session, ctx: RuleContext) -> Iterable[Finding]:
    for row in session.scalars(select(DeskOvernight).where(DeskOvernight.at >= ctx.now - OVERNIGHT_ALERT_S)):
        yield Finding(row.station_id, row.day, {"count": row.count})


# KPI panels --------------------------------------------------------------------------------------
def supplies_used(session: Session, w: KpiWindow, tr: Callable[..., str]) -> Panel:
    counts: Counter[tuple[str, str]] = Counter()
    for at, item, delta in session.execute(select(DeskSupplyMove.at, DeskSupplyMove.item, DeskSupplyMove.delta)
                                           .where(DeskSupplyMove.at >= w.since,
                                                  DeskSupplyMove.reason == "handout")).tuples():
        counts[(_day(at), item)] += -delta
    labels = w.day_labels()
    items = sorted({i for _, i in counts}) or ["first_aid_kit", "sewing_kit"]
    series = {i: [float(counts[(d, i)]) for d in labels] for i in items}
    rows = [{"day": d, **{i: counts[(d, i)] for i in items}} for d in labels]
    return Panel("supplies_used", "kpi.supplies_used", charts.stacked_bars(labels, series, {i: tr(i) for i in items}),
                 rows, f"{sum(counts.values())}")


def storage_incidents(session: Session, w: KpiWindow, tr: Callable[..., str]) -> Panel:
    counts: Counter[tuple[str, str]] = Counter()
    for at, kind in session.execute(select(DeskStorageIncident.at, DeskStorageIncident.kind)
                                    .where(DeskStorageIncident.at >= w.since)).tuples():
        counts[(_day(at), kind)] += 1
    labels = w.day_labels()
    kinds = ["lost_tag", "overnight", "damage"]
    series = {k: [float(counts[(d, k)]) for d in labels] for k in kinds}
    rows = [{"day": d, **{k: counts[(d, k)] for k in kinds}} for d in labels]
    return Panel("storage_incidents", "kpi.storage_incidents",
                 charts.stacked_bars(labels, series, {k: tr("incident." + k) for k in kinds}), rows,
                 f"{sum(counts.values())}")


def register(reg: Registry) -> None:
    reg.projection("supplies.moved", project_moved, SuppliesMoved)
    reg.projection("supplies.checked", project_checked, SuppliesChecked)
    reg.projection("storage.incident", project_incident, StorageIncident)
    reg.projection("storage.overnight", project_overnight, StorageOvernight)
    reg.projection("shift.handover", project_handover, ShiftHandover)
    reg.alert_rule("supplies_low", supplies_low, "warning")
    reg.alert_rule("supplies_check_overdue", supplies_check_overdue, "warning")
    reg.alert_rule("storage_overnight", storage_overnight, "info")
    reg.kpi("supplies_used", supplies_used)
    reg.kpi("storage_incidents", storage_incidents)


def day_rows(rows: Iterable[Any], when: Callable[[float], str]) -> dict[str, list[Any]]:
    """Rows grouped by the mall's day of their `at` (newest day first)."""
    out: dict[str, list[Any]] = {}
    for row in rows:
        out.setdefault(when(row.at)[:10], []).append(row)
    return dict(sorted(out.items(), reverse=True))
