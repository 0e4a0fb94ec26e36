"""The lending service on the in-memory locker link: the broker-based scenarios, in milliseconds."""
from __future__ import annotations

import pytest

from kiosk.services.errors import LendingRefused
from kiosk.services.lending import BorrowProgress
from tests.unit.services.conftest import World


def test_borrow_then_return_into_another_locker_with_late_fee(make_world) -> None:
    w: World = make_world({"U1": "umbrella", "U2": "umbrella"}, fill={"U2": 0}, auto_take={"U1": 0.2})
    before = w.clock.wall()
    result = w.lending.borrow(w.member("M10086"), "umbrella")

    lending = result.lending
    assert (lending.status, lending.locker_id) == ("open", "U1")
    assert lending.item_id not in [s.item for s in w.link.slots("U1")]
    assert lending.started_at == pytest.approx(before + 0.2), "when the shopper took it"
    assert w.tokens.verify_lending(result.return_token).lending_id == lending.lending_id

    w.clock.advance(3 * 3600)  # kept 3 h: 30 min free, then 3 started hours at 2 yuan
    back = w.put_back("U2", lending.item_id)

    assert back.lending is not None and back.lending.lending_id == lending.lending_id
    assert (back.locker_id, back.lending.status, back.fee_cents) == ("U2", "returned", 600)
    assert w.events() == ["lending.started", "lending.returned"]


def test_the_same_return_heard_twice_is_one_return(make_world) -> None:
    w: World = make_world({"U1": "umbrella"}, auto_take={"U1": 0})
    lending = w.lending.borrow(w.member("M1"), "umbrella").lending
    with w.link.events() as events:
        w.link.control("U1", {"op": "insert", "item": lending.item_id, "slot": lending.slot})
        ev = events.get(timeout=0)
    assert w.lending.on_locker_event(ev) is not None
    assert w.lending.on_locker_event(ev) is None  # QoS 1 may deliver it again
    assert w.events() == ["lending.started", "lending.returned"]


def test_power_bank_comes_out_charged_and_low_ones_never_leave(make_world) -> None:
    w: World = make_world({"P1": "power_bank"}, fill={"P1": 0}, auto_take={"P1": 0.1})
    w.link.control("P1", {"op": "insert", "item": "P-LOW1", "battery": 40, "slot": 1})
    w.link.control("P1", {"op": "insert", "item": "P-FULL", "battery": 95, "slot": 2})

    assert w.lending.availability("power_bank").best_battery == 95
    assert w.lending.borrow(w.member("M1"), "power_bank").lending.item_id == "P-FULL"
    with pytest.raises(LendingRefused) as exc:
        w.lending.borrow(w.member("M2"), "power_bank")
    assert exc.value.code == "none_available"
    assert [s.item for s in w.link.slots("P1") if s.item] == ["P-LOW1"]


def test_one_open_lending_per_member_and_type_and_overdue_first(make_world) -> None:
    w: World = make_world({"U1": "umbrella", "P1": "power_bank"}, auto_take={"U1": 0.1, "P1": 0.1})
    w.lending.borrow(w.member("M7"), "umbrella")
    with pytest.raises(LendingRefused) as exc:
        w.lending.borrow(w.member("M7"), "umbrella")
    assert exc.value.code == "limit_reached"
    assert w.lending.borrow(w.member("M7"), "power_bank").lending.item_type == "power_bank"

    w.clock.advance(25 * 3600)  # both are due after 24 h
    with pytest.raises(LendingRefused) as exc:
        w.lending.borrow(w.member("M7"), "power_bank")
    assert exc.value.code == "overdue"


def test_item_not_taken_closes_door_charges_nothing_and_slot_is_usable_again(make_world) -> None:
    w: World = make_world({"U1": "umbrella", "U2": "umbrella"}, fill={"U1": 1, "U2": 0})
    stages: list[BorrowProgress] = []
    with pytest.raises(LendingRefused) as exc:
        w.lending.borrow(w.member("M1"), "umbrella", progress=stages.append)

    assert exc.value.code == "not_taken"
    assert [p.stage for p in stages] == ["reserved", "unlocking", "door_open"]
    assert stages[-1].deadline_monotonic == pytest.approx(w.profiles["U1"].timeouts.take_s + 2.0)
    assert w.lendings() == [] and w.open_intents() == 0 and w.events() == []
    assert w.store.query("SELECT reason FROM intents")[0][0] == "item_not_taken"
    assert [s.state for s in w.link.slots("U1")][0] == "occupied"

    w.link.firmware["U1"].auto_take = 0.1  # now the shopper does take it
    again = w.lending.borrow(w.member("M1"), "umbrella", progress=stages.append)
    assert again.lending.slot == 1
    assert [p.stage for p in stages][-2:] == ["taken", "done"]


