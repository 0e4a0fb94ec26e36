"""Lost & found (失物招领): staff register found items, shoppers browse, report and claim; 7-day hand-over.

Photos of personal documents and cards are blurred in the copy shoppers see; the sharp copy stays for staff.
"""
from __future__ import annotations

import io
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageFilter, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kiosk.privacy import PhoneInvalid, mask_phone, normalize_phone
from kiosk.services.complaints import ComplaintRefused, clean_text
from kiosk.store import Store
from kiosk.tokens import TokenBook, TokenRejected
from mallcommon.vocabulary import FoundCategory

log = logging.getLogger(__name__)

CLAIM_PREFIX = "F1"
MAX_PHOTO_BYTES = 8 * 1024 * 1024
PRIVATE = frozenset({"documents", "cards"})


class LostFoundRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def read_photo(photo: bytes) -> Image.Image:
    """A camera photo as RGB, or LostFoundRefused (`photo_too_large`, `photo_unreadable`); also the storage
    incidents' photos."""
    if len(photo) > MAX_PHOTO_BYTES:
        raise LostFoundRefused("photo_too_large", "the photo is too large")
    try:
        opened = Image.open(io.BytesIO(photo))
        opened.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise LostFoundRefused("photo_unreadable", "the photo could not be read") from exc
    return opened.convert("RGB")


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    category: FoundCategory
    floor: str | None = Field(default=None, pattern=r"^(B[1-9]|[1-9]F)$")
    place: str = Field(min_length=1, max_length=60)
    description: str = Field(default="", max_length=200)
    at: float

    @field_validator("place", "description")
    @classmethod
    def _plain(cls, v: str) -> str:
        try:
            return clean_text(v, 200)
        except ComplaintRefused as exc:
            raise ValueError(str(exc)) from exc


@dataclass(frozen=True)
class FoundItem:
    item_id: str
    category: str
    floor: str | None
    place: str
    found_at: float
    description: str
    status: str
    public_photo: Path | None
    claim_code: str
    photo: Path | None = None  # sharp copy, staff only


@dataclass(frozen=True)
class Match:
    item: FoundItem
    score: int


def _bigrams(text: str) -> set[str]:
    t = "".join(text.lower().split())
    return {t[i:i + 2] for i in range(len(t) - 1)} or ({t} if t else set())


def _overlap(a: str, b: str) -> float:
    x, y = _bigrams(a), _bigrams(b)
    return len(x & y) / len(x | y) if x and y else 0.0


