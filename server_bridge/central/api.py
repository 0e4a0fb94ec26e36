"""The station-facing API (docs/architecture.md, "Protocols"): event batches, heartbeats, member lookup. Bearer per station."""
from __future__ import annotations

import hmac
import json
import re
import time
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request, Response
from pydantic import ValidationError

from server_bridge.central.deps import (
    STATION_ID,
    AnyStationDep,
    Central,
    CentralDep,
    DbDep,
    RegistryDep,
    StationDep,
)
from server_bridge.central.errors import CentralError, EventInvalid, SeqReused
from server_bridge.central.ingest import REFUSALS_HEADER, ingest, record_refusal, record_seq_reused
from server_bridge.central.members import guarded_member_view
from server_bridge.central.schemas import (
    Ack,
    ApiError,
    Batch,
    Heartbeat,
    HeartbeatAnswer,
    MemberView,
    RefusedOut,
)

router = APIRouter(prefix="/api/v1", tags=["stations"])
ERRORS: dict[int | str, dict] = {code: {"model": ApiError} for code in (401, 403, 404, 409, 413, 422)}


@router.post("/stations/{station_id}/events", response_model=Ack, response_model_exclude_defaults=True,
             responses=ERRORS)
def post_events(batch: Batch, station_id: StationDep, db: DbDep, registry: RegistryDep,
                refusals: Annotated[str | None, Header(alias=REFUSALS_HEADER, max_length=20)] = None) -> Ack:
    """Store a batch idempotently; the answer is the highest contiguous seq stored for this station.

    With `X-Upload-Refusals: quarantine` (a station that parks what is refused) an event refused for its
    content does not refuse the batch: it is kept in quarantine, counted as received and listed in `refused`
    (seq, id, code, field, message). Without it such a batch is a 422 naming the seq and field, as before."""
    try:
        with db.session() as session:
            result = ingest(session, station_id, batch, time.time(), registry.projections,
                            quarantine=refusals == "quarantine")
    except SeqReused as exc:
        with db.session() as session:
            record_seq_reused(session, station_id, exc, time.time())
        raise
    except EventInvalid as exc:
        with db.session() as session:
            record_refusal(session, station_id, batch, exc, time.time())
        raise
    return Ack(acked_seq=result.acked_seq, refused=[RefusedOut(seq=r.seq, id=r.id, code=r.code, field=r.field,
                                                               message=r.message) for r in result.refused])


HEARTBEAT_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Heartbeat"}}}}}


def heartbeat_answer(central: Central, station_id: str, body: bytes) -> tuple[int, bytes]:
    """The whole work of a heartbeat from an authenticated station: (status, JSON body or b"").

    ONE place for it: the route below and `HeartbeatFastPath` (every valid heartbeat goes that way) both call
    this, so a hook added to the heartbeat (config version, pending commands, …) goes here. Keep it free of
    per-beat database queries: answer from memory the flush thread keeps fresh (see HeartbeatBuffer)."""
    # Parsed by pydantic-core straight from bytes: this is the centre's busiest endpoint.
    try:
        beat = Heartbeat.model_validate_json(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise EventInvalid(f"body.{where}: {err['msg']}", field=f"body.{where}") from exc
    central.heartbeats.put(station_id, beat, body)
    answer: dict[str, object] = {}
    config = central.wanted_config.answer(station_id, beat.config_version)
    if config is not None:
        answer["config"] = config
    waiting = central.commands.pending(station_id) if central.commands else 0  # a dict lookup (CommandBoard)
    if waiting:
        answer["commands"] = waiting
    if not answer:
        return 204, b""
    return 200, json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()


@router.post("/stations/{station_id}/heartbeat", status_code=204, responses={
    **ERRORS, 200: {"model": HeartbeatAnswer, "description": "something waits for the station"}},
             openapi_extra=HEARTBEAT_BODY)
async def post_heartbeat(request: Request, station_id: StationDep, central: CentralDep) -> Response:
    """Device health; the newest per station is kept (written to the database within a second).

    204 when there is nothing for the station; 200 with a JSON object when there is (`HeartbeatAnswer`):
    `config` (the bundle version it should run and its ETag, while the `config_version` it sent differs),
    `commands` (how many remote commands wait: GET …/commands).
    Valid heartbeats are answered by `HeartbeatFastPath` before routing; this route answers the rest
    (refusals with their error body) and any app built without the fast path."""
    status, payload = heartbeat_answer(central, station_id, await request.body())
    return Response(payload or None, status_code=status, media_type="application/json" if payload else None)


class HeartbeatFastPath:
    """ASGI middleware answering a valid heartbeat without FastAPI's routing and dependency resolution
    (~0.3 ms of CPU a request, more than the rest of the heartbeat). Anything unusual — no or a foreign
    token, no or a too large Content-Length, a body `heartbeat_answer` refuses — goes on to the app with the
    body replayed, so refusals, their bodies and logs are the route's, unchanged."""

    PREFIX, SUFFIX = "/api/v1/stations/", "/heartbeat"

    def __init__(self, app: Any, central: Central, max_bytes: int, extra_headers: list[tuple[bytes, bytes]]) -> None:
        self.app, self.central, self.max_bytes = app, central, max_bytes
        self.headers = [(b"content-type", b"application/json"), *extra_headers]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if (scope["type"] != "http" or scope["method"] != "POST" or not path.startswith(self.PREFIX)
                or not path.endswith(self.SUFFIX)):
            await self.app(scope, receive, send)
            return
        station_id = path[len(self.PREFIX):-len(self.SUFFIX)]
        auth = length = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                auth = value
            elif name == b"content-length":
                length = value
        owner = None if auth is None or not _STATION.fullmatch(station_id) else \
            self.central.tokens.owner_of(auth.decode("latin-1"))
        if (owner is None or not hmac.compare_digest(owner.encode(), station_id.encode()) or length is None
                or not length.isdigit() or int(length) > self.max_bytes):
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            status, payload = heartbeat_answer(self.central, station_id, body)
        except CentralError:  # refused: the route says so, with the usual body
            await self.app(scope, replay_body(body, receive), send)
            return
        headers = [*self.headers, (b"content-length", str(len(payload)).encode())] if payload else self.headers[1:]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


_STATION = re.compile(STATION_ID)


def replay_body(body: bytes, receive: Any) -> Any:
    """An ASGI `receive` that hands the app a body already read, then whatever the connection says next."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return replay


@router.get("/members/{member_id}", response_model=MemberView, responses={**ERRORS, 429: {"model": ApiError}})
def get_member(member_id: Annotated[str, Path(min_length=1, max_length=64)], station: AnyStationDep,
               db: DbDep, central: CentralDep) -> MemberView:
    """A member as the station's screen shows it; rate-limited per station (429), see members.py for why."""
    return guarded_member_view(db, central.member_guard, station, member_id, time.time())
