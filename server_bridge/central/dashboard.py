"""Ops dashboard (server-rendered, zh-CN/English): fleet, station, alerts, KPIs, complaints, CSV export."""
from __future__ import annotations

import csv
import io
import os
import time
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select

from mallcommon.faults import fault_words
from server_bridge.central import alerts as alert_rules
from server_bridge.central.deps import DbDep, OpsUserDep, RegistryDep, SettingsDep, ops_user
from server_bridge.central.fleet import is_online, station_rows, stock
from server_bridge.central.i18n import LANGS, t
from server_bridge.central.ingest import station_events
from server_bridge.central.kpis import KpiWindow
from server_bridge.central.models import Alert, Complaint, Lending, MaintenanceRecord, Rating, Station

TEMPLATES = Jinja2Templates(directory=__file__.rsplit("/", 1)[0] + "/templates")
# Ops read times in the mall's own zone, not UTC.
MALL_TZ = ZoneInfo(os.environ.get("CENTRAL_TZ", "Asia/Shanghai"))


def _when(epoch: float | None) -> str:
    return "" if epoch is None else datetime.fromtimestamp(epoch, MALL_TZ).strftime("%Y-%m-%d %H:%M:%S")


TEMPLATES.env.filters["when"] = _when
TEMPLATES.env.filters["fault_words"] = fault_words  # {{ code | fault_words(lang) }}
FLEET_REFRESH_S = 5
router = APIRouter(include_in_schema=False, dependencies=[Depends(ops_user)])


def _lang(request: Request, lang: str | None) -> str:
    chosen = lang or request.cookies.get("lang") or "zh"
    return chosen if chosen in LANGS else "zh"


def _render(request: Request, name: str, lang: str, **ctx: Any) -> HTMLResponse:
    response = TEMPLATES.TemplateResponse(request, name, {"t": t(lang), "lang": lang, "now": time.time(), **ctx})
    response.set_cookie("lang", lang, samesite="lax")
    return response


def _station_card(st: Any, now: float, settings: alert_rules.AlertSettings, open_alerts: int) -> dict:
    health = st.health or {}
    lockers = health.get("lockers", [])
    return {"id": st.station_id, "name": st.name, "online": is_online(st, now, settings.offline_after_s),
            "age": None if st.last_heartbeat_at is None else int(now - st.last_heartbeat_at),
            "printer": health.get("printer"), "camera": health.get("camera"), "lockers": lockers,
            "lockers_online": sum(1 for lk in lockers if lk.get("online")),
            "stock": {lk["locker_id"]: (stock(lk, settings.min_charged_battery), len(lk.get("slots", [])),
                                        lk.get("item_type")) for lk in lockers},
            "outbox": health.get("outbox"), "version": st.version, "uptime_s": st.uptime_s,
            "acked_seq": st.acked_seq, "open_alerts": open_alerts}


@router.get("/", response_class=HTMLResponse)
def fleet(request: Request, db: DbDep, settings: SettingsDep, lang: str | None = None) -> HTMLResponse:
    now = time.time()
    with db.session() as s:
        counts = dict(s.execute(select(Alert.station_id, func.count()).where(Alert.open_key.is_not(None))
                                .group_by(Alert.station_id)).tuples().all())
        cards = [_station_card(st, now, settings, counts.get(st.station_id, 0)) for st in station_rows(s)]
        recent = s.scalars(select(Alert).where(Alert.open_key.is_not(None))
                           .order_by(Alert.raised_at.desc()).limit(10)).all()
    return _render(request, "fleet.html", _lang(request, lang), stations=cards, recent=recent,
                   refresh=FLEET_REFRESH_S)


