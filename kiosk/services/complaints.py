"""Complaints and suggestions at the kiosk: a ticket with a signed status code, sent to the centre.

Free text is typed on the shopper's phone (the centre's web form, reached through the receipt's QR);
the kiosk takes a category, place, rating and an optional phone number on its numeric keypad.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kiosk.store import Store
from kiosk.tokens import SignedCode, TokenBook, TokenRejected
from mallcommon.privacy import PhoneInvalid, mask_phone, normalize_phone
from mallcommon.text import InputRefused, clean_text
from mallcommon.vocabulary import COMPLAINT_CATEGORIES, FLOOR_PATTERN, SHOP_UNIT_PATTERN, ComplaintCategory

log = logging.getLogger(__name__)

TICKET_PREFIX = "C1"
CATEGORIES = COMPLAINT_CATEGORIES
Category = ComplaintCategory
_TICKET_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud over the phone


# The desk's refusals are the shared input refusals: `clean_text` (also used by the centre's web form) raises them.
ComplaintRefused = InputRefused


class ComplaintForm(BaseModel):
    """What the kiosk screen collects; validated here so the screen holds no rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    category: Category
    floor: str | None = Field(default=None, pattern=FLOOR_PATTERN)
    shop_unit: str | None = Field(default=None, pattern=SHOP_UNIT_PATTERN)
    rating: int = Field(ge=1, le=5)
    phone: str | None = None
    text: str = ""
    lang: Literal["zh_CN", "en"] = "zh_CN"

    @model_validator(mode="after")
    def _floor_from_shop(self) -> ComplaintForm:
        if self.shop_unit and self.floor and not self.shop_unit.startswith(self.floor + "-"):
            raise ValueError(f"shop {self.shop_unit} is not on floor {self.floor}")
        if self.shop_unit and not self.floor:
            object.__setattr__(self, "floor", self.shop_unit.split("-")[0])
        if not self.floor:
            raise ValueError("choose the floor (or the shop)")
        return self

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        return None if v in (None, "") else normalize_phone(v)

    @field_validator("text")
    @classmethod
    def _text(cls, v: str) -> str:
        return clean_text(v)


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    code: str  # signed C1 code, also inside the status URL
    status_url: str
    category: str
    floor: str
    shop_unit: str | None
    rating: int
    phone_masked: str | None
    created_at: float


@dataclass(frozen=True)
class TicketStatus:
    ticket_id: str
    status: str  # filed (not yet at the centre) | open | answered | closed
    owner: str | None = None
    replies: tuple[dict[str, Any], ...] = ()
    source: Literal["centre", "station"] = "centre"
    category: str | None = None
    created_at: float | None = None
    notes: tuple[str, ...] = field(default=())


class TicketStatusApi(Protocol):
    def ticket(self, ticket_id: str, code: str) -> dict[str, Any] | None:
        """The centre's view of a ticket; None when the centre does not know it yet. Raises OSError offline."""


class HttpTicketStatusApi:
    """`GET {central}/api/v1/desk/complaints/{ticket_id}` with the station's bearer token (`path`: another kind of
    ticket, e.g. the broadcast requests' `/api/v1/desk/requests/{id}`)."""

    def __init__(self, base_url: str, token: str, timeout: float = 2.0,
                 transport: httpx.BaseTransport | None = None,
                 path: str = "/api/v1/desk/complaints/{id}") -> None:
        self.path = path
        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport,
                                    headers={"Authorization": f"Bearer {token}"})

    def ticket(self, ticket_id: str, code: str) -> dict[str, Any] | None:
        try:
            resp = self._client.get(self.path.format(id=ticket_id), params={"code": code})
        except httpx.HTTPError as exc:
            raise OSError(f"centre unreachable: {type(exc).__name__}") from exc
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise OSError(f"centre answered {resp.status_code}")
        body = resp.json()
        return body if isinstance(body, dict) else None

    def close(self) -> None:
        self._client.close()


