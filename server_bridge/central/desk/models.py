"""The desk's tables at the centre (on the shared `Base`): ticket access and replies, lost & found, storage."""
from __future__ import annotations

import threading

from sqlalchemy import JSON, Engine, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

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


DESK_TABLES = [m.__table__ for m in (DeskTicket, DeskReply, DeskFoundItem, DeskLostReport, DeskStorage)]
_ready: set[str] = set()
_ready_lock = threading.Lock()


def ensure_schema(engine: Engine) -> None:
    """Create the desk tables once per database at start-up (until the centre's migrations take extensions)."""
    key = str(engine.url)
    with _ready_lock:
        if key not in _ready:
            Base.metadata.create_all(engine, tables=DESK_TABLES, checkfirst=True)  # type: ignore[arg-type]
            _ready.add(key)


def ensure_in_session(session: Session) -> None:
    """Inside a write transaction (ingest): DDL on the same connection, so SQLite's lock is not waited on."""
    if str(session.get_bind().engine.url) not in _ready:
        Base.metadata.create_all(session.connection(), tables=DESK_TABLES, checkfirst=True)  # type: ignore[arg-type]