def test_lost_ack_is_retried_with_the_same_cmd_id_and_the_door_opens_once(make_world) -> None:
    w: World = make_world({"U1": "umbrella"}, fill={"U1": 1}, auto_take={"U1": 0.3})
    w.start()  # start (reconcile) before the locker starts losing acks
    w.link.control("U1", {"op": "drop_acks", "n": 1})

    with w.link.events() as events:
        result = w.lending.borrow(w.member("M1"), "umbrella")
        seen = []
        while (ev := events.get(timeout=0.3)) is not None:
            seen.append(ev)
    assert result.lending.slot == 1
    stats = w.link.firmware["U1"].counters
    assert stats["acks_dropped"] == 1 and stats["duplicates"] >= 1
    assert [ev.type for ev in seen].count("door_opened") == 1
    assert len(w.lendings()) == 1


def test_a_refusing_slot_is_left_for_another_and_the_shopper_gets_an_item(make_world) -> None:
    w: World = make_world({"U1": "umbrella"}, fill={"U1": 2}, auto_take={"U1": 0.1})
    w.link.control("U1", {"op": "jam_door", "slot": 1})  # slot 1 sorts first; its unlock answers fault

    result = w.lending.borrow(w.member("M1"), "umbrella")

    assert result.lending.slot == 2
    reasons = [r[0] for r in w.store.query("SELECT reason FROM intents ORDER BY created_at")]
    assert reasons == ["ack_fault", None]
    assert w.link.slots("U1")[0].state == "fault"


def test_every_slot_refusing_says_none_available(make_world) -> None:
    w: World = make_world({"U1": "umbrella"}, fill={"U1": 1})
    w.link.control("U1", {"op": "jam_door", "slot": 1})
    with pytest.raises(LendingRefused) as exc:
        w.lending.borrow(w.member("M1"), "umbrella")
    assert exc.value.code == "none_available"
    assert w.open_intents() == 0


def test_locker_offline_gives_a_clear_error_and_leaves_nothing_behind(world: World) -> None:
    world.start()
    world.link.control("U1", {"op": "offline"})
    world.link.control("U2", {"op": "offline"})
    assert not world.lending.availability("umbrella").lockers_online

    with pytest.raises(LendingRefused) as exc:
        world.lending.borrow(world.member("M1"), "umbrella")
    assert exc.value.code == "locker_offline"
    assert world.lendings() == [] and world.open_intents() == 0


def test_locker_going_offline_after_the_door_opened_is_settled_when_it_returns(make_world) -> None:
    w: World = make_world({"U1": "umbrella", "U2": "umbrella"}, fill={"U1": 1, "U2": 0})
    w.link.when(lambda ev: ev.type == "door_opened", lambda: w.link.control("U1", {"op": "offline"}))

    with pytest.raises(LendingRefused) as exc:
        w.lending.borrow(w.member("M1"), "umbrella")
    assert exc.value.code == "locker_offline"
    assert w.lendings() == [] and w.open_intents() == 1

    w.link.control("U1", {"op": "online"})
    w.lending.periodic()
    assert w.open_intents() == 0 and w.lendings() == []
    assert w.store.query("SELECT reason FROM intents")[0][0] == "item_not_taken"


def test_a_locker_lost_after_its_door_opened_never_makes_another_locker_open(make_world) -> None:
    w: World = make_world({"U1": "umbrella", "U2": "umbrella"}, fill={"U1": 1, "U2": 1}, auto_take={"U2": 0.1})
    w.link.when(lambda ev: ev.type == "door_opened",
                lambda: w.link.control("U1" if w.link.slots("U1")[0].state == "open" else "U2", {"op": "offline"}))
    u2_item = w.link.slots("U2")[0].item

    with pytest.raises(LendingRefused) as exc:
        w.lending.borrow(w.member("M1"), "umbrella")
    assert exc.value.code == "locker_offline"
    openings = sum(slot.opening for fw in w.link.firmware.values() for slot in fw.slots)
    assert openings == 1, "exactly one door was opened for this shopper"
    assert w.link.slots("U2")[0].item == u2_item


def test_no_answer_at_all_is_never_a_lending(make_world) -> None:
    w: World = make_world({"U1": "umbrella"}, fill={"U1": 1})
    w.start()
    w.link.control("U1", {"op": "drop_acks", "n": 3})  # the door opens, every answer to it is lost
    with pytest.raises(LendingRefused) as exc:
        w.lending.borrow(w.member("M1"), "umbrella")
    # the state settled it: the door closed on its take timeout with the umbrella inside
    assert exc.value.code == "no_answer"
    assert w.lendings() == [] and w.open_intents() == 0


