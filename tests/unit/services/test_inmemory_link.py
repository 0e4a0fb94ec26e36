"""The in-memory locker link keeps the LockerLink promises the services rely on (as MqttLockerLink does)."""
from __future__ import annotations

import pytest

from drivers.locker.link import LockerError, LockerOffline, OutcomeUnknown
from drivers.locker.models import ProtocolError
from tests.unit.services.conftest import World


def test_an_ack_is_the_only_success_and_a_resend_moves_nothing(make_world) -> None:
    w: World = make_world({"U1": "umbrella"})
    ack = w.link.command("U1", "unlock", 1, cmd_id="a-1", ack_timeout=2)
    assert (ack.ok, ack.result) == (True, "opened")
    again = w.link.command("U1", "unlock", 1, cmd_id="a-1", ack_timeout=2)
    assert (again.result, w.link.firmware["U1"].counters["duplicates"]) == ("opened", 1)
    assert sum(s.opening for s in w.link.firmware["U1"].slots) == 1


def test_silence_is_outcome_unknown_after_the_resends_never_success(make_world) -> None:
    w: World = make_world({"U1": "umbrella"})
    w.link.control("U1", {"op": "drop_acks", "n": 3})
    with pytest.raises(OutcomeUnknown):
        w.link.command("U1", "unlock", 1, cmd_id="a-2", ack_timeout=2, retries=2)
    assert w.clock.monotonic() == pytest.approx(6.0)  # three waits of ack_timeout, in virtual time
    assert w.link.stats()["resends"] == 2
    assert w.link.slots("U1")[0].state == "open"  # the door did open: only the state can tell


def test_offline_is_refused_up_front_and_a_locker_dropping_mid_command_is_unknown(make_world) -> None:
    w: World = make_world({"U1": "umbrella"})
    w.link.control("U1", {"op": "offline", "seconds": 5})
    with pytest.raises(LockerOffline):
        w.link.command("U1", "unlock", 1, cmd_id="a-3", ack_timeout=2)
    assert w.link.view("U1").online is False
    w.clock.advance(5)
    assert w.link.view("U1").online is True  # came back by itself, with its retained state
    w.link.control("U1", {"op": "delay_acks", "ms": 3000})
    w.link.when(lambda ev: ev.type == "door_opened", lambda: w.link.control("U1", {"op": "offline"}))
    with pytest.raises(OutcomeUnknown, match="went offline"):
        w.link.command("U1", "unlock", 2, cmd_id="a-4", ack_timeout=5)


def test_events_stream_from_when_it_was_opened_and_state_follows(make_world) -> None:
    w: World = make_world({"U1": "umbrella"}, fill={"U1": 0})
    w.link.control("U1", {"op": "insert", "item": "U-EARLY", "slot": 1})
    with w.link.events() as events:
        w.link.control("U1", {"op": "insert", "item": "U-LATE", "slot": 2})
        ev = events.get(timeout=1)
        assert ev is not None and (ev.type, ev.item, ev.slot) == ("item_inserted", "U-LATE", 2)
        assert events.get(timeout=1) is None
    view = w.link.refresh("U1", timeout=2)
    assert [s.item for s in view.slots[:2]] == ["U-EARLY", "U-LATE"]
    assert view.seq == w.link.firmware["U1"].seq


def test_a_door_left_open_closes_on_the_profile_timeout_in_virtual_time(make_world) -> None:
    w: World = make_world({"U1": "umbrella"})
    take_s = w.profiles["U1"].timeouts.take_s
    with w.link.events() as events:
        w.link.command("U1", "unlock", 1, cmd_id="a-5", ack_timeout=2)
        assert [events.get(0).type] == ["door_opened"]  # type: ignore[union-attr]
        closed = events.get(timeout=take_s + 1)
    assert closed is not None and closed.type == "door_closed" and w.clock.monotonic() == take_s
    assert w.link.view("U1").slot(1).state == "occupied"  # type: ignore[union-attr]


def test_bad_commands_are_refused_like_on_the_wire(make_world) -> None:
    w: World = make_world({"U1": "umbrella"})
    with pytest.raises(ProtocolError):
        w.link.command("U1", "unlock", 1, cmd_id="not a valid id!", ack_timeout=2)
    with pytest.raises(LockerError):
        w.link.command("X9", "unlock", 1, cmd_id="a-6", ack_timeout=2)
    w.link.close()
    with pytest.raises(LockerOffline):
        w.link.command("U1", "unlock", 1, cmd_id="a-7", ack_timeout=2)
    assert w.link.view("U1").online is False  # type: ignore[union-attr]
