"""The lending and storage rules as plain functions: values in, a decision out."""
from __future__ import annotations

import pytest

from drivers.locker.link import LockerView, SlotView
from kiosk.services import decisions
from kiosk.services.decisions import Lending
from kiosk.services.errors import LendingRefused
from tests.unit.services.conftest import POLICY, profile


def lending(item_type: str = "umbrella", due_at: float = 100.0) -> Lending:
    return Lending("L", "M1", item_type, "I", "K01", "U1", 1, 0.0, due_at, "open")  # type: ignore[arg-type]


def test_who_may_borrow() -> None:
    assert decisions.borrow_refusal([], "umbrella", now=50, max_open_per_type=1) is None
    assert decisions.borrow_refusal([lending()], "power_bank", now=50, max_open_per_type=1) is None
    refusal = decisions.borrow_refusal([lending()], "umbrella", now=50, max_open_per_type=1)
    assert refusal is not None and refusal.code == "limit_reached"
    overdue = decisions.borrow_refusal([lending("power_bank", due_at=40)], "umbrella", now=50, max_open_per_type=2)
    assert overdue is not None and overdue.code == "overdue"


def view(*slots: SlotView, online: bool = True, locker_id: str = "P1") -> LockerView:
    return LockerView(locker_id, online, seq=7, slots=slots)


def test_which_slot_best_battery_first_never_below_the_floor_nor_busy_nor_known_out() -> None:
    profiles = {"P1": profile("power_bank"), "U1": profile("umbrella")}
    p1 = view(SlotView(1, "occupied", "P-A", 70), SlotView(2, "occupied", "P-B", 95), SlotView(3, "occupied", "P-C", 50),
              SlotView(4, "occupied", "P-D", 99), SlotView(5, "occupied", "P-E", 98), SlotView(6, "open", "P-F", 100))
    floor = decisions.min_battery(profiles["P1"], POLICY)
    assert floor == max(60, profiles["P1"].min_dispense_battery or 0)
    found, online = decisions.pick_slots("power_bank", profiles, {"P1": p1}, busy={("P1", 4)},
                                         not_in_locker={"P-E"}, floor=lambda _: floor, exclude=[("P1", 1)])
    assert online and [(c.slot, c.item_id) for c in found] == [(2, "P-B")]
    assert decisions.pick_slots("power_bank", profiles, {"P1": view(online=False)}, set(), set(),
                                lambda _: 0) == ([], False)
    assert decisions.min_battery(profiles["U1"], POLICY) == 0


def test_when_to_try_elsewhere_and_what_to_say_at_the_end() -> None:
    assert decisions.may_retry_elsewhere(LendingRefused("slot_unusable", "", retry_elsewhere=True))
    assert not decisions.may_retry_elsewhere(LendingRefused("locker_offline", "door may be open"))
    assert decisions.final_refusal(LendingRefused("busy", ""), lambda: True, "umbrella").code == "busy"
    assert decisions.final_refusal(LendingRefused("slot_unusable", ""), lambda: True, "umbrella").code == "none_available"
    assert decisions.final_refusal(None, lambda: False, "umbrella").code == "locker_offline"
    assert decisions.unsettled_refusal(ack_known=False, intent_resolved=False).code == "no_answer"
    assert decisions.unsettled_refusal(ack_known=True, intent_resolved=False).code == "locker_offline"
    assert decisions.unsettled_refusal(ack_known=True, intent_resolved=True).code == "not_taken"


@pytest.mark.parametrize(("slot", "expired", "verdict"), [
    (SlotView(1, "empty", taken_by="c1"), False, "moved"),
    (SlotView(1, "occupied", "I", taken_by="c1"), False, "moved"),  # taken, then put back: taken_by tells
    (SlotView(1, "open", "I"), True, "unknown"),
    (SlotView(1, "occupied", "I"), False, "unknown"),  # the command may still arrive
    (SlotView(1, "occupied", "I"), True, "stayed"),
    (SlotView(1, "fault", "I"), True, "stayed"),
    (SlotView(1, "occupied", "OTHER"), True, "moved"),
    (SlotView(1, "empty"), False, "moved"),
])
def test_what_a_state_proves_about_a_borrow(slot: SlotView, expired: bool, verdict: str) -> None:
    assert decisions.intent_verdict(view(slot), 1, "c1", "I", expired) == verdict
    assert decisions.intent_verdict(view(slot, online=False), 1, "c1", "I", expired) == "unknown"


def test_returns_are_confirmed_on_two_passes_in_the_same_slot() -> None:
    out = {"U-1", "U-2"}
    first = decisions.out_items_seen({"U1": view(SlotView(1, "occupied", "U-1"), SlotView(2, "open", "U-2"),
                                                 locker_id="U1")}, out)
    assert set(first) == {"U-1"}
    assert decisions.confirmed_returns({}, first) == []
    assert [item for item, _ in decisions.confirmed_returns(first, first)] == ["U-1"]
    moved = {"U-1": ("U1", 2, None, 9)}
    assert decisions.confirmed_returns(first, moved) == []


def test_storage_slots_and_proofs() -> None:
    views = {"S1": view(SlotView(1, "empty"), SlotView(2, "occupied", "B"), SlotView(3, "empty"), locker_id="S1"),
             "S2": view(SlotView(1, "empty"), online=False, locker_id="S2")}
    assert decisions.free_storage_slots(views, held={("S1", 3)}) == [("S1", 1)]
    assert decisions.deposit_verdict(views["S1"], 2) == "moved" and decisions.deposit_verdict(views["S1"], 1) == "stayed"
    assert decisions.pickup_verdict(views["S1"], 1) == "moved" and decisions.pickup_verdict(views["S1"], 2) == "unknown"
    assert decisions.lending_start(intent_created_at=10, now=20, taken_at=5) == 10
    assert decisions.lending_start(intent_created_at=10, now=20, taken_at=25) == 20
    assert decisions.lending_start(intent_created_at=10, now=20, taken_at=None) == 10  # unknown: from the intent
