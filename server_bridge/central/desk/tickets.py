"""Complaint tickets at the centre: 首问负责制 ownership, replies, closure, the shopper's own text."""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallcommon.text import InputRefused, clean_text
from server_bridge.central.desk.models import DeskReply, DeskTicket
from server_bridge.central.desk.sla import clocks
from server_bridge.central.errors import CentralError
from server_bridge.central.models import Complaint

log = logging.getLogger(__name__)

CODE_RE = re.compile(r"^C1\.([A-Z0-9][A-Z0-9-]{0,31})\.[A-Z2-7]{16}$")
MAX_REPLY = 1000
MAX_SHOPPER_TEXTS = 5


class TicketError(CentralError):
    """A ticket action refused; the message is safe to show to ops or the shopper."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def ticket_for_code(session: Session, code: str) -> Complaint:
    """The complaint a status QR belongs to; a code that does not match exactly is 'not found'."""
    m = CODE_RE.match(code or "")
    access = session.get(DeskTicket, m.group(1)) if m else None
    if access is None or not hmac.compare_digest(access.code_hash, code_hash(code)):
        raise TicketError(404, "ticket_not_found", "no such ticket (yet): it may still be on its way from the station")
    complaint = session.get(Complaint, access.complaint_id)
    if complaint is None:
        raise TicketError(404, "ticket_not_found", "no such ticket")
    return complaint


def _complaint(session: Session, complaint_id: str) -> Complaint:
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        raise TicketError(404, "ticket_not_found", "no such ticket")
    return complaint


def take(session: Session, complaint_id: str, user: str, now: float) -> Complaint:
    """首问负责制: the first member of staff to take a ticket keeps it; nobody else can take it over."""
    complaint = _complaint(session, complaint_id)
    if complaint.owner is None:
        complaint.owner = user
        log.info("complaint.taken ticket=%s owner=%s", complaint_id, user)
    elif complaint.owner != user:
        raise TicketError(409, "owned_by_other", f"{complaint.owner} already owns this ticket (首问负责制)")
    return complaint


def _text(text: str, limit: int) -> str:
    try:
        cleaned = clean_text(text, limit)
    except InputRefused as exc:
        raise TicketError(422, exc.code, str(exc)) from exc
    if not cleaned:
        raise TicketError(422, "text_empty", "please write something")
    return cleaned


def reply(session: Session, complaint_id: str, user: str, text: str, now: float) -> DeskReply:
    """A reply the shopper sees on the status page; the first one stops the first-response clock."""
    body = _text(text, MAX_REPLY)
    complaint = take(session, complaint_id, user, now)
    if complaint.status == "closed":
        raise TicketError(409, "closed", "this ticket is closed")
    if complaint.first_response_at is None:
        complaint.first_response_at = now
    complaint.status = "answered"
    row = DeskReply(complaint_id=complaint_id, at=now, author="staff", by=user, text=body)
    session.add(row)
    log.info("complaint.replied ticket=%s by=%s", complaint_id, user)
    return row


def close(session: Session, complaint_id: str, user: str, text: str, now: float) -> Complaint:
    """Only the owner closes; the closing note is the last reply the shopper reads."""
    complaint = take(session, complaint_id, user, now)
    if complaint.status == "closed":
        return complaint
    session.add(DeskReply(complaint_id=complaint_id, at=now, author="staff", by=user, text=_text(text, MAX_REPLY)))
    complaint.first_response_at = complaint.first_response_at or now
    complaint.closed_at = now
    complaint.status = "closed"
    log.info("complaint.closed ticket=%s by=%s", complaint_id, user)
    return complaint


def add_shopper_text(session: Session, code: str, text: str, now: float) -> DeskReply:
    """The free text typed on the shopper's phone (the kiosk has no Chinese keyboard)."""
    complaint = ticket_for_code(session, code)
    body = _text(text, 500)
    if complaint.status == "closed":
        raise TicketError(409, "closed", "this ticket is closed")
    count = len(session.scalars(select(DeskReply.id).where(DeskReply.complaint_id == complaint.complaint_id,
                                                           DeskReply.author == "shopper")).all())
    if count >= MAX_SHOPPER_TEXTS:
        raise TicketError(429, "too_many", "this ticket already has enough messages; staff will reply")
    if not complaint.text:
        complaint.text = body
    row = DeskReply(complaint_id=complaint.complaint_id, at=now, author="shopper", by=None, text=body)
    session.add(row)
    return row


@dataclass(frozen=True)
class TicketView:
    complaint: Complaint
    replies: list[DeskReply]
    sla: dict[str, Any]

    def public(self) -> dict[str, Any]:
        """What the shopper and any station may see: no staff names, no phone beyond its mask."""
        c = self.complaint
        return {"ticket_id": c.complaint_id, "status": c.status, "category": c.category, "floor": c.floor,
                "created_at": c.filed_at, "owner": "staff" if c.owner else None, "sla": self.sla,
                "replies": [{"at": r.at, "author": r.author, "text": r.text} for r in self.replies]}


def view(session: Session, complaint: Complaint, now: float) -> TicketView:
    replies = list(session.scalars(select(DeskReply).where(DeskReply.complaint_id == complaint.complaint_id)
                                   .order_by(DeskReply.at, DeskReply.id)).all())
    first, closure = clocks(complaint.filed_at, complaint.first_response_at, complaint.closed_at, now)
    return TicketView(complaint, replies, {"first_response": first.as_dict(), "closure": closure.as_dict()})
