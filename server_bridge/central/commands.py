"""Remote commands (issue 15.7): ops ask a station to open a slot, take a slot or a locker out of service and
back, reprint its last receipt, restart, or send a screenshot — over the one station ↔ centre channel.

    console POST (ops, CSRF, audited) ─▶ remote_commands row (state pending, id, expires_at)
    heartbeat ─▶ 200 {"commands": n} while the station has pending ones (an in-memory set: no query per beat)
    station GET  …/commands            ─▶ the pending ones, not expired (from the same memory: no query)
    station POST …/commands/received   ─▶ it recorded them durably (state received; the heartbeat stops saying so)
    station PUT  …/commands/{id}/screenshot (PNG; a screenshot command only)
    station event `command.result` through the outbox ─▶ state done|failed|refused|expired|unknown (audited)

A command nobody fetched by its `expires_at` becomes `expired` here and is never handed out; a station that
holds one past its expiry reports it `expired` without running it. Screenshots are kept `keep_screenshots_s`
(1 h by default, `CENTRAL_SCREENSHOT_KEEP_S`) and then deleted. docs/central.md "Remote commands".
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Float, Index, Integer, LargeBinary, String, Text, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from server_bridge.central import audit
from server_bridge.central.db import Base, Database
from server_bridge.central.schemas import Envelope, Epoch

log = logging.getLogger(__name__)

Kind = Literal["open_slot", "slot_out", "slot_back", "locker_out", "locker_back", "reprint", "restart",
               "screenshot", "resend_refused"]
KINDS: tuple[str, ...] = ("open_slot", "slot_out", "slot_back", "locker_out", "locker_back", "reprint", "restart",
                          "screenshot", "resend_refused")
NEEDS_SLOT = ("open_slot", "slot_out", "slot_back")
NEEDS_LOCKER = NEEDS_SLOT + ("locker_out", "locker_back")
WAITING = ("pending", "delivered")  # not yet recorded by the station: the heartbeat says so (`delivered`: kept
# for rows of earlier versions; a fetch is a read and `received` records the delivery)
LIVE = WAITING + ("received",)
Outcome = Literal["done", "failed", "refused", "expired", "unknown"]
MAX_EXPIRES_S = 24 * 3600
MAX_SCREENSHOT_BYTES = 4 * 1024 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
KEEP_SCREENSHOTS_S = float(os.environ.get("CENTRAL_SCREENSHOT_KEEP_S", "3600"))


class RemoteCommand(Base):
    __tablename__ = "remote_commands"
    __table_args__ = (Index("remote_commands_station", "station_id", "created_at"),
                      Index("remote_commands_state", "state", "expires_at"))
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(20))
    params: Mapped[str] = mapped_column(Text, default="{}")  # JSON: locker_id, slot
    created_at: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    deliveries: Mapped[int] = mapped_column(Integer, default=0)
    delivered_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    received_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    result_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    code: Mapped[str | None] = mapped_column(String(40), nullable=True)  # why, when not done
    result: Mapped[str] = mapped_column(Text, default="")  # JSON detail from the station

    def view(self) -> dict[str, Any]:
        """What the station is handed."""
        return {"id": self.id, "kind": self.kind, "params": json.loads(self.params or "{}"),
                "created_at": self.created_at, "expires_at": self.expires_at, "by": self.created_by}

    def where(self) -> str:
        """The locker and slot it is about, as ops read them: `U1 #3`."""
        p = json.loads(self.params or "{}")
        return (p.get("locker_id") or "") + (f" #{p['slot']}" if p.get("slot") else "")

    def detail(self) -> dict[str, Any]:
        try:
            value = json.loads(self.result) if self.result else {}
        except ValueError:
            value = {}
        return value if isinstance(value, dict) else {}


class CommandScreenshot(Base):
    __tablename__ = "command_screenshots"
    __table_args__ = (Index("command_screenshots_stored", "stored_at"),)
    command_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(32))
    png: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[float] = mapped_column(Float)


class CommandRefused(Exception):
    """The console asked for something that cannot be sent (`code` names what)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# wire models -----------------------------------------------------------------------------------------------
class CommandView(BaseModel):
    id: str
    kind: Kind
    params: dict[str, Any]
    created_at: float
    expires_at: float
    by: str
    sent_at: float | None = None  # when it was committed (visible to the station); None when read back at refresh


class CommandList(BaseModel):
    commands: list[CommandView]


