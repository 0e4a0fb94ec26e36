"""The FastAPI app: station API, ops dashboard, the desk; background heartbeat flush and alerts.

The composition root of the centre: one `Central` (see `deps`), one registry (`wiring.build_registry`), one
`include_router` line per router.
"""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from server_bridge.central import (
    api,
    bundle_routes,
    command_routes,
    console,
    dashboard,
    desk,
    payments,
    schema_migrations,
)
from server_bridge.central.alerts import AlertEngine, AlertSettings
from server_bridge.central.auth import StationTokens
from server_bridge.central.bundles import WantedConfig
from server_bridge.central.commands import CommandBoard
from server_bridge.central.db import Database
from server_bridge.central.deps import Central
from server_bridge.central.desk import broadcast_routes, duty_routes
from server_bridge.central.errors import CentralError
from server_bridge.central.fleet import HeartbeatBuffer
from server_bridge.central.schemas import MAX_BODY_BYTES, Heartbeat
from server_bridge.central.security import SECURITY_HEADERS
from server_bridge.central.wiring import build_registry

log = logging.getLogger(__name__)
STATIC = __file__.rsplit("/", 1)[0] + "/static"

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class BodyLimit:
    """Reads request bodies up to a bound before the app sees them; larger ones get 413, nothing stored."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _too_large(send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _too_large(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        await self.app(scope, api.replay_body(b"".join(chunks), receive), send)


async def _too_large(send: Send) -> None:
    payload = b'{"code":"body_too_large","message":"request body too large"}'
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": payload})


class CentralApp(FastAPI):
    """FastAPI with the heartbeat fast path in front of FastAPI's own per-request work (its telemetry hooks
    read the environment on every request, then the middleware stack): ~15-40 µs a beat, a tenth of it."""

    fast_path: api.HeartbeatFastPath | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.fast_path is None:
            await super().__call__(scope, receive, send)
        else:
            await self.fast_path(scope, receive, send)

    async def behind_fast_path(self, scope: Any, receive: Any, send: Any) -> None:
        await super().__call__(scope, receive, send)


def create_app(db_url: str, settings: AlertSettings | None = None, eval_every_s: float = 5.0,
               flush_s: float = 0.5, migrate: bool = True, inline_alerts: bool = True) -> FastAPI:
    """`inline_alerts=False` when a separate `python -m server_bridge.central alerts` process evaluates
    them (several API instances, or to keep rule evaluation off the API's interpreter)."""
    settings = settings or AlertSettings()
    if migrate:
        schema_migrations.upgrade(db_url)
    db = Database(db_url)
    registry = build_registry()  # every projection, alert rule and KPI panel, core and desk
    heartbeats = HeartbeatBuffer(db, flush_s=flush_s, min_battery=settings.min_charged_battery)
    central = Central(db=db, tokens=StationTokens(db), heartbeats=heartbeats,
                      alerts=AlertEngine(db, settings, registry.alert_rules, every_s=eval_every_s,
                                         chores=registry.chores),
                      settings=settings, registry=registry, wanted_config=WantedConfig(db),
                      commands=CommandBoard(db))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        central.heartbeats.start()
        central.wanted_config.start()
        assert central.commands is not None
        central.commands.start()
        central.tokens.start()
        if inline_alerts:
            central.alerts.start()
        log.info("central.started db=%s", db.dialect)
        yield
        central.alerts.stop()
        central.heartbeats.stop()
        central.wanted_config.stop()
        central.commands.stop()
        central.tokens.stop()
        db.dispose()

    app = CentralApp(title="Mall stations — central ops", version="1.0", lifespan=lifespan)
    app.state.central = central  # read only by `deps.get_central`
    app.include_router(api.router)
    app.include_router(dashboard.router)
    app.include_router(bundle_routes.router)  # issue 15.6: configuration bundles, rollouts (station + console)
    app.include_router(desk.router)  # issue 7: complaint tickets, lost & found, storage
    app.include_router(duty_routes.router)  # issue 17: handovers, storage incidents, supplies
    app.include_router(broadcast_routes.router)  # issue 17: 广播寻人 / 寻物 requests
    app.include_router(command_routes.router)  # issue 15.7: remote commands, station API and console
    app.include_router(payments.router)  # issue 14: payment QRs, notifications, refunds, books (own lifespan)
    console.install(app)  # login, users, audit; CSRF/origin checks and security headers on every response
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(CentralError)
    async def _central_error(_req: Request, exc: CentralError) -> JSONResponse:
        body: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if exc.field:
            body["field"] = exc.field
        body.update(exc.extra)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(body, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", []))
        return JSONResponse({"code": "invalid_request", "message": f"{where}: {first.get('msg')}",
                             "field": where}, status_code=422)

    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    # in front of everything: a valid heartbeat is answered before FastAPI, any middleware or the router (api.py)
    app.fast_path = api.HeartbeatFastPath(app.behind_fast_path, central=central, max_bytes=MAX_BODY_BYTES,
                                          extra_headers=SECURITY_HEADERS)
    app.openapi = lambda: _openapi_with_raw_bodies(app)  # type: ignore[method-assign]
    return app


def _openapi_with_raw_bodies(app: FastAPI) -> dict[str, Any]:
    """The heartbeat body is parsed by hand for speed; its schema is still published."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = FastAPI.openapi(app)
    model = Heartbeat.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(model.pop("$defs", {}))
    components["Heartbeat"] = model
    app.openapi_schema = schema
    return schema