def test_a_return_seen_before_its_borrow_committed_closes_the_lending(world: World) -> None:
    candidates, _ = world.lending.intents.candidates("umbrella", world.lending.min_battery)
    r = world.lending.intents.reserve(candidates, "M5", "umbrella")
    world.lending.intents.mark_opened(r.intent_id)

    result = world.put_back("U2", r.item_id, slot=1)

    assert result is not None and result.lending is not None
    assert (result.lending.member_id, result.lending.status) == ("M5", "returned")
    assert world.open_intents() == 0 and len(world.lendings()) == 1


def test_a_slow_ack_does_not_move_the_start_of_the_lending(make_world) -> None:
    w: World = make_world({"U1": "umbrella"}, fill={"U1": 1}, auto_take={"U1": 0.05})
    w.start()
    w.link.control("U1", {"op": "delay_acks", "ms": 1500})

    before = w.clock.wall()
    result = w.lending.borrow(w.member("M1"), "umbrella")
    after = w.clock.wall()

    assert after - before >= 1.5  # the borrow did wait for the ack (resends answered from memory)
    assert result.lending.started_at - before == pytest.approx(0.05), "dated from item_removed, not the late ack"


def test_a_crashed_borrow_is_settled_once_from_taken_by(world: World) -> None:
    """The sender died after its unlock: the item left and came back; the state's taken_by tells."""
    candidates, _ = world.lending.intents.candidates("umbrella", world.lending.min_battery)
    r = world.lending.intents.reserve(candidates, "M9", "umbrella")
    world.link.command(r.locker_id, "unlock", r.slot, cmd_id=r.cmd_id, ack_timeout=2)
    world.link.control(r.locker_id, {"op": "take", "slot": r.slot})
    world.link.control(r.locker_id, {"op": "insert", "item": r.item_id, "slot": r.slot})  # heard by nobody

    assert world.lending.intents.reconcile(startup=True) == 0
    assert world.lending.intents.reconcile(startup=True) == 0
    assert [(row["item_id"], row["status"]) for row in world.lendings()] == [(r.item_id, "open")]
    world.lending.periodic()
    world.lending.periodic()  # two passes see it back in its slot: that is its return
    assert [(row["item_id"], row["status"]) for row in world.lendings()] == [(r.item_id, "returned")]
    assert world.events() == ["lending.started", "lending.returned"]


def test_a_crashed_borrow_whose_item_stayed_is_cancelled_after_the_command_expired(world: World) -> None:
    candidates, _ = world.lending.intents.candidates("umbrella", world.lending.min_battery)
    r = world.lending.intents.reserve(candidates, "M9", "umbrella")
    world.link.command(r.locker_id, "unlock", r.slot, cmd_id=r.cmd_id, ack_timeout=2)

    assert world.lending.intents.reconcile(startup=True) == 0  # waits out the take timeout and the ttl
    assert world.lendings() == []
    assert [tuple(row) for row in world.store.query("SELECT state, reason FROM intents")] == [
        ("cancelled", "item_not_taken")]


def test_power_banks_kept_a_week_count_as_bought(make_world) -> None:
    w: World = make_world({"P1": "power_bank"}, auto_take={"P1": 0})
    lending = w.lending.borrow(w.member("M3"), "power_bank").lending
    w.clock.advance(6 * 86_400)
    assert w.lending.settle_bought() == 0
    w.clock.advance(86_400)
    assert w.lending.settle_bought() == 1
    bought = w.store.outbox_pending()[-1]
    assert (bought.type, bought.data) == ("lending.bought", {"lending_id": lending.lending_id,
                                                             "item_id": lending.item_id, "member_id": "M3",
                                                             "price_cents": 9900})
    assert w.lending.lendings()[0].status == "bought"


def test_stroller_is_borrowed_like_an_umbrella(make_world) -> None:
    w: World = make_world({"T1": "stroller"}, auto_take={"T1": 0.2})
    result = w.lending.borrow(w.member("M10001"), "stroller")
    assert result.lending.item_type == "stroller" and result.lending.item_id.startswith("T-")
    assert result.lending.item_id not in [s.item for s in w.link.slots("T1")]
    assert result.lending.due_at - result.lending.started_at == pytest.approx(4 * 3600)


def test_an_item_type_the_station_does_not_lend_is_refused(world: World) -> None:
    with pytest.raises(LendingRefused) as exc:
        world.lending.borrow(world.member("M1"), "storage")
    assert exc.value.code == "not_offered"


