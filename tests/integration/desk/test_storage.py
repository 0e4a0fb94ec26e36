"""Bag storage and strollers end to end: a receipt opens its own door once; strollers lend like umbrellas."""
from __future__ import annotations

import threading
import time

import pytest

from kiosk.config import ItemPolicy, Policy
from kiosk.services.lending import LendingService
from kiosk.services.storage import DepositSlot, StorageRefused, StorageService
from kiosk.store import Store
from kiosk.tokens import TokenBook
from tests.integration.desk.lockers import Lockers, wait

STORAGE = ItemPolicy(free_minutes=120, fee_per_hour_cents=200, daily_cap_cents=1000, loan_hours=24)


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def _service(lockers: Lockers, store: Store, tokens: TokenBook, clock: Clock) -> StorageService:
    return StorageService(store=store, lockers=lockers.connect(), profiles=lockers.profiles, policy=STORAGE,
                          tokens=tokens, station_id="K01", clock=clock)


def _deposit(svc: StorageService, lockers: Lockers, bag: str) -> object:
    """The shopper puts a bag into the door the screen names."""
    def put(spot: DepositSlot) -> None:
        threading.Timer(0.1, lockers.control, (spot.locker_id, {"op": "insert", "item": bag,
                                                                "slot": spot.slot})).start()
    return svc.deposit(on_slot=put)


def test_deposit_then_pickup_opens_only_its_own_door_and_only_once(lockers: Lockers, store: Store,
                                                                    tokens: TokenBook) -> None:
    sim = lockers.start("S1", fill=0, auto_take=0.2)
    clock = Clock()
    svc = _service(lockers, store, tokens, clock)
    first = _deposit(svc, lockers, "BAG-A")
    second = _deposit(svc, lockers, "BAG-B")
    assert first.slot != second.slot
    assert first.code.startswith("B1.")
    wait(lambda: sum(1 for s in sim.slots() if s.item) == 2)

    clock.offset = 3 * 3600 - 60  # kept 2 h 59 min: 2 h free, then one started hour
    done = svc.pickup(first.code)
    assert (done.slot, done.fee_cents, done.overtime) == (first.slot, 200, False)
    wait(lambda: not sim.slots()[first.slot - 1].item)
    assert sim.slots()[second.slot - 1].item == "BAG-B"  # the other bag stays locked in

    outbox = len(store.outbox_pending())
    with pytest.raises(StorageRefused) as exc:
        svc.pickup(first.code)  # the receipt replayed after pickup
    assert exc.value.code == "already_collected"
    assert "already collected" in str(exc.value)
    assert len(store.outbox_pending()) == outbox
    assert sim.slots()[second.slot - 1].item == "BAG-B"
    assert [e.type for e in store.outbox_pending()] == ["storage.deposited", "storage.deposited",
                                                        "storage.picked_up"]


def test_forged_receipt_opens_nothing(lockers: Lockers, store: Store, tokens: TokenBook) -> None:
    sim = lockers.start("S1", fill=0, auto_take=0.2)
    svc = _service(lockers, store, tokens, Clock())
    receipt = _deposit(svc, lockers, "BAG-C")
    forged = receipt.code[:-3] + ("AAA" if not receipt.code.endswith("AAA") else "BBB")
    before = len(store.outbox_pending())
    with pytest.raises(StorageRefused) as exc:
        svc.pickup(forged)
    assert exc.value.code == "forged"
    other = "L1.ABC.1.AAAAAAAAAAAAAAAA"  # a lending receipt is not a storage receipt
    with pytest.raises(StorageRefused):
        svc.pickup(other)
    assert len(store.outbox_pending()) == before
    assert sim.slots()[receipt.slot - 1].item == "BAG-C"


def test_nothing_put_in_cancels_and_frees_the_slot(lockers: Lockers, store: Store, tokens: TokenBook) -> None:
    lockers.start("S1", fill=0)
    svc = _service(lockers, store, tokens, Clock())
    free = len(svc.free_slots())
    with pytest.raises(StorageRefused) as exc:
        svc.deposit(timeout_s=0.5)
    assert exc.value.code == "deposit_timeout"
    assert len(svc.free_slots()) == free
    assert store.outbox_pending() == []


def test_full_locker_says_so(lockers: Lockers, store: Store, tokens: TokenBook) -> None:
    lockers.start("S1", fill="all")
    svc = _service(lockers, store, tokens, Clock())
    with pytest.raises(StorageRefused) as exc:
        svc.deposit(timeout_s=0.5)
    assert exc.value.code == "no_free_slot"


def test_stroller_is_borrowed_like_an_umbrella(lockers: Lockers, store: Store, tokens: TokenBook) -> None:
    sim = lockers.start("T1", fill="all", auto_take=0.2)
    link = lockers.connect()
    policy = Policy(items={"stroller": ItemPolicy(free_minutes=240, fee_per_hour_cents=0, daily_cap_cents=0,
                                                  loan_hours=4)})
    lending = LendingService(store=store, lockers=link, profiles={"T1": lockers.profiles["T1"]}, policy=policy,
                             station_id="K01", tokens=tokens)
    lending.start(handle_returns=False)
    try:
        member = tokens.verify_member(tokens.member_code("M10001"))
        result = lending.borrow(member, "stroller")
        assert result.lending.item_type == "stroller" and result.lending.item_id.startswith("T-")
        wait(lambda: result.lending.item_id not in [s.item for s in sim.slots()])
        assert result.lending.due_at - result.lending.started_at == pytest.approx(4 * 3600, abs=5)
    finally:
        lending.stop()
