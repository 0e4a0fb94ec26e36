"""Pages and API of the 广播寻人 / 寻物 requests (issue 17): the desk's console pages, a station's status scan,
the shopper's phone page. Mounted by `create_app` like the desk's other router."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy import case, select

from server_bridge.central.deps import AnyStationDep, ClockDep, DbDep
from server_bridge.central.desk import broadcasts
from server_bridge.central.desk.models import DeskBroadcast
from server_bridge.central.desk.routes import Code, _lang, _ops_page, _page
from server_bridge.central.desk.tickets import TicketError
from server_bridge.central.models import Station
from server_bridge.central.security import DeskUser, record

RequestId = Annotated[str, Path(pattern=r"^[A-Z0-9][A-Z0-9-]{0,39}$")]

router = APIRouter()


def _clock(row: DeskBroadcast, now: float) -> dict[str, float | bool | None]:
    """The acknowledgement clock: due a few minutes after filing (the escalation step), stopped by the desk."""
    step = broadcasts.ack_step()
    due = row.filed_at + step.minutes * 60
    done = row.acknowledged_at
    return {"due_at": due, "done_at": done, "met": done is not None and done <= due,
            "breached": (done if done is not None else now) > due,
            "remaining_s": due - (done if done is not None else now), "to": step.role}  # type: ignore[dict-item]


@router.get("/desk/ops/requests", response_class=HTMLResponse, include_in_schema=False)
def ops_requests(request: Request, op: DeskUser, db: DbDep, clock: ClockDep, lang: str | None = None,
                 status: Annotated[str | None, Query(pattern=r"^(open|announced|found|closed)$")] = None) -> HTMLResponse:
    now = clock()
    with db.session() as session:
        # Urgent first: not yet acknowledged, then the rest still open, newest first; closed ones last.
        order = case((DeskBroadcast.status == "closed", 2), (DeskBroadcast.acknowledged_at.is_(None), 0), else_=1)
        q = select(DeskBroadcast).order_by(order, DeskBroadcast.filed_at.desc()).limit(200)
        if status:
            q = q.where(DeskBroadcast.status == status)
        items = [{"r": r, "clock": _clock(r, now)} for r in session.scalars(q).all()]
    return _ops_page(request, "requests.html", lang, items=items, user=op.username)


@router.get("/desk/ops/requests/{request_id}", response_class=HTMLResponse, include_in_schema=False)
def ops_request(request: Request, request_id: RequestId, op: DeskUser, db: DbDep, clock: ClockDep,
                lang: str | None = None, error: str | None = None) -> HTMLResponse:
    now = clock()
    with db.session() as session:
        row = session.get(DeskBroadcast, request_id)
        if row is None:
            return _ops_page(request, "request.html", lang, 404, r=None, user=op.username, error="request_not_found")
        station = session.get(Station, row.station_id)
        text = broadcasts.announcement(row, now, station.name if station else "") if row.purged_at is None else None
        return _ops_page(request, "request.html", lang, r=row, clock=_clock(row, now), text=text,
                         user=op.username, error=error)


@router.post("/desk/ops/requests/{request_id}/{action}", include_in_schema=False)
def ops_request_act(request: Request, request_id: RequestId, action: Annotated[str, Path(max_length=12)],
                    op: DeskUser, db: DbDep, clock: ClockDep) -> RedirectResponse:
    """ack / announced / found / closed by the logged-in desk user, audited (a refusal too)."""
    target = f"request:{request_id}"
    try:
        with db.session() as session:
            broadcasts.act(session, request_id, op.username, action, clock())
            record(request, op, session, f"request.{action}", target)
    except TicketError as exc:
        with db.session() as session:
            record(request, op, session, f"request.{action}"[:40], target, outcome="refused", code=exc.code)
        return RedirectResponse(f"/desk/ops/requests/{request_id}?error={exc.code}", status_code=303)
    return RedirectResponse(f"/desk/ops/requests/{request_id}", status_code=303)


@router.get("/api/v1/desk/requests/{request_id}", tags=["desk"])
def station_request(request_id: RequestId, db: DbDep, _station: AnyStationDep,
                    code: Annotated[str, Query(max_length=80)] = "") -> JSONResponse:
    """A request's public status, for a station where its ticket QR was scanned (the code must match)."""
    with db.session() as session:
        try:
            row = broadcasts.for_code(session, code)
        except TicketError as exc:
            return JSONResponse({"code": exc.code, "message": str(exc)}, status_code=404)
        if row.request_id != request_id:
            return JSONResponse({"code": "request_not_found", "message": "no such request"}, status_code=404)
        return JSONResponse(broadcasts.public(row))


@router.get("/desk/r/{code}", response_class=HTMLResponse, include_in_schema=False)
def shopper_page(request: Request, code: Code, db: DbDep, lang: str | None = None) -> HTMLResponse:
    lg = _lang(request, lang)
    with db.session() as session:
        try:
            view: dict | None = broadcasts.public(broadcasts.for_code(session, code))
        except TicketError:
            view = None
    return _page(request, "request_status.html", lg, 200 if view else 404, req=view)
