"""Alert escalation: an alert nobody acknowledged within N minutes escalates to a role.

It is itself an alert rule (`alert_escalated`, critical), judged in every pass of the alert engine after the
other rules: for each open, unacknowledged alert past its deadline it finds `#<alert id>` at that alert's
station, naming the role it goes to. Acknowledging (or resolving) the original ends the escalation: the
console resolves the escalation alert with it. Each escalation is audited once (`alert.escalated`, actor
`system`). The console shows escalated alerts first, marked with the role.

Deadlines: by severity (critical 15 min, warning 60 min; info never) unless a kind has its own, from
`CENTRAL_ESCALATE="kind=MINUTES:ROLE,…"` (e.g. `station_offline=10:admin,low_stock=120:ops`); a kind named
`critical` or `warning` there changes that severity's default. A few kinds have a clock of their own
(`DEFAULT_BY_KIND`: a 广播寻人 request, 5 min) unless the variable names them.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from server_bridge.central import audit
from server_bridge.central.accounts import AccountError, check_role
from server_bridge.central.alerts import Finding, RuleContext
from server_bridge.central.models import Alert
from server_bridge.central.registry import Registry

KIND = "alert_escalated"


@dataclass(frozen=True)
class Step:
    minutes: float
    role: str


# Kinds with a clock of their own unless CENTRAL_ESCALATE names them: a 广播寻人 request (desk.broadcasts) is
# acknowledged within 5 minutes.
DEFAULT_BY_KIND: Mapping[str, Step] = {"broadcast_request": Step(5, "admin")}


@dataclass(frozen=True)
class EscalationPolicy:
    by_severity: Mapping[str, Step] = field(default_factory=lambda: {"critical": Step(15, "admin"),
                                                                     "warning": Step(60, "admin")})
    by_kind: Mapping[str, Step] = field(default_factory=dict)

    def step_for(self, kind: str, severity: str) -> Step | None:
        return self.by_kind.get(kind) or DEFAULT_BY_KIND.get(kind) or self.by_severity.get(severity)

    @classmethod
    def parse(cls, text: str | None) -> EscalationPolicy:
        """`kind=MINUTES:ROLE,…`; `critical=` / `warning=` set a severity's default. Bad entries are errors."""
        base = cls()
        severities: dict[str, Step] = dict(base.by_severity)
        kinds: dict[str, Step] = {}
        for item in filter(None, (p.strip() for p in (text or "").split(","))):
            name, _, rest = item.partition("=")
            minutes, _, role = rest.partition(":")
            try:
                step = Step(float(minutes), check_role(role.strip()))
            except (ValueError, AccountError) as exc:
                raise ValueError(f"CENTRAL_ESCALATE: {item!r} is not kind=MINUTES:ROLE") from exc
            if step.minutes <= 0 or not name.strip():
                raise ValueError(f"CENTRAL_ESCALATE: {item!r} is not kind=MINUTES:ROLE")
            (severities if name.strip() in ("critical", "warning", "info") else kinds)[name.strip()] = step
        return cls(severities, kinds)


def escalation_rule(policy: EscalationPolicy) -> Callable[[Session, RuleContext], Iterable[Finding]]:
    def rule(session: Session, ctx: RuleContext) -> Iterable[Finding]:
        waiting = session.scalars(select(Alert).where(Alert.status == "open", Alert.open_key.is_not(None),
                                                      Alert.kind != KIND)).all()
        for alert in waiting:
            step = policy.step_for(alert.kind, alert.severity)
            if step is None or ctx.now - alert.raised_at < step.minutes * 60:
                continue
            target = f"alert:{alert.id}"
            if session.scalar(select(audit.AuditEntry.id).where(audit.AuditEntry.action == "alert.escalated",
                                                                audit.AuditEntry.target == target)) is None:
                audit.record(session, "system", "alert.escalated", target, role=step.role, at=ctx.now,
                             kind=alert.kind, station=alert.station_id, after_min=step.minutes)
            yield Finding(alert.station_id, f"#{alert.id}", {"to": step.role, "kind": alert.kind,
                                                            "alert_id": alert.id, "after_min": step.minutes})
    return rule


def escalated(session: Session, alert_ids: Iterable[int]) -> dict[int, str]:
    """alert id → the role its live escalation went to."""
    subjects = [f"#{i}" for i in alert_ids]
    if not subjects:
        return {}
    rows = session.scalars(select(Alert).where(Alert.kind == KIND, Alert.open_key.is_not(None),
                                               Alert.subject.in_(subjects))).all()
    return {int(a.subject[1:]): str(a.params.get("to", "")) for a in rows}


def end_escalation(session: Session, alert_id: int, by: str, now: float) -> None:
    """The original was acknowledged or resolved: its live escalation is resolved with it."""
    for esc in session.scalars(select(Alert).where(Alert.kind == KIND, Alert.subject == f"#{alert_id}",
                                                   Alert.open_key.is_not(None))):
        esc.status, esc.resolved_at, esc.resolved_by, esc.open_key = "resolved", now, by, None
        if esc.acknowledged_at is None:
            esc.acknowledged_at, esc.acknowledged_by = now, by


def register(reg: Registry, policy: EscalationPolicy | None = None) -> None:
    """Register last, after every other rule (it reads the alerts they raised in the same pass)."""
    reg.alert_rule(KIND, escalation_rule(policy or EscalationPolicy.parse(os.environ.get("CENTRAL_ESCALATE"))),
                   "critical")
