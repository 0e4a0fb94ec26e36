"""Bag-storage procedures at the desk (service rules, issue 17), all in staff mode:

- **lost tag** (存包牌遗失登记): the shopper describes the contents and shows ID; staff release the bag. Kept: the
  contents as described, the ID number masked to its last 4, the staff member and the time.
- **overnight bags**: after closing time (configurable, in the mall's zone) the bags still held are listed; a staff
  member opens each under a second staff member's badge, records the contents, and the bag becomes a held lost &
  found item (lost & found rules: contact the owner next day).
- **damage or loss** of a stored item (顾客物品损坏记录): description, photos and the supervisor; sent to the centre
  with small copies of the photos.

Each record is a `desk_storage_incidents` row and a `storage.incident` event written in one transaction. The
personal fields (contents, masked ID, photos) are purged when the retention period ends (`kiosk.services.retention`,
rule `storage_incident`).
"""
from __future__ import annotations

import base64
import io
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as daytime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from kiosk.services.errors import ServiceRefused
from kiosk.services.lostfound import LostFound, LostFoundRefused, read_photo
from kiosk.services.staff import StaffSession
from kiosk.services.storage import Pickup, StorageService
from kiosk.store import Store
from mallcommon.privacy import IdInvalid, mask_id
from mallcommon.text import InputRefused, clean_text

log = logging.getLogger(__name__)

IncidentKind = Literal["lost_tag", "overnight", "damage"]
MAX_PHOTOS = 3
UPLOAD_PX = 640          # the copy that goes to the centre: small enough for the outbox (≈ 30-60 KB each)
LISTED_KEY = "storage.overnight_listed"


class ProcedureRefused(ServiceRefused):
    """A storage procedure that did not happen: nothing opened, nothing recorded."""


@dataclass(frozen=True)
class HeldBag:
    deposit_id: str
    locker_id: str
    slot: int
    started_at: float


@dataclass(frozen=True)
class Incident:
    incident_id: str
    kind: str
    deposit_id: str
    locker_id: str
    slot: int
    staff_id: str
    second_staff_id: str | None
    contents: str | None
    id_masked: str | None
    photos: tuple[Path, ...]
    found_item_id: str | None
    at: float
    purged: bool


def _staff(session: StaffSession | None, code: str = "staff_required") -> StaffSession:
    if not isinstance(session, StaffSession) or not session.staff_id:
        raise ProcedureRefused(code, "only in staff mode: sign in with your badge and PIN")
    return session


def _text(value: str, limit: int, code: str) -> str:
    try:
        text = clean_text(value, limit)
    except InputRefused as exc:
        raise ProcedureRefused(code, str(exc)) from exc
    if not text:
        raise ProcedureRefused(code, "this must be filled in")
    return text


