"""The centre's registry: built by one explicit call, no state shared between builds, no silent overwrite."""
from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from server_bridge.central.i18n import WORDS
from server_bridge.central.registry import Registry
from server_bridge.central.schemas import Envelope
from server_bridge.central.wiring import build_registry


def test_each_build_is_its_own_value() -> None:
    a, b = build_registry(), build_registry()
    assert a.projections.keys() == b.projections.keys() and a.alert_rules.keys() == b.alert_rules.keys()
    a.projection("test.only", lambda s, st, e: None)
    assert "test.only" not in b.projections and "test.only" not in build_registry().projections


def test_core_and_desk_are_registered() -> None:
    reg = build_registry()
    assert {"lending.started", "lending.returned", "complaint.filed", "lostfound.registered",
            "storage.picked_up"} <= set(reg.projections)
    assert reg.projections["lending.started"].batch is not None
    assert {"station_offline", "low_stock", "lostfound_handover_due", "storage_overtime"} <= set(reg.alert_rules)
    assert list(reg.kpis)[:5] == ["lendings", "satisfaction", "complaint_times", "complaint_heatmap", "uptime"]


def test_every_rule_and_panel_has_words_on_the_dashboard() -> None:
    reg = build_registry()
    assert [k for k in reg.alert_rules if f"alert.{k}" not in WORDS] == []
    assert [k for k in reg.kpis if f"kpi.{k}" not in WORDS] == []


def test_a_second_registration_is_refused_and_also_runs_after_the_first() -> None:
    reg, calls = Registry(), []

    def first(session: Session, station_id: str, event: Envelope) -> None:
        calls.append("first")

    def second(session: Session, station_id: str, event: Envelope) -> None:
        calls.append("second")

    reg.projection("x.happened", first)
    with pytest.raises(ValueError, match="twice"):
        reg.projection("x.happened", second)
    reg.also("x.happened", second)
    reg.projections["x.happened"].fn(None, "K01", None)  # type: ignore[arg-type]
    assert calls == ["first", "second"]
    with pytest.raises(ValueError, match="twice"):
        reg.alert_rule("r", lambda s, c: [])
        reg.alert_rule("r", lambda s, c: [])
