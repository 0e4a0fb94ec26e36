"""The mall's content as the kiosk shows it (shops, floor plans, events, 公开明示 notices): the schemas.

Shared by the station (`kiosk.content` reads the YAML files) and the centre (bundles are checked before they
are stored). `assemble` cross-checks the four files; its `ContentProblem` names the file and the key.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mallcommon.schemas import Strict

Unit = Annotated[str, Field(pattern=r"^(B[1-9]|[1-9]F)-[0-9]{2,3}$")]
Floor = Annotated[str, Field(pattern=r"^(B[1-9]|[1-9]F)$")]
Text = Annotated[str, Field(min_length=1, max_length=200)]
FacilityKind = Literal["desk", "restroom", "elevator", "escalator", "nursing", "exit"]


class Words(Strict):
    zh: Text
    en: Text


class Shop(Strict):
    unit: Unit
    zh: Text
    en: Text
    category: str
    hours: str = Field(default="10:00-22:00", pattern=r"^\d\d:\d\d-\d\d:\d\d$")
    phone: str | None = Field(default=None, pattern=r"^[0-9-]{3,20}$")
    pinyin: str | None = Field(default=None, pattern=r"^[a-z]+$", description="overrides polyphonic readings")

    @property
    def floor(self) -> str:
        return self.unit.split("-")[0]


class ShopsFile(Strict):
    categories: dict[str, Words]
    shops: list[Shop] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> ShopsFile:
        units = [s.unit for s in self.shops]
        dup = {u for u in units if units.count(u) > 1}
        if dup:
            raise ValueError(f"unit used by two shops: {sorted(dup)}")
        for i, shop in enumerate(self.shops):
            if shop.category not in self.categories:
                raise ValueError(f"shops.{i}.category {shop.category!r} is not one of {sorted(self.categories)}")
        return self


class FloorPlan(Strict):
    floor: Floor
    units: list[tuple[Unit, int, int, int, int]]
    facilities: list[tuple[FacilityKind, int, int]] = []

    @model_validator(mode="after")
    def _inside_grid(self) -> FloorPlan:
        for unit, x, y, w, h in self.units:
            if not unit.startswith(self.floor + "-"):
                raise ValueError(f"unit {unit} is not on floor {self.floor}")
            if x < 0 or y < 0 or w <= 0 or h <= 0 or x + w > 100 or y + h > 60:
                raise ValueError(f"unit {unit} does not fit the 100 x 60 grid")
        return self


class FloorsFile(Strict):
    floors: list[FloorPlan] = Field(min_length=1)


class EventText(Strict):
    title: Text
    text: Annotated[str, Field(max_length=400)] = ""


class MallEvent(Strict):
    id: Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,31}$")]
    zh: EventText
    en: EventText
    starts: dt.date
    ends: dt.date
    floors: list[Floor] = []
    unit: Unit | None = None

    @model_validator(mode="after")
    def _ordered(self) -> MallEvent:
        if self.ends < self.starts:
            raise ValueError("ends is before starts")
        return self


class EventsFile(Strict):
    events: list[MallEvent] = []


class Commitment(Strict):
    zh: Text
    en: Text


class ServiceEntry(Strict):
    id: Annotated[str, Field(pattern=r"^[a-z_]{2,32}$")]
    zh: Text
    en: Text
    free: bool


class PriceEntry(Strict):
    service: str
    zh: Text
    en: Text


class Hotline(Strict):
    id: Annotated[str, Field(pattern=r"^[a-z_]{2,32}$")]
    zh: Text
    en: Text
    number: str = Field(pattern=r"^[0-9-]{3,20}$")


class InfoFile(Strict):
    commitments: list[Commitment] = Field(min_length=1)
    services: list[ServiceEntry] = Field(min_length=1)
    prices: list[PriceEntry] = []
    hotlines: list[Hotline] = Field(min_length=1)

    @model_validator(mode="after")
    def _prices_name_services(self) -> InfoFile:
        known = {s.id for s in self.services}
        for i, p in enumerate(self.prices):
            if p.service not in known:
                raise ValueError(f"prices.{i}.service {p.service!r} is not in services")
        for s in self.services:
            if not s.free and s.id not in {p.service for p in self.prices}:
                raise ValueError(f"services: {s.id!r} is charged but has no entry in prices (公开明示)")
        return self


class MallContent(BaseModel):
    """Everything the information screens show, already validated."""

    model_config = ConfigDict(frozen=True)
    categories: dict[str, Words]
    shops: tuple[Shop, ...]
    floors: tuple[FloorPlan, ...]
    events: tuple[MallEvent, ...]
    info: InfoFile

    def shop(self, unit: str) -> Shop | None:
        return next((s for s in self.shops if s.unit == unit), None)

    def floor(self, name: str) -> FloorPlan | None:
        return next((f for f in self.floors if f.floor == name), None)

    def current_events(self, today: dt.date) -> list[MallEvent]:
        return [e for e in self.events if e.starts <= today <= e.ends]


FILES = {"shops": "shops.yaml", "floors": "floors.yaml", "events": "events.yaml", "info": "info.yaml"}


class ContentProblem(ValueError):
    """The files are each valid but do not fit together; `file` is one of FILES' names."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        self.file, self.key, self.problem = file, key, problem
        super().__init__(f"{file}: {key}: {problem}")


def assemble(shops: ShopsFile, floors: FloorsFile, events: EventsFile, info: InfoFile) -> MallContent:
    """The content of four valid files, once every shop is drawn on a floor and every event's unit has a shop."""
    planned = {u[0] for f in floors.floors for u in f.units}
    for i, shop in enumerate(shops.shops):
        if shop.unit not in planned:
            raise ContentProblem(FILES["shops"], f"shops.{i}.unit",
                                 f"{shop.unit} is not drawn on any floor in floors.yaml")
    units = {s.unit for s in shops.shops}
    for i, ev in enumerate(events.events):
        if ev.unit is not None and ev.unit not in units:
            raise ContentProblem(FILES["events"], f"events.{i}.unit", f"{ev.unit} has no shop")
    return MallContent(categories=shops.categories, shops=tuple(shops.shops), floors=tuple(floors.floors),
                       events=tuple(events.events), info=info)
