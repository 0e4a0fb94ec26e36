"""Protocol v1.1 on a real mosquitto: open of an empty door, door left open, tamper, fault codes, firmware in
status; seen raw (what the simulator publishes) and through the station's link. Old v1 lockers still work."""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from drivers.locker.client import SEQ_MAX_JUMP, MqttLockerLink
from drivers.locker.link import LockerEvent, Unsupported
from drivers.locker.models import PROTOCOL, parse_state, parse_status, topic
from drivers.locker.simulator import LockerSimulator

from .conftest import SITE, Observer, control, quick_profile, wait_until
from .test_simulator_protocol import cmd, is_ack, is_event

T = lambda leaf, lid="U1": topic(SITE, lid, leaf)  # noqa: E731


def next_event(stream: object, kind: str, timeout: float = 5.0) -> LockerEvent:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ev = stream.get(timeout=0.2)  # type: ignore[attr-defined]
        if ev is not None and ev.type == kind:
            return ev  # type: ignore[no-any-return]
    raise AssertionError(f"no {kind} event")


def test_open_empty_door_takes_a_deposit_under_its_cmd_id(make_sim: Callable[..., LockerSimulator],
                                                          observer: Callable[..., Observer]) -> None:
    sim = make_sim(fill=2)
    o = observer([T("ack"), T("event"), T("state")])
    c = cmd("open", 3)
    o.publish(T("cmd"), c)
    ack = o.wait_for(is_ack(c["cmd_id"]))
    assert (ack["ok"], ack["result"], ack["slot"]) == (True, "opened", 3), "open of an empty door is acked like unlock"
    assert o.wait_for(is_event("door_opened"))["cmd_id"] == c["cmd_id"]
    control(sim, o, {"op": "insert", "item": "B-BAG-1", "slot": 3})
    inserted = o.wait_for(is_event("item_inserted"))
    closed = o.wait_for(is_event("door_closed"))
    assert (inserted["slot"], inserted["item"], inserted["cmd_id"]) == (3, "B-BAG-1", c["cmd_id"])
    assert closed["seq"] > inserted["seq"]
    state = o.wait_for(lambda t, d: t.endswith("/state") and d["slots"][2]["state"] == "occupied")
    assert state["slots"][2]["item"] == "B-BAG-1"
    again = cmd("open", 1)  # slot 1 holds an item: `open` never shows what is inside
    o.publish(T("cmd"), again)
    refused = o.wait_for(is_ack(again["cmd_id"]))
    assert (refused["ok"], refused["result"]) == (False, "occupied")
    assert [s.state for s in sim.slots()][0] == "occupied"


def test_open_door_nobody_uses_closes_after_return_s(make_sim: Callable[..., LockerSimulator],
                                                     observer: Callable[..., Observer], tmp_path: Path) -> None:
    make_sim(profile=quick_profile(tmp_path, return_s=0.3), fill=0)
    o = observer([T("ack"), T("event")])
    c = cmd("open", 2)
    o.publish(T("cmd"), c)
    assert o.wait_for(is_ack(c["cmd_id"]))["result"] == "opened"
    closed = o.wait_for(is_event("door_closed"), timeout=3)
    assert closed["cmd_id"] == c["cmd_id"] and closed["slot"] == 2


def test_door_left_open_is_reported_then_cleared_when_closed(
        make_sim: Callable[..., LockerSimulator], make_link: Callable[..., MqttLockerLink],
        observer: Callable[..., Observer], tmp_path: Path) -> None:
    sim = make_sim(profile=quick_profile(tmp_path, door_open_s=0.4))
    link = make_link()
    o = observer([T("event")])
    control(sim, o, {"op": "hold_door", "slot": 2})
    with link.events() as events:
        ack = link.command("U1", "unlock", 2, cmd_id=str(uuid.uuid4()), ack_timeout=2)
        assert ack.result == "opened"
        control(sim, o, {"op": "take", "slot": 2})
        removed = next_event(events, "item_removed")
        left = next_event(events, "door_left_open", timeout=3)
        assert left.slot == 2 and left.cmd_id == ack.cmd_id and removed.seq < left.seq
        assert wait_until(lambda: link.view("U1").doors_left_open() == [2])  # type: ignore[union-attr]
        slot = link.view("U1").slot(2)  # type: ignore[union-attr]
        assert slot is not None and slot.state == "open" and slot.left_open
        control(sim, o, {"op": "close_door", "slot": 2})
        assert next_event(events, "door_closed").slot == 2
    assert wait_until(lambda: link.view("U1").doors_left_open() == [])  # type: ignore[union-attr]
    assert link.view("U1").slot(2).state == "empty"  # type: ignore[union-attr]


