"""How desk events change the centre's tables, and the desk's alert rules (7-day hand-over, storage overtime)."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from server_bridge.central import audit
from server_bridge.central.alerts import Finding, RuleContext
from server_bridge.central.desk import broadcasts, retention
from server_bridge.central.desk.models import (
    DeskBroadcast,
    DeskFoundItem,
    DeskLostReport,
    DeskStorage,
    DeskTicket,
)
from server_bridge.central.desk.tickets import code_hash
from server_bridge.central.registry import Registry
from server_bridge.central.schemas import Envelope, Epoch

log = logging.getLogger(__name__)

RETENTION_S = 7 * 86_400  # 失物招领 one-week retention, then hand-over to security
Id = Annotated[str, Field(min_length=1, max_length=64)]
Place = Annotated[str, Field(max_length=200)]


class _Data(BaseModel):
    model_config = ConfigDict(extra="allow")


class FoundRegistered(_Data):
    item_id: Id
    category: Annotated[str, Field(max_length=20)]
    floor: Annotated[str, Field(max_length=8)] | None = None
    place: Place
    found_at: Epoch
    description: Annotated[str, Field(max_length=2000)] = ""
    registered_by: Id


class FoundClaimed(_Data):
    item_id: Id
    by: Id
    at: Epoch


class FoundHandedOver(_Data):
    item_id: Id
    by: Id
    receiver: Annotated[str, Field(max_length=64)]
    at: Epoch


class LostReported(_Data):
    report_id: Id
    category: Annotated[str, Field(max_length=20)]
    floor: Annotated[str, Field(max_length=8)] | None = None
    place: Place
    lost_at: Epoch
    description: Annotated[str, Field(max_length=2000)] = ""
    phone_masked: Annotated[str, Field(max_length=20, pattern=r"^[0-9*]*$")] | None = None
    matches: list[Id] = []


class StorageDeposited(_Data):
    deposit_id: Id
    locker_id: Id
    slot: int = Field(ge=1, le=256)
    started_at: Epoch
    due_at: Epoch


class StoragePickedUp(_Data):
    deposit_id: Id
    picked_up_at: Epoch
    fee_cents: int = Field(ge=0)


class TicketCode(_Data):
    complaint_id: Id
    code: Annotated[str, Field(pattern=r"^C1\.[A-Z0-9][A-Z0-9-]{0,31}\.[A-Z2-7]{16}$")] | None = None
    lang: Literal["zh_CN", "en"] = "zh_CN"


def project_ticket_code(session: Session, station_id: str, event: Envelope) -> None:
    d = TicketCode.model_validate(event.data)
    if d.code and d.code.split(".")[1] == d.complaint_id and session.get(DeskTicket, d.complaint_id) is None:
        session.add(DeskTicket(complaint_id=d.complaint_id, code_hash=code_hash(d.code), lang=d.lang))


def project_found(session: Session, station_id: str, event: Envelope) -> None:
    d = FoundRegistered.model_validate(event.data)
    if session.get(DeskFoundItem, d.item_id) is None:
        session.add(DeskFoundItem(item_id=d.item_id, station_id=station_id, category=d.category, floor=d.floor,
                                  place=d.place, found_at=d.found_at, description=d.description,
                                  registered_by=d.registered_by, status="held"))


def project_claimed(session: Session, station_id: str, event: Envelope) -> None:
    d = FoundClaimed.model_validate(event.data)
    item = session.get(DeskFoundItem, d.item_id)
    if item is not None and item.status == "held":
        item.status, item.claimed_at = "claimed", d.at


def project_handed_over(session: Session, station_id: str, event: Envelope) -> None:
    d = FoundHandedOver.model_validate(event.data)
    item = session.get(DeskFoundItem, d.item_id)
    if item is not None and item.status == "held":
        item.status, item.handed_over_at, item.handed_over_by, item.receiver = "handed_over", d.at, d.by, d.receiver
        # Done by staff at a station: audited under the staff id and the station it happened at.
        audit.record(session, f"staff:{d.by}@{station_id}"[:64], "lostfound.handed_over", f"found:{d.item_id}",
                     ip=f"station:{station_id}", at=d.at, receiver=d.receiver)


def project_lost(session: Session, station_id: str, event: Envelope) -> None:
    d = LostReported.model_validate(event.data)
    if session.get(DeskLostReport, d.report_id) is None:
        session.add(DeskLostReport(report_id=d.report_id, station_id=station_id, category=d.category, floor=d.floor,
                                   place=d.place, lost_at=d.lost_at, description=d.description,
                                   phone_masked=d.phone_masked, matches=d.matches))


def project_deposited(session: Session, station_id: str, event: Envelope) -> None:
    d = StorageDeposited.model_validate(event.data)
    if session.get(DeskStorage, d.deposit_id) is None:
        session.add(DeskStorage(deposit_id=d.deposit_id, station_id=station_id, locker_id=d.locker_id, slot=d.slot,
                                started_at=d.started_at, due_at=d.due_at))


def project_picked_up(session: Session, station_id: str, event: Envelope) -> None:
    d = StoragePickedUp.model_validate(event.data)
    row = session.get(DeskStorage, d.deposit_id)
    if row is not None and row.picked_up_at is None:
        row.picked_up_at, row.fee_cents = d.picked_up_at, d.fee_cents


def handover_due(session: Session, ctx: RuleContext) -> Iterable[Finding]:
    """Found items still held after the retention period: security should take them, with a record."""
    for item in session.scalars(select(DeskFoundItem).where(DeskFoundItem.status == "held",
                                                            DeskFoundItem.found_at < ctx.now - RETENTION_S)):
        yield Finding(item.station_id, item.item_id, {"category": item.category, "place": item.place})


def storage_overtime(session: Session, ctx: RuleContext) -> Iterable[Finding]:
    for row in session.scalars(select(DeskStorage).where(DeskStorage.picked_up_at.is_(None),
                                                         DeskStorage.due_at < ctx.now)):
        yield Finding(row.station_id, row.deposit_id, {"locker_id": row.locker_id, "slot": row.slot})


def register(reg: Registry) -> None:
    """The desk's projections and alert rules (called from `wiring.build_registry`)."""
    reg.also("complaint.filed", project_ticket_code, TicketCode)  # after the centre's own complaint projection
    reg.projection("lostfound.registered", project_found, FoundRegistered)
    reg.projection("lostfound.claimed", project_claimed, FoundClaimed)
    reg.projection("lostfound.handed_over", project_handed_over, FoundHandedOver)
    reg.projection("lostfound.reported", project_lost, LostReported)
    reg.projection("storage.deposited", project_deposited, StorageDeposited)
    reg.projection("storage.picked_up", project_picked_up, StoragePickedUp)
    reg.alert_rule("lostfound_handover_due", handover_due, "warning")
    reg.alert_rule("storage_overtime", storage_overtime, "info")
    # issue 17: 广播寻人 / 寻物 requests, urgent with their own acknowledgement clock; the personal-data purge
    reg.projection("broadcast.filed", broadcasts.project_filed, broadcasts.BroadcastFiled)
    reg.alert_rule(broadcasts.KIND, broadcasts.unacknowledged, broadcasts.SEVERITY)
    reg.chore("desk_retention", retention.run)
    reg.kpi("requests", broadcasts.kpi)
    reg.export("requests", DeskBroadcast, "desk")
