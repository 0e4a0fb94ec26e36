"""The disk fills up (issue 12): real SQLite on a real small filesystem answers SQLITE_FULL. The shopper is
refused before any door opens, nothing committed is lost, and the station catches up when space returns."""
from __future__ import annotations

import pytest

from kiosk.services.errors import LendingRefused
from kiosk.services.lending import BorrowProgress
from tests.fixtures.disk import SmallDisk
from tests.unit.services.conftest import World


def _world(small_disk: SmallDisk) -> World:
    return World(small_disk.path / "station", {"U1": "umbrella"}, auto_take={"U1": 0.2})


def test_a_full_disk_refuses_a_borrow_before_any_door_opens_and_lending_resumes_with_room(
        small_disk: SmallDisk) -> None:
    w = _world(small_disk)
    before = w.lending.borrow(w.member("M1"), "umbrella").lending
    items = [s.item for s in w.link.slots("U1")]
    small_disk.fill(w.store)

    with pytest.raises(LendingRefused) as refused:
        w.lending.borrow(w.member("M2"), "umbrella")
    assert refused.value.code == "disk_full" and "disk full: free space on" in str(refused.value)
    assert [s.item for s in w.link.slots("U1")] == items, "no door opened"
    assert w.open_intents() == 0

    small_disk.free(w.store)
    after = w.lending.borrow(w.member("M2"), "umbrella").lending
    assert [row["lending_id"] for row in w.lendings()] == [before.lending_id, after.lending_id]
    assert w.events() == ["lending.started", "lending.started"]
    w.store.close()


def test_the_disk_filling_while_the_door_is_open_loses_no_lending(small_disk: SmallDisk) -> None:
    w = _world(small_disk)
    w.start()

    def fill_when_open(p: BorrowProgress) -> None:
        if p.stage == "door_open":
            small_disk.fill(w.store)

    with pytest.raises(LendingRefused) as refused:
        w.lending.borrow(w.member("M1"), "umbrella", progress=fill_when_open)
    assert refused.value.code == "disk_full_taken"  # the item left: the shopper keeps it, told so
    assert w.link.slots("U1")[0].item is None and w.lendings() == [] and w.open_intents() == 1

    w.lending.periodic()  # still full: nothing settles, nothing breaks
    assert w.open_intents() == 1
    small_disk.free(w.store)
    w.clock.advance(60)
    w.lending.periodic()
    [row] = w.lendings()
    assert (row["member_id"], row["item_id"], row["status"]) == ("M1", "U-U1-01", "open")
    assert w.events() == ["lending.started"] and w.open_intents() == 0
    w.store.close()


def test_a_return_while_the_disk_is_full_is_recorded_with_its_own_time_when_room_returns(
        small_disk: SmallDisk) -> None:
    w = _world(small_disk)
    lending = w.lending.borrow(w.member("M1"), "umbrella").lending
    w.clock.advance(3 * 3600)
    put_back_at = w.clock.wall()
    small_disk.fill(w.store)
    assert w.put_back("U1", lending.item_id, slot=lending.slot) is None  # nothing could be written yet

    w.clock.advance(2 * 3600)  # two more hours full: the fee must not grow with them
    w.lending.periodic()
    small_disk.free(w.store)
    w.lending.periodic()
    [row] = w.lendings()
    assert (row["status"], row["fee_cents"]) == ("returned", 600)
    assert row["returned_at"] == pytest.approx(put_back_at)
    assert w.events() == ["lending.started", "lending.returned"]
    w.store.close()
