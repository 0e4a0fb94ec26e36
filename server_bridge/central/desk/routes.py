"""Desk pages and API at the centre: the shopper's status page and text form, ops ticket handling, lost & found."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from server_bridge.central.dashboard import MALL_TZ, lang_of
from server_bridge.central.dashboard import TEMPLATE_DIR as CONSOLE_TEMPLATES
from server_bridge.central.db import Database
from server_bridge.central.deps import AnyStationDep, Clock, ClockDep, DbDep
from server_bridge.central.desk import projections, tickets
from server_bridge.central.desk.models import DeskFoundItem, DeskLostReport
from server_bridge.central.desk.words import words
from server_bridge.central.i18n import t
from server_bridge.central.models import Complaint
from server_bridge.central.security import DeskUser, csrf_field, current_operator, record

# The ops pages extend the console's base.html (one layout, one navigation); the shopper's page has its own.
TEMPLATES = Jinja2Templates(directory=[__file__.rsplit("/", 1)[0] + "/templates", CONSOLE_TEMPLATES])
TEMPLATES.env.globals["csrf_field"] = csrf_field
TEMPLATES.env.globals["operator_of"] = current_operator
Code = Annotated[str, Path(max_length=80)]
TicketId = Annotated[str, Path(pattern=r"^[A-Z0-9][A-Z0-9-]{0,31}$")]


router = APIRouter()


def _lang(request: Request, lang: str | None) -> str:
    if lang in ("zh", "en"):
        return lang
    return "en" if request.headers.get("accept-language", "").lower().startswith("en") else "zh"


def _when(epoch: float | None) -> str:
    """In the mall's zone (CENTRAL_TZ, Asia/Shanghai), like every console page: not the server's."""
    return "" if epoch is None else datetime.fromtimestamp(epoch, MALL_TZ).strftime("%Y-%m-%d %H:%M")


def _span(seconds: float) -> str:
    m = int(abs(seconds) // 60)
    return f"{m // 60}h {m % 60:02d}m"


def _page(request: Request, name: str, lang: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, name, {"w": words(lang), "lang": lang, "when": _when, "span": _span,
                                                      **ctx}, status_code=status)


def _ops_page(request: Request, name: str, lang: str | None, status: int = 200, **ctx: Any) -> HTMLResponse:
    """A console page: the dashboard's layout, navigation, language (cookie, default zh) and login."""
    chosen = lang_of(request, lang)
    response = _page(request, name, chosen, status, t=t(chosen), op=current_operator(request), **ctx)
    response.set_cookie("lang", chosen, samesite="lax")
    return response


# the shopper's phone ---------------------------------------------------------------------------
@router.get("/desk/t/{code}", response_class=HTMLResponse, include_in_schema=False)
def status_page(request: Request, code: Code, db: DbDep, clock: ClockDep, lang: str | None = None, error: str | None = None) -> HTMLResponse:
    lg = _lang(request, lang)
    with db.session() as session:
        try:
            complaint = tickets.ticket_for_code(session, code)
        except tickets.TicketError:
            return _page(request, "status.html", lg, 404, ticket=None, code=code, error=None)
        view = tickets.view(session, complaint, clock()).public()
    return _page(request, "status.html", lg, ticket=view, code=code, error=error)


@router.post("/desk/t/{code}", response_class=HTMLResponse, include_in_schema=False)
def shopper_text(request: Request, code: Code, db: DbDep, clock: ClockDep, text: Annotated[str, Form(max_length=20_000)] = "",
                 lang: str | None = None) -> Any:
    lg = _lang(request, lang)
    try:
        with db.session() as session:
            tickets.add_shopper_text(session, code, text, clock())
    except tickets.TicketError as exc:
        with db.session() as session:
            try:
                view: dict | None = tickets.view(session, tickets.ticket_for_code(session, code), clock()).public()
            except tickets.TicketError:
                view = None
        return _page(request, "status.html", lg, exc.status, ticket=view, code=code, error=exc.code)
    return RedirectResponse(f"/desk/t/{code}?lang={lg}", status_code=303)


# stations ---------------------------------------------------------------------------------------
@router.get("/api/v1/desk/complaints/{ticket_id}", tags=["desk"])
def station_ticket(ticket_id: TicketId, db: DbDep, clock: ClockDep,
                   _station: AnyStationDep) -> JSONResponse:
    """A ticket's public status, for a station where its QR was scanned."""
    with db.session() as session:
        complaint = session.get(Complaint, ticket_id)
        if complaint is None:
            return JSONResponse({"code": "ticket_not_found", "message": "no such ticket (yet)"}, status_code=404)
        return JSONResponse(tickets.view(session, complaint, clock()).public())


