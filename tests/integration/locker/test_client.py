"""MqttLockerLink against the simulator on a real mosquitto: retries, offline/online, seq gaps, reconnects."""
from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from drivers.locker.broker import Mosquitto
from drivers.locker.client import MqttLockerLink
from drivers.locker.link import LockerError, LockerOffline, OutcomeUnknown
from drivers.locker.models import Status, control_topic, topic
from drivers.locker.simulator import LockerSimulator

from .conftest import SITE, Observer, control, quick_profile, wait_until

SimFactory = Callable[..., LockerSimulator]
LinkFactory = Callable[..., MqttLockerLink]



def new_id() -> str:
    return str(uuid.uuid4())


def test_lost_ack_is_resent_with_same_cmd_id_and_door_opens_once(
        make_sim: SimFactory, make_link: LinkFactory, observer: Callable[..., Observer]) -> None:
    sim = make_sim()
    link = make_link()
    control(sim, observer([]), {"op": "drop_acks", "n": 1})
    cmd_id = new_id()
    with link.events() as events:
        ack = link.command("U1", "unlock", 3, cmd_id=cmd_id, ack_timeout=0.5, retries=3)
        assert (ack.ok, ack.result, ack.cmd_id) == (True, "opened", cmd_id)
        opened = [e for e in iter(lambda: events.get(0.3), None) if e.type == "door_opened"]
    assert [e.cmd_id for e in opened] == [cmd_id], "the door opened exactly once"
    resends = link.stats()["resends"]
    assert resends >= 1
    assert sim.stats()["duplicates"] == resends and sim.stats()["acks_dropped"] == 1


def test_no_answer_at_all_is_outcome_unknown_never_success(
        make_sim: SimFactory, make_link: LinkFactory, observer: Callable[..., Observer], tmp_path: Path) -> None:
    sim = make_sim(profile=quick_profile(tmp_path, take_s=30))
    link = make_link()
    control(sim, observer([]), {"op": "drop_acks", "n": 3})
    with pytest.raises(OutcomeUnknown):
        link.command("U1", "unlock", 1, cmd_id=new_id(), ack_timeout=0.2, retries=2)
    assert wait_until(lambda: link.view("U1").slot(1).state == "open"), "the door did open: reconcile from state"
    assert wait_until(lambda: sim.stats().get("acks_dropped") == 3)


def test_offline_by_will_then_online_with_a_newer_session(
        make_sim: SimFactory, make_link: LinkFactory, observer: Callable[..., Observer]) -> None:
    sim = make_sim()
    link = make_link()
    first_session = link.view("U1").session
    ctl = observer([])
    ctl.publish(control_topic(SITE, "U1"), {"op": "offline"})
    assert wait_until(lambda: not link.view("U1").online), "the Will must mark the locker offline"
    with pytest.raises(LockerOffline):
        link.command("U1", "unlock", 1, cmd_id=new_id(), ack_timeout=0.5)
    ctl.publish(control_topic(SITE, "U1"), {"op": "online"})
    assert wait_until(lambda: link.view("U1").online)
    assert link.view("U1").session > first_session
    assert link.command("U1", "unlock", 1, cmd_id=new_id(), ack_timeout=1).result == "opened"
    assert sim.online


def test_late_will_of_an_old_session_does_not_mark_locker_offline(
        make_sim: SimFactory, make_link: LinkFactory, observer: Callable[..., Observer]) -> None:
    sim = make_sim()
    link = make_link()
    stale = Status(online=False, session=sim.session - 1)
    observer([]).publish(topic(SITE, "U1", "status"), stale.to_bytes(), retain=True)
    late = observer([topic(SITE, "U1", "status")])
    healed = late.wait_for(lambda t, d: d.get("online") is True and d["session"] == sim.session)
    assert healed["session"] == sim.session, "the locker re-announces itself over the stale retained Will"
    assert wait_until(lambda: link.stats().get("stale_status", 0) >= 1), "the late Will was seen and ignored"
    assert link.view("U1").online


def test_offline_mid_command_is_outcome_unknown_quickly(
        make_sim: SimFactory, make_link: LinkFactory, observer: Callable[..., Observer]) -> None:
    sim = make_sim()
    link = make_link()
    ctl = observer([])
    control(sim, ctl, {"op": "delay_acks", "ms": 3000})
    ctl.publish(control_topic(SITE, "U1"), {"op": "offline", "seconds": 0.5})
    # the offline control and the command race; either way the answer is a clear locker error, not success
    started = time.monotonic()
    with pytest.raises((OutcomeUnknown, LockerOffline)):
        link.command("U1", "unlock", 1, cmd_id=new_id(), ack_timeout=2.0, retries=1)
    assert time.monotonic() - started < 4.0