class StorageProcedures:
    def __init__(self, *, store: Store, storage: StorageService, lostfound: LostFound | None, photo_dir: Path,
                 closing_time: str = "22:00", tz: str = "Asia/Shanghai",
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.storage = storage
        self.lostfound = lostfound
        self.photo_dir = Path(photo_dir)
        hour, minute = (int(x) for x in closing_time.split(":"))
        self.closing = daytime(hour, minute)
        self.tz = ZoneInfo(tz)
        self.clock = clock

    # what is in the lockers ------------------------------------------------------------------
    def held(self) -> list[HeldBag]:
        return [HeldBag(r["deposit_id"], r["locker_id"], int(r["slot"]), float(r["started_at"]))
                for r in self.storage.held()]

    def closing_after(self, at: float) -> float:
        """The first closing time at or after `at`, in the mall's zone."""
        local = datetime.fromtimestamp(at, self.tz)
        closing = datetime.combine(local.date(), self.closing, self.tz)
        if closing < local:
            closing += timedelta(days=1)
        return closing.timestamp()

    def overnight(self) -> list[HeldBag]:
        """Bags still held past the closing time that followed their deposit: the list staff work through."""
        now = self.clock()
        return [b for b in self.held() if self.closing_after(b.started_at) <= now]

    def list_at_closing(self) -> list[HeldBag]:
        """Housekeeping: once per closing, when bags stayed, send the list to the centre (`storage.overnight`)."""
        bags = self.overnight()
        if not bags:
            return []
        closing = max(self.closing_after(b.started_at) for b in bags)
        day = datetime.fromtimestamp(closing, self.tz).date().isoformat()
        if self.store.get_kv(LISTED_KEY) == day:
            return bags
        now = self.clock()
        with self.store.transaction() as conn:
            self.store.append_event(conn, "storage.overnight", {
                "day": day, "count": len(bags), "at": now,
                "bags": [{"deposit_id": b.deposit_id, "locker_id": b.locker_id, "slot": b.slot,
                          "started_at": b.started_at} for b in bags]}, at=now)
            conn.execute("INSERT INTO kv(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                         (LISTED_KEY, day))
        log.warning("storage.overnight day=%s bags=%d", day, len(bags))
        return bags

    def _bag(self, deposit_id: str) -> HeldBag:
        for bag in self.held():
            if bag.deposit_id == deposit_id:
                return bag
        raise ProcedureRefused("not_held", "this bag is not in the lockers")

    # the three procedures --------------------------------------------------------------------
    def release_lost_tag(self, staff: StaffSession | None, deposit_id: str, contents: str, id_number: str) -> Incident:
        """存包牌遗失登记: release a bag without its receipt (BLOCKING: the door opens). Refused, with nothing opened
        or recorded, without a signed-in staff member, a description of the contents or an ID number."""
        session = _staff(staff)
        described = _text(contents, 200, "invalid_contents")
        try:
            masked = mask_id(id_number)
        except IdInvalid as exc:
            raise ProcedureRefused("invalid_id", str(exc)) from exc
        bag = self._bag(deposit_id)
        pickup = self._open(bag)
        return self._record("lost_tag", bag, session.staff_id, contents=described, id_masked=masked,
                            extra={"fee_cents": pickup.fee_cents})

    def open_overnight(self, staff: StaffSession | None, witness: StaffSession | None, deposit_id: str,
                       contents: str) -> Incident:
        """An overnight bag opened by `staff` under `witness`'s badge (another person), its contents recorded; it
        becomes a held lost & found item."""
        session = _staff(staff)
        second = _staff(witness, "witness_required")
        if second.staff_id == session.staff_id:
            raise ProcedureRefused("witness_required", "a second staff member must witness with their own badge")
        described = _text(contents, 200, "invalid_contents")
        bag = self._bag(deposit_id)
        if self.closing_after(bag.started_at) > self.clock():
            raise ProcedureRefused("not_overnight", "this bag may still be collected today")
        if self.lostfound is None:
            raise ProcedureRefused("no_lostfound", "lost & found is not set up on this station")
        self._open(bag, fee=False)
        found = self.lostfound.register_found(staff_id=session.staff_id, category="bag",
                                              place=f"存包柜 {bag.locker_id}#{bag.slot}", found_at=self.clock(),
                                              description=described)
        return self._record("overnight", bag, session.staff_id, second=second.staff_id, contents=described,
                            found_item_id=found.item_id)

    def record_damage(self, staff: StaffSession | None, deposit_id: str, description: str, supervisor: str,
                      photos: list[bytes]) -> Incident:
        """顾客物品损坏记录 for a bag in (or just taken from) the lockers: what happened, photos, the supervisor."""
        session = _staff(staff)
        described = _text(description, 500, "invalid_description")
        boss = _text(supervisor, 40, "invalid_supervisor")
        if not 1 <= len(photos) <= MAX_PHOTOS:
            raise ProcedureRefused("invalid_photos", f"take 1 to {MAX_PHOTOS} photos")
        row = self.storage.repo.deposit(deposit_id)
        if row is None:
            raise ProcedureRefused("unknown_deposit", "no such deposit at this station")
        bag = HeldBag(deposit_id, row["locker_id"], int(row["slot"]), float(row["started_at"]))
        incident_id = f"SI-{uuid.uuid4().hex[:8].upper()}"
        paths, small = self._save_photos(incident_id, photos)
        return self._record("damage", bag, session.staff_id, second=boss, contents=described, photos=paths,
                            incident_id=incident_id, extra={"photos_jpeg_b64": small})

    # helpers ---------------------------------------------------------------------------------
    def _open(self, bag: HeldBag, fee: bool = True) -> Pickup:
        try:
            return self.storage.release(bag.deposit_id, fee=fee)
        except ServiceRefused as exc:
            raise ProcedureRefused(exc.code, str(exc)) from exc

    def _save_photos(self, incident_id: str, photos: list[bytes]) -> tuple[list[Path], list[str]]:
        self.photo_dir.mkdir(parents=True, exist_ok=True)
        paths, small = [], []
        for n, raw in enumerate(photos, 1):
            try:
                img = read_photo(raw)
            except LostFoundRefused as exc:
                raise ProcedureRefused(exc.code, str(exc)) from exc
            img.thumbnail((1280, 1280))
            path = self.photo_dir / f"{incident_id}-{n}.jpg"
            img.save(path, "JPEG", quality=85)
            paths.append(path)
            img.thumbnail((UPLOAD_PX, UPLOAD_PX))
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=70)
            small.append(base64.b64encode(buf.getvalue()).decode("ascii"))
        return paths, small

    def _record(self, kind: IncidentKind, bag: HeldBag, staff_id: str, *, second: str | None = None,
                contents: str | None = None, id_masked: str | None = None, photos: list[Path] | None = None,
                found_item_id: str | None = None, incident_id: str | None = None,
                extra: dict[str, Any] | None = None) -> Incident:
        incident_id = incident_id or f"SI-{uuid.uuid4().hex[:8].upper()}"
        now = self.clock()
        with self.store.transaction() as conn:
            conn.execute("INSERT INTO desk_storage_incidents (incident_id, kind, deposit_id, locker_id, slot, staff_id, "
                         "second_staff_id, contents, id_masked, photos, found_item_id, at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                         (incident_id, kind, bag.deposit_id, bag.locker_id, bag.slot, staff_id, second, contents,
                          id_masked, json.dumps([str(p) for p in photos or []]), found_item_id, now))
            self.store.append_event(conn, "storage.incident", {
                "incident_id": incident_id, "kind": kind, "deposit_id": bag.deposit_id, "locker_id": bag.locker_id,
                "slot": bag.slot, "staff_id": staff_id, "second_staff_id": second, "contents": contents,
                "id_masked": id_masked, "found_item_id": found_item_id, "at": now, **(extra or {})}, at=now)
        log.info("storage.incident id=%s kind=%s deposit=%s staff=%s", incident_id, kind, bag.deposit_id, staff_id)
        return self.incident(incident_id)

    def incident(self, incident_id: str) -> Incident:
        rows = self.store.query("SELECT * FROM desk_storage_incidents WHERE incident_id=?", (incident_id,))
        if not rows:
            raise ProcedureRefused("unknown_incident", "no such record")
        r = rows[0]
        return Incident(r["incident_id"], r["kind"], r["deposit_id"], r["locker_id"], int(r["slot"]), r["staff_id"],
                        r["second_staff_id"], r["contents"], r["id_masked"],
                        tuple(Path(p) for p in json.loads(r["photos"] or "[]")), r["found_item_id"], r["at"],
                        r["purged_at"] is not None)

    def incidents(self, since: float = 0.0) -> list[Incident]:
        ids = self.store.query("SELECT incident_id FROM desk_storage_incidents WHERE at>=? ORDER BY at DESC", (since,))
        return [self.incident(r["incident_id"]) for r in ids]


__all__ = ["HeldBag", "Incident", "ProcedureRefused", "StorageProcedures"]
