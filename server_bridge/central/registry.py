"""What the centre runs, as one typed value: projections per event type, alert rules, KPI panels.

Built once by `wiring.build_registry()` (called from `create_app` and the `alerts` verb) and handed to the code
that reads it: `ingest_batch(..., registry.projections)`, `AlertEngine(..., rules=registry.alert_rules)`, the
dashboard's KPI pages through `deps.RegistryDep`. Nothing is registered by importing a module.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from server_bridge.central.alerts import AlertRule, RuleSpec
from server_bridge.central.kpis import KpiFn
from server_bridge.central.projections import BatchProjection, Projection, ProjectionSpec
from server_bridge.central.schemas import Envelope

Chore = Callable[[Session, float], Any]  # periodic upkeep, e.g. the desk's retention purge: fn(session, now)


@dataclass
class Registry:
    projections: dict[str, ProjectionSpec] = field(default_factory=dict)
    alert_rules: dict[str, RuleSpec] = field(default_factory=dict)
    kpis: dict[str, KpiFn] = field(default_factory=dict)
    chores: dict[str, Chore] = field(default_factory=dict)
    exports: dict[str, tuple[Any, str]] = field(default_factory=dict)  # CSV name -> (mapped table, role)

    def projection(self, event_type: str, fn: Projection, data_model: type[BaseModel] | None = None,
                   batch: BatchProjection | None = None) -> None:
        """`fn(session, station_id, event)` runs once per stored event, in seq order per station, inside the
        ingest transaction; `data_model` validates `data` at the edge; `batch` takes a run of such events."""
        if event_type in self.projections:
            raise ValueError(f"projection for {event_type} registered twice (use `also`)")
        self.projections[event_type] = ProjectionSpec(fn, data_model, batch)

    def also(self, event_type: str, fn: Projection, data_model: type[BaseModel] | None = None) -> None:
        """Run `fn` after the projection already registered for `event_type` (if any), one event at a time."""
        before = self.projections.get(event_type)
        if before is None:
            self.projection(event_type, fn, data_model)
            return

        def both(session: Session, station_id: str, event: Envelope) -> None:
            before.fn(session, station_id, event)
            fn(session, station_id, event)

        self.projections[event_type] = ProjectionSpec(both, before.data_model or data_model)

    def alert_rule(self, kind: str, fn: AlertRule, severity: str = "warning", device: bool = False) -> None:
        """A device rule is judged only for stations that are online (an offline station's health is stale)."""
        if kind in self.alert_rules:
            raise ValueError(f"alert rule {kind} registered twice")
        self.alert_rules[kind] = RuleSpec(fn, severity, device)

    def kpi(self, name: str, fn: KpiFn) -> None:
        if name in self.kpis:
            raise ValueError(f"KPI panel {name} registered twice")
        self.kpis[name] = fn

    def chore(self, name: str, fn: Chore) -> None:
        """Upkeep the alert engine runs about once a minute, in a transaction of its own."""
        if name in self.chores:
            raise ValueError(f"chore {name} registered twice")
        self.chores[name] = fn

    def export(self, name: str, model: Any, role: str) -> None:
        """A table the console exports as `/export/<name>.csv` (cells neutralised), to `role` and above."""
        if name in self.exports:
            raise ValueError(f"export {name} registered twice")
        self.exports[name] = (model, role)
