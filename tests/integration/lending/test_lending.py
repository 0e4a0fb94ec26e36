"""Borrow and return on real parts: secured mosquitto, locker simulators, SQLite on disk."""
from __future__ import annotations

import threading

import pytest

from kiosk.services.lending import LendingRefused
from tests.fixtures.station import StationStack


def open_intents(stack: StationStack) -> int:
    return stack.station.store.query("SELECT COUNT(*) FROM intents WHERE state IN ('pending','opened')")[0][0]


def lendings(stack: StationStack) -> list:
    return stack.station.store.query("SELECT * FROM lendings ORDER BY started_at")


def test_borrow_umbrella_then_return_into_another_locker_with_late_fee(station_stack: StationStack) -> None:
    s = station_stack
    s.start_sim("U1", auto_take=0.2)
    s.start_sim("U2", fill=0)
    s.start_sim("P1")
    station = s.build_station()
    returns = []
    station.lending.on_return(returns.append)

    result = station.lending.borrow(s.member_code("M10086"), "umbrella")

    lending = result.lending
    assert lending.status == "open" and lending.locker_id == "U1"
    assert lending.item_id not in [sl.item for sl in s.sims["U1"].slots()]
    assert station.tokens.verify_lending(result.return_token).lending_id == lending.lending_id

    s.clock.advance(3 * 3600)  # kept 3 h: 30 min free, then 3 started hours at 2 yuan
    s.control("U2", {"op": "insert", "item": lending.item_id})
    s.wait(lambda: bool(returns), what="the return")

    back = returns[0]
    assert back.lending is not None and back.lending.lending_id == lending.lending_id
    assert (back.locker_id, back.lending.status) == ("U2", "returned")
    assert back.fee_cents == 600
    events = [e.type for e in station.store.outbox_pending()]
    assert events == ["lending.started", "lending.returned"]


def test_power_bank_comes_out_charged_and_low_ones_never_leave(station_stack: StationStack) -> None:
    s = station_stack
    s.start_sim("U1")
    s.start_sim("U2")
    p1 = s.start_sim("P1", fill=0, auto_take=0.1)
    s.control("P1", {"op": "insert", "item": "P-LOW1", "battery": 40, "slot": 1})
    s.control("P1", {"op": "insert", "item": "P-FULL", "battery": 95, "slot": 2})
    station = s.build_station(handle_returns=False)
    s.wait(lambda: sum(1 for sl in (station.lockers.view("P1").slots) if sl.item) == 2, what="P1 state")

    first = station.lending.borrow(s.member_code("M1"), "power_bank")
    assert first.lending.item_id == "P-FULL"

    with pytest.raises(LendingRefused) as exc:
        station.lending.borrow(s.member_code("M2"), "power_bank")
    assert exc.value.code == "none_available"
    assert any(sl.item == "P-LOW1" for sl in p1.slots())


def test_one_open_lending_per_member_and_type(station_stack: StationStack) -> None:
    s = station_stack
    for lid in ("U1", "U2", "P1"):
        s.start_sim(lid, auto_take=0.1)
    station = s.build_station(handle_returns=False)
    station.lending.borrow(s.member_code("M7"), "umbrella")
    with pytest.raises(LendingRefused) as exc:
        station.lending.borrow(s.member_code("M7"), "umbrella")
    assert exc.value.code == "limit_reached"
    assert station.lending.borrow(s.member_code("M7"), "power_bank").lending.item_type == "power_bank"


def test_item_not_taken_closes_door_charges_nothing_and_slot_is_usable_again(station_stack: StationStack) -> None:
    s = station_stack
    u1 = s.start_sim("U1", fill=1)
    s.start_sim("U2", fill=0)
    s.start_sim("P1")
    station = s.build_station(handle_returns=False)

    with pytest.raises(LendingRefused) as exc:
        station.lending.borrow(s.member_code("M1"), "umbrella")

    assert exc.value.code == "not_taken"
    assert lendings(s) == [] and open_intents(s) == 0
    assert [sl.state for sl in u1.slots() if sl.slot == 1] == ["occupied"]

    u1.firmware.auto_take = 0.1  # now the shopper does take it
    again = station.lending.borrow(s.member_code("M1"), "umbrella")
    assert again.lending.slot == 1


def test_lost_ack_is_retried_with_the_same_cmd_id_and_the_door_opens_once(station_stack: StationStack) -> None:
    s = station_stack
    u1 = s.start_sim("U1", fill=1, auto_take=0.3)
    s.start_sim("U2", fill=0)
    s.start_sim("P1")
    station = s.build_station(handle_returns=False)
    s.control("U1", {"op": "drop_acks", "n": 1})
    s.wait(lambda: u1.firmware.drop_acks == 1, what="the locker to start losing acks")

    with station.lockers.events() as events:
        result = station.lending.borrow(s.member_code("M1"), "umbrella")
        seen = []
        while (ev := events.get(timeout=0.3)) is not None:
            seen.append(ev)
    assert result.lending.slot == 1
    assert u1.stats()["acks_dropped"] == 1 and u1.stats()["duplicates"] >= 1
    assert [ev.type for ev in seen if ev.locker_id == "U1"].count("door_opened") == 1
    assert len(lendings(s)) == 1


