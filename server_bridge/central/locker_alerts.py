"""Alerts from locker protocol v1.1 and staff sign-in: slot faults (with their code), doors left open, forced
doors, and staff PIN lockouts. Registered by `register(reg)` from `wiring.build_registry`.

Slot faults and open doors come from each online station's latest health, so they clear by themselves when the
slot is repaired or the door is closed. Forced doors and lockouts are events: each one is its own alert (its
subject carries the event's seq) and stays listed for a day unless ops resolve it first.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallcommon.faults import fault_both
from server_bridge.central.alerts import Finding, RuleContext
from server_bridge.central.models import Event
from server_bridge.central.registry import Registry

EVENT_ALERT_WINDOW_S = 24 * 3600.0


def _online_lockers(ctx: RuleContext) -> Iterable[tuple[str, dict[str, Any]]]:
    for st in ctx.stations:
        if st.station_id in ctx.online:
            for lk in (st.health or {}).get("lockers", []):
                if lk.get("online"):
                    yield st.station_id, lk


def slot_fault(session: Session, ctx: RuleContext) -> Iterable[Finding]:
    for station_id, lk in _online_lockers(ctx):
        for s in lk.get("slots", []):
            if s.get("state") == "fault":
                code = s.get("fault") or "unknown"
                yield Finding(station_id, f"{lk['locker_id']}#{s['slot']}", {"fault": code, "words": fault_both(code)})


def door_left_open(session: Session, ctx: RuleContext) -> Iterable[Finding]:
    for station_id, lk in _online_lockers(ctx):
        for s in lk.get("slots", []):
            if s.get("left_open"):
                yield Finding(station_id, f"{lk['locker_id']}#{s['slot']}", {"slot": s["slot"]})


def _recent(session: Session, ctx: RuleContext, event_type: str) -> Iterable[Event]:
    since = ctx.now - EVENT_ALERT_WINDOW_S
    return session.scalars(select(Event).where(Event.type == event_type, Event.received_at >= since))


def locker_tamper(session: Session, ctx: RuleContext) -> Iterable[Finding]:
    for ev in _recent(session, ctx, "locker.tamper"):
        data = ev.data or {}
        yield Finding(ev.station_id, f"{data.get('locker_id')}#{data.get('slot')} (seq {ev.seq})",
                      {"item_id": data.get("item_id")})


def staff_pin_lockout(session: Session, ctx: RuleContext) -> Iterable[Finding]:
    for ev in _recent(session, ctx, "staff.pin_locked"):
        data = ev.data or {}
        yield Finding(ev.station_id, f"{data.get('staff_id')} (seq {ev.seq})",
                      {"failures": data.get("failures"), "lock_s": data.get("lock_s")})


def register(reg: Registry) -> None:
    reg.alert_rule("slot_fault", slot_fault, "warning", device=True)
    reg.alert_rule("door_left_open", door_left_open, "warning", device=True)
    reg.alert_rule("locker_tamper", locker_tamper, "critical")
    reg.alert_rule("staff_pin_lockout", staff_pin_lockout, "warning")
