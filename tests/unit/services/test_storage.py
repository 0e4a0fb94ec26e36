"""Bag storage on the in-memory locker link: a receipt opens its own door once; nothing moves without proof."""
from __future__ import annotations

import pytest

from kiosk.services.errors import StorageRefused
from kiosk.services.storage import DepositSlot, StorageReceipt
from tests.unit.services.conftest import World


def deposit(w: World, bag: str, **kwargs: object) -> StorageReceipt:
    """The shopper puts a bag into the door the screen names, as soon as it is named."""
    def put(spot: DepositSlot) -> None:
        w.link.control(spot.locker_id, {"op": "insert", "item": bag, "slot": spot.slot})
    return w.storage.deposit(on_slot=put, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def s1(make_world) -> World:
    return make_world({"S1": "storage"}, fill={"S1": 0}, auto_take={"S1": 0.2})


def test_deposit_then_pickup_opens_only_its_own_door_and_only_once(s1: World) -> None:
    first, second = deposit(s1, "BAG-A"), deposit(s1, "BAG-B")
    assert first.slot != second.slot and first.code.startswith("B1.")
    assert sum(1 for s in s1.link.slots("S1") if s.item) == 2

    s1.clock.advance(3 * 3600 - 60)  # kept 2 h 59 min: 2 h free, then one started hour
    done = s1.storage.pickup(first.code)
    assert (done.slot, done.fee_cents, done.overtime) == (first.slot, 200, False)
    assert not s1.link.slots("S1")[first.slot - 1].item
    assert s1.link.slots("S1")[second.slot - 1].item == "BAG-B"  # the other bag stays locked in

    with pytest.raises(StorageRefused) as exc:
        s1.storage.pickup(first.code)  # the receipt replayed after pickup
    assert exc.value.code == "already_collected"
    assert s1.events() == ["storage.deposited", "storage.deposited", "storage.picked_up"]
    assert sum(slot.opening for slot in s1.link.firmware["S1"].slots) == 1


def test_overtime_is_charged_by_the_same_rule(s1: World) -> None:
    receipt = deposit(s1, "BAG-O")
    s1.clock.advance(26 * 3600 - 1)  # 2 h free, then 24 started hours: one capped day
    done = s1.storage.pickup(receipt.code)
    assert (done.overtime, done.fee_cents) == (True, 1000)


def test_forged_or_foreign_receipt_opens_nothing(s1: World) -> None:
    receipt = deposit(s1, "BAG-C")
    forged = receipt.code[:-3] + ("AAA" if not receipt.code.endswith("AAA") else "BBB")
    before = s1.events()
    with pytest.raises(StorageRefused) as exc:
        s1.storage.pickup(forged)
    assert exc.value.code == "forged"
    with pytest.raises(StorageRefused):
        s1.storage.pickup("L1.ABC.1.AAAAAAAAAAAAAAAA")  # a lending receipt is not a storage receipt
    assert s1.events() == before
    assert s1.link.slots("S1")[receipt.slot - 1].item == "BAG-C"
    assert sum(slot.opening for slot in s1.link.firmware["S1"].slots) == 0


def test_nothing_put_in_cancels_and_frees_the_slot(s1: World) -> None:
    free = len(s1.storage.free_slots())
    start = s1.clock.monotonic()
    with pytest.raises(StorageRefused) as exc:
        s1.storage.deposit()
    assert exc.value.code == "deposit_timeout"
    assert s1.clock.monotonic() - start >= s1.profiles["S1"].timeouts.return_s  # it waited the profile's time
    assert len(s1.storage.free_slots()) == free
    assert s1.events() == []


def test_a_missed_insert_event_is_found_in_the_state(s1: World) -> None:
    def put_while_nobody_listens(spot: DepositSlot) -> None:
        s1.link.close()  # the station's link is down while the bag goes in
        s1.link.control(spot.locker_id, {"op": "insert", "item": "BAG-M", "slot": spot.slot})
        s1.link.start()
        s1.link.control(spot.locker_id, {"op": "online"})  # reconnected: the retained state comes again

    receipt = s1.storage.deposit(on_slot=put_while_nobody_listens, timeout_s=5)
    assert s1.link.slots("S1")[receipt.slot - 1].item == "BAG-M"
    assert s1.events() == ["storage.deposited"]


def test_full_locker_says_so(make_world) -> None:
    w: World = make_world({"S1": "storage"}, fill={"S1": "all"})
    with pytest.raises(StorageRefused) as exc:
        w.storage.deposit(timeout_s=0.5)
    assert exc.value.code == "no_free_slot"


def test_a_pickup_whose_acks_are_all_lost_still_counts_when_the_door_opened(s1: World) -> None:
    receipt = deposit(s1, "BAG-D")
    s1.link.control("S1", {"op": "drop_acks", "n": 3})
    done = s1.storage.pickup(receipt.code)
    assert done.deposit_id == receipt.deposit_id
    assert s1.events()[-1] == "storage.picked_up"


def test_a_faulty_door_keeps_the_receipt_usable(s1: World) -> None:
    receipt = deposit(s1, "BAG-F")
    s1.link.control("S1", {"op": "fault", "slot": receipt.slot})
    with pytest.raises(StorageRefused) as exc:
        s1.storage.pickup(receipt.code)
    assert exc.value.code == "locker_fault"

    s1.link.control("S1", {"op": "repair", "slot": receipt.slot})
    assert s1.storage.pickup(receipt.code).slot == receipt.slot


def test_an_offline_locker_opens_nothing_and_keeps_the_receipt(s1: World) -> None:
    receipt = deposit(s1, "BAG-G")
    s1.link.control("S1", {"op": "offline"})
    with pytest.raises(StorageRefused) as exc:
        s1.storage.pickup(receipt.code)
    assert exc.value.code == "locker_offline"
    s1.link.control("S1", {"op": "online"})
    assert s1.storage.pickup(receipt.code).deposit_id == receipt.deposit_id


def test_a_pickup_without_any_answer_asks_the_state_at_once_and_keeps_the_receipt_claimed(s1: World) -> None:
    receipt = deposit(s1, "BAG-H")
    s1.link.control("S1", {"op": "fault", "slot": receipt.slot})  # the door will not open…
    s1.link.control("S1", {"op": "drop_acks", "n": 3})  # …and nobody hears it say so
    start = s1.clock.monotonic()
    with pytest.raises(StorageRefused) as exc:
        s1.storage.pickup(receipt.code)
    assert exc.value.code == "locker_no_answer"
    assert s1.clock.monotonic() - start < s1.profiles["S1"].timeouts.take_s  # no wait for a door that never opened
    with pytest.raises(StorageRefused) as exc:
        s1.storage.pickup(receipt.code)
    assert exc.value.code == "busy"  # maybe it opened: staff decide, the receipt does not open it twice
    assert s1.link.slots("S1")[receipt.slot - 1].item == "BAG-H"
