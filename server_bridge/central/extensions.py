"""Extension points for other rooms (the desk, issue 7): routers the app mounts, modules it imports.

Add "package.module:attr" to ROUTERS for an APIRouter the centre should serve. Importing the module is
also where it registers its models (on `db.Base`), projections (`projections.register_projection`),
alert rules (`alerts.register_alert_rule`) and KPI panels (`kpis.register_kpi`).
"""
from __future__ import annotations

ROUTERS: list[str] = [
    "server_bridge.central.desk:router",  # issue 7: complaint tickets, lost & found, storage
]