@router.get("/stations/{station_id}", response_class=HTMLResponse)
def station_page(request: Request, station_id: Annotated[str, Path(max_length=32)], db: DbDep,
                 settings: SettingsDep, lang: str | None = None) -> HTMLResponse:
    now = time.time()
    with db.session() as s:
        st = s.get(Station, station_id)
        if st is None:
            raise HTTPException(404, "unknown station")
        live = s.scalars(select(Alert).where(Alert.station_id == station_id, Alert.open_key.is_not(None))
                         .order_by(Alert.raised_at.desc())).all()
        card = _station_card(st, now, settings, len(live))
        maintenance = s.scalars(select(MaintenanceRecord).where(MaintenanceRecord.station_id == station_id)
                                .order_by(MaintenanceRecord.at.desc()).limit(10)).all()
        events = station_events(s, station_id, limit=15)
    return _render(request, "station.html", _lang(request, lang), st=card, alerts=live, maintenance=maintenance,
                   events=events, refresh=FLEET_REFRESH_S)


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, db: DbDep, lang: str | None = None) -> HTMLResponse:
    with db.session() as s:
        live = s.scalars(select(Alert).where(Alert.open_key.is_not(None)).order_by(Alert.raised_at.desc())).all()
        history = s.scalars(select(Alert).where(Alert.open_key.is_(None))
                            .order_by(Alert.resolved_at.desc()).limit(100)).all()
    return _render(request, "alerts.html", _lang(request, lang), live=live, history=history)


ALERT_ACTIONS = {"ack": alert_rules.acknowledge, "resolve": alert_rules.resolve}


@router.post("/alerts/{alert_id}/{action}")
def alert_action(alert_id: int, action: Literal["ack", "resolve"], user: OpsUserDep, db: DbDep,
                 by: Annotated[str, Form(max_length=64)] = "") -> RedirectResponse:
    """Acknowledge or resolve; the form's `by` (or the ops login) is recorded."""
    with db.session() as s:
        ALERT_ACTIONS[action](s, alert_id, by or user, time.time())
    return RedirectResponse("/alerts", status_code=303)


@router.get("/kpis", response_class=HTMLResponse)
def kpis_page(request: Request, db: DbDep, registry: RegistryDep, lang: str | None = None,
              days: Annotated[int, Query(ge=1, le=365)] = 14) -> HTMLResponse:
    chosen = _lang(request, lang)
    window = KpiWindow(time.time(), days)
    with db.session() as s:
        panels = [fn(s, window, t(chosen)) for fn in registry.kpis.values()]
    return _render(request, "kpis.html", chosen, panels=panels, days=days)


@router.get("/complaints", response_class=HTMLResponse)
def complaints_page(request: Request, db: DbDep, lang: str | None = None) -> HTMLResponse:
    with db.session() as s:
        rows = s.scalars(select(Complaint).order_by(Complaint.filed_at.desc()).limit(200)).all()
    return _render(request, "complaints.html", _lang(request, lang), complaints=rows)


EXPORTS: dict[str, Any] = {"lendings": Lending, "alerts": Alert, "complaints": Complaint, "ratings": Rating,
                           "maintenance": MaintenanceRecord}


@router.get("/export/{name}.csv")
def export_csv(name: Annotated[str, Path(max_length=40)], db: DbDep, registry: RegistryDep,
               days: Annotated[int, Query(ge=1, le=365)] = 14) -> Response:
    """Tables by name, or a KPI panel's rows as `kpi-<panel>`."""
    with db.session() as s:
        if name.startswith("kpi-") and name[4:] in registry.kpis:
            rows = registry.kpis[name[4:]](s, KpiWindow(time.time(), days), t("en")).rows
            columns = list(rows[0]) if rows else []
        elif name in EXPORTS:
            model = EXPORTS[name]
            columns = [c.key for c in model.__table__.columns]
            rows = [{c: getattr(obj, c) for c in columns} for obj in s.scalars(select(model).limit(100_000))]
        else:
            raise HTTPException(404, "unknown export")
    buf = io.StringIO()
    if columns:
        writer = csv.DictWriter(buf, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            # A cell starting with = + - @ would run as a formula in a spreadsheet; quote it inert.
            writer.writerow({k: ("'" + v if isinstance(v, str) and v[:1] in "=+-@" else v) for k, v in row.items()})
    return Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
