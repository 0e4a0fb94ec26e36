"""The desk's tables at the centre (on the shared `Base`; migration 0002): tickets, replies, lost & found, storage."""
from __future__ import annotations

from sqlalchemy import JSON, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server_bridge.central.db import Base
from server_bridge.central.models import BigId


class DeskTicket(Base):
    """What a shopper's status QR must match; the complaint itself is the centre's `complaints` row."""

    __tablename__ = "desk_tickets"
    complaint_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    lang: Mapped[str] = mapped_column(String(8), default="zh_CN")


class DeskReply(Base):
    __tablename__ = "desk_replies"
    __table_args__ = (Index("desk_replies_ticket", "complaint_id", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    complaint_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Float)
    author: Mapped[str] = mapped_column(String(10))  # staff | shopper
    by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    text: Mapped[str] = mapped_column(Text)


class DeskFoundItem(Base):
    __tablename__ = "desk_found_items"
    __table_args__ = (Index("desk_found_status", "status", "found_at"),)
    item_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(20))
    floor: Mapped[str | None] = mapped_column(String(8), nullable=True)
    place: Mapped[str] = mapped_column(String(200))
    found_at: Mapped[float] = mapped_column(Float)
    description: Mapped[str] = mapped_column(Text, default="")
    registered_by: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), default="held")  # held | claimed | handed_over
    claimed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    handed_over_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    handed_over_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    receiver: Mapped[str | None] = mapped_column(String(64), nullable=True)
    purged_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # desk.retention (migration 0011)


class DeskLostReport(Base):
    __tablename__ = "desk_lost_reports"
    report_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(20))
    floor: Mapped[str | None] = mapped_column(String(8), nullable=True)
    place: Mapped[str] = mapped_column(String(200))
    lost_at: Mapped[float] = mapped_column(Float)
    description: Mapped[str] = mapped_column(Text, default="")
    phone_masked: Mapped[str | None] = mapped_column(String(20), nullable=True)
    matches: Mapped[list] = mapped_column(JSON, default=list)
    purged_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class DeskStorage(Base):
    __tablename__ = "desk_storage"
    deposit_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(32))
    locker_id: Mapped[str] = mapped_column(String(32))
    slot: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[float] = mapped_column(Float)
    due_at: Mapped[float] = mapped_column(Float)
    picked_up_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    fee_cents: Mapped[int | None] = mapped_column(Integer, nullable=True)


class DeskBroadcast(Base):
    """A 广播寻人 / 寻物 request (issue 17; migration 0011). Personal fields are cleared when it closes."""

    __tablename__ = "desk_broadcasts"
    __table_args__ = (Index("desk_broadcasts_status", "status", "filed_at"),)
    request_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(12))
    traits: Mapped[dict] = mapped_column(JSON, default=dict)
    description: Mapped[str] = mapped_column(Text, default="")
    floor: Mapped[str] = mapped_column(String(8))
    place: Mapped[str] = mapped_column(String(200), default="")
    last_seen_at: Mapped[float] = mapped_column(Float)
    phone_masked: Mapped[str | None] = mapped_column(String(20), nullable=True)
    lang: Mapped[str] = mapped_column(String(8), default="zh_CN")
    filed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    filed_at: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | announced | found | closed
    acknowledged_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    announced_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    found_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    closed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    purged_at: Mapped[float | None] = mapped_column(Float, nullable=True)
