"""The same HTTP stack as the centre (uvicorn, httptools, uvloop) answering every request 204 and doing
nothing else: `bench/fleet_scale.py` runs it in the same run, with the same load, as the ceiling the centre's
heartbeats/s are a ratio of (what this box, its load generator and the HTTP server reach right now).

    python -m uvicorn --app-dir bench/support http_ceiling:app --http httptools --port PORT
"""
from __future__ import annotations

from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return  # lifespan: nothing to start
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