class Received(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    ids: list[Annotated[str, Field(min_length=1, max_length=36)]] = Field(min_length=1, max_length=100)


class CommandResultData(BaseModel):
    """`data` of a `command.result` event (the station's `kiosk.services.remote.CommandResult`)."""

    model_config = ConfigDict(extra="allow", strict=True)
    command_id: Annotated[str, Field(min_length=1, max_length=36)]
    kind: Annotated[str, Field(max_length=20)]
    outcome: Outcome
    code: Annotated[str, Field(max_length=40)] | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    at: Epoch


def _count(result: Any) -> int:
    """Rows an UPDATE/DELETE touched."""
    return int(getattr(result, "rowcount", 0) or 0)


# the board: what is pending, per instance, without a query per heartbeat -----------------------------------
class CommandBoard:
    """Which stations have commands waiting, kept in memory so the heartbeat answers from a set lookup.

    The instance that creates or hands out a command updates its set at once; every instance re-reads the
    set from the database every `refresh_s` (other instances' commands), marks unfetched commands past their
    expiry `expired` (audited once) and deletes screenshots older than `keep_screenshots_s`."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time, refresh_s: float = 0.25,
                 keep_screenshots_s: float = KEEP_SCREENSHOTS_S) -> None:
        self.db = db
        self.clock = clock
        self.refresh_s = refresh_s
        self.keep_screenshots_s = keep_screenshots_s
        self._waiting: dict[str, dict[str, dict[str, Any]]] = {}  # station -> command id -> what it is handed
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_purge = 0.0

    # the heartbeat's question ----------------------------------------------------------------------------
    def pending(self, station_id: str) -> int:
        """How many commands wait for `station_id` (a dict lookup: the heartbeat path asks it every beat)."""
        waiting = self._waiting.get(station_id)
        return len(waiting) if waiting else 0

    def _note(self, station_id: str, view: dict[str, Any]) -> None:
        with self._lock:
            mine = dict(self._waiting.get(station_id, {}))
            mine[view["id"]] = view
            self._waiting = {**self._waiting, station_id: mine}  # readers see the old or the new map, whole

    def _forget(self, station_id: str, ids: set[str]) -> None:
        with self._lock:
            left = {cid: v for cid, v in self._waiting.get(station_id, {}).items() if cid not in ids}
            rest = {sid: w for sid, w in self._waiting.items() if sid != station_id}
            self._waiting = {**rest, station_id: left} if left else rest

    # console side -----------------------------------------------------------------------------------------
    def create(self, session: Session, station_id: str, kind: str, by: str, expires_s: float,
               locker_id: str | None = None, slot: int | None = None) -> RemoteCommand:
        """A new pending command (the caller audits it in the same transaction, then calls `sent`)."""
        if kind not in KINDS:
            raise CommandRefused("unknown_kind")
        if not 1 <= expires_s <= MAX_EXPIRES_S:
            raise CommandRefused("bad_expiry")
        params: dict[str, Any] = {}
        if kind in NEEDS_LOCKER:
            if not locker_id or len(locker_id) > 32:
                raise CommandRefused("locker_required")
            params["locker_id"] = locker_id
        if kind in NEEDS_SLOT:
            if slot is None or not 1 <= slot <= 1000:
                raise CommandRefused("slot_required")
            params["slot"] = slot
        now = self.clock()
        row = RemoteCommand(id=str(uuid.uuid4()), station_id=station_id, kind=kind, params=json.dumps(params),
                            created_at=now, created_by=by[:64], expires_at=now + expires_s, state="pending",
                            deliveries=0, result="")
        session.add(row)
        session.flush()
        return row

    def sent(self, row: RemoteCommand) -> None:
        """After the creating transaction committed: the next heartbeat of that station hears of it."""
        self._note(row.station_id, {**row.view(), "sent_at": self.clock()})  # committed: visible from now

    # station side -----------------------------------------------------------------------------------------
    def fetch(self, station_id: str) -> list[dict[str, Any]]:
        """The station's waiting commands that have not expired, from memory (what the heartbeat answer counted:
        no query, so the fetch costs what the heartbeat does); `received` records the delivery."""
        now = self.clock()
        waiting = self._waiting.get(station_id, {})
        return sorted((v for v in waiting.values() if v["expires_at"] > now), key=lambda v: v["created_at"])[:100]

    def received(self, station_id: str, ids: list[str]) -> int:
        """The station recorded these durably; they no longer ride on its heartbeat."""
        now = self.clock()
        with self.db.session() as s:
            done = _count(s.execute(update(RemoteCommand).where(
                RemoteCommand.station_id == station_id, RemoteCommand.id.in_(ids),
                RemoteCommand.state.in_(WAITING)).values(state="received", received_at=now, delivered_at=now,
                                                         deliveries=RemoteCommand.deliveries + 1)))
        self._forget(station_id, set(ids))
        return int(done)

    def store_screenshot(self, station_id: str, command_id: str, png: bytes) -> bool:
        """Keep a screenshot for a screenshot command of this station; idempotent (the same id again keeps
        the first). False when there is no such command or it already has its result."""
        if not png.startswith(PNG_MAGIC) or len(png) > MAX_SCREENSHOT_BYTES:
            raise CommandRefused("not_png")
        now = self.clock()
        with self.db.session() as s:
            row = s.get(RemoteCommand, command_id)
            if row is None or row.station_id != station_id or row.kind != "screenshot":
                return False
            if s.get(CommandScreenshot, command_id) is None:
                if row.state not in LIVE:
                    return False
                s.add(CommandScreenshot(command_id=command_id, station_id=station_id, png=png, stored_at=now))
        return True

    # housekeeping -----------------------------------------------------------------------------------------
    def refresh(self) -> None:
        now = self.clock()
        with self.db.session() as s:
            for row in s.scalars(select(RemoteCommand).where(RemoteCommand.state.in_(WAITING),
                                                             RemoteCommand.expires_at <= now)).all():
                changed = _count(s.execute(update(RemoteCommand).where(RemoteCommand.id == row.id,
                                                                       RemoteCommand.state.in_(WAITING))
                                           .values(state="expired", result_at=now, code="expired")))
                if changed:  # one instance wins; that one audits it
                    audit.record(s, "system", "command.expired", f"command:{row.id}", at=now, outcome="expired",
                                 station=row.station_id, kind=row.kind)
            waiting: dict[str, dict[str, dict[str, Any]]] = {}
            for row in s.scalars(select(RemoteCommand).where(RemoteCommand.state.in_(WAITING))):
                waiting.setdefault(row.station_id, {})[row.id] = row.view()
            if now - self._last_purge >= 60.0:
                self._last_purge = now
                purged = _count(s.execute(delete(CommandScreenshot).where(
                    CommandScreenshot.stored_at < now - self.keep_screenshots_s)))
                if purged:
                    log.info("commands.screenshots_purged count=%d", purged)
        with self._lock:
            self._waiting = waiting

    def purge_now(self) -> None:
        self._last_purge = 0.0
        self.refresh()

    def start(self) -> CommandBoard:
        self._thread = threading.Thread(target=self._run, name="command-board", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            try:
                self.refresh()
            except Exception:  # the next pass tries again; the heartbeat keeps answering from the last set
                log.exception("commands.refresh_failed")
            if self._stop.wait(self.refresh_s):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


# the result, from the station's outbox -----------------------------------------------------------------------
def project_result(session: Session, station_id: str, event: Envelope) -> None:
    """`command.result`: exactly once per (station, seq) like every event; a result for a command of another
    station, or one already settled, changes nothing (it stays stored)."""
    data = CommandResultData.model_validate(event.data)
    row = session.get(RemoteCommand, data.command_id)
    if row is None or row.station_id != station_id:
        log.warning("commands.result_unknown station=%s command=%s", station_id, data.command_id)
        return
    if row.state not in LIVE:
        log.info("commands.result_late station=%s command=%s state=%s", station_id, row.id, row.state)
        return
    row.state = data.outcome
    row.code = data.code
    row.result = json.dumps(data.detail, ensure_ascii=False, default=str)[:4000]
    row.result_at = data.at
    row.received_at = row.received_at or data.at
    audit.record(session, f"station:{station_id}", "command.result", f"command:{row.id}", at=data.at,
                 outcome="ok" if data.outcome == "done" else data.outcome, ip=f"station:{station_id}",
                 kind=row.kind, result=data.outcome, code=data.code,
                 **{k: v for k, v in data.detail.items() if k in ("item_id", "verdict", "slots", "bytes")})


def recent(session: Session, station_id: str, limit: int = 20) -> list[RemoteCommand]:
    return list(session.scalars(select(RemoteCommand).where(RemoteCommand.station_id == station_id)
                                .order_by(RemoteCommand.created_at.desc()).limit(limit)).all())


def latest_screenshot_id(session: Session, station_id: str) -> str | None:
    """The command id of the station's newest kept screenshot (its PNG is served by id)."""
    found: str | None = session.scalars(select(CommandScreenshot.command_id).where(
        CommandScreenshot.station_id == station_id).order_by(CommandScreenshot.stored_at.desc()).limit(1)).first()
    return found


def register(reg: Any) -> None:
    reg.projection("command.result", project_result, CommandResultData)
