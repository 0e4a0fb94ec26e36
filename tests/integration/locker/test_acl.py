"""Broker security: each device is confined to its own topics, and strangers are refused."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from drivers.locker.acl import BrokerAuth, locker_user, station_user
from drivers.locker.broker import Mosquitto
from drivers.locker.client import BrokerRefused, MqttLockerLink
from drivers.locker.models import topic
from drivers.locker.simulator import LockerSimulator
from tests.fixtures.broker import SECURED_SITE

from .conftest import Observer, quick_profile

Secured = tuple[Mosquitto, BrokerAuth]
_opened: list[Observer] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()


def as_user(mq: Mosquitto, auth: BrokerAuth, user: str, topics: list[str]) -> Observer:
    client = Observer(mq, topics, username=user, password=auth.password(user))
    _opened.append(client)
    return client


def connect_result(mq: Mosquitto, username: str | None, password: str | None) -> str:
    done = threading.Event()
    result: list[str] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    if username:
        client.username_pw_set(username, password)
    client.on_connect = lambda c, u, f, rc, p: (result.append(str(rc)), done.set())
    client.connect(mq.host, mq.port)
    client.loop_start()
    done.wait(5)
    client.disconnect()
    client.loop_stop()
    return result[0] if result else "no answer"


def test_anonymous_and_wrong_password_are_refused(secured_broker: Secured) -> None:
    mq, auth = secured_broker
    assert connect_result(mq, None, None) == "Not authorized"
    assert connect_result(mq, locker_user("U1"), "guess") == "Not authorized"
    assert connect_result(mq, locker_user("U1"), auth.password(locker_user("U1"))) == "Success"


def test_station_link_with_wrong_credentials_fails_to_start(secured_broker: Secured) -> None:
    mq, _ = secured_broker
    link = MqttLockerLink(SECURED_SITE, "K01", ["U1"], mq.host, mq.port, username=station_user("K01"),
                          password="wrong", connect_timeout=3)
    with pytest.raises(BrokerRefused):
        link.start()


def test_a_locker_cannot_command_or_fake_another_locker(secured_broker: Secured) -> None:
    mq, auth = secured_broker
    station = as_user(mq, auth, station_user("K01"), [topic(SECURED_SITE, "U2", "state")])
    u2 = as_user(mq, auth, locker_user("U2"), [topic(SECURED_SITE, "U2", "cmd")])
    rogue = as_user(mq, auth, locker_user("U1"), [])
    forged_cmd = {"cmd_id": "forged", "op": "unlock", "slot": 1, "expires_at": time.time() + 30}
    rogue.publish(topic(SECURED_SITE, "U2", "cmd"), forged_cmd)
    rogue.publish(topic(SECURED_SITE, "U2", "state"), {"seq": 99, "ts": 1.0, "slots": []})
    assert u2.collect(0.5) == [], "U2 must never receive a command published by U1"
    assert station.collect(0.3) == [], "the station must never see U1 pretending to be U2"
    # the same paths do work for the devices that own them: the ACL, not the test, stopped the messages
    as_user(mq, auth, station_user("K01"), []).publish(topic(SECURED_SITE, "U2", "cmd"), forged_cmd)
    assert [t for t, _, _ in u2.collect(0.5)] == [topic(SECURED_SITE, "U2", "cmd")]
    u2.publish(topic(SECURED_SITE, "U2", "state"), {"seq": 1, "ts": 1.0, "slots": []})
    assert [t for t, _, _ in station.collect(0.5)] == [topic(SECURED_SITE, "U2", "state")]


def test_a_locker_cannot_read_another_lockers_commands(secured_broker: Secured) -> None:
    mq, auth = secured_broker
    snoop = as_user(mq, auth, locker_user("U1"), [topic(SECURED_SITE, "U2", "cmd")])
    as_user(mq, auth, station_user("K01"), []).publish(
        topic(SECURED_SITE, "U2", "cmd"), {"cmd_id": "c", "op": "query", "expires_at": time.time() + 9})
    assert snoop.collect(0.5) == []


def test_borrow_path_works_end_to_end_with_credentials(secured_broker: Secured, tmp_path: Path) -> None:
    mq, auth = secured_broker
    sim = LockerSimulator(quick_profile(tmp_path), SECURED_SITE, "U1", mq.host, mq.port,
                          username=locker_user("U1"), password=auth.password(locker_user("U1")), auto_take=0)
    sim.start()
    link = MqttLockerLink(SECURED_SITE, "K01", ["U1"], mq.host, mq.port, username=station_user("K01"),
                          password=auth.password(station_user("K01")))
    link.start()
    try:
        assert link.wait_for_state("U1", 5) is not None
        with link.events() as events:
            ack = link.command("U1", "unlock", 2, cmd_id=str(uuid.uuid4()), ack_timeout=1)
            removed = next(e for e in iter(lambda: events.get(2), None) if e.type == "item_removed")
        assert ack.result == "opened" and removed.item == "Q-U1-02"
        ctl = as_user(mq, auth, "sim-control", [])
        ctl.publish(f"mall/v1/{SECURED_SITE}/sim/U1/control", {"op": "insert", "item": "Q-BACK-1", "slot": 2})
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and link.view("U1").slot(2).item != "Q-BACK-1":
            time.sleep(0.02)
        assert link.view("U1").slot(2).item == "Q-BACK-1"
    finally:
        link.close()
        sim.stop()


def test_simulator_process_with_password_file_says_goodbye_on_sigterm(secured_broker: Secured) -> None:
    mq, auth = secured_broker
    user = locker_user("U2")
    profile = Path(__file__).resolve().parents[3] / "device_profiles" / "lockers" / "powerbank-12.yaml"
    proc = subprocess.Popen([sys.executable, "-m", "drivers.locker.simulator", "--profile", str(profile),
                             "--site", SECURED_SITE, "--locker", "U2", "--broker", mq.address, "--username", user,
                             "--password-file", str(auth.password_path(user)), "--fill", "3", "--seed", "5"],
                            stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parents[3])
    try:
        assert proc.stdout is not None
        hello = json.loads(proc.stdout.readline())
        assert hello["ok"] and hello["slots"] == 12
        station = as_user(mq, auth, station_user("K01"), [topic(SECURED_SITE, "U2", "status"),
                                                          topic(SECURED_SITE, "U2", "state")])
        state = station.wait_for(lambda t, d: t.endswith("/state"))
        assert [s["state"] for s in state["slots"]].count("occupied") == 3
        assert all(30 <= s["battery"] <= 100 for s in state["slots"] if "battery" in s)
        proc.terminate()
        assert proc.wait(10) == 0
        bye = station.wait_for(lambda t, d: t.endswith("/status") and d["online"] is False)
        assert bye["session"] == hello["session"]
    finally:
        if proc.poll() is None:
            proc.kill()
