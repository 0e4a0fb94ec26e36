"""Takings, refunds and outstanding deposits per station and day (China time), for the dashboard and CSV."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server_bridge.central.payments.models import PaymentMismatch, PaymentOrder, RefundJob
from server_bridge.central.payments.service import china_day

COLUMNS = ("day", "station_id", "payments", "takings_fen", "refunds", "refunded_fen", "net_fen",
           "outstanding_deposits", "outstanding_deposit_fen")


def daily(session: Session, since: float, until: float) -> list[dict[str, Any]]:
    """Refunds count at the station whose order took the money (a return elsewhere refunds that deposit).
    Outstanding deposits: paid deposit orders not yet settled, as of the end of each day."""
    rows: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"payments": 0, "takings_fen": 0, "refunds": 0, "refunded_fen": 0, "outstanding_deposits": 0,
                 "outstanding_deposit_fen": 0})
    orders = session.scalars(select(PaymentOrder).where(PaymentOrder.paid_at.is_not(None),
                                                        PaymentOrder.paid_at < until)).all()
    by_id = {o.order_id: o for o in orders}
    days: set[str] = set()
    for o in orders:
        assert o.paid_at is not None
        if o.paid_at >= since:
            r = rows[(china_day(o.paid_at), o.station_id)]
            r["payments"] += 1
            r["takings_fen"] += o.amount_fen
            days.add(china_day(o.paid_at))
    for j in session.scalars(select(RefundJob).where(RefundJob.state == "succeeded", RefundJob.done_at >= since,
                                                     RefundJob.done_at < until)):
        taken = by_id.get(j.order_id)
        assert j.done_at is not None
        r = rows[(china_day(j.done_at), taken.station_id if taken else j.station_id)]
        r["refunds"] += 1
        r["refunded_fen"] += j.amount_fen
        days.add(china_day(j.done_at))
    for day in sorted(days):
        for o in orders:
            assert o.paid_at is not None
            if (o.purpose == "deposit" and china_day(o.paid_at) <= day
                    and (o.settled_at is None or china_day(o.settled_at) > day)):
                r = rows[(day, o.station_id)]
                r["outstanding_deposits"] += 1
                r["outstanding_deposit_fen"] += o.amount_fen
    out = [{"day": d, "station_id": st, **v, "net_fen": v["takings_fen"] - v["refunded_fen"]}
           for (d, st), v in rows.items()]
    return sorted(out, key=lambda r: (r["day"], r["station_id"]), reverse=False)


def mismatches(session: Session, open_only: bool = True) -> list[PaymentMismatch]:
    q = select(PaymentMismatch).order_by(PaymentMismatch.found_at.desc()).limit(500)
    if open_only:
        q = q.where(PaymentMismatch.resolved_at.is_(None))
    return list(session.scalars(q))
