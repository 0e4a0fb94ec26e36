"""The centre's payments (issue 14): merchant keys live only here.

`create_app` mounts `router` (which starts the payment workers in its own lifespan when `serve --payments PATH`
set CENTRAL_PAYMENTS); `wiring.build_registry` calls `register` for the `payment_mismatch` alert rule. Tables on
`db.Base` through `payments.models` (imported by `migrations/env.py`, revision 0004). docs/payments.md.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from server_bridge.central.alerts import Finding, RuleContext
from server_bridge.central.payments.models import PaymentMismatch
from server_bridge.central.payments.routes import router
from server_bridge.central.registry import Registry


def mismatch_rule(session: Session, ctx: RuleContext) -> Iterable[Finding]:
    for m in session.scalars(select(PaymentMismatch).where(PaymentMismatch.resolved_at.is_(None)).limit(500)):
        yield Finding(m.station_id or "-", m.ref, {"provider": m.provider, "day": m.day, "kind": m.kind,
                                                   "detail": m.detail})


def register(reg: Registry) -> None:
    reg.alert_rule("payment_mismatch", mismatch_rule, "critical")


__all__ = ["register", "router"]
