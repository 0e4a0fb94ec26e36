"""The simulator speaks protocol v1 as a real locker would, seen from a plain MQTT client."""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drivers.locker.models import control_topic, parse_state, parse_status, topic
from drivers.locker.simulator import LockerSimulator

from .conftest import SITE, Observer, control, quick_profile

T = lambda leaf, lid="U1": topic(SITE, lid, leaf)  # noqa: E731


def cmd(op: str, slot: int | None = None, cmd_id: str | None = None, ttl: float = 10) -> dict[str, Any]:
    body: dict[str, Any] = {"cmd_id": cmd_id or str(uuid.uuid4()), "op": op, "expires_at": time.time() + ttl}
    if slot is not None:
        body["slot"] = slot
    return body


def is_ack(cmd_id: str) -> Callable[[str, dict[str, Any]], bool]:
    return lambda t, d: t.endswith("/ack") and d.get("cmd_id") == cmd_id


def is_event(kind: str) -> Callable[[str, dict[str, Any]], bool]:
    return lambda t, d: t.endswith("/event") and d.get("type") == kind


def test_retained_status_and_state_with_session(make_sim: Callable[..., LockerSimulator],
                                                observer: Callable[..., Observer]) -> None:
    sim = make_sim(fill=2)
    late = observer([T("status"), T("state")])  # subscribes after the locker: only retained copies arrive
    got = {t: (p, r) for t, p, r in late.collect(0.5)}
    status = parse_status(got[T("status")][0])
    state = parse_state(got[T("state")][0])
    assert got[T("status")][1] and got[T("state")][1], "status and state must be retained"
    assert status.online and status.session == sim.session and status.model == "QUICK-4"
    assert [s.state for s in state.slots] == ["occupied", "occupied", "empty", "empty"]
    assert [s.item for s in state.slots][:2] == ["Q-U1-01", "Q-U1-02"]


def test_unlock_take_closes_empty(make_sim: Callable[..., LockerSimulator],
                                  observer: Callable[..., Observer]) -> None:
    make_sim()
    o = observer([T("ack"), T("event"), T("state")])
    c = cmd("unlock", 2)
    o.publish(T("cmd"), c)
    ack = o.wait_for(is_ack(c["cmd_id"]))
    assert (ack["ok"], ack["result"], ack["slot"]) == (True, "opened", 2)
    opened = o.wait_for(is_event("door_opened"))
    assert opened["cmd_id"] == c["cmd_id"] and opened["slot"] == 2
    o.publish(control_topic(SITE, "U1"), {"op": "take", "slot": 2})
    removed = o.wait_for(is_event("item_removed"))
    closed = o.wait_for(is_event("door_closed"))
    assert (removed["item"], removed["cmd_id"]) == ("Q-U1-02", c["cmd_id"])
    assert closed["seq"] > removed["seq"] > opened["seq"]
    state = o.wait_for(lambda t, d: t.endswith("/state") and d["seq"] > closed["seq"])
    assert state["slots"][1] == {"slot": 2, "state": "empty", "taken_by": c["cmd_id"]}


def test_not_taken_closes_and_slot_stays_occupied(make_sim: Callable[..., LockerSimulator],
                                                  observer: Callable[..., Observer], tmp_path: Path) -> None:
    sim = make_sim(profile=quick_profile(tmp_path, take_s=0.6))
    o = observer([T("ack"), T("event")])
    c = cmd("unlock", 1)
    o.publish(T("cmd"), c)
    assert o.wait_for(is_ack(c["cmd_id"]))["result"] == "opened"
    assert sim.slots()[0].state == "open"
    closed = o.wait_for(is_event("door_closed"), timeout=5)
    assert closed["cmd_id"] == c["cmd_id"]
    assert sim.slots()[0].state == "occupied" and sim.slots()[0].item == "Q-U1-01"
    again = cmd("unlock", 1)
    o.publish(T("cmd"), again)
    assert o.wait_for(is_ack(again["cmd_id"]))["result"] == "opened", "slot usable again"


def test_refusals_empty_busy_fault_expired(make_sim: Callable[..., LockerSimulator],
                                           observer: Callable[..., Observer]) -> None:
    sim = make_sim(fill=2)
    o = observer([T("ack")])
    control(sim, o, {"op": "fault", "slot": 2})
    cases = [(cmd("unlock", 3), "empty"), (cmd("unlock", 1), "opened"), (cmd("unlock", 1), "busy"),
             (cmd("unlock", 2), "fault"), (cmd("unlock", 1, ttl=-5), "expired")]
    for body, expected in cases:
        o.publish(T("cmd"), body)
        ack = o.wait_for(is_ack(body["cmd_id"]))
        assert ack["result"] == expected, body
        assert ack["ok"] is (expected == "opened")


def test_repeated_cmd_id_gets_first_answer_and_moves_nothing(make_sim: Callable[..., LockerSimulator],
                                                             observer: Callable[..., Observer]) -> None:
    sim = make_sim()
    o = observer([T("ack"), T("event")])
    c = cmd("unlock", 1)
    o.publish(T("cmd"), c)
    first = o.wait_for(is_ack(c["cmd_id"]))
    o.publish(control_topic(SITE, "U1"), {"op": "take", "slot": 1})
    o.wait_for(is_event("door_closed"))
    o.publish(T("cmd"), c)  # the same command again, e.g. a resend after a lost ack
    second = o.wait_for(is_ack(c["cmd_id"]))
    assert second == first
    later = [parse for t, parse, _ in o.collect(0.3) if t.endswith("/event")]
    assert later == [], "a duplicate must not open a door"
    assert sim.stats()["duplicates"] == 1


def test_insert_and_query(make_sim: Callable[..., LockerSimulator], observer: Callable[..., Observer],
                          tmp_path: Path) -> None:
    make_sim("P1", profile=quick_profile(tmp_path, power_bank=True), fill=1)
    o = observer([T("ack", "P1"), T("event", "P1"), T("state", "P1")])
    o.publish(control_topic(SITE, "P1"), {"op": "insert", "item": "P-RET-1", "battery": 42})
    ins = o.wait_for(is_event("item_inserted"))
    assert (ins["slot"], ins["item"], ins["battery"]) == (2, "P-RET-1", 42)
    q = cmd("query")
    o.publish(T("cmd", "P1"), q)
    ack = o.wait_for(is_ack(q["cmd_id"]))
    assert (ack["ok"], ack["result"]) == (True, "ok")
    state = o.wait_for(lambda t, d: t.endswith("/state") and d["seq"] > ins["seq"])
    assert state["slots"][1] == {"slot": 2, "state": "occupied", "item": "P-RET-1", "battery": 42,
                                 "charging": True}


def test_bad_request_with_cmd_id_and_jammed_door(make_sim: Callable[..., LockerSimulator],
                                                 observer: Callable[..., Observer]) -> None:
    sim = make_sim()
    o = observer([T("ack"), T("event")])
    bad = {"cmd_id": "bad-1", "op": "unlock", "slot": 99, "expires_at": time.time() + 5}
    o.publish(T("cmd"), bad)
    assert o.wait_for(is_ack("bad-1"))["result"] == "bad_request"
    control(sim, o, {"op": "jam_door", "slot": 4})
    c = cmd("unlock", 4)
    o.publish(T("cmd"), c)
    assert o.wait_for(is_ack(c["cmd_id"]))["result"] == "fault"
    assert o.wait_for(is_event("fault"))["slot"] == 4
    assert sim.slots()[3].state == "fault"