# ops ---------------------------------------------------------------------------------------------
@router.get("/desk/ops/tickets", response_class=HTMLResponse, include_in_schema=False)
def ops_tickets(request: Request, op: DeskUser, db: DbDep, clock: ClockDep, lang: str | None = None,
                status: Annotated[str | None, Query(pattern=r"^(open|answered|closed)$")] = None) -> HTMLResponse:
    lg = lang_of(request, lang)
    now = clock()
    with db.session() as session:
        q = select(Complaint).order_by(Complaint.filed_at.desc()).limit(200)
        if status:
            q = q.where(Complaint.status == status)
        rows = [tickets.view(session, c, now) for c in session.scalars(q).all()]
        items = [{"c": r.complaint, "sla": r.sla} for r in rows]
    return _ops_page(request, "tickets.html", lg, items=items, user=op.username)


@router.get("/desk/ops/tickets/{ticket_id}", response_class=HTMLResponse, include_in_schema=False)
def ops_ticket(request: Request, ticket_id: TicketId, op: DeskUser, db: DbDep, clock: ClockDep,
               lang: str | None = None, error: str | None = None) -> HTMLResponse:
    lg = lang_of(request, lang)
    with db.session() as session:
        complaint = session.get(Complaint, ticket_id)
        if complaint is None:
            return _ops_page(request, "ticket.html", lg, 404, v=None, user=op.username, error="ticket_not_found")
        v = tickets.view(session, complaint, clock())
    return _ops_page(request, "ticket.html", lg, v=v, user=op.username, error=error)


def _act(request: Request, op: Any, db: Database, clock: Clock, action: str, ticket_id: str, fn: Any,
         *args: Any) -> RedirectResponse:
    """A ticket action by the logged-in user, audited with it (a refusal is audited on its own)."""
    try:
        with db.session() as session:
            fn(session, ticket_id, op.username, *args, clock())
            record(request, op, session, action, f"ticket:{ticket_id}")
    except tickets.TicketError as exc:
        with db.session() as session:
            record(request, op, session, action, f"ticket:{ticket_id}", outcome="refused", code=exc.code)
        return RedirectResponse(f"/desk/ops/tickets/{ticket_id}?error={exc.code}", status_code=303)
    return RedirectResponse(f"/desk/ops/tickets/{ticket_id}", status_code=303)


@router.post("/desk/ops/tickets/{ticket_id}/take", include_in_schema=False)
def ops_take(request: Request, ticket_id: TicketId, op: DeskUser, db: DbDep, clock: ClockDep) -> RedirectResponse:
    return _act(request, op, db, clock, "ticket.take", ticket_id, tickets.take)


@router.post("/desk/ops/tickets/{ticket_id}/reply", include_in_schema=False)
def ops_reply(request: Request, ticket_id: TicketId, op: DeskUser, db: DbDep, clock: ClockDep,
              text: Annotated[str, Form(max_length=20_000)] = "") -> RedirectResponse:
    return _act(request, op, db, clock, "ticket.reply", ticket_id, tickets.reply, text)


@router.post("/desk/ops/tickets/{ticket_id}/close", include_in_schema=False)
def ops_close(request: Request, ticket_id: TicketId, op: DeskUser, db: DbDep, clock: ClockDep,
              text: Annotated[str, Form(max_length=20_000)] = "") -> RedirectResponse:
    return _act(request, op, db, clock, "ticket.close", ticket_id, tickets.close, text)


@router.get("/desk/ops/lostfound", response_class=HTMLResponse, include_in_schema=False)
def ops_lostfound(request: Request, op: DeskUser, db: DbDep, clock: ClockDep, lang: str | None = None) -> HTMLResponse:
    lg = lang_of(request, lang)
    now = clock()
    with db.session() as session:
        found = session.scalars(select(DeskFoundItem).order_by(DeskFoundItem.found_at.desc()).limit(300)).all()
        lost = session.scalars(select(DeskLostReport).order_by(DeskLostReport.lost_at.desc()).limit(100)).all()
        items = [{"i": i, "due": i.status == "held" and i.found_at < now - projections.RETENTION_S,
                  "days": int((now - i.found_at) // 86_400)} for i in found]
    return _ops_page(request, "lostfound.html", lg, items=items, lost=lost, user=op.username)
