"""Projections: how each station event type changes the centre's tables (listed in `wiring.register_core`).

A projection `fn(session, station_id, event)` runs once per stored event, in seq order per station, inside the
ingest transaction. `data_model` (pydantic) validates `data` at
the edge; unknown event types are stored and not projected. A hot type may also give `batch(session,
station_id, events)`: consecutive events sharing one batch function are handed over together.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from mallcommon.vocabulary import ItemType
from server_bridge.central.models import Complaint, MaintenanceRecord, Member, MemberVisit, PointsEntry
from server_bridge.central.schemas import Envelope, Epoch

log = logging.getLogger(__name__)

Projection = Callable[[Session, str, Envelope], None]
BatchProjection = Callable[[Session, str, list[Envelope]], None]
Id = Annotated[str, Field(min_length=1, max_length=64)]


@dataclass(frozen=True)
class ProjectionSpec:
    fn: Projection
    data_model: type[BaseModel] | None
    batch: BatchProjection | None = None


def event_epoch(event: Envelope) -> float:
    return datetime.fromisoformat(event.ts.replace("Z", "+00:00")).timestamp()


class EventData(BaseModel):
    # Newer stations may add fields; the centre keeps them in the raw event and ignores them here. Known
    # fields are strictly typed: "slot": "2" is refused with the field named, not read as 2.
    model_config = ConfigDict(extra="allow", strict=True)


class LendingStarted(EventData):
    lending_id: Id
    member_id: Id | None = None
    item_type: ItemType
    item_id: Id
    station_id: Id
    locker_id: Id | None = None
    slot: int | None = Field(default=None, ge=1, le=1000)
    started_at: Epoch
    due_at: Epoch | None = None
    cmd_id: Id | None = None  # the locker command the item left under, when the station sends it


class LendingReturned(EventData):
    lending_id: Id | None = None
    item_id: Id
    item_type: ItemType
    member_id: Id | None = None
    station_id: Id
    locker_id: Id | None = None
    slot: int | None = Field(default=None, ge=1, le=1000)
    returned_at: Epoch
    fee_cents: int = Field(default=0, ge=0, le=10_000_000)
    duration_s: float | None = Field(default=None, ge=0)
    cmd_id: Id | None = None


class LendingBought(EventData):
    lending_id: Id
    item_id: Id
    member_id: Id | None = None
    price_cents: int = Field(ge=0, le=10_000_000)


class SurveyRated(EventData):
    flow: Annotated[str, Field(min_length=1, max_length=40)]
    score: int = Field(ge=1, le=5)
    lang: Annotated[str, Field(max_length=10)] = "zh_CN"


class MaintenanceLogged(EventData):
    staff_id: Id
    action: Literal["check", "service", "repair", "supplies"]  # supplies: the 充足与完好 check (issue 17)
    device: Annotated[str, Field(min_length=1, max_length=64)]
    note: Annotated[str, Field(max_length=2000)] = ""


class ComplaintFiled(EventData):
    complaint_id: Id
    category: Annotated[str, Field(min_length=1, max_length=30)]
    floor: Annotated[str, Field(min_length=1, max_length=20)]
    shop: Annotated[str, Field(max_length=100)] | None = None
    text: Annotated[str, Field(max_length=5000)] = ""
    rating: int | None = Field(default=None, ge=1, le=5)
    member_id: Id | None = None
    phone_masked: Annotated[str, Field(max_length=20, pattern=r"^[0-9*]*$")] | None = None
    filed_at: Epoch


class ComplaintAnswered(EventData):
    complaint_id: Id
    at: Epoch
    by: Id | None = None


class ComplaintClosed(EventData):
    complaint_id: Id
    at: Epoch


class PointsChanged(EventData):
    member_id: Id
    delta: int = Field(ge=-1_000_000, le=1_000_000)
    reason: Annotated[str, Field(min_length=1, max_length=40)]


class ParkingRedeemed(EventData):
    member_id: Id
    points: int = Field(ge=1, le=1_000_000)
    hours: int = Field(ge=1, le=48)
    voucher_id: Id | None = None


def _visit(session: Session, member_id: str | None, station_id: str, at: float, kind: str) -> None:
    if member_id:
        session.add(MemberVisit(member_id=member_id, station_id=station_id, at=at, kind=kind))


def project_maintenance(session: Session, station_id: str, event: Envelope) -> None:
    d = MaintenanceLogged.model_validate(event.data)
    session.add(MaintenanceRecord(station_id=station_id, staff_id=d.staff_id, action=d.action, device=d.device,
                                  note=d.note, at=event_epoch(event)))


def project_complaint_filed(session: Session, station_id: str, event: Envelope) -> None:
    d = ComplaintFiled.model_validate(event.data)
    if session.get(Complaint, d.complaint_id) is not None:
        return
    session.add(Complaint(complaint_id=d.complaint_id, station_id=station_id, category=d.category, floor=d.floor,
                          shop=d.shop, text=d.text, rating=d.rating, member_id=d.member_id,
                          phone_masked=d.phone_masked, filed_at=d.filed_at, status="open"))
    _visit(session, d.member_id, station_id, d.filed_at, "complaint")


def project_complaint_answered(session: Session, station_id: str, event: Envelope) -> None:
    d = ComplaintAnswered.model_validate(event.data)
    complaint = session.get(Complaint, d.complaint_id)
    if complaint is None:
        return
    if complaint.first_response_at is None:
        complaint.first_response_at = d.at
    if complaint.owner is None:  # 首问负责制: the first to answer keeps the ticket
        complaint.owner = d.by
    if complaint.status == "open":
        complaint.status = "answered"


def project_complaint_closed(session: Session, station_id: str, event: Envelope) -> None:
    d = ComplaintClosed.model_validate(event.data)
    complaint = session.get(Complaint, d.complaint_id)
    if complaint is None:
        return
    complaint.closed_at = complaint.closed_at or d.at
    complaint.first_response_at = complaint.first_response_at or d.at
    complaint.status = "closed"


def apply_points(session: Session, station_id: str, seq: int, member_id: str, delta: int, reason: str,
                 at: float, detail: dict[str, Any] | None = None) -> bool:
    """Exactly once per (station, seq): the ledger row's unique key guards the member's balance."""
    exists = session.scalars(select(PointsEntry.id).where(PointsEntry.station_id == station_id,
                                                          PointsEntry.seq == seq)).first()
    member = session.get(Member, member_id)
    if exists is not None or member is None:
        return False
    session.add(PointsEntry(member_id=member_id, delta=delta, reason=reason, detail=detail or {},
                            station_id=station_id, seq=seq, at=at))
    member.points = max(0, member.points + delta)
    return True


def project_points(session: Session, station_id: str, event: Envelope) -> None:
    d = PointsChanged.model_validate(event.data)
    apply_points(session, station_id, event.seq, d.member_id, d.delta, d.reason, event_epoch(event))


def project_parking(session: Session, station_id: str, event: Envelope) -> None:
    d = ParkingRedeemed.model_validate(event.data)
    at = event_epoch(event)
    if apply_points(session, station_id, event.seq, d.member_id, -d.points, "parking", at,
                    {"hours": d.hours, "voucher_id": d.voucher_id}):
        _visit(session, d.member_id, station_id, at, "parking")
