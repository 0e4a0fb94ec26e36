"""Schema of a locker model: umbrella lockers, power-bank cabinets, storage lockers, stroller docks."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mallcommon.schemas import Strict
from mallcommon.vocabulary import ItemType


class LockerLayout(Strict):
    rows: int = Field(ge=1, le=64)
    columns: int = Field(ge=1, le=64)


class LockerSensors(Strict):
    door: bool = True
    rfid: bool = False
    battery: bool = False


class LockerTimeouts(Strict):
    ack_s: float = Field(gt=0, le=30, description="how long the station waits for an ack")
    take_s: float = Field(gt=0, le=600, description="how long an opened door waits for the item to be taken")
    return_s: float = Field(gt=0, le=600, description="how long a return slot waits for the item")
    door_open_s: float = Field(gt=0, le=3600, description="door left open longer than this raises a fault")


class LockerProfile(Strict):
    kind: Literal["locker"]
    model: str = Field(min_length=1, max_length=64)
    vendor: str = Field(default="", max_length=64)
    item_type: ItemType
    lendable: bool = Field(description="its items are lent to shoppers and come back (umbrellas, power banks, "
                                       "strollers); false for a locker that keeps a shopper's own things (storage)")
    slots: int = Field(ge=1, le=256)
    layout: LockerLayout
    sensors: LockerSensors
    timeouts: LockerTimeouts
    min_dispense_battery: int | None = Field(default=None, ge=0, le=100)
    item_prefix: str = Field(pattern=r"^[A-Z]{1,3}$", description="item ids look like PREFIX-0001")
    fw: str = Field(default="sim-1.0", max_length=32)

    @model_validator(mode="after")
    def _consistent(self) -> LockerProfile:
        if self.layout.rows * self.layout.columns < self.slots:
            raise ValueError(f"layout {self.layout.rows}x{self.layout.columns} has fewer places than slots={self.slots}")
        if self.min_dispense_battery is not None and not self.sensors.battery:
            raise ValueError("min_dispense_battery needs sensors.battery: true")
        return self
