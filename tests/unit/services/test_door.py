"""The door use case on its own: command -> wait for the item -> settle from state, for either direction."""
from __future__ import annotations

from drivers.locker.link import LockerView
from kiosk.services.decisions import deposit_verdict, pickup_verdict
from kiosk.services.door import DoorJob, Verdict
from tests.unit.services.conftest import World


def test_an_opened_door_whose_item_leaves_is_moved_with_the_event(make_world) -> None:
    w: World = make_world({"U1": "umbrella"}, auto_take={"U1": 0.4})
    waited: list[tuple[str, float]] = []
    job = DoorJob.for_profile(w.profiles["U1"], "U1", 3, "leave", cmd_id="c-1")
    outcome = w.door.run(job, judge=lambda view: "unknown", on_waiting=lambda s, d: waited.append((s, d)))
    assert (outcome.ack_status, outcome.seen, outcome.verdict) == ("opened", "moved", "moved")
    assert outcome.event is not None and (outcome.event.item, outcome.event.cmd_id) == ("U-U1-03", "c-1")
    assert waited == [("opened", w.profiles["U1"].timeouts.take_s + 2.0)]
    assert w.clock.monotonic() == 0.4  # it returned when the item left, not at the deadline


def test_a_refused_command_returns_at_once_and_moved_nothing(make_world) -> None:
    w: World = make_world({"U1": "umbrella"}, fill={"U1": 0})
    outcome = w.door.run(DoorJob.for_profile(w.profiles["U1"], "U1", 1, "leave", cmd_id="c-2"),
                         judge=lambda view: "moved")
    assert (outcome.ack_status, outcome.verdict) == ("refused", "stayed")
    assert outcome.ack is not None and outcome.ack.result == "empty"
    assert w.clock.monotonic() == 0.0


def test_an_offline_locker_is_refused_up_front(make_world) -> None:
    w: World = make_world({"U1": "umbrella"})
    w.link.control("U1", {"op": "offline"})
    outcome = w.door.run(DoorJob.for_profile(w.profiles["U1"], "U1", 1, "leave", cmd_id="c-3"),
                         judge=lambda view: "moved")
    assert (outcome.ack_status, outcome.verdict) == ("offline", "stayed")
    assert w.link.firmware["U1"].counters.get("commands", 0) == 0


def test_a_door_closed_with_the_item_inside_is_judged_by_the_state(make_world) -> None:
    w: World = make_world({"U1": "umbrella"})
    judged: list[LockerView | None] = []

    def judge(view: LockerView | None) -> Verdict:
        judged.append(view)
        return "stayed" if view and view.slot(2) and view.slot(2).state == "occupied" else "unknown"

    outcome = w.door.run(DoorJob.for_profile(w.profiles["U1"], "U1", 2, "leave", cmd_id="c-4"), judge=judge)
    assert (outcome.seen, outcome.verdict) == ("closed", "stayed")
    assert len(judged) == 1 and judged[0] is not None and judged[0].online


def test_waiting_for_an_item_to_arrive_without_a_command(make_world) -> None:
    """A v1 deposit: nothing is sent, the shopper's bag arrives in the named slot."""
    w: World = make_world({"S1": "storage"}, fill={"S1": 0})
    with w.door.watch() as watch:
        w.link.control("S1", {"op": "insert", "item": "BAG-1", "slot": 4})  # another slot: not ours
        w.link.control("S1", {"op": "insert", "item": "BAG-2", "slot": 5})
        outcome = watch.open(DoorJob("S1", 5, "arrive", wait_s=30))
    assert (outcome.ack_status, outcome.seen, outcome.event.item if outcome.event else None) == (
        "none", "moved", "BAG-2")
    assert w.link.firmware["S1"].counters.get("commands", 0) == 0


def test_a_lost_ack_with_the_door_seen_opening_is_proof(make_world) -> None:
    w: World = make_world({"S1": "storage"}, fill={"S1": 1})
    w.link.control("S1", {"op": "drop_acks", "n": 3})
    with w.door.watch() as watch:
        outcome = watch.open(DoorJob.for_profile(w.profiles["S1"], "S1", 1, "leave", cmd_id="c-5"))
    assert (outcome.ack_status, outcome.door_opened, outcome.seen) == ("unknown", True, "closed")


def test_settle_falls_back_to_the_last_state_when_the_locker_does_not_answer(make_world) -> None:
    w: World = make_world({"S1": "storage"}, fill={"S1": 0})
    w.link.control("S1", {"op": "insert", "item": "BAG-1", "slot": 1})
    w.link.control("S1", {"op": "drop_acks", "n": 10})  # the query is never answered
    assert w.door.settle("S1", lambda view: deposit_verdict(view, 1), wait_s=5) == "moved"
    assert w.door.settle("S1", lambda view: pickup_verdict(view, 1), wait_s=5) == "unknown"
    assert w.clock.monotonic() >= 5  # it kept asking until wait_s was over


def test_a_v11_open_of_an_empty_door_waits_for_the_item_to_arrive(make_world) -> None:
    """The same use case with `op="open"`, `expect="arrive"`: a deposit (or a staff 'open slot') on v1.1."""
    w: World = make_world({"S1": "storage"}, fill={"S1": 0})
    job = DoorJob.for_profile(w.profiles["S1"], "S1", 2, "arrive", cmd_id="o-1", op="open",
                              wait_s=w.profiles["S1"].timeouts.return_s)
    w.link.when(lambda ev: ev.type == "door_opened",
                lambda: w.link.control("S1", {"op": "insert", "item": "BAG-9", "slot": 2}))
    outcome = w.door.run(job, judge=lambda view: deposit_verdict(view, 2))
    assert (outcome.ack_status, outcome.seen, outcome.verdict) == ("opened", "moved", "moved")
    assert outcome.event is not None and outcome.event.cmd_id == "o-1"

    refused = w.door.run(DoorJob.for_profile(w.profiles["S1"], "S1", 2, "arrive", cmd_id="o-2", op="open"),
                         judge=lambda view: deposit_verdict(view, 2))
    assert refused.ack is not None and (refused.ack_status, refused.ack.result) == ("refused", "occupied")
