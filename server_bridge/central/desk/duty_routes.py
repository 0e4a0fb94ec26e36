"""Console page of the desk's written duties (issue 17): shift handovers per station and day, bag-storage
incidents with their photos, service supplies and their checks, overnight lists. Desk role or above."""
from __future__ import annotations

import base64
import binascii
from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from server_bridge.central.dashboard import MALL_TZ, lang_of
from server_bridge.central.deps import ClockDep, DbDep
from server_bridge.central.desk.duties import (
    DeskHandover,
    DeskOvernight,
    DeskStorageIncident,
    DeskSupplyCheck,
    DeskSupplyStock,
)
from server_bridge.central.desk.routes import _ops_page
from server_bridge.central.security import DeskUser

router = APIRouter()

WORDS: dict[str, tuple[str, str]] = {
    "duties": ("值班记录", "Desk duties"),
    "handovers": ("交接班记录", "Shift handovers"),
    "outgoing": ("交班", "Outgoing"), "incoming": ("接班", "Incoming"),
    "lockers": ("柜内物品", "Items in lockers"), "desk": ("服务台用品", "At the desk"),
    "open": ("待办", "Open"), "problems": ("设备问题", "Device problems"), "note": ("备注", "Note"),
    "incidents": ("存包事件", "Storage incidents"),
    "kind": ("类型", "Kind"), "deposit": ("存包", "Deposit"), "staff": ("经办", "Staff"),
    "second": ("见证 / 主管", "Witness / supervisor"), "contents": ("物品 / 情况", "Contents / what happened"),
    "id_masked": ("证件（遮蔽）", "ID (masked)"), "found_item": ("失物编号", "Found item"),
    "photos": ("照片", "Photos"), "purged": ("已按保存期限清除", "purged at end of retention"),
    "supplies": ("服务用品", "Service supplies"), "item": ("物品", "Item"), "stock": ("库存", "Stock"),
    "out": ("借出未还", "Out on loan"), "low_at": ("预警线", "Low at"), "full": ("充足", "Full"),
    "check": ("充足与完好检查", "Count-and-condition check"), "last_check": ("上次检查", "Last check"),
    "next_due": ("下次到期", "Next due"), "overdue": ("已逾期", "overdue"), "never": ("从未检查", "never"),
    "overnight": ("闭店未取存包", "Bags left after closing"), "bags": ("件", "bags"),
    "day": ("日期", "Day"), "station": ("服务站", "Station"), "all": ("全部", "all"), "show": ("查看", "Show"),
    "none": ("无", "none"), "time": ("时间", "Time"),
    "found_held": ("保管中失物", "found items held"), "lost_reports": ("失物登记", "lost reports"),
    "complaints": ("投诉", "complaints"), "bags_stored": ("存包", "bags stored"),
    "requests": ("寻人寻物", "find-a-person requests"),
    "lost_tag": ("存包牌遗失", "Lost tag"), "damage": ("物品损坏", "Damage or loss"),
    "overnight_bag": ("过夜存包", "Overnight bag"),
    "first_aid_kit": ("医药箱", "First-aid kit"), "sewing_kit": ("针线包", "Sewing kit"),
    "plasters": ("创可贴", "Plasters"), "reading_glasses": ("老花镜", "Reading glasses"),
}


def duty_words(lang: str) -> dict[str, str]:
    i = 1 if lang == "en" else 0
    return {k: v[i] for k, v in WORDS.items()}


def _day_bounds(day: str | None, now: float) -> tuple[str, float, float]:
    try:
        chosen = date.fromisoformat(day) if day else datetime.fromtimestamp(now, MALL_TZ).date()
    except ValueError as exc:
        raise HTTPException(422, "day: YYYY-MM-DD") from exc
    start = datetime(chosen.year, chosen.month, chosen.day, tzinfo=MALL_TZ)
    return chosen.isoformat(), start.timestamp(), (start + timedelta(days=1)).timestamp()


@router.get("/desk/ops/duties", response_class=HTMLResponse, include_in_schema=False)
def ops_duties(request: Request, op: DeskUser, db: DbDep, clock: ClockDep, lang: str | None = None,
               day: Annotated[str | None, Query(max_length=10)] = None,
               station: Annotated[str | None, Query(pattern=r"^[A-Z0-9][A-Z0-9-]{0,31}$")] = None) -> HTMLResponse:
    now = clock()
    chosen, start, end = _day_bounds(day, now)
    with db.session() as s:
        def of_station(q, model):  # type: ignore[no-untyped-def]
            return q.where(model.station_id == station) if station else q
        handovers = s.scalars(of_station(select(DeskHandover).where(DeskHandover.at >= start, DeskHandover.at < end),
                                         DeskHandover).order_by(DeskHandover.station_id, DeskHandover.at)).all()
        incidents = s.scalars(of_station(select(DeskStorageIncident).where(DeskStorageIncident.at >= start - 13 * 86_400,
                                                                           DeskStorageIncident.at < end),
                                         DeskStorageIncident).order_by(DeskStorageIncident.at.desc()).limit(200)).all()
        stock = s.scalars(of_station(select(DeskSupplyStock), DeskSupplyStock)
                          .order_by(DeskSupplyStock.station_id, DeskSupplyStock.item)).all()
        checks = {c.station_id: c for c in s.scalars(select(DeskSupplyCheck))}
        overnight = s.scalars(of_station(select(DeskOvernight), DeskOvernight)
                              .order_by(DeskOvernight.day.desc()).limit(14)).all()
        stations = sorted({r.station_id for r in stock} | set(checks))
        s.expunge_all()
    chosen_lang = lang_of(request, lang)
    return _ops_page(request, "duties.html", lang, d=duty_words(chosen_lang), day=chosen, station=station or "",
                     handovers=handovers, incidents=incidents, stock=stock, checks=checks, stations=stations,
                     overnight=overnight, now=now, prev_day=(date.fromisoformat(chosen) - timedelta(days=1)).isoformat(),
                     next_day=(date.fromisoformat(chosen) + timedelta(days=1)).isoformat())


@router.get("/desk/ops/duties/incidents/{incident_id}/photo/{n}.jpg", include_in_schema=False)
def incident_photo(op: DeskUser, db: DbDep, incident_id: Annotated[str, Path(max_length=32)],
                   n: Annotated[int, Path(ge=1, le=3)]) -> Response:
    with db.session() as s:
        row = s.get(DeskStorageIncident, incident_id)
        photos = list(row.photos) if row is not None else []
    if len(photos) < n:
        raise HTTPException(404, "no such photo")
    try:
        body = base64.b64decode(photos[n - 1], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise HTTPException(404, "no such photo") from exc
    return Response(body, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})
