"""The heartbeat fast path (api.HeartbeatFastPath): a valid beat is answered without the app behind it and lands
in the database like the route's; anything else reaches the app (the route) with the body intact."""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from sqlalchemy import select

from server_bridge.central.alerts import AlertEngine, AlertSettings
from server_bridge.central.api import HeartbeatFastPath
from server_bridge.central.auth import StationTokens
from server_bridge.central.bundles import WantedConfig
from server_bridge.central.commands import CommandBoard
from server_bridge.central.db import Database
from server_bridge.central.deps import Central
from server_bridge.central.fleet import HeartbeatBuffer, add_station
from server_bridge.central.models import Station, StationHealth
from server_bridge.central.security import SECURITY_HEADERS
from tests.fixtures.central import REGISTRY

BEAT = {"ts": 1.0, "version": "2.0", "uptime_s": 5.0, "outbox": {"depth": 3},
        "lockers": [{"locker_id": "U1", "item_type": "umbrella", "online": True,
                     "slots": [{"slot": 1, "state": "occupied", "item": "U-1"}]}]}


class Behind:
    """The app behind the fast path: records what reached it, body included."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        message = await receive()
        self.calls.append((scope["path"], message.get("body", b"")))
        await send({"type": "http.response.start", "status": 422, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def post(app: Any, station: str, token: str, body: bytes) -> tuple[int, list[tuple[bytes, bytes]]]:
    """One request through the ASGI app, its body deliverable once (as a server does); (status, headers)."""
    sent: list[dict[str, Any]] = []
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return pending.pop() if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": f"/api/v1/stations/{station}/heartbeat",
             "headers": [(b"authorization", f"Bearer {token}".encode()),
                         (b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], sent[0]["headers"]


def test_a_valid_beat_is_answered_before_the_app_and_stored(central_db: Database) -> None:
    with central_db.session() as s:
        token = add_station(s, "K09", time.time())
        other = add_station(s, "K08", time.time())
    beats = HeartbeatBuffer(central_db, flush_s=0.5)
    settings = AlertSettings()
    central = Central(db=central_db, tokens=StationTokens(central_db), heartbeats=beats,
                      alerts=AlertEngine(central_db, settings, REGISTRY.alert_rules), settings=settings,
                      registry=REGISTRY, wanted_config=WantedConfig(central_db), commands=CommandBoard(central_db))
    behind = Behind()
    app = HeartbeatFastPath(behind, central, max_bytes=4096, extra_headers=SECURITY_HEADERS)

    status, headers = post(app, "K09", token, json.dumps(BEAT).encode())
    assert status == 204 and behind.calls == [], "answered by the fast path, the app never saw it"
    assert set(SECURITY_HEADERS) <= set(headers)
    beats.flush()
    with central_db.session() as s:
        st = s.get(Station, "K09")
        assert st is not None and st.version == "2.0" and st.uptime_s == 5.0 and st.last_heartbeat_at is not None
        assert st.health is not None and st.health["outbox"]["depth"] == 3, "the snapshot, read through Station"
        assert s.scalar(select(StationHealth.health).where(StationHealth.station_id == "K09"))["lockers"][0][
            "slots"][0]["item"] == "U-1"

    bad = json.dumps({**BEAT, "uptime_s": "5"}).encode()  # strict: a string where a number belongs
    status, _ = post(app, "K09", token, bad)
    assert status == 422 and behind.calls == [("/api/v1/stations/K09/heartbeat", bad)], "the route, body replayed"

    body = json.dumps(BEAT).encode()
    for stranger in (other, "not-a-token"):  # K08's token on K09's path; no token of anyone
        status, _ = post(app, "K09", stranger, body)
        assert status == 422 and behind.calls[-1] == ("/api/v1/stations/K09/heartbeat", body)
    assert len(behind.calls) == 3 and beats.flush() == 0, "nothing refused was kept"