def form_refusal(exc: ValidationError) -> InputRefused:
    """A desk form's first validation error as the refusal a screen shows (its code names the field)."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "form"
    if isinstance(err.get("ctx", {}).get("error"), PhoneInvalid):
        return InputRefused("phone_invalid", "please enter an 11-digit mobile number")
    return InputRefused(f"invalid_{where}", f"{where}: {err['msg']}")


class TicketDesk:
    """What the desk's ticket kinds share: a signed code kind (prefix), its status URL on the centre
    (`/desk/<path>/<code>`), the centre's status API, the clock and the random ids."""

    prefix = ""
    page = ""
    what = "ticket"

    def __init__(self, *, store: Store, tokens: TokenBook, station_id: str, public_url: str,
                 status_api: TicketStatusApi | None = None, clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None) -> None:
        self.store = store
        self.tokens = tokens
        self.station_id = station_id
        self.public_url = public_url.rstrip("/")
        self.status_api = status_api
        self.clock = clock
        self.rng = rng or random.Random()
        tokens.register_kind(self.prefix)

    def status_url(self, code: str) -> str:
        """What the receipt's QR holds: the shopper's phone opens the status page (and a text form) there."""
        return f"{self.public_url}/desk/{self.page}/{code}"

    def read_code(self, payload: str | bytes) -> SignedCode:
        """A scanned ticket QR (the status URL or the bare code) → verified code; forged ones are refused."""
        text = payload.decode("ascii", "replace") if isinstance(payload, bytes) else payload
        text = text.strip()
        if text.startswith(("http://", "https://")):
            text = text.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        try:
            return self.tokens.verify_signed(text, self.prefix)
        except TokenRejected as exc:
            raise InputRefused(exc.reason, f"this is not a genuine {self.what}") from exc

    def remote_status(self, code: SignedCode) -> dict[str, Any] | None:
        """The centre's view of a scanned ticket; None when it does not know it (yet) or cannot be reached."""
        if self.status_api is None:
            return None
        try:
            return self.status_api.ticket(code.fields[0], code.raw)
        except OSError as exc:
            log.warning("desk.status_offline kind=%s ticket=%s error=%s", self.prefix, code.fields[0], exc)
            return None


class ComplaintDesk(TicketDesk):
    """Files tickets (ticket + outbox event in one transaction) and answers status scans."""

    prefix, page, what = TICKET_PREFIX, "t", "complaint ticket"

    def _new_ticket_id(self, now: float) -> str:
        day = datetime.fromtimestamp(now, UTC).strftime("%y%m%d")
        tail = "".join(self.rng.choice(_TICKET_ALPHABET) for _ in range(5))
        return f"{self.station_id}-{day}-{tail}"

    def file(self, **fields: Any) -> Ticket:
        """Validate and file a complaint; raises ComplaintRefused naming the bad field, storing nothing."""
        try:
            form = ComplaintForm(**fields)  # text rules raise ComplaintRefused straight through
        except ValidationError as exc:
            raise form_refusal(exc) from exc
        now = self.clock()
        phone_masked = mask_phone(form.phone) if form.phone else None
        for _ in range(5):
            ticket_id = self._new_ticket_id(now)
            code = self.tokens.sign(TICKET_PREFIX, ticket_id)
            with self.store.transaction() as conn:
                if conn.execute("SELECT 1 FROM desk_complaints WHERE ticket_id=?", (ticket_id,)).fetchone():
                    continue
                conn.execute(
                    "INSERT INTO desk_complaints (ticket_id, code, category, floor, shop_unit, rating, "
                    "phone_masked, text, lang, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (ticket_id, code, form.category, form.floor, form.shop_unit, form.rating, phone_masked,
                     form.text, form.lang, now))
                # Only the masked number leaves the keypad: replies reach the shopper on the status page.
                self.store.append_event(conn, "complaint.filed", {
                    "complaint_id": ticket_id, "code": code, "category": form.category, "floor": form.floor,
                    "shop": form.shop_unit, "rating": form.rating, "phone_masked": phone_masked,
                    "text": form.text, "lang": form.lang, "filed_at": now}, at=now)
            log.info("complaint.filed ticket=%s category=%s floor=%s phone=%s", ticket_id, form.category,
                     form.floor, phone_masked)
            return Ticket(ticket_id, code, self.status_url(code), form.category, str(form.floor), form.shop_unit,
                          form.rating, phone_masked, now)
        raise ComplaintRefused("busy", "please try again")

    def status(self, payload: str | bytes) -> TicketStatus:
        """What the shopper sees after scanning a ticket at any station; the centre answers when it can."""
        code = self.read_code(payload)
        ticket_id = code.fields[0]
        remote = self.remote_status(code)
        if remote is not None:
            return TicketStatus(ticket_id, str(remote.get("status", "open")), remote.get("owner"),
                                tuple(remote.get("replies") or ()), "centre", remote.get("category"),
                                remote.get("created_at"))
        rows = self.store.query("SELECT category, created_at FROM desk_complaints WHERE ticket_id=?", (ticket_id,))
        if rows:
            return TicketStatus(ticket_id, "filed", source="station", category=rows[0]["category"],
                                created_at=rows[0]["created_at"], notes=("centre_unreachable",))
        # Genuine code from another station while the centre is unreachable: say so rather than guess.
        return TicketStatus(ticket_id, "unknown", source="station", notes=("centre_unreachable",))

    def ticket_receipt(self, ticket: Ticket) -> Any:
        """The printed ticket (receipts.ComplaintTicket): its QR opens the status page and text form."""
        from kiosk.services.receipts import ComplaintTicket

        where = " ".join(x for x in (ticket.floor, ticket.shop_unit) if x)
        return ComplaintTicket(station_id=self.station_id, ticket_id=ticket.ticket_id, category=ticket.category,
                               summary=f"{ticket.category} · {where} · {'★' * ticket.rating}",
                               created_at=ticket.created_at, reply_due_at=ticket.created_at + 3600,
                               lookup_token=ticket.status_url, phone=None)