def test_tamper_door_opened_without_a_command(make_sim: Callable[..., LockerSimulator],
                                              make_link: Callable[..., MqttLockerLink],
                                              observer: Callable[..., Observer]) -> None:
    sim = make_sim()
    link = make_link()
    o = observer([])
    with link.events() as events:
        control(sim, o, {"op": "force_door", "slot": 3})
        tamper = next_event(events, "tamper")
        assert tamper.slot == 3 and tamper.cmd_id is None
        control(sim, o, {"op": "take", "slot": 3})
        removed = next_event(events, "item_removed")
        assert (removed.slot, removed.item, removed.cmd_id) == (3, "Q-U1-03", None), "no command took it"
    assert wait_until(lambda: link.view("U1").slot(3).state == "open")  # type: ignore[union-attr]
    assert link.view("U1").slot(3).taken_by is None  # type: ignore[union-attr]


def test_fault_codes_in_state_events_and_acks(make_sim: Callable[..., LockerSimulator],
                                              make_link: Callable[..., MqttLockerLink],
                                              observer: Callable[..., Observer]) -> None:
    sim = make_sim()
    link = make_link()
    o = observer([])
    with link.events() as events:
        control(sim, o, {"op": "fault", "slot": 1, "code": "rfid_unreadable"})
        ev = next_event(events, "fault")
        assert (ev.slot, ev.fault) == (1, "rfid_unreadable")
        control(sim, o, {"op": "jam_door", "slot": 2})
        ack = link.command("U1", "unlock", 2, cmd_id=str(uuid.uuid4()), ack_timeout=2)
        assert (ack.ok, ack.result) == (False, "fault")
        jam = next_event(events, "fault")
        assert (jam.slot, jam.fault, jam.cmd_id) == (2, "door_jammed", ack.cmd_id)
    link.command("U1", "disable", 4, cmd_id=str(uuid.uuid4()), ack_timeout=2)
    assert wait_until(lambda: link.view("U1").faults() == {1: "rfid_unreadable", 2: "door_jammed"})  # type: ignore[union-attr]
    assert wait_until(lambda: link.view("U1").slot(4).fault == "slot_disabled")  # type: ignore[union-attr]
    control(sim, o, {"op": "repair", "slot": 1})
    assert wait_until(lambda: link.view("U1").faults() == {2: "door_jammed"})  # type: ignore[union-attr]


def test_firmware_version_and_protocol_in_status(make_sim: Callable[..., LockerSimulator],
                                                 make_link: Callable[..., MqttLockerLink],
                                                 observer: Callable[..., Observer]) -> None:
    make_sim(fw="quick-0.9")
    late = observer([T("status")])
    status = parse_status(late.collect(0.5)[0][1])
    assert (status.fw, status.proto) == ("quick-0.9", PROTOCOL)
    view = make_link().view("U1")
    assert view is not None and (view.fw, view.proto, view.speaks_v11) == ("quick-0.9", "1.1", True)


