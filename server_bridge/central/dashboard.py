"""Ops dashboard (server-rendered, zh-CN/English): fleet, station, alerts, KPIs, complaints, CSV export."""
from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mallcommon.faults import fault_words
from server_bridge.central import alerts as alert_rules
from server_bridge.central import bundles, commands, escalation, rebalance
from server_bridge.central.accounts import Operator
from server_bridge.central.audit import AuditEntry
from server_bridge.central.deps import DbDep, RegistryDep, SettingsDep
from server_bridge.central.fleet import is_online, station_rows, stock
from server_bridge.central.i18n import LANGS, t
from server_bridge.central.ingest import station_events
from server_bridge.central.kpis import KpiWindow
from server_bridge.central.models import (
    Alert,
    Complaint,
    Lending,
    MaintenanceRecord,
    Rating,
    RefusedEvent,
    Station,
)
from server_bridge.central.security import (
    OpsUser,
    RoleRefused,
    Viewer,
    csrf_field,
    current_operator,
    record,
    require,
)

TEMPLATE_DIR = __file__.rsplit("/", 1)[0] + "/templates"
TEMPLATES = Jinja2Templates(directory=TEMPLATE_DIR)
# Ops read times in the mall's own zone, not UTC.
MALL_TZ = ZoneInfo(os.environ.get("CENTRAL_TZ", "Asia/Shanghai"))


