"""Alert escalation on SQLite and PostgreSQL: after its deadline an unacknowledged alert escalates to a role
(once audited), acknowledging ends it, per-kind deadlines override the severity's."""
from __future__ import annotations

from collections.abc import Iterable

import pytest
from sqlalchemy import select

from server_bridge.central import escalation
from server_bridge.central.alerts import AlertSettings, Finding, RuleContext, acknowledge, evaluate
from server_bridge.central.audit import AuditEntry
from server_bridge.central.db import Database
from server_bridge.central.escalation import EscalationPolicy, Step
from server_bridge.central.models import Alert
from server_bridge.central.registry import Registry

T0 = 1_800_000_000.0


def registry(policy: EscalationPolicy) -> Registry:
    reg = Registry()

    def always(_session: object, _ctx: RuleContext) -> Iterable[Finding]:
        yield Finding("K01", "printer")

    reg.alert_rule("demo_critical", always, "critical")
    reg.alert_rule("demo_warning", always, "warning")
    escalation.register(reg, policy)
    return reg


def live(db: Database, reg: Registry, now: float) -> dict[str, tuple[str, dict]]:
    with db.session() as s:
        evaluate(s, now, AlertSettings(), reg.alert_rules)
    with db.session() as s:
        rows = s.scalars(select(Alert).where(Alert.open_key.is_not(None))).all()
        by_id = {a.id: a.kind for a in rows}
        return {f"{a.kind}:{by_id.get(int(a.subject[1:]), '?') if a.subject.startswith('#') else a.subject}":
                (a.status, dict(a.params)) for a in rows}


def test_unacknowledged_alert_escalates_once_and_ends_with_its_acknowledgement(central_db: Database) -> None:
    reg = registry(EscalationPolicy())
    assert set(live(central_db, reg, T0)) == {"demo_critical:printer", "demo_warning:printer"}
    assert "alert_escalated:demo_critical" not in live(central_db, reg, T0 + 15 * 60 - 1)
    now = live(central_db, reg, T0 + 15 * 60 + 1)
    assert now["alert_escalated:demo_critical"][1]["to"] == "admin"
    assert "alert_escalated:demo_warning" not in now  # warnings wait an hour
    live(central_db, reg, T0 + 16 * 60)  # another pass: still one escalation, one audit entry
    with central_db.session() as s:
        audited = s.scalars(select(AuditEntry).where(AuditEntry.action == "alert.escalated")).all()
        assert [(a.actor, a.role) for a in audited] == [("system", "admin")]
        original = s.scalars(select(Alert).where(Alert.kind == "demo_critical")).one()
        acknowledge(s, original.id, "olga", T0 + 17 * 60)
        escalation.end_escalation(s, original.id, "olga", T0 + 17 * 60)
    after = live(central_db, reg, T0 + 18 * 60)
    assert "alert_escalated:demo_critical" not in after
    assert "alert_escalated:demo_warning" not in after
    assert "alert_escalated:demo_warning" in live(central_db, reg, T0 + 61 * 60)
    with central_db.session() as s:
        ended = s.scalars(select(Alert).where(Alert.kind == "alert_escalated", Alert.status == "resolved")).one()
        assert ended.resolved_by == "olga"


def test_per_kind_deadlines_and_their_parsing(central_db: Database) -> None:
    policy = EscalationPolicy.parse("demo_warning=2:ops, critical=60:ops")
    assert policy.by_kind == {"demo_warning": Step(2.0, "ops")} and policy.by_severity["critical"] == Step(60, "ops")
    reg = registry(policy)
    live(central_db, reg, T0)
    now = live(central_db, reg, T0 + 2 * 60 + 1)
    assert now["alert_escalated:demo_warning"][1]["to"] == "ops"
    assert "alert_escalated:demo_critical" not in now  # its severity now waits an hour
    for bad in ("x=ten:ops", "x=5:king", "x=-1:ops", "=5:ops"):
        with pytest.raises(ValueError, match="CENTRAL_ESCALATE"):
            EscalationPolicy.parse(bad)
