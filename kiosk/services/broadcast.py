"""广播寻人 / 寻物 requests: a shopper (or staff) asks the desk to announce a lost child, companion or item.

Few touches on the screen: who or what (kind, then gender + clothing colour, or the item's category), where
(floor, optional place) and how long ago, and a call-back number on the keypad. Only the masked number is kept
or sent (as for complaints: the full number never leaves the keypad); no photo is ever taken. The request and
its `broadcast.filed` event are written in one transaction, so the outbox uploads it exactly once; the printed
ticket's QR (signed `R1` code inside the status URL) shows its status at any station or on the shopper's phone.
Its personal fields are purged when it closes (`kiosk.services.retention`).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kiosk.services.complaints import TicketDesk, form_refusal
from mallcommon.privacy import mask_phone, normalize_phone
from mallcommon.text import InputRefused, clean_text
from mallcommon.vocabulary import (
    FLOOR_PATTERN,
    Colour,
    FoundCategory,
    Gender,
    RequestKind,
)

log = logging.getLogger(__name__)

REQUEST_PREFIX = "R1"
STATUS_PATH = "/api/v1/desk/requests/{id}"
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

BroadcastRefused = InputRefused


class BroadcastForm(BaseModel):
    """What the screen collects; validated here so the screen holds no rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: RequestKind
    gender: Gender | None = None
    colour: Colour | None = None
    item_category: FoundCategory | None = None
    floor: str = Field(pattern=FLOOR_PATTERN)
    place: str = ""
    seen_minutes_ago: int = Field(ge=0, le=24 * 60)
    phone: str
    description: str = ""  # staff mode only (the kiosk has no Chinese keyboard for shoppers)
    lang: Literal["zh_CN", "en"] = "zh_CN"

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str) -> str:
        return normalize_phone(v)

    @field_validator("place", "description")
    @classmethod
    def _text(cls, v: str) -> str:
        return clean_text(v, 100)

    @model_validator(mode="after")
    def _fits_kind(self) -> BroadcastForm:
        if self.kind == "item":
            if self.item_category is None:
                raise ValueError("choose what was lost")
            if self.gender or self.colour:
                raise ValueError("an item has no gender or clothes")
        elif self.item_category is not None:
            raise ValueError("a person has no item category")
        return self


@dataclass(frozen=True)
class BroadcastRequest:
    request_id: str
    code: str
    status_url: str
    kind: str
    traits: dict[str, str]
    floor: str
    place: str
    last_seen_at: float
    phone_masked: str
    filed_by: str | None
    created_at: float


@dataclass(frozen=True)
class RequestStatus:
    request_id: str
    status: str  # filed (not yet at the centre) | open | acknowledged | announced | found | closed | unknown
    kind: str | None = None
    created_at: float | None = None
    source: Literal["centre", "station"] = "centre"
    notes: tuple[str, ...] = field(default=())


class BroadcastDesk(TicketDesk):
    """Files requests (row + outbox event in one transaction) and answers status scans."""

    prefix, page, what = REQUEST_PREFIX, "r", "request ticket"

    def file(self, *, staff_id: str | None = None, **fields: Any) -> BroadcastRequest:
        """Validate and file a request; raises BroadcastRefused naming the bad field, storing nothing."""
        try:
            form = BroadcastForm(**fields)
        except ValidationError as exc:
            raise form_refusal(exc) from exc
        if form.description and staff_id is None:
            raise BroadcastRefused("invalid_description", "a description is typed by staff at the desk")
        now = self.clock()
        masked = mask_phone(form.phone)
        traits: dict[str, str] = {k: v for k, v in (("gender", form.gender), ("colour", form.colour),
                                    ("item_category", form.item_category)) if v}
        last_seen = now - form.seen_minutes_ago * 60
        day = datetime.fromtimestamp(now, UTC).strftime("%y%m%d")
        for _ in range(5):
            request_id = f"{self.station_id}-R{day}-{''.join(self.rng.choice(_ALPHABET) for _ in range(4))}"
            code = self.tokens.sign(REQUEST_PREFIX, request_id)
            with self.store.transaction() as conn:
                if conn.execute("SELECT 1 FROM desk_requests WHERE request_id=?", (request_id,)).fetchone():
                    continue
                conn.execute(
                    "INSERT INTO desk_requests (request_id, code, kind, traits, description, floor, place, "
                    "last_seen_at, phone_masked, lang, filed_by, created_at, status) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,'filed')",
                    (request_id, code, form.kind, json.dumps(traits), form.description, form.floor, form.place,
                     last_seen, masked, form.lang, staff_id, now))
                self.store.append_event(conn, "broadcast.filed", {
                    "request_id": request_id, "code": code, "kind": form.kind, "traits": traits,
                    "description": form.description, "floor": form.floor, "place": form.place,
                    "last_seen_at": last_seen, "phone_masked": masked, "lang": form.lang,
                    "filed_by": staff_id, "filed_at": now}, at=now)
            log.info("broadcast.filed request=%s kind=%s floor=%s phone=%s staff=%s", request_id, form.kind,
                     form.floor, masked, staff_id)
            return BroadcastRequest(request_id, code, self.status_url(code), form.kind, traits, form.floor,
                                    form.place, last_seen, masked, staff_id, now)
        raise BroadcastRefused("busy", "please try again")

    def status(self, payload: str | bytes) -> RequestStatus:
        """What the shopper sees after scanning the ticket; the centre answers when it can."""
        code = self.read_code(payload)
        request_id = code.fields[0]
        remote = self.remote_status(code)
        if remote is not None:
            status = str(remote.get("status", "open"))
            if status == "closed":
                self.closed_at_centre(request_id)
            return RequestStatus(request_id, status, remote.get("kind"), remote.get("created_at"))
        rows = self.store.query("SELECT kind, created_at FROM desk_requests WHERE request_id=?", (request_id,))
        if rows:
            return RequestStatus(request_id, "filed", rows[0]["kind"], rows[0]["created_at"], "station",
                                 ("centre_unreachable",))
        return RequestStatus(request_id, "unknown", source="station", notes=("centre_unreachable",))

    def closed_at_centre(self, request_id: str) -> None:
        """The centre closed it: the station's copy becomes due for its purge (the next retention pass)."""
        with self.store.transaction() as conn:
            conn.execute("UPDATE desk_requests SET status='closed' WHERE request_id=? AND status!='closed'",
                         (request_id,))

    def receipt(self, request: BroadcastRequest) -> Any:
        """The printed ticket (receipts.RequestTicket): masked number, no description, status QR."""
        from kiosk.services.receipts import RequestTicket

        return RequestTicket(station_id=self.station_id, request_id=request.request_id, kind=request.kind,
                             floor=request.floor, created_at=request.created_at, phone_masked=request.phone_masked,
                             lookup_token=request.status_url)
