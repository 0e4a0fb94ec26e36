"""The one place that says what the centre runs: every projection, alert rule and KPI panel, core and desk.

`create_app` (and the `alerts` verb) call `build_registry()` once; to add an event type, a rule or a panel,
write the function in its module and add one line here (or in your room's own `register(reg)`, called below).
"""
from __future__ import annotations

from server_bridge.central import (
    alerts,
    bundles,
    commands,
    desk,
    escalation,
    kpis,
    lending_projection,
    locker_alerts,
    members,
    payments,
    refused,
)
from server_bridge.central import projections as p
from server_bridge.central.desk import duties
from server_bridge.central.registry import Registry


def register_core(reg: Registry) -> None:
    reg.projection("maintenance.logged", p.project_maintenance, p.MaintenanceLogged)
    reg.projection("complaint.filed", p.project_complaint_filed, p.ComplaintFiled)
    reg.projection("complaint.answered", p.project_complaint_answered, p.ComplaintAnswered)
    reg.projection("complaint.closed", p.project_complaint_closed, p.ComplaintClosed)
    # Lendings and ratings are most of the traffic: consecutive ones are projected a batch at a time.
    for event_type, model in lending_projection.MODELS.items():
        reg.projection(event_type, lending_projection.project_one, model, batch=lending_projection.project_lending_batch)

    reg.alert_rule("station_offline", alerts.station_offline, "critical")
    reg.alert_rule("printer_offline", alerts.printer_offline, "critical", device=True)
    reg.alert_rule("printer_paper_out", alerts.printer_flag("paper_out"), "critical", device=True)
    reg.alert_rule("printer_paper_near_end", alerts.printer_flag("paper_near_end"), "warning", device=True)
    reg.alert_rule("printer_cover_open", alerts.printer_flag("cover_open"), "warning", device=True)
    reg.alert_rule("locker_offline", alerts.locker_offline, "critical", device=True)
    reg.alert_rule("low_stock", alerts.low_stock, "warning", device=True)
    reg.alert_rule("lending_overdue", alerts.overdue, "warning")
    reg.alert_rule("complaint_response_sla", alerts.complaint_response, "warning")
    reg.alert_rule("complaint_close_sla", alerts.complaint_close, "critical")
    reg.alert_rule("projection_failed", alerts.projection_failed, "critical")
    reg.alert_rule("upload_gap", alerts.upload_problem("gap"), alerts.UPLOAD_SEVERITY)
    reg.alert_rule("upload_seq_reused", alerts.upload_problem("seq_reused"), alerts.UPLOAD_SEVERITY)

    reg.kpi("lendings", kpis.lendings_per_day)
    reg.kpi("satisfaction", kpis.satisfaction)
    reg.kpi("complaint_times", kpis.complaint_times)
    reg.kpi("complaint_heatmap", kpis.complaint_heatmap)
    reg.kpi("uptime", kpis.device_uptime)


def build_registry() -> Registry:
    reg = Registry()
    register_core(reg)
    members.register(reg)  # issue 15: points from stations bounded by policy; refusals and look-up abuse alerted
    bundles.register(reg)  # issue 15.6: stations report the bundle they applied or refused
    desk.register(reg)  # issue 7: complaint tickets, lost & found, storage
    duties.register(reg)  # issue 17: service supplies, bag-storage incidents, shift handovers
    payments.register(reg)  # issue 14: reconciliation mismatches are alerts
    locker_alerts.register(reg)  # issue 12: slot faults, doors left open, forced doors, staff PIN lockouts
    commands.register(reg)  # issue 15.7: remote command results come back as events
    refused.register(reg)  # issues 12/16: events refused for their content, held in quarantine, resent by staff
    escalation.register(reg)  # issue 15: last, it reads the alerts the other rules raised in the same pass
    return reg
