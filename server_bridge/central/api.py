"""The station-facing API (DESIGN §7): event batches, heartbeats, member lookup. Bearer per station."""
from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Request

from server_bridge.central.ingest import ingest_batch
from server_bridge.central.members import member_view
from server_bridge.central.schemas import Ack, ApiError, Batch, Heartbeat, MemberView

router = APIRouter(prefix="/api/v1", tags=["stations"])
StationPath = Annotated[str, Path(pattern=r"^[A-Z0-9][A-Z0-9-]{0,31}$")]
Auth = Annotated[str | None, Header(alias="Authorization")]
ERRORS: dict[int | str, dict] = {code: {"model": ApiError} for code in (401, 403, 404, 413, 422)}


def station_auth(station_id: StationPath, request: Request, authorization: Auth = None) -> str:
    """Runs before the body is judged, so a stranger learns nothing about what we accept."""
    return str(request.app.state.central.tokens.check(authorization, station_id))


def any_station(request: Request, authorization: Auth = None) -> str:
    return str(request.app.state.central.tokens.check_any(authorization))


@router.post("/stations/{station_id}/events", response_model=Ack, responses=ERRORS)
def post_events(batch: Batch, request: Request, station_id: Annotated[str, Depends(station_auth)]) -> Ack:
    """Store a batch idempotently; the answer is the highest contiguous seq stored for this station."""
    central = request.app.state.central
    with central.db.session() as session:
        acked = ingest_batch(session, station_id, batch, time.time())
    return Ack(acked_seq=acked)


@router.post("/stations/{station_id}/heartbeat", status_code=204, responses=ERRORS)
async def post_heartbeat(beat: Heartbeat, request: Request,
                         station_id: Annotated[str, Depends(station_auth)]) -> None:
    """Device health; the newest per station is kept (written to the database within a second)."""
    request.app.state.central.heartbeats.put(station_id, beat)


@router.get("/members/{member_id}", response_model=MemberView, responses=ERRORS)
def get_member(member_id: Annotated[str, Path(min_length=1, max_length=64)], request: Request,
               _station: Annotated[str, Depends(any_station)]) -> MemberView:
    with request.app.state.central.db.session() as session:
        return member_view(session, member_id)
