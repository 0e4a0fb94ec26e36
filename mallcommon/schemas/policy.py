"""The lending policy and prices (the `[policy]` table of a station's config, or a bundle's `policy`).

Shared by the station (`kiosk.config`) and the centre (bundles are checked before they are stored).
"""
from __future__ import annotations

from pydantic import Field, model_validator

from mallcommon.schemas import Strict
from mallcommon.vocabulary import ItemType


class ParkingPolicy(Strict):
    points_per_hour: int = Field(default=100, ge=1)
    max_hours_per_day: int = Field(default=3, ge=1, le=24)
    voucher_valid_hours: int = Field(default=24, ge=1, le=24 * 7)


class ItemPolicy(Strict):
    free_minutes: int = Field(ge=0, le=24 * 60)
    fee_per_hour_cents: int = Field(ge=0, le=100_000)
    daily_cap_cents: int = Field(ge=0, le=1_000_000)
    deposit_cents: int = Field(default=0, ge=0)
    loan_hours: int = Field(default=24, ge=1, le=24 * 30, description="due time after the start")
    bought_after_days: int | None = Field(default=None, ge=1, le=365)
    price_cents: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bought_needs_price(self) -> ItemPolicy:
        if self.bought_after_days is not None and self.price_cents is None:
            raise ValueError("bought_after_days needs price_cents")
        return self


class Policy(Strict):
    members_deposit_free: bool = True
    max_open_per_member_per_type: int = Field(default=1, ge=1, le=10)
    min_dispense_battery: int = Field(default=60, ge=0, le=100)
    retention_days: int = Field(default=90, ge=1, le=3650)
    parking: ParkingPolicy = ParkingPolicy()
    items: dict[ItemType, ItemPolicy]
