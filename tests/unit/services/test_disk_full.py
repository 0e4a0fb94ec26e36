"""The disk fills up (issue 12): real SQLite on a real small filesystem answers SQLITE_FULL. The shopper is
refused before any door opens, nothing committed is lost, and the station catches up when space returns."""
from __future__ import annotations

import pytest

from kiosk.services.decisions import SlotCandidate
from kiosk.services.errors import LendingRefused
from kiosk.services.lending import BorrowProgress
from tests.fixtures.disk import SmallDisk
from tests.unit.services.conftest import World


def _borrow_while_the_disk_fills(w: World, small_disk: SmallDisk, member_id: str) -> LendingRefused:
    """A member borrows an umbrella and the disk fills while its door is open: the item leaves, nothing is recorded."""
    def fill_when_open(p: BorrowProgress) -> None:
        if p.stage == "door_open":
            small_disk.fill(w.store)

    with pytest.raises(LendingRefused) as refused:
        w.lending.borrow(w.member(member_id), "umbrella", progress=fill_when_open)
    return refused.value


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
    refused = _borrow_while_the_disk_fills(w, small_disk, "M1")
    assert refused.code == "disk_full_taken"  # the item left: the shopper keeps it, told so
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


def test_an_item_whose_borrow_is_not_recorded_yet_is_not_lent_again_when_it_comes_back(
        small_disk: SmallDisk) -> None:
    """The bounded soak's lost lending (issue 12, docs/soak.md): the disk filled while U-U1-01's door was open,
    so its borrow stayed an open intent; the umbrella came back into another slot while the disk was still full
    (the return kept in memory); room returned and the next shopper was given that umbrella before housekeeping
    had recorded its first borrow. The first borrow could then never be committed (one open lending per item):
    housekeeping failed on every pass, returns were no longer recovered, the second lending stayed open with the
    umbrella back, and the first dispense was never recorded at all."""
    w = World(small_disk.path / "station", {"U1": "umbrella", "U2": "umbrella"}, fill={"U1": 1, "U2": 1},
              auto_take={"U1": 0.2, "U2": 0.2})
    w.start()
    assert _borrow_while_the_disk_fills(w, small_disk, "M1").code == "disk_full_taken" and w.open_intents() == 1
    w.clock.advance(60)
    assert w.put_back("U1", "U-U1-01", slot=3) is None  # back, but nothing can be written yet
    small_disk.free(w.store)

    second = w.lending.borrow(w.member("M2"), "umbrella").lending
    assert second.item_id == "U-U2-01", "the umbrella whose borrow is unrecorded is not lent again yet"

    w.lending.periodic()  # the first borrow is recorded from the locker's state, then its return
    rows = {row["member_id"]: row for row in w.lendings()}
    assert (rows["M1"]["item_id"], rows["M1"]["status"], rows["M1"]["return_slot"]) == ("U-U1-01", "returned", 3)
    assert (rows["M2"]["item_id"], rows["M2"]["status"]) == ("U-U2-01", "open")
    assert w.open_intents() == 0
    assert sorted(w.events()) == ["lending.returned", "lending.started", "lending.started"]

    third = w.lending.borrow(w.member("M3"), "umbrella").lending  # now it is known to be back: lent again
    assert third.item_id == "U-U1-01"
    w.store.close()


def test_a_store_with_an_intent_that_can_no_longer_be_committed_does_not_stop_the_station(
        small_disk: SmallDisk) -> None:
    """A store left by the code before that fix: the umbrella was lent again while its earlier borrow was still an
    open intent. That intent cannot be committed (one open lending per item); it used to fail every housekeeping
    pass and every start-up (the soak's station restarted in a loop), and the umbrella's next return was lost."""
    w = World(small_disk.path / "station", {"U1": "umbrella"}, fill={"U1": 1}, auto_take={"U1": 0.2})
    w.start()
    _borrow_while_the_disk_fills(w, small_disk, "M1")
    w.clock.advance(60)
    w.put_back("U1", "U-U1-01", slot=3)
    small_disk.free(w.store)
    # what the earlier code did next: the umbrella in slot 3 offered to the next shopper and lent
    again = w.lending.intents.reserve([SlotCandidate("U1", 3, "U-U1-01", None)], "M2", "umbrella")
    second = w.lending._dispense(again, None).lending

    w.lending.periodic()  # does not raise
    w._lending = None
    w.start()  # a restart reconciles the store without failing
    assert w.open_intents() == 1, "the intent that cannot be committed stays open, for staff"
    w.clock.advance(60)
    w.put_back("U1", "U-U1-01", slot=5)
    [row] = [r for r in w.lendings() if r["lending_id"] == second.lending_id]
    assert (row["status"], row["return_slot"]) == ("returned", 5), "its next return is recorded"
    w.store.close()


def test_a_return_recovered_while_the_disk_is_full_waits_for_room_without_failing_housekeeping(
        small_disk: SmallDisk) -> None:
    """A return nobody heard (found in the locker's state on two passes) while the disk is full: the pass used to
    fail with StoreFull (the soak's `station.tick_failed`, skipping the rest of housekeeping); it is recorded on
    the first pass with room."""
    w = _world(small_disk)
    lending = w.lending.borrow(w.member("M1"), "umbrella").lending
    w.clock.advance(600)
    small_disk.fill(w.store)
    w.link.control("U1", {"op": "insert", "item": lending.item_id, "slot": lending.slot})  # its event is missed
    w.lending.periodic()
    w.lending.periodic()  # confirmed, but nothing can be written: no exception, nothing lost
    assert [row["status"] for row in w.lendings()] == ["open"]
    small_disk.free(w.store)
    w.lending.periodic()
    [row] = w.lendings()
    assert (row["status"], row["return_slot"]) == ("returned", lending.slot)
    assert w.events() == ["lending.started", "lending.returned"]
    w.store.close()