def _when(epoch: float | None) -> str:
    return "" if epoch is None else datetime.fromtimestamp(epoch, MALL_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _iso_when(stamp: str | None) -> str:
    """An event's ISO-8601 UTC stamp shown in the mall's zone (the raw string if it does not parse)."""
    if not stamp:
        return ""
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(MALL_TZ).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return stamp


TEMPLATES.env.filters["when"] = _when
TEMPLATES.env.filters["iso_when"] = _iso_when
TEMPLATES.env.filters["fault_words"] = fault_words  # {{ code | fault_words(lang) }}
FLEET_REFRESH_S = 5
TEMPLATES.env.globals["csrf_field"] = csrf_field
TEMPLATES.env.globals["operator_of"] = current_operator
# Every dashboard page needs a logged-in user; routes that do more ask for more (security.DeskUser/OpsUser/Admin).
router = APIRouter(include_in_schema=False, dependencies=[Depends(require("viewer"))])


def lang_of(request: Request, lang: str | None) -> str:
    chosen = lang or request.cookies.get("lang") or "zh"
    return chosen if chosen in LANGS else "zh"


def render(request: Request, name: str, lang: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    response = TEMPLATES.TemplateResponse(request, name, {"t": t(lang), "lang": lang, "now": time.time(),
                                                          "op": current_operator(request), **ctx},
                                          status_code=status)
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
        rows = station_rows(s)
        cards = [_station_card(st, now, settings, counts.get(st.station_id, 0)) for st in rows]
        recent = s.scalars(select(Alert).where(Alert.open_key.is_not(None))
                           .order_by(Alert.raised_at.desc()).limit(10)).all()
        moves = rebalance.suggestions(rows, {c["id"] for c in cards if c["online"]}, settings.low_stock_min,
                                      settings.min_charged_battery)
    return render(request, "fleet.html", lang_of(request, lang), stations=cards, recent=recent,
                  refresh=FLEET_REFRESH_S, moves=moves)


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
        remote = commands.recent(s, station_id, limit=5)  # issue 15.7
        shot = commands.latest_screenshot_id(s, station_id)
        config = bundles.station_config(s, station_id)  # issue 15.6
        refused = s.scalars(select(RefusedEvent).where(RefusedEvent.station_id == station_id,
                                                       RefusedEvent.accepted_at.is_(None))
                            .order_by(RefusedEvent.seq).limit(20)).all()  # issues 12/16: held in quarantine
    return render(request, "station.html", lang_of(request, lang), st=card, alerts=live, maintenance=maintenance,
                   events=events, refresh=FLEET_REFRESH_S, remote=remote, shot=shot, config=config, refused=refused)


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, db: DbDep, lang: str | None = None) -> HTMLResponse:
    """Live alerts, the escalated ones first (marked with the role they went to); then history."""
    with db.session() as s:
        live = s.scalars(select(Alert).where(Alert.open_key.is_not(None)).order_by(Alert.raised_at.desc())).all()
        up = escalation.escalated(s, [a.id for a in live])
        history = s.scalars(select(Alert).where(Alert.open_key.is_(None))
                            .order_by(Alert.resolved_at.desc()).limit(100)).all()
    live = sorted(live, key=lambda a: a.id not in up)  # stable: newest first within each group
    return render(request, "alerts.html", lang_of(request, lang), live=live, history=history, escalated=up)


ALERT_ACTIONS = {"ack": alert_rules.acknowledge, "resolve": alert_rules.resolve}


def _alert_act(request: Request, op: Operator, s: Session, alert_id: int, action: str, now: float) -> None:
    alert = ALERT_ACTIONS[action](s, alert_id, op.username, now)
    escalation.end_escalation(s, alert_id, op.username, now)
    record(request, op, s, f"alert.{action}", f"alert:{alert_id}", kind=alert.kind, station=alert.station_id,
           subject=alert.subject)


@router.post("/alerts/bulk-ack")
def bulk_acknowledge(request: Request, op: OpsUser, db: DbDep,
                     ids: Annotated[list[int], Form(max_length=500)]) -> RedirectResponse:
    """Acknowledge every ticked alert at once; each is audited on its own."""
    now = time.time()
    with db.session() as s:
        for alert_id in dict.fromkeys(ids):
            _alert_act(request, op, s, alert_id, "ack", now)
    return RedirectResponse("/alerts", status_code=303)


@router.post("/alerts/{alert_id}/{action}")
def alert_action(request: Request, alert_id: int, action: Literal["ack", "resolve"], op: OpsUser,
                 db: DbDep) -> RedirectResponse:
    """Acknowledge or resolve, recorded under the logged-in user (never a name the form sends)."""
    with db.session() as s:
        _alert_act(request, op, s, alert_id, action, time.time())
    return RedirectResponse("/alerts", status_code=303)


@router.get("/kpis", response_class=HTMLResponse)
def kpis_page(request: Request, db: DbDep, registry: RegistryDep, lang: str | None = None,
              days: Annotated[int, Query(ge=1, le=365)] = 14) -> HTMLResponse:
    chosen = lang_of(request, lang)
    window = KpiWindow(time.time(), days)
    with db.session() as s:
        panels = [fn(s, window, t(chosen)) for fn in registry.kpis.values()]
    return render(request, "kpis.html", chosen, panels=panels, days=days)


@router.get("/complaints", response_class=HTMLResponse)
def complaints_page(request: Request, db: DbDep, lang: str | None = None) -> HTMLResponse:
    with db.session() as s:
        rows = s.scalars(select(Complaint).order_by(Complaint.filed_at.desc()).limit(200)).all()
    return render(request, "complaints.html", lang_of(request, lang), complaints=rows)


EXPORTS: dict[str, Any] = {"lendings": Lending, "alerts": Alert, "complaints": Complaint, "ratings": Rating,
                           "maintenance": MaintenanceRecord, "audit": AuditEntry}


# Who may export what: complaints are the desk's work; the audit log is the admin's; the rest is ops.
EXPORT_ROLES: dict[str, str] = {"complaints": "desk", "audit": "admin"}


@router.get("/export/{name}.csv")
def export_csv(request: Request, name: Annotated[str, Path(max_length=40)], op: Viewer, db: DbDep,
               registry: RegistryDep, days: Annotated[int, Query(ge=1, le=365)] = 14) -> Response:
    """Tables by name, or a KPI panel's rows as `kpi-<panel>`; each export is audited."""
    exports = {**EXPORTS, **{n: model for n, (model, _role) in registry.exports.items()}}
    needed = registry.exports[name][1] if name in registry.exports else EXPORT_ROLES.get(name, "ops")
    if not op.may(needed):
        raise RoleRefused(op, needed)
    with db.session() as s:
        record(request, op, s, "export", f"export:{name}", days=days)
        if name.startswith("kpi-") and name[4:] in registry.kpis:
            rows = registry.kpis[name[4:]](s, KpiWindow(time.time(), days), t("en")).rows
            columns = list(rows[0]) if rows else []
        elif name in exports:
            model = exports[name]
            columns = [c.key for c in model.__table__.columns]
            rows = [{c: getattr(obj, c) for c in columns} for obj in s.scalars(select(model).limit(100_000))]
        else:
            raise HTTPException(404, "unknown export")
    return csv_response(name, columns, rows)


# A cell starting with one of these runs as a formula in a spreadsheet (OWASP "CSV injection"): = + - @,
# and TAB and CR, which some spreadsheets skip before reading the = that follows.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A value a spreadsheet shows as text: a leading formula character is quoted with `'`."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_response(name: str, columns: list[str], rows: Iterable[dict[str, Any]]) -> Response:
    buf = io.StringIO()
    if columns:
        writer = csv.DictWriter(buf, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: csv_cell(v) for k, v in row.items()})
    return Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
