"""Shift handover (交接班记录) in staff mode: what the outgoing shift hands over, signed by both badges.

`draft()` counts what is there now: items in every locker (from the lockers' state), supplies at the desk, bags in
storage, open work (found items held, lost reports and complaints of this shift, and whatever other rooms add
through `open_counts`) and device problems. `sign()` stores it with a free note, the outgoing and the incoming
staff member (each signed in with badge + PIN) in one transaction with its `shift.handover` event, so it is
durable here and uploaded exactly once by the outbox (the centre keys it by station + seq and by handover id).
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from kiosk.services.errors import ServiceRefused
from kiosk.services.staff import StaffSession
from kiosk.store import Store
from mallcommon.text import InputRefused, clean_text

log = logging.getLogger(__name__)
LAST_KEY = "handover.last_at"


class HandoverRefused(ServiceRefused):
    """A handover not recorded (a badge missing, the same person twice, a note too long)."""


@dataclass(frozen=True)
class HandoverDraft:
    since: float | None                       # the previous handover (None: the first one here)
    lockers: dict[str, dict[str, int]]        # locker id → {"items", "empty", "fault", "online"}
    desk: dict[str, int]                      # supply item → stock at the desk
    supplies_used: dict[str, int]             # handed out since the previous handover
    open: dict[str, int]                      # found_held, lost_reports, complaints, bags_stored, … → count
    problems: list[str] = field(default_factory=list)  # device problems, "device: code"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Handover:
    handover_id: str
    outgoing: str
    incoming: str
    at: float
    draft: HandoverDraft
    note: str
    seq: int


class ShiftHandover:
    def __init__(self, *, store: Store, lockers: Any, locker_ids: list[str], station_id: str,
                 supplies: Any = None, problems: Callable[[], list[Any]] | None = None,
                 open_counts: dict[str, Callable[[], int]] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """`lockers`: the LockerLink (views only); `problems`: the station's current problems (diagnostics.assess);
        `open_counts`: more open work by name (other rooms add theirs, e.g. 广播寻人 requests)."""
        self.store = store
        self.lockers = lockers
        self.locker_ids = list(locker_ids)
        self.station_id = station_id
        self.supplies = supplies
        self.problems = problems
        self.open_counts = dict(open_counts or {})
        self.clock = clock

    def last_at(self) -> float | None:
        raw = self.store.get_kv(LAST_KEY)
        return float(raw) if raw else None

    def _count(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        return int(self.store.query(sql, args)[0][0])

    def draft(self) -> HandoverDraft:
        since = self.last_at()
        lockers: dict[str, dict[str, int]] = {}
        for locker_id in self.locker_ids:
            view = self.lockers.view(locker_id) if self.lockers is not None else None
            slots = view.slots if view is not None else ()
            lockers[locker_id] = {"items": sum(1 for s in slots if s.state == "occupied"),
                                  "empty": sum(1 for s in slots if s.state == "empty"),
                                  "fault": sum(1 for s in slots if s.state == "fault"),
                                  "online": int(bool(view is not None and view.online))}
        desk, used = {}, {}
        if self.supplies is not None:
            desk = {s.item: s.stock for s in self.supplies.stock()}
            used = self.supplies.used_since(since or 0.0)
        after = since or 0.0
        open_work = {
            "found_held": self._count("SELECT COUNT(*) FROM desk_found_items WHERE status='held'"),
            "lost_reports": self._count("SELECT COUNT(*) FROM desk_lost_reports WHERE created_at>=?", (after,)),
            "complaints": self._count("SELECT COUNT(*) FROM desk_complaints WHERE created_at>=?", (after,)),
            "bags_stored": self._count("SELECT COUNT(*) FROM desk_storage WHERE status='stored'"),
        }
        for name, count in self.open_counts.items():
            try:
                open_work[name] = int(count())
            except Exception:  # another room's count failing must not stop a handover
                log.exception("handover.open_count_failed name=%s", name)
        problems = []
        if self.problems is not None:
            try:
                problems = [f"{p.device}: {p.code}" for p in self.problems()]
            except Exception:
                log.exception("handover.problems_failed")
                problems = ["station: health_unavailable"]
        return HandoverDraft(since, lockers, desk, used, open_work, problems)

    def sign(self, outgoing: StaffSession | None, incoming: StaffSession | None, note: str = "",
             draft: HandoverDraft | None = None) -> Handover:
        """Record the handover signed by both badges (each a staff session: badge + PIN)."""
        if not isinstance(outgoing, StaffSession):
            raise HandoverRefused("outgoing_required", "the outgoing staff member signs in first")
        if not isinstance(incoming, StaffSession):
            raise HandoverRefused("incoming_required", "the incoming staff member signs with badge and PIN")
        if incoming.staff_id == outgoing.staff_id:
            raise HandoverRefused("same_staff", "the incoming staff member must be someone else")
        try:
            text = clean_text(note, 1000)
        except InputRefused as exc:
            raise HandoverRefused("invalid_note", str(exc)) from exc
        draft = draft or self.draft()
        now = self.clock()
        handover_id = f"HO-{uuid.uuid4().hex[:10].upper()}"
        body = {**draft.as_dict(), "note": text}
        with self.store.transaction() as conn:
            conn.execute("INSERT INTO desk_handovers (handover_id, outgoing, incoming, body, at) VALUES (?,?,?,?,?)",
                         (handover_id, outgoing.staff_id, incoming.staff_id,
                          json.dumps(body, ensure_ascii=False), now))
            seq = self.store.append_event(conn, "shift.handover", {
                "handover_id": handover_id, "outgoing": outgoing.staff_id, "incoming": incoming.staff_id,
                "at": now, **body}, at=now)
            conn.execute("INSERT INTO kv(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                         (LAST_KEY, json.dumps(now)))
        log.info("shift.handover id=%s outgoing=%s incoming=%s seq=%d", handover_id, outgoing.staff_id,
                 incoming.staff_id, seq)
        return Handover(handover_id, outgoing.staff_id, incoming.staff_id, now, draft, text, seq)

    def recent(self, limit: int = 10) -> list[dict[str, Any]]:
        rows = self.store.query("SELECT * FROM desk_handovers ORDER BY at DESC LIMIT ?", (limit,))
        return [{"handover_id": r["handover_id"], "outgoing": r["outgoing"], "incoming": r["incoming"],
                 "at": r["at"], **json.loads(r["body"])} for r in rows]


__all__ = ["Handover", "HandoverDraft", "HandoverRefused", "ShiftHandover"]
