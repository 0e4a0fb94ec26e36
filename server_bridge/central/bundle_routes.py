"""Configuration bundles over HTTP (issue 15, item 6): the station's fetch, and the console's pages.

The model, rollouts and the heartbeat's answer are `bundles`; docs/central.md, "Remote configuration".
"""
from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Header, Response

from server_bridge.central.bundles import ConfigBundle, NoConfig, wanted_version
from server_bridge.central.deps import CentralDep, StationDep

# the station's side --------------------------------------------------------------------------------
router = APIRouter(prefix="/api/v1", tags=["stations"])


@router.get("/stations/{station_id}/config", responses={304: {"description": "the station has this version"}})
def get_config(station_id: StationDep, central: CentralDep,
               if_none_match: Annotated[str | None, Header()] = None) -> Response:
    """The bundle this station should run: `{version, etag, bundle}` with an ETag; 304 when it has it."""
    with central.db.session() as s:
        version = wanted_version(s, station_id)
        row = s.get(ConfigBundle, version) if version is not None else None
        if row is None:
            raise NoConfig("no configuration is rolled out to this station")
        etag, body, created_at = row.etag, row.body, row.created_at
    headers = {"ETag": f'"{etag}"', "Cache-Control": "no-cache"}
    if if_none_match is not None and if_none_match.strip('" ') == etag:
        return Response(status_code=304, headers=headers)
    payload = f'{{"version":{version},"etag":{json.dumps(etag)},"created_at":{created_at},"bundle":{body}}}'
    return Response(payload, media_type="application/json", headers=headers)


