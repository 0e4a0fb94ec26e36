"""The station-facing API (docs/architecture.md, "Protocols"): event batches, heartbeats, member lookup. Bearer per station."""
from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from server_bridge.central.deps import (
    AnyStationDep,
    CentralDep,
    CommandsDep,
    DbDep,
    HeartbeatsDep,
    RegistryDep,
    StationDep,
)
from server_bridge.central.errors import EventInvalid, SeqReused
from server_bridge.central.ingest import ingest_batch, record_seq_reused
from server_bridge.central.members import guarded_member_view
from server_bridge.central.schemas import Ack, ApiError, Batch, Heartbeat, HeartbeatAnswer, MemberView

router = APIRouter(prefix="/api/v1", tags=["stations"])
ERRORS: dict[int | str, dict] = {code: {"model": ApiError} for code in (401, 403, 404, 409, 413, 422)}


@router.post("/stations/{station_id}/events", response_model=Ack, responses=ERRORS)
def post_events(batch: Batch, station_id: StationDep, db: DbDep, registry: RegistryDep) -> Ack:
    """Store a batch idempotently; the answer is the highest contiguous seq stored for this station."""
    try:
        with db.session() as session:
            acked = ingest_batch(session, station_id, batch, time.time(), registry.projections)
    except SeqReused as exc:
        with db.session() as session:
            record_seq_reused(session, station_id, exc, time.time())
        raise
    return Ack(acked_seq=acked)


HEARTBEAT_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Heartbeat"}}}}}


@router.post("/stations/{station_id}/heartbeat", status_code=204, responses={
    **ERRORS, 200: {"model": HeartbeatAnswer, "description": "something waits for the station"}},
             openapi_extra=HEARTBEAT_BODY)
async def post_heartbeat(request: Request, station_id: StationDep, heartbeats: HeartbeatsDep,
                         central: CentralDep, commands: CommandsDep) -> Response:
    """Device health; the newest per station is kept (written to the database within a second).

    204 when there is nothing for the station; 200 with a JSON object when there is (`HeartbeatAnswer`):
    `config` (the bundle version it should run and its ETag, while the `config_version` it sent differs),
    `commands` (how many remote commands wait: GET …/commands)."""
    # Parsed by pydantic-core straight from bytes: this is the centre's busiest endpoint.
    try:
        beat = Heartbeat.model_validate_json(await request.body())
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise EventInvalid(f"body.{where}: {err['msg']}", field=f"body.{where}") from exc
    heartbeats.put(station_id, beat)
    answer: dict[str, object] = {}
    config = central.wanted_config.answer(station_id, beat.config_version)
    if config is not None:
        answer["config"] = config
    waiting = commands.pending(station_id)  # a dict lookup, no query (commands.CommandBoard)
    if waiting:
        answer["commands"] = waiting
    return JSONResponse(answer) if answer else Response(status_code=204)


@router.get("/members/{member_id}", response_model=MemberView, responses={**ERRORS, 429: {"model": ApiError}})
def get_member(member_id: Annotated[str, Path(min_length=1, max_length=64)], station: AnyStationDep,
               db: DbDep, central: CentralDep) -> MemberView:
    """A member as the station's screen shows it; rate-limited per station (429), see members.py for why."""
    return guarded_member_view(db, central.member_guard, station, member_id, time.time())
