"""The desk's central side (issue 7): complaint tickets with 首问负责制 and SLA clocks, lost & found, storage.

Listed in `server_bridge.central.extensions.ROUTERS` as "server_bridge.central.desk:router"; importing it
registers the desk's tables, projections and alert rules.
"""
from __future__ import annotations

from server_bridge.central.desk.routes import router

__all__ = ["router"]