def test_an_intent_whose_command_may_still_arrive_is_left_open_until_it_expired(world: World) -> None:
    """Written, then the sender died before (or while) sending: the item is still there, but the command
    could still reach the locker within its ttl, so only an expired intent is cancelled."""
    candidates, _ = world.lending.intents.candidates("umbrella", world.lending.min_battery)
    r = world.lending.intents.reserve(candidates, "M9", "umbrella")

    assert world.lending.intents.reconcile(startup=False) == 1
    world.clock.advance(world.profiles["U1"].timeouts.ack_s * 4 + 1.5)
    assert world.lending.intents.reconcile(startup=False) == 0
    assert world.lending.intents.row(r.intent_id)["reason"] == "item_not_taken"


def test_a_return_heard_after_the_item_was_lent_again_does_not_close_the_new_lending(make_world) -> None:
    """An item from another station goes into our locker; before our listener handles that insert, a shopper
    here borrows it. The late insert is the item's earlier return (for the centre to pair), not the return of
    the lending just made (the bounded soak's residue: a lending closed before it started, the next one left
    open with the item back)."""
    w: World = make_world({"U1": "umbrella"}, fill={"U1": 0}, auto_take={"U1": 0.2})
    w.start()
    with w.link.events() as events:
        w.link.control("U1", {"op": "insert", "item": "U-K02-07", "slot": 4})  # returned here from K02
        late = events.get(timeout=0)
    assert late is not None and late.type == "item_inserted"
    w.clock.advance(1)
    lending = w.lending.borrow(w.member("M2"), "umbrella").lending  # lends it before the insert is handled
    assert lending.item_id == "U-K02-07"

    assert w.lending.on_locker_event(late).lending is None  # the earlier (K02) lending's return, no lending here
    [row] = w.lendings()
    assert (row["lending_id"], row["status"]) == (lending.lending_id, "open"), "the new lending stays open"
    assert w.store.query("SELECT status FROM items WHERE item_id='U-K02-07'")[0][0] == "lent"
    assert w.events() == ["lending.started", "lending.returned"]


def test_another_stations_item_put_back_while_we_were_down_is_reported_as_a_return(make_world) -> None:
    """A cross-station return this station never heard (it was down) used to stay unknown for good, leaving the
    other station's lending open at the centre. The stock found at first sight is not a return."""
    w: World = make_world({"U1": "umbrella", "U2": "umbrella"}, fill={"U2": 0})
    w.start()
    w.lending.periodic()
    w.lending.periodic()
    assert w.events() == [], "the stock of U1 is recorded silently"
    w.link.control("U2", {"op": "insert", "item": "U-K02-05", "slot": 3})  # nobody here hears its event
    w.lending.periodic()
    w.lending.periodic()  # seen on two passes in a row: a return
    assert w.events() == ["lending.returned"]
    [event] = w.store.outbox_pending()
    assert (event.data["item_id"], event.data["lending_id"], event.data["locker_id"]) == ("U-K02-05", None, "U2")
    w.lending.periodic()
    assert w.events() == ["lending.returned"], "reported once"


def test_an_unknown_item_being_borrowed_is_not_taken_for_a_return_by_housekeeping(make_world) -> None:
    """Another station's umbrella put back here unheard is lendable; a shopper took it between housekeeping's two
    sightings. The second sighting, while the borrow's door was opening, was taken for that item's return: it
    committed the borrow before the door opened and closed it at once (fee 0, returned at its start) while the
    shopper walked away with the umbrella."""
    w: World = make_world({"U1": "umbrella"}, fill={"U1": 0}, auto_take={"U1": 0.2})
    w.start()
    w.lending.periodic()  # the (empty) stock of U1 is recorded
    w.link.control("U1", {"op": "insert", "item": "U-K02-05", "slot": 3})  # nobody here hears its event
    w.lending.periodic()  # first sighting
    w.clock.advance(2)

    def housekeeping_meanwhile(p: BorrowProgress) -> None:
        if p.stage == "unlocking":  # intent written, door not open yet: the umbrella still in its slot
            w.lending.periodic()

    lending = w.lending.borrow(w.member("M2"), "umbrella", progress=housekeeping_meanwhile).lending
    assert lending.item_id == "U-K02-05"
    [row] = w.lendings()
    assert (row["status"], row["returned_at"]) == ("open", None), "the borrow is open, its item out"
    assert w.store.query("SELECT status FROM items WHERE item_id='U-K02-05'")[0][0] == "lent"
    w.lending.periodic()
    w.lending.periodic()
    assert w.events() == ["lending.started"], "no return is made up afterwards either"
