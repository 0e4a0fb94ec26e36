"""Lending fees per policy: free period, fee per started hour, daily cap, 'counts as bought' after N days."""
from __future__ import annotations

import math

from kiosk.config import ItemPolicy

DAY_S = 86_400


def compute_fee(policy: ItemPolicy, duration_s: float) -> tuple[int, bool]:
    """(fee in cents, bought) for an item kept `duration_s` seconds.

    The free period is deducted, every started hour after it costs `fee_per_hour_cents`, and each
    24 hours of billable time is capped at `daily_cap_cents`."""
    duration_s = max(0.0, duration_s)
    if policy.bought_after_days is not None and duration_s >= policy.bought_after_days * DAY_S:
        return int(policy.price_cents or 0), True
    billable_s = duration_s - policy.free_minutes * 60
    if billable_s <= 0:
        return 0, False
    hours = math.ceil(billable_s / 3600)
    full_days, rest = divmod(hours, 24)
    per_day = min(policy.daily_cap_cents, 24 * policy.fee_per_hour_cents)
    return full_days * per_day + min(policy.daily_cap_cents, rest * policy.fee_per_hour_cents), False


def yuan(cents: int) -> str:
    return f"{cents // 100}" if cents % 100 == 0 else f"{cents / 100:.2f}"


def fee_rule_text(policy: ItemPolicy, lang: str = "zh") -> str:
    """The fee rule as printed on receipts and shown on screen."""
    if lang == "zh":
        text = (f"前{policy.free_minutes}分钟免费，之后每小时{yuan(policy.fee_per_hour_cents)}元，"
                f"每日封顶{yuan(policy.daily_cap_cents)}元")
        if policy.bought_after_days:
            text += f"；{policy.bought_after_days}天未归还按购买计{yuan(policy.price_cents or 0)}元"
        return text
    text = (f"First {policy.free_minutes} min free, then ¥{yuan(policy.fee_per_hour_cents)} per started hour, "
            f"at most ¥{yuan(policy.daily_cap_cents)} a day")
    if policy.bought_after_days:
        text += f"; not returned in {policy.bought_after_days} days counts as bought (¥{yuan(policy.price_cents or 0)})"
    return text
