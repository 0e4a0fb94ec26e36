"""The desk's central side (issue 7): complaint tickets with 首问负责制 and SLA clocks, lost & found, storage.

`create_app` mounts `router`; `wiring.build_registry` calls `register` for its projections and alert rules. Its
tables are on `db.Base` through `desk.models` (which `migrations/env.py` imports).
"""
from __future__ import annotations

from server_bridge.central.desk.projections import register
from server_bridge.central.desk.routes import router

__all__ = ["register", "router"]