def test_seq_gap_triggers_query_and_fresh_state(
        make_sim: SimFactory, make_link: LinkFactory, observer: Callable[..., Observer]) -> None:
    sim = make_sim()
    link = make_link()
    before = link.view("U1").seq
    ctl = observer([])
    ctl.publish(control_topic(SITE, "U1"), {"op": "skip_seq", "n": 5})  # five messages lost on the way
    ctl.publish(control_topic(SITE, "U1"), {"op": "take", "slot": 9})  # refused, no publication
    ctl.publish(control_topic(SITE, "U1"), {"op": "fault", "slot": 4})  # event + state after the gap
    assert wait_until(lambda: link.stats().get("seq_gaps", 0) >= 1)
    assert wait_until(lambda: link.view("U1").seq >= before + 8), "the re-query brought a newer state"
    assert link.view("U1").slot(4).state == "fault"
    assert sim.stats()["commands"] >= 1, "the link sent a query"


def test_events_stream_starts_when_opened(make_sim: SimFactory, make_link: LinkFactory) -> None:
    make_sim(auto_take=0)
    link = make_link()
    link.command("U1", "unlock", 1, cmd_id=new_id(), ack_timeout=1)
    time.sleep(0.3)
    with link.events() as events:
        link.command("U1", "unlock", 2, cmd_id=new_id(), ack_timeout=1)
        got = [(e.type, e.slot) for e in iter(lambda: events.get(0.5), None)]
    assert got == [("door_opened", 2), ("item_removed", 2), ("door_closed", 2)]
    assert link.view("U1").slot(2).state == "empty"


def test_refresh_returns_newer_state(make_sim: SimFactory, make_link: LinkFactory) -> None:
    make_sim()
    link = make_link()
    before = link.view("U1").seq
    assert link.refresh("U1", 2).seq > before


def test_reconnects_and_resubscribes_after_broker_restart(
        broker: Mosquitto, make_sim: SimFactory, make_link: LinkFactory) -> None:
    make_sim()
    link = make_link()
    broker.restart()  # same port; retained messages are gone (persistence off), clients must come back
    assert wait_until(lambda: link.stats().get("reconnects", 0) >= 1, timeout=15)
    assert wait_until(lambda: link.view("U1") is not None and link.view("U1").online, timeout=15)
    assert link.command("U1", "unlock", 2, cmd_id=new_id(), ack_timeout=1).result == "opened"


def test_unknown_or_silent_locker_refused_up_front(make_sim: SimFactory, broker: Mosquitto) -> None:
    make_sim()
    link = MqttLockerLink(SITE, "K02", ("U1", "U9"), broker.host, broker.port)
    link.start()
    try:
        assert link.wait_for_state("U1", 5) is not None
        with pytest.raises(LockerError, match="not one of this station's lockers"):
            link.command("U7", "unlock", 1, cmd_id=new_id(), ack_timeout=0.2)
        with pytest.raises(LockerOffline):  # U9 never said it is online
            link.command("U9", "unlock", 1, cmd_id=new_id(), ack_timeout=0.2)
    finally:
        link.close()


def test_station_availability_is_retained_with_a_will(
        make_sim: SimFactory, broker: Mosquitto, observer: Callable[..., Observer]) -> None:
    make_sim()
    kiosk = f"mall/v1/{SITE}/kiosk/K05/status"
    watcher = observer([kiosk])
    link = MqttLockerLink(SITE, "K05", ["U1"], broker.host, broker.port, keepalive=5)
    link.start()
    hello = watcher.wait_for(lambda t, d: d["online"] is True)
    assert hello["station"] == "K05" and hello["session"] == link.session
    late = observer([kiosk])
    assert late.wait_for(lambda t, d: True)["online"] is True, "retained for late subscribers"
    sock = link._client.socket()  # the station's link dies without DISCONNECT, as on a power cut
    link._client.loop_stop()
    assert isinstance(sock, socket.socket)
    sock.shutdown(socket.SHUT_RDWR)
    will = watcher.wait_for(lambda t, d: d["online"] is False)
    assert will["session"] == hello["session"]
    sock.close()


@pytest.mark.parametrize("step_s", [-7200.0, 7200.0])
def test_commands_expire_on_the_lockers_clock_whatever_the_stations_wall_clock_says(
        make_sim: SimFactory, make_link: LinkFactory, observer: Callable[..., Observer], step_s: float) -> None:
    """A kiosk whose wall clock is 2 h off (NTP has not corrected it yet, issue 12): once the locker has said
    anything live, commands carry an expiry on the locker's clock: not already expired, not valid for hours."""
    sim = make_sim(fill=2)
    o = observer([topic(SITE, "U1", "cmd")])
    link = make_link(wall=lambda: time.time() + step_s)
    control(sim, o, {"op": "insert", "item": "U-NEW", "slot": 3})  # any live state tells the locker's clock
    assert wait_until(lambda: link.view("U1").slot(3).item == "U-NEW")
    cmd_id = new_id()
    ack = link.command("U1", "unlock", 1, cmd_id=cmd_id, ack_timeout=0.5)
    assert (ack.ok, ack.result) == (True, "opened")
    sent = o.wait_for(lambda t, d: d.get("cmd_id") == cmd_id)
    assert abs(sent["expires_at"] - (time.time() + 10)) < 3