def test_locker_offline_gives_a_clear_error_and_leaves_nothing_behind(station_stack: StationStack) -> None:
    s = station_stack
    s.start_sim("U1")
    s.start_sim("U2")
    s.start_sim("P1")
    station = s.build_station(handle_returns=False)
    s.control("U1", {"op": "offline"})
    s.control("U2", {"op": "offline"})
    s.wait(lambda: not station.lockers.view("U1").online and not station.lockers.view("U2").online,
           what="both umbrella lockers offline")

    with pytest.raises(LendingRefused) as exc:
        station.lending.borrow(s.member_code("M1"), "umbrella")

    assert exc.value.code == "locker_offline"
    assert lendings(s) == [] and open_intents(s) == 0


def test_locker_going_offline_after_the_door_opened_is_settled_when_it_returns(station_stack: StationStack) -> None:
    s = station_stack
    u1 = s.start_sim("U1", fill=1)
    s.start_sim("U2", fill=0)
    s.start_sim("P1")
    station = s.build_station(handle_returns=False)

    def shopper_walks_off_then_locker_drops() -> None:
        s.wait(lambda: any(sl.state == "open" for sl in u1.slots()), what="door open")
        s.control("U1", {"op": "offline"})

    threading.Thread(target=shopper_walks_off_then_locker_drops, daemon=True).start()
    with pytest.raises(LendingRefused) as exc:
        station.lending.borrow(s.member_code("M1"), "umbrella")
    assert exc.value.code == "locker_offline"
    assert lendings(s) == []

    s.control("U1", {"op": "online"})
    s.wait(lambda: station.lockers.view("U1").online, what="U1 back online")
    s.wait(lambda: (station.lending.periodic() or True) and open_intents(s) == 0, timeout=20,
           what="the intent to be settled")
    assert lendings(s) == []


def test_a_return_seen_before_its_borrow_committed_closes_the_lending(station_stack: StationStack) -> None:
    """An item_inserted for an item whose borrow is still waiting on a late ack: it left, then came back."""
    from drivers.locker.link import LockerEvent

    s = station_stack
    s.start_sim("U1", fill=1)
    s.start_sim("U2", fill=0)
    s.start_sim("P1")
    station = s.build_station(handle_returns=False)
    candidates, _ = station.lending.intents.candidates("umbrella", station.lending.min_battery)
    r = station.lending.intents.reserve(candidates, "M5", "umbrella")
    station.lending.intents.mark_opened(r.intent_id)

    result = station.lending.handle_insert(LockerEvent("U2", 99, s.clock(), "item_inserted", 1, r.item_id))

    assert result is not None and result.lending is not None
    assert (result.lending.member_id, result.lending.status) == ("M5", "returned")
    assert open_intents(s) == 0 and len(lendings(s)) == 1


def test_a_slow_ack_does_not_move_the_start_of_the_lending(station_stack: StationStack) -> None:
    """The lending starts when the item left, not when the late ack let the borrow go on."""
    s = station_stack
    u1 = s.start_sim("U1", fill=1, auto_take=0.05)
    s.start_sim("U2", fill=0)
    s.start_sim("P1")
    station = s.build_station(handle_returns=False)
    s.control("U1", {"op": "delay_acks", "ms": 1500})
    assert u1.firmware.delay_acks_s == 1.5

    before = s.clock()
    result = station.lending.borrow(s.member_code("M1"), "umbrella")
    after = s.clock()

    assert after - before >= 1.4  # the borrow did wait for the ack
    assert result.lending.started_at - before < 0.8, "dated from item_removed, not from the late ack"


def test_a_locker_lost_after_its_door_opened_never_makes_another_locker_open_for_the_same_shopper(
        station_stack: StationStack) -> None:
    s = station_stack
    u1 = s.start_sim("U1", fill=1)
    u2 = s.start_sim("U2", fill=1, auto_take=0.1)
    s.start_sim("P1")
    station = s.build_station(handle_returns=False)
    u2_item = u2.slots()[0].item

    def locker_drops_with_the_door_open() -> None:
        s.wait(lambda: any(sl.state == "open" for sl in u1.slots() + u2.slots()), what="a door open")
        opened = "U1" if any(sl.state == "open" for sl in u1.slots()) else "U2"
        s.control(opened, {"op": "offline"})

    threading.Thread(target=locker_drops_with_the_door_open, daemon=True).start()
    with pytest.raises(LendingRefused) as exc:
        station.lending.borrow(s.member_code("M1"), "umbrella")
    assert exc.value.code == "locker_offline"
    openings = sum(slot.opening for sim in (u1, u2) for slot in sim.firmware.slots)
    assert openings == 1, "exactly one door was opened for this shopper"
    assert u2.slots()[0].item == u2_item