def test_old_v1_locker_still_works(make_sim: Callable[..., LockerSimulator],
                                   make_link: Callable[..., MqttLockerLink],
                                   observer: Callable[..., Observer]) -> None:
    sim = make_sim(proto="1.0")
    o = observer([T("status"), T("state"), T("ack"), T("event")])
    raw = {t: p for t, p, _ in o.collect(0.5)}
    status, state = parse_status(raw[T("status")]), parse_state(raw[T("state")])
    assert status.proto is None and "proto" not in raw[T("status")].decode()
    assert all(s.fault is None and s.left_open is None for s in state.slots)
    c = cmd("open", 1)
    o.publish(T("cmd"), c)
    assert o.wait_for(is_ack(c["cmd_id"]))["result"] == "bad_request", "a v1 locker does not know `open`"
    link = make_link()
    view = link.view("U1")
    assert view is not None and not view.speaks_v11 and view.fw == "quick-0.1"
    before = link.stats().get("malformed", 0)
    with pytest.raises(Unsupported):  # refused before sending: nothing to reconcile afterwards
        link.command("U1", "open", 3, cmd_id=str(uuid.uuid4()), ack_timeout=1)
    with link.events() as events:
        ack = link.command("U1", "unlock", 2, cmd_id=str(uuid.uuid4()), ack_timeout=2)
        assert ack.result == "opened"
        control(sim, o, {"op": "take", "slot": 2})
        assert next_event(events, "item_removed").cmd_id == ack.cmd_id
        control(sim, o, {"op": "fault", "slot": 1, "code": "rfid_unreadable"})
        assert next_event(events, "fault").fault is None, "v1 carries no fault code"
    assert wait_until(lambda: link.view("U1").faults() == {1: "unknown"})  # type: ignore[union-attr]
    assert link.stats().get("malformed", 0) == before


def test_implausible_seq_does_not_freeze_the_view(make_sim: Callable[..., LockerSimulator],
                                                  make_link: Callable[..., MqttLockerLink],
                                                  observer: Callable[..., Observer]) -> None:
    sim = make_sim()
    link = make_link()
    o = observer([])
    seq = link.view("U1").seq  # type: ignore[union-attr]
    assert seq is not None
    flipped = parse_state(sim.firmware.state().message.to_bytes())  # type: ignore[union-attr]
    o.publish(T("state"), flipped.model_copy(update={"seq": 10**12}).to_bytes(), retain=True)
    assert wait_until(lambda: link.stats().get("seq_implausible", 0) >= 1)
    control(sim, o, {"op": "fault", "slot": 4, "code": "charging_fault"})  # a genuine change afterwards
    assert wait_until(lambda: link.view("U1").faults() == {4: "charging_fault"}), \
        "a genuine state after the bit-flipped seq is taken, not dropped as stale"
    assert link.view("U1").seq < 10**12 - SEQ_MAX_JUMP  # type: ignore[union-attr, operator]


def test_locker_reboots_mid_session_with_other_firmware(
        make_sim: Callable[..., LockerSimulator], make_link: Callable[..., MqttLockerLink],
        observer: Callable[..., Observer], broker: object, tmp_path: Path) -> None:
    """The door is open for a borrow when the locker loses power and comes back on v1 firmware: the station
    follows the new session and firmware, resynchronises its state and refuses what v1 cannot do."""
    state_file, journal = tmp_path / "flash.json", tmp_path / "journal.jsonl"
    profile = quick_profile(tmp_path)
    sim = make_sim(profile=profile, state_file=state_file, journal=journal)
    link = make_link()
    o = observer([])
    assert link.view("U1").fw == "quick-0.1"  # type: ignore[union-attr]
    ack = link.command("U1", "unlock", 2, cmd_id=str(uuid.uuid4()), ack_timeout=2)
    assert ack.result == "opened"
    control(sim, o, {"op": "offline"})  # power cut: no DISCONNECT, the broker sends the Will
    assert wait_until(lambda: not link.view("U1").online)  # type: ignore[union-attr]
    sim.stop()
    rebooted = make_sim(profile=profile, state_file=state_file, journal=journal, fw="quick-0.0-legacy",
                        proto="1.0")
    assert wait_until(lambda: (v := link.view("U1")) is not None and v.online and v.fw == "quick-0.0-legacy")
    view = link.refresh("U1", 5)
    assert (view.session, view.proto, view.speaks_v11) == (rebooted.session, None, False)
    assert link.stats().get("firmware_changes") == 1
    slot = view.slot(2)
    assert slot is not None and slot.state == "occupied" and slot.item == "Q-U1-02", \
        "the latch closed at the power cut with the item still inside"
    with pytest.raises(Unsupported):
        link.command("U1", "open", 3, cmd_id=str(uuid.uuid4()), ack_timeout=1)
    again = link.command("U1", "unlock", 2, cmd_id=str(uuid.uuid4()), ack_timeout=2)
    assert again.result == "opened"
    repeat = link.command("U1", "unlock", 2, cmd_id=ack.cmd_id, ack_timeout=2)
    assert (repeat.result, repeat.ok) == ("opened", True), "the rebooted locker kept its answer to the first cmd_id"
