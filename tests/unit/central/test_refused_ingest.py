"""The centre's quarantine of events refused for their content, on SQLite and PostgreSQL: the refused seq counts
as received (past a gap too), is never projected while refused, and is projected exactly once when accepted
later — a late return landing on its lending by the item's timeline."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from server_bridge.central.db import Database
from server_bridge.central.errors import EventInvalid
from server_bridge.central.ingest import IngestResult, ingest, ingest_batch
from server_bridge.central.models import Event, Lending, LendingReturn, RefusedEvent, Station
from server_bridge.central.schemas import Batch
from tests.fixtures.central import REGISTRY, envelope
from tests.unit.central.test_ingest import T0, returned, started


def send(db: Database, events: list[dict]) -> IngestResult:
    with db.session() as s:
        return ingest(s, "K01", Batch.model_validate({"events": events}), time.time(), REGISTRY.projections,
                      quarantine=True)


def bad_return(seq: int, item: str, lending: str) -> dict:
    ev = returned(seq, item, lending, "K01", T0 + 3600)
    ev["data"]["duration_s"] = -0.005  # the return dated 5 ms before its start (last session's real refusal)
    return ev


def test_a_refused_event_counts_as_received_past_a_gap_and_is_never_projected(central_db: Database) -> None:
    first = send(central_db, [bad_return(3, "U-1", "L1"), envelope(4, "survey.rated",
                                                                    {"flow": "f", "score": 5, "lang": "en"})])
    assert first.acked_seq == 0 and [r.seq for r in first.refused] == [3], "seqs 1-2 are still missing"
    gap_filled = send(central_db, [started(1, "L1", "U-1"), envelope(2, "x.unknown", {})])
    assert gap_filled.acked_seq == 4 and gap_filled.refused == []
    with central_db.session() as s:
        assert s.scalars(select(Event.seq).order_by(Event.seq)).all() == [1, 2, 4]
        assert s.get(Lending, "L1").status == "open", "the refused return was not applied"
        assert s.get(RefusedEvent, ("K01", 3)).field == "data.duration_s"


def test_an_accepted_resend_is_projected_once_and_pairs_by_the_timeline(central_db: Database) -> None:
    send(central_db, [started(1, "L1", "U-1"), bad_return(2, "U-1", "L1"), started(3, "L9", "U-9")])
    fixed = returned(2, "U-1", "L1", "K01", T0 + 3600)  # same seq and id: the centre now accepts it
    assert send(central_db, [fixed]).refused == [], "accepted"
    assert send(central_db, [fixed]).acked_seq == 3, "a replay changes nothing"
    with central_db.session() as s:
        lending = s.get(Lending, "L1")
        assert (lending.status, lending.returned_at) == ("returned", T0 + 3600)
        assert s.scalar(select(func.count()).select_from(LendingReturn)) == 1
        assert s.scalar(select(func.count()).select_from(Event).where(Event.seq == 2)) == 1
        assert s.get(RefusedEvent, ("K01", 2)).accepted_at is not None
        assert s.get(Station, "K01").acked_seq == 3


def test_without_quarantine_the_batch_is_refused_whole_as_before(central_db: Database) -> None:
    with pytest.raises(EventInvalid) as err, central_db.session() as s:
        ingest_batch(s, "K01", Batch.model_validate({"events": [started(1, "L1", "U-1"), bad_return(2, "U-1", "L1")]}),
                     time.time(), REGISTRY.projections)
    assert err.value.field == "data.duration_s" and err.value.extra == {"seq": 2}
    with central_db.session() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 0


def test_a_resend_is_audited_under_whoever_asked(central_db: Database) -> None:
    from server_bridge.central.audit import AuditEntry

    send(central_db, [envelope(1, "outbox.resent", {"by": "S-001", "seqs": [7]}),
                      envelope(2, "outbox.resent", {"by": "olga", "seqs": [7, 9], "command_id": "c-1"})])
    with central_db.session() as s:
        rows = s.execute(select(AuditEntry.actor, AuditEntry.action).order_by(AuditEntry.id)).all()
    assert [tuple(r) for r in rows] == [("staff:S-001@K01", "upload.resent"), ("olga", "upload.resent")]
