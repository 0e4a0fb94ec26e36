"""The typed outbox events write the same JSON the centre has always read (field names, order, values)."""
from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.services.events import (
    LendingBought,
    LendingReturned,
    LendingStarted,
    OutboxRecord,
    StorageDeposited,
    StoragePickedUp,
)
from kiosk.services.repository import UnitOfWork
from kiosk.store import Store

WIRE = [
    # cmd_id came later (ce05304): appended, so every older field keeps its place
    (LendingStarted("K01-AB12", "M1", "umbrella", "U-U1-01", "K01", "U1", 1, 1800000000.5, 1800086400.5, "c-1"),
     "lending.started",
     '{"lending_id":"K01-AB12","member_id":"M1","item_type":"umbrella","item_id":"U-U1-01","station_id":"K01",'
     '"locker_id":"U1","slot":1,"started_at":1800000000.5,"due_at":1800086400.5,"cmd_id":"c-1"}'),
    (LendingReturned(None, "U-X", "umbrella", None, "K01", "U2", 3, 1800000100.25, 0, 0.0),
     "lending.returned",
     '{"lending_id":null,"item_id":"U-X","item_type":"umbrella","member_id":null,"station_id":"K01",'
     '"locker_id":"U2","slot":3,"returned_at":1800000100.25,"fee_cents":0,"duration_s":0.0}'),
    (LendingBought("K01-AB12", "P-P1-01", "M1", 9900), "lending.bought",
     '{"lending_id":"K01-AB12","item_id":"P-P1-01","member_id":"M1","price_cents":9900}'),
    (StorageDeposited("0EB3665AC51A", "K01", "S1", 2, 1800000000.5, 1800086400), "storage.deposited",
     '{"deposit_id":"0EB3665AC51A","station_id":"K01","locker_id":"S1","slot":2,"started_at":1800000000.5,'
     '"due_at":1800086400}'),
    (StoragePickedUp("0EB3665AC51A", "K01", "S1", 2, 1800010000.0, 9999.5, 200, False), "storage.picked_up",
     '{"deposit_id":"0EB3665AC51A","station_id":"K01","locker_id":"S1","slot":2,"picked_up_at":1800010000.0,'
     '"duration_s":9999.5,"fee_cents":200,"overtime":false}'),
]


@pytest.mark.parametrize(("event", "type_", "text"), WIRE, ids=[w[1] for w in WIRE])
def test_outbox_text_is_byte_for_byte_the_old_wire_format(store_dir: Path, event: OutboxRecord, type_: str,
                                                           text: str) -> None:
    store = Store(store_dir / "s.db")
    try:
        with UnitOfWork(store) as uow:
            uow.emit(event, at=1800000000.0)
        [(stored_type, stored)] = store.query("SELECT type, data FROM outbox")
        assert (stored_type, stored) == (type_, text)
        assert store.outbox_pending()[0].envelope()["ts"] == "2027-01-15T08:00:00.000Z"
    finally:
        store.close()


def test_an_event_outside_a_unit_of_work_is_refused(store_dir: Path) -> None:
    store = Store(store_dir / "s.db")
    try:
        with pytest.raises(AssertionError):
            UnitOfWork(store).emit(WIRE[0][0], at=0)
        with pytest.raises(RuntimeError), UnitOfWork(store) as uow:
            uow.emit(WIRE[0][0], at=0)
            raise RuntimeError("something after it failed")
        assert store.query("SELECT COUNT(*) FROM outbox")[0][0] == 0  # rolled back with the transaction
    finally:
        store.close()