class LostFound:
    def __init__(self, *, store: Store, tokens: TokenBook, photo_dir: Path, station_id: str,
                 retention_days: int = 7, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.tokens = tokens
        self.photo_dir = Path(photo_dir)
        self.station_id = station_id
        self.retention_s = retention_days * 86_400
        self.clock = clock
        tokens.register_kind(CLAIM_PREFIX)

    def _form(self, **fields: object) -> _Form:
        try:
            return _Form(**fields)  # type: ignore[arg-type]
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "form"
            raise LostFoundRefused(f"invalid_{where}", f"{where}: {err['msg']}") from exc

    def _save_photos(self, item_id: str, photo: bytes, private: bool) -> tuple[Path, Path]:
        img = read_photo(photo)
        img.thumbnail((1024, 1024))
        self.photo_dir.mkdir(parents=True, exist_ok=True)
        sharp, public = self.photo_dir / f"{item_id}.jpg", self.photo_dir / f"{item_id}.public.jpg"
        img.save(sharp, "JPEG", quality=85)
        shown = img.filter(ImageFilter.GaussianBlur(radius=max(img.size) / 20)) if private else img
        shown.save(public, "JPEG", quality=80)
        return sharp, public

    def register_found(self, *, staff_id: str, category: str, place: str, found_at: float,
                       floor: str | None = None, description: str = "", photo: bytes | None = None) -> FoundItem:
        """Staff mode: one found item, with an optional camera photo; refused input stores nothing."""
        form = self._form(category=category, floor=floor, place=place, description=description, at=found_at)
        if form.at > self.clock() + 300:
            raise LostFoundRefused("invalid_at", "the found time is in the future")
        item_id = f"LF-{uuid.uuid4().hex[:8].upper()}"
        sharp = public = None
        if photo is not None:
            sharp, public = self._save_photos(item_id, photo, form.category in PRIVATE)
        now = self.clock()
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO desk_found_items (item_id, category, floor, place, found_at, description, photo_path, "
                "public_photo_path, registered_by, status, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (item_id, form.category, form.floor, form.place, form.at, form.description,
                 str(sharp) if sharp else None, str(public) if public else None, staff_id, "held", now))
            self.store.append_event(conn, "lostfound.registered", {
                "item_id": item_id, "category": form.category, "floor": form.floor, "place": form.place,
                "found_at": form.at, "description": form.description, "registered_by": staff_id,
                "has_photo": photo is not None}, at=now)
        log.info("lostfound.registered item=%s category=%s staff=%s", item_id, form.category, staff_id)
        return self.item(item_id)

    def _from_row(self, r: sqlite3.Row) -> FoundItem:
        return FoundItem(r["item_id"], r["category"], r["floor"], r["place"], r["found_at"], r["description"],
                         r["status"], Path(r["public_photo_path"]) if r["public_photo_path"] else None,
                         self.tokens.sign(CLAIM_PREFIX, r["item_id"]),
                         Path(r["photo_path"]) if r["photo_path"] else None)

    def item(self, item_id: str) -> FoundItem:
        rows = self.store.query("SELECT * FROM desk_found_items WHERE item_id=?", (item_id,))
        if not rows:
            raise LostFoundRefused("unknown_item", "no such found item")
        return self._from_row(rows[0])

    def browse(self, category: str | None = None, floor: str | None = None, since: float | None = None,
               place: str | None = None) -> list[FoundItem]:
        """What shoppers may look through: items still held, newest first (public photo only)."""
        sql, args = "SELECT * FROM desk_found_items WHERE status='held'", list[object]()
        for column, value in (("category", category), ("floor", floor)):
            if value:
                sql += f" AND {column}=?"
                args.append(value)
        if since is not None:
            sql += " AND found_at>=?"
            args.append(since)
        items = [self._from_row(r) for r in self.store.query(sql + " ORDER BY found_at DESC", tuple(args))]
        if place:
            items = [i for i in items if place in i.place or _overlap(place, i.place) >= 0.3]
        return [FoundItem(i.item_id, i.category, i.floor, i.place, i.found_at, i.description, i.status,
                          i.public_photo, i.claim_code) for i in items]

    def report_lost(self, *, category: str, place: str, lost_at: float, floor: str | None = None,
                    description: str = "", phone: str | None = None) -> tuple[str, list[Match]]:
        """A shopper's lost-item report: stored, sent to the centre, matched against items still held."""
        form = self._form(category=category, floor=floor, place=place, description=description, at=lost_at)
        try:
            masked = mask_phone(normalize_phone(phone)) if phone else None
        except PhoneInvalid as exc:
            raise LostFoundRefused("phone_invalid", str(exc)) from exc
        matches = self.match(form.category, form.place, form.at, form.floor, form.description)
        report_id = f"LR-{uuid.uuid4().hex[:8].upper()}"
        now = self.clock()
        with self.store.transaction() as conn:
            conn.execute("INSERT INTO desk_lost_reports (report_id, category, floor, place, lost_at, description, "
                         "phone_masked, created_at) VALUES (?,?,?,?,?,?,?,?)",
                         (report_id, form.category, form.floor, form.place, form.at, form.description, masked, now))
            self.store.append_event(conn, "lostfound.reported", {
                "report_id": report_id, "category": form.category, "floor": form.floor, "place": form.place,
                "lost_at": form.at, "description": form.description, "phone_masked": masked,
                "matches": [m.item.item_id for m in matches]}, at=now)
        log.info("lostfound.reported report=%s category=%s matches=%d", report_id, form.category, len(matches))
        return report_id, matches

    def match(self, category: str, place: str, lost_at: float, floor: str | None = None,
              description: str = "") -> list[Match]:
        """Held items of the same category found after the loss, best first (place and words raise the score)."""
        out = []
        for item in self.browse(category=category):
            if item.found_at < lost_at - 3600:
                continue
            score = 50 + (15 if floor and item.floor == floor else 0)
            score += round(15 * _overlap(place, item.place)) + round(20 * _overlap(description, item.description))
            out.append(Match(item, score))
        return sorted(out, key=lambda m: (-m.score, m.item.found_at))

    def hand_back(self, *, staff_id: str, claim_code: str) -> FoundItem:
        """At the desk: the shopper's claim receipt, checked by staff; an item goes back once."""
        try:
            code = self.tokens.verify_signed(claim_code, CLAIM_PREFIX)
        except TokenRejected as exc:
            raise LostFoundRefused(exc.reason, "this is not a genuine claim receipt") from exc
        item_id = code.fields[0]
        now = self.clock()
        with self.store.transaction() as conn:
            cur = conn.execute("UPDATE desk_found_items SET status='claimed', claimed_at=? "
                               "WHERE item_id=? AND status='held'", (now, item_id))
            if cur.rowcount != 1:
                raise LostFoundRefused("not_held", "this item is no longer at the desk")
            self.store.append_event(conn, "lostfound.claimed", {"item_id": item_id, "by": staff_id, "at": now},
                                    at=now)
        log.info("lostfound.claimed item=%s staff=%s", item_id, staff_id)
        return self.item(item_id)

    def due_for_handover(self) -> list[FoundItem]:
        """Held longer than the retention period (7 days by policy): to be handed to security."""
        cutoff = self.clock() - self.retention_s
        rows = self.store.query("SELECT * FROM desk_found_items WHERE status='held' AND found_at<=? "
                                "ORDER BY found_at", (cutoff,))
        return [self._from_row(r) for r in rows]

    def hand_over(self, *, staff_id: str, receiver: str) -> list[FoundItem]:
        """Record the hand-over of every overdue item to security (who took them), one event per item."""
        receiver = clean_text(receiver, 60)
        if not receiver:
            raise LostFoundRefused("invalid_receiver", "name who receives the items")
        due = self.due_for_handover()
        now = self.clock()
        with self.store.transaction() as conn:
            for item in due:
                conn.execute("UPDATE desk_found_items SET status='handed_over', handed_over_at=?, handed_over_by=? "
                             "WHERE item_id=? AND status='held'", (now, staff_id, item.item_id))
                self.store.append_event(conn, "lostfound.handed_over", {
                    "item_id": item.item_id, "by": staff_id, "receiver": receiver, "at": now,
                    "found_at": item.found_at}, at=now)
        log.info("lostfound.handed_over count=%d staff=%s", len(due), staff_id)
        return [self.item(i.item_id) for i in due]

    def claim_receipt(self, item: FoundItem) -> Any:
        """What a shopper takes to the desk to claim an item (receipts.LostItemReport with the F1 code)."""
        from kiosk.services.receipts import LostItemReport

        where = " ".join(x for x in (item.floor, item.place) if x)
        return LostItemReport(station_id=self.station_id, report_id=item.item_id,
                              description=f"{item.category} {item.description}".strip(), where_lost=where,
                              reported_at=self.clock(), claim_token=item.claim_code)
