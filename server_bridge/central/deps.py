"""Typed FastAPI dependencies: what a route needs from the running centre, named in its signature.

`create_app` builds one `Central` and keeps it on `app.state`; this is the only module that reads it there.
Routes ask for `DbDep`, `TokensDep`, `SettingsDep`, … (as in fastapi/full-stack-fastapi-template's
`api/deps.py`); tests replace one with `app.dependency_overrides[get_clock] = …`. The dependencies are async
because a sync one costs a hop to a worker thread on every request (the heartbeat is the busiest endpoint).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, Path, Request

from server_bridge.central.accounts import IpThrottle
from server_bridge.central.alerts import AlertEngine, AlertSettings
from server_bridge.central.auth import StationTokens
from server_bridge.central.bundles import WantedConfig
from server_bridge.central.commands import CommandBoard
from server_bridge.central.db import Database
from server_bridge.central.fleet import HeartbeatBuffer
from server_bridge.central.members import MemberLookupGuard
from server_bridge.central.registry import Registry

Clock = Callable[[], float]


@dataclass
class Central:
    """Everything the routes of one app share; built by `create_app`."""
    db: Database
    tokens: StationTokens
    heartbeats: HeartbeatBuffer
    alerts: AlertEngine
    settings: AlertSettings
    registry: Registry
    wanted_config: WantedConfig  # issue 15.6: rollout targets for the heartbeat answer
    clock: Clock = field(default=time.time)
    login_throttle: IpThrottle = field(default_factory=IpThrottle)  # failed logins per client address
    member_guard: MemberLookupGuard = field(default_factory=MemberLookupGuard)  # member look-ups per station
    commands: CommandBoard | None = None  # remote commands waiting per station (issue 15.7); set by create_app


async def get_central(request: Request) -> Central:
    central: Central = request.app.state.central
    return central


CentralDep = Annotated[Central, Depends(get_central)]


async def get_db(central: CentralDep) -> Database:
    return central.db


async def get_tokens(central: CentralDep) -> StationTokens:
    return central.tokens


async def get_heartbeats(central: CentralDep) -> HeartbeatBuffer:
    return central.heartbeats


async def get_settings(central: CentralDep) -> AlertSettings:
    return central.settings


async def get_registry(central: CentralDep) -> Registry:
    return central.registry


async def get_clock(central: CentralDep) -> Clock:
    return central.clock


async def get_commands(central: CentralDep) -> CommandBoard:
    assert central.commands is not None, "create_app builds the command board"
    return central.commands


DbDep = Annotated[Database, Depends(get_db)]
TokensDep = Annotated[StationTokens, Depends(get_tokens)]
HeartbeatsDep = Annotated[HeartbeatBuffer, Depends(get_heartbeats)]
SettingsDep = Annotated[AlertSettings, Depends(get_settings)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
ClockDep = Annotated[Clock, Depends(get_clock)]
CommandsDep = Annotated[CommandBoard, Depends(get_commands)]

STATION_ID = r"[A-Z0-9][A-Z0-9-]{0,31}"
StationPath = Annotated[str, Path(pattern=f"^{STATION_ID}$")]
Auth = Annotated[str | None, Header(alias="Authorization")]


async def station_auth(station_id: StationPath, tokens: TokensDep, authorization: Auth = None) -> str:
    """The caller is the station named in the path. Runs before the body is judged, so a stranger learns
    nothing about what we accept."""
    return str(tokens.check(authorization, station_id))


async def any_station(tokens: TokensDep, authorization: Auth = None) -> str:
    """The caller is some registered station (member look-ups, desk tickets)."""
    return str(tokens.check_any(authorization))


StationDep = Annotated[str, Depends(station_auth)]
AnyStationDep = Annotated[str, Depends(any_station)]
# The console's login (who the operator is, and may they) is in security.py: Viewer, DeskUser, OpsUser, Admin.
