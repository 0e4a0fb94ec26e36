"""Schema of a service-supplies set (服务用品: 医药箱、针线包 …): what the desk or a locker hands out, per item.

Each item is `free` (given away, the shopper keeps it), `returnable` (lent, comes back to stock) or `consumable`
(used up at the desk); stock is counted for all three. Where it is handed out (`desk`, or a locker door) and the
low-stock line are data too: a different set is a new YAML file, never code.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SupplyKind = Literal["free", "returnable", "consumable"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SupplyItem(Strict):
    zh: str = Field(min_length=1, max_length=20)
    en: str = Field(min_length=1, max_length=40)
    kind: SupplyKind
    where: Literal["desk", "locker"] = "desk"
    locker_id: str | None = Field(default=None, pattern=r"^[A-Z0-9][A-Z0-9-]{0,31}$",
                                  description="the locker whose doors hold it (where: locker)")
    slots: list[int] = Field(default_factory=list, description="its doors in that locker")
    low_at: int = Field(ge=0, le=1000, description="stock at or below this raises the centre's low-stock alert")
    full: int = Field(ge=1, le=1000, description="what a full stock is (the 充足 of the check)")

    @model_validator(mode="after")
    def _consistent(self) -> SupplyItem:
        if self.where == "locker" and (self.locker_id is None or not self.slots):
            raise ValueError("where: locker needs locker_id and slots")
        if self.where == "desk" and (self.locker_id is not None or self.slots):
            raise ValueError("locker_id and slots belong to where: locker")
        if any(not 1 <= s <= 256 for s in self.slots) or len(set(self.slots)) != len(self.slots):
            raise ValueError("slots must be distinct door numbers 1..256")
        if self.low_at >= self.full:
            raise ValueError(f"low_at ({self.low_at}) must be below full ({self.full})")
        return self


class SuppliesProfile(Strict):
    kind: Literal["supplies"]
    model: str = Field(min_length=1, max_length=64)
    check_every_h: int = Field(ge=1, le=24 * 31, description="the 充足与完好 check is due this often")
    items: dict[str, SupplyItem] = Field(min_length=1, max_length=32)

    @model_validator(mode="after")
    def _names(self) -> SuppliesProfile:
        for name in self.items:
            if not (name.isascii() and name.replace("_", "").isalnum() and name.islower() and len(name) <= 32):
                raise ValueError(f"item name {name!r}: lower-case ASCII letters, digits and _ (≤ 32)")
        return self
