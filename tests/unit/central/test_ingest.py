"""Ingest and projections, the same tests on SQLite and on a throwaway PostgreSQL."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from server_bridge.central.db import Database
from server_bridge.central.errors import EventInvalid
from server_bridge.central.ingest import ingest_batch
from server_bridge.central.members import seed_demo
from server_bridge.central.models import Complaint, Event, Lending, LendingReturn, Member, Rating
from server_bridge.central.registry import Registry
from server_bridge.central.schemas import Batch
from server_bridge.central.wiring import build_registry
from tests.fixtures.central import REGISTRY, envelope

T0 = 1_764_000_000.0


def started(seq: int, lending: str, item: str, station: str = "K01", member: str = "M10001") -> dict:
    return envelope(seq, "lending.started", {
        "lending_id": lending, "member_id": member, "item_type": "umbrella", "item_id": item,
        "station_id": station, "locker_id": "UL1", "slot": 2, "started_at": T0 + seq, "due_at": T0 + 86400})


def returned(seq: int, item: str, lending: str | None, station: str, at: float) -> dict:
    return envelope(seq, "lending.returned", {
        "lending_id": lending, "item_id": item, "item_type": "umbrella", "member_id": None,
        "station_id": station, "locker_id": "UL2", "slot": 5, "returned_at": at, "fee_cents": 200,
        "duration_s": 3600})


def send(db: Database, station: str, events: list[dict], registry: Registry = REGISTRY) -> int:
    with db.session() as s:
        return ingest_batch(s, station, Batch.model_validate({"events": events}), time.time(), registry.projections)


def count(db: Database, model: type, *where: object) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_replayed_batch_changes_nothing(central_db: Database) -> None:
    batch = [started(1, "L1", "U-1"), envelope(2, "survey.rated", {"flow": "borrow", "score": 5, "lang": "en"})]
    assert send(central_db, "K01", batch) == 2
    assert send(central_db, "K01", batch) == 2
    assert count(central_db, Event) == 2
    assert count(central_db, Lending) == 1
    assert count(central_db, Rating) == 1


def test_out_of_order_waits_for_the_gap_and_projects_in_seq_order(central_db: Database) -> None:
    later = [returned(3, "U-7", "L7", "K01", T0 + 500)]
    assert send(central_db, "K01", later) == 0
    assert count(central_db, Lending) == 0  # stored, but not projected before seq 1..2
    assert send(central_db, "K01", [started(1, "L7", "U-7"), envelope(2, "x.unknown", {"a": 1})]) == 3
    with central_db.session() as s:
        lending = s.get(Lending, "L7")
        assert lending is not None and lending.status == "returned" and lending.fee_cents == 200


def test_return_at_another_station_closes_the_lending_opened_elsewhere(central_db: Database) -> None:
    send(central_db, "K01", [started(1, "L1", "U-9")])
    send(central_db, "K02", [returned(1, "U-9", None, "K02", T0 + 7200)])
    with central_db.session() as s:
        lending = s.get(Lending, "L1")
        assert lending.status == "returned"
        assert lending.return_station_id == "K02" and lending.returned_at == T0 + 7200


def test_return_uploaded_before_its_start_is_matched_when_the_start_arrives(central_db: Database) -> None:
    send(central_db, "K02", [returned(1, "U-5", None, "K02", T0 + 9000)])
    assert count(central_db, LendingReturn, LendingReturn.outcome == "unmatched") == 1
    send(central_db, "K01", [started(1, "L5", "U-5")])
    with central_db.session() as s:
        assert s.get(Lending, "L5").status == "returned"
    assert count(central_db, LendingReturn, LendingReturn.outcome == "unmatched") == 0


def test_points_are_applied_exactly_once_even_when_the_upload_is_retried(central_db: Database) -> None:
    with central_db.session() as s:
        seed_demo(s, T0)
    redeem = envelope(1, "parking.redeemed", {"member_id": "M10002", "points": 400, "hours": 2})
    send(central_db, "K01", [redeem])
    send(central_db, "K01", [redeem])
    with central_db.session() as s:
        assert s.get(Member, "M10002").points == 3400 - 400


def test_bad_data_for_a_known_type_is_refused_and_nothing_is_stored(central_db: Database) -> None:
    bad = envelope(2, "survey.rated", {"flow": "borrow", "score": 9})
    with pytest.raises(EventInvalid) as err:
        send(central_db, "K01", [started(1, "L1", "U-1"), bad])
    assert "score" in str(err.value)
    assert count(central_db, Event) == 0 and count(central_db, Lending) == 0


def test_complaint_text_with_markup_and_sql_is_stored_verbatim(central_db: Database) -> None:
    text = "<img src=x onerror=alert(1)>'; DROP TABLE complaints; --"
    send(central_db, "K01", [envelope(1, "complaint.filed", {
        "complaint_id": "C-1", "category": "service", "floor": "3F", "text": text, "filed_at": T0})])
    with central_db.session() as s:
        assert s.get(Complaint, "C-1").text == text
    assert count(central_db, Complaint) == 1


def test_stations_have_separate_sequences(central_db: Database) -> None:
    assert send(central_db, "K01", [started(1, "L1", "U-1")]) == 1
    assert send(central_db, "K02", [started(1, "L2", "U-2", station="K02")]) == 1
    assert count(central_db, Event) == 2


def test_a_failing_projection_is_recorded_and_does_not_wedge_the_station(central_db: Database) -> None:
    from server_bridge.central.alerts import AlertSettings, evaluate
    from server_bridge.central.models import Alert, ProjectionFailure

    def broken(session: object, station_id: str, event: object) -> None:
        raise RuntimeError("desk bug")

    registry = build_registry()
    registry.projection("desk.broken", broken)  # type: ignore[arg-type]
    acked = send(central_db, "K01", [started(1, "L1", "U-1"), envelope(2, "desk.broken", {}),
                                     started(3, "L3", "U-3")], registry)
    assert acked == 3
    assert count(central_db, Lending) == 2
    with central_db.session() as s:
        [failure] = s.scalars(select(ProjectionFailure)).all()
        assert (failure.seq, failure.type) == (2, "desk.broken") and "desk bug" in failure.error
        evaluate(s, time.time(), AlertSettings(), registry.alert_rules)
    with central_db.session() as s:
        assert s.scalars(select(Alert.subject).where(Alert.kind == "projection_failed")).all() == ["desk.broken#2"]


def test_a_return_naming_an_already_closed_lending_closes_the_items_real_open_one(central_db: Database) -> None:
    """K01 missed the cross-station return of L1 (closed at the centre by K02), lent the item again as L2
    elsewhere… then K01 finally closes its stale L1: the item that came back belongs to L2."""
    send(central_db, "K01", [started(1, "L1", "U-4")])
    again = started(2, "L2", "U-4", station="K02")
    again["data"]["started_at"] = T0 + 200
    send(central_db, "K02", [returned(1, "U-4", None, "K02", T0 + 100), again])
    send(central_db, "K01", [returned(2, "U-4", "L1", "K01", T0 + 900)])
    with central_db.session() as s:
        first, second = s.get(Lending, "L1"), s.get(Lending, "L2")
        assert (first.status, first.returned_at) == ("returned", T0 + 100)
        assert (second.status, second.returned_at, second.return_station_id) == ("returned", T0 + 900, "K01")
    send(central_db, "K01", [returned(2, "U-4", "L1", "K01", T0 + 900)])  # a replay changes nothing
    assert count(central_db, LendingReturn, LendingReturn.outcome == "unmatched") == 0


def test_an_item_lent_again_closes_its_earlier_lending_whose_return_was_never_reported(
        central_db: Database) -> None:
    send(central_db, "K01", [started(1, "L1", "U-8")])
    again = started(1, "L2", "U-8", station="K02")
    again["data"]["started_at"] = T0 + 500
    send(central_db, "K02", [again])  # U-8 left a K02 locker at T0+500: L1 had come back by then
    send(central_db, "K01", [returned(2, "U-8", "L1", "K01", T0 + 900)])
    with central_db.session() as s:
        first, second = s.get(Lending, "L1"), s.get(Lending, "L2")
        assert (first.status, first.returned_at, first.return_station_id) == ("returned", T0 + 500, "K02")
        assert (second.status, second.returned_at) == ("returned", T0 + 900)
    assert count(central_db, LendingReturn, LendingReturn.outcome == "unmatched") == 0
