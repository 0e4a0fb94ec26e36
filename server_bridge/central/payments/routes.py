"""HTTP side of the centre's payments: station API, provider notifications, dashboard page + CSV."""
from __future__ import annotations

import csv
import html
import io
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from drivers.payment import InvalidNotification, OutcomeUnknown, PaymentRefused, make_providers
from server_bridge.central.api import ERRORS
from server_bridge.central.deps import DbDep, StationDep
from server_bridge.central.payments import reports
from server_bridge.central.payments.service import (
    CST,
    PaymentsCentre,
    PaymentsOff,
    Settings,
    uses_real_gateways,
)
from server_bridge.central.security import OpsUser

log = logging.getLogger(__name__)
ENV_MERCHANT = "CENTRAL_PAYMENTS"       # set by `serve --payments PATH`
ENV_PUBLIC_URL = "CENTRAL_PUBLIC_URL"   # where the providers reach this centre (notify URLs)
ENV_RECONCILE_EVERY = "CENTRAL_RECONCILE_EVERY_S"

_ID = r"^[A-Za-z0-9_-]{6,64}$"
Station = StationDep
StationOrderId = Annotated[str, Path(pattern=_ID)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class OrderRequest(_Strict):
    station_order_id: str = Field(pattern=_ID)
    provider: Literal["wechat", "alipay"]
    purpose: Literal["deposit", "fee", "storage"]
    amount_fen: int = Field(ge=0, le=10**10)
    description: str = Field(min_length=1, max_length=127)
    item_type: str | None = Field(default=None, max_length=20)
    item_id: str | None = Field(default=None, max_length=64)
    lending_id: str | None = Field(default=None, max_length=64)
    member_id: str | None = Field(default=None, max_length=64)


class RefundRequest(_Strict):
    refund_key: str = Field(pattern=_ID)
    amount_fen: int = Field(ge=1, le=10**10)
    reason: str = Field(default="", max_length=80)


class DispensedRequest(_Strict):
    item_id: str = Field(min_length=1, max_length=64)
    lending_id: str = Field(min_length=1, max_length=64)


class SettleRequest(_Strict):
    settle_key: str = Field(pattern=_ID)
    order_id: str | None = Field(default=None, max_length=32)
    item_id: str | None = Field(default=None, max_length=64)
    fee_fen: int = Field(ge=0, le=10**10)
    reason: str = Field(default="", max_length=80)


def _reconcile_loop(centre: PaymentsCentre, every_s: float, stop: threading.Event) -> None:
    """Daily books: reconcile yesterday (China time) for each provider, once a period (bills appear next day)."""
    while not stop.wait(every_s):
        day = datetime.now(CST).date() - timedelta(days=1)
        for name in centre.providers:
            try:
                found = centre.reconcile(name, day)
                log.info("payments.reconciled provider=%s day=%s mismatches=%d", name, day, len(found))
            except (OutcomeUnknown, PaymentRefused) as e:
                log.warning("payments.reconcile_failed provider=%s day=%s %s", name, day, e)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    merchant = os.environ.get(ENV_MERCHANT)
    centre = None
    stop = threading.Event()
    if merchant:
        public = os.environ.get(ENV_PUBLIC_URL, "http://127.0.0.1:8700")
        settings = Settings.for_gateway(uses_real_gateways(merchant), dict(os.environ))
        centre = PaymentsCentre(app.state.central.db, make_providers(merchant), public, settings=settings).start()
        every = float(os.environ.get(ENV_RECONCILE_EVERY, "3600"))
        threading.Thread(target=_reconcile_loop, args=(centre, every, stop), daemon=True,
                         name="payments-reconcile").start()
        log.info("payments.on providers=%s public=%s query_after_s=%s query_every_s=%s", sorted(centre.providers),
                 public, settings.query_after_s, settings.query_every_s)
    app.state.payments = centre
    yield
    stop.set()
    if centre is not None:
        centre.stop()


router = APIRouter(lifespan=lifespan)


async def _centre(request: Request) -> PaymentsCentre:
    """The payments service this app's lifespan started (as `deps.get_central` reads the centre)."""
    centre: PaymentsCentre | None = getattr(request.app.state, "payments", None)
    if centre is None:
        raise PaymentsOff("payments are not configured at this centre (serve --payments PATH)")
    return centre


Centre = Annotated[PaymentsCentre, Depends(_centre)]
API = "/api/v1/stations/{station_id}/payments"


@router.post(API + "/orders", tags=["payments"], responses=ERRORS)
def create_order(body: OrderRequest, station_id: Station, centre: Centre) -> dict[str, Any]:
    """Create (or, with the same station_order_id, get again) a payment QR. 503 = ask again, same id."""
    return centre.create_order(station_id, body.model_dump())


@router.get(API + "/orders/{station_order_id}", tags=["payments"], responses=ERRORS)
def get_order(station_order_id: StationOrderId, station_id: Station, centre: Centre,
              wait: Annotated[float, Query(ge=0, le=25)] = 0.0) -> dict[str, Any]:
    """The order and its refunds; `wait=S` holds the answer up to S seconds until it is paid or closed."""
    return centre.get_order(station_id, station_order_id, wait)


@router.post(API + "/orders/{station_order_id}/close", tags=["payments"], responses=ERRORS)
def close_order(station_order_id: StationOrderId, station_id: Station, centre: Centre) -> dict[str, Any]:
    return centre.close_order(station_id, station_order_id)


@router.post(API + "/orders/{station_order_id}/dispensed", tags=["payments"], responses=ERRORS)
def dispensed(station_order_id: StationOrderId, body: DispensedRequest, station_id: Station,
              centre: Centre) -> dict[str, Any]:
    """The paid item left: its id and lending, so a return at any station finds the deposit. Idempotent."""
    return centre.dispensed(station_id, station_order_id, body.item_id, body.lending_id)


@router.post(API + "/orders/{station_order_id}/refunds", tags=["payments"], responses=ERRORS)
def refund_order(station_order_id: StationOrderId, body: RefundRequest, station_id: Station,
                 centre: Centre) -> dict[str, Any]:
    return centre.request_refund(station_id, station_order_id, body.refund_key, body.amount_fen, body.reason)


@router.post(API + "/settlements", tags=["payments"], responses=ERRORS)
def settle(body: SettleRequest, station_id: Station, centre: Centre) -> dict[str, Any]:
    """A return (any station) or a borrow that never dispensed: refund deposit − fee once per deposit."""
    return centre.settle(station_id, body.model_dump())


@router.get(API + "/refunds/{out_refund_no}", tags=["payments"], responses=ERRORS)
def refund_status(out_refund_no: Annotated[str, Path(pattern=r"^R[0-9a-f]{27}$")], station_id: Station,
                  centre: Centre) -> dict[str, Any]:
    return centre.refund_status(out_refund_no)


async def _notify(request: Request, centre: PaymentsCentre, provider: str) -> bool:
    """Verify and apply one provider notification; False when it was refused (nothing changed)."""
    body = await request.body()
    try:
        await _in_thread(centre.notification, provider, dict(request.headers), body)
    except InvalidNotification as e:
        log.warning("payments.notification_refused provider=%s %s", provider, e)
        return False
    return True


@router.post("/api/v1/payments/wechat/notify", tags=["payments"], include_in_schema=False)
async def wechat_notify(request: Request, centre: Centre) -> Response:
    if await _notify(request, centre, "wechat"):
        return Response(status_code=204)
    return JSONResponse({"code": "FAIL", "message": "invalid notification"}, status_code=400)


@router.post("/api/v1/payments/alipay/notify", tags=["payments"], include_in_schema=False)
async def alipay_notify(request: Request, centre: Centre) -> Response:
    if await _notify(request, centre, "alipay"):
        return PlainTextResponse("success")
    return PlainTextResponse("failure", status_code=400)


async def _in_thread(fn: Any, *args: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args)


# -- dashboard ---------------------------------------------------------------------------------------------------
def _window(days: int) -> tuple[float, float]:
    today = datetime.now(CST).date()
    start = datetime(today.year, today.month, today.day, tzinfo=CST) - timedelta(days=days - 1)
    return start.timestamp(), time.time() + 1


def _yuan(fen: int) -> str:
    return f"{fen / 100:.2f}"


@router.get("/payments", response_class=HTMLResponse, include_in_schema=False)
def payments_page(request: Request, db: DbDep, _user: OpsUser,
                  days: Annotated[int, Query(ge=1, le=366)] = 14) -> HTMLResponse:
    centre: PaymentsCentre | None = getattr(request.app.state, "payments", None)
    with db.session() as s:
        rows = reports.daily(s, *_window(days))
        mism = reports.mismatches(s)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in reports.COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_yuan(r[c]) if c.endswith('_fen') else str(r[c]))}</td>"
                                    for c in reports.COLUMNS) + "</tr>" for r in rows)
    mrows = "".join(f"<tr><td>{html.escape(m.day)}</td><td>{html.escape(m.provider)}</td><td>{html.escape(m.kind)}"
                    f"</td><td>{html.escape(m.ref)}</td><td>{html.escape(m.station_id)}</td>"
                    f"<td>{html.escape(m.detail)}</td></tr>" for m in mism)
    state = "on: " + ", ".join(sorted(centre.providers)) if centre else "off (serve --payments PATH)"
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>Payments · 收款</title>"
            f"<link rel='stylesheet' href='/static/app.css'></head><body><main>"
            f"<h1>Payments · 收款与退款</h1><p>Payments {html.escape(state)} · amounts in yuan · "
            f"<a href='/payments/export.csv?days={days}'>CSV</a></p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            f"<h2>Reconciliation mismatches · 对账差异</h2><table><thead><tr><th>day</th><th>provider</th>"
            f"<th>kind</th><th>ref</th><th>station</th><th>detail</th></tr></thead><tbody>{mrows}</tbody></table>"
            f"</main></body></html>")
    return HTMLResponse(page)


@router.get("/payments/export.csv", include_in_schema=False)
def payments_csv(db: DbDep, _user: OpsUser, days: Annotated[int, Query(ge=1, le=366)] = 14) -> Response:
    with db.session() as s:
        rows = reports.daily(s, *_window(days))
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=reports.COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=payments.csv"})


@router.post("/payments/reconcile", include_in_schema=False)
def reconcile_now(centre: Centre, _user: OpsUser, day: Annotated[date, Query()],
                  provider: Annotated[Literal["wechat", "alipay"] | None, Query()] = None) -> dict[str, Any]:
    found: list[dict[str, Any]] = []
    for name in [provider] if provider else sorted(centre.providers):
        found += centre.reconcile(name, day)
    return {"day": day.isoformat(), "mismatches": found}
