"""Lockers on a real mosquitto: a quick profile, simulator and link factories, a raw MQTT observer."""
from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from device_profiles.locker_schema import LockerProfile
from device_profiles.schema import load_profile_as
from drivers.locker.broker import Mosquitto
from drivers.locker.client import MqttLockerLink
from drivers.locker.models import control_topic
from drivers.locker.simulator import LockerSimulator

SITE = "t-mall"
QUICK_PROFILE = """kind: locker
model: QUICK-4
item_type: {item_type}
lendable: {lendable}
slots: 4
layout: {{rows: 2, columns: 2}}
sensors: {{door: true, rfid: true, battery: {battery}}}
timeouts: {{ack_s: 0.5, take_s: {take_s}, return_s: {return_s}, door_open_s: {door_open_s}}}
item_prefix: Q
fw: quick-0.1
"""


def quick_profile(tmp_path: Path, take_s: float = 5.0, power_bank: bool = False, door_open_s: float = 30,
                  return_s: float = 5) -> LockerProfile:
    """A 4-slot locker (timeouts as given), loaded from a real YAML file."""
    path = tmp_path / f"quick-{take_s}-{power_bank}-{door_open_s}-{return_s}.yaml"
    path.write_text(QUICK_PROFILE.format(item_type="power_bank" if power_bank else "umbrella", lendable="true",
                                         battery="true" if power_bank else "false", take_s=take_s,
                                         door_open_s=door_open_s, return_s=return_s))
    return load_profile_as(path, LockerProfile)


class Observer:
    """A plain paho client that records what arrives, and publishes whatever a test wants."""

    def __init__(self, mq: Mosquitto, topics: list[str], username: str | None = None,
                 password: str | None = None, client_id: str = "") -> None:
        self.messages: queue.Queue[tuple[str, bytes, bool]] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        if username:
            self.client.username_pw_set(username, password)
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, bytes(m.payload), m.retain))
        self.client.on_connect = lambda c, u, f, rc, p: (
            c.subscribe([(t, 1) for t in topics]) if topics else subscribed.set())
        self.client.connect(mq.host, mq.port)
        self.client.loop_start()
        assert subscribed.wait(5), "observer could not subscribe"

    def publish(self, topic: str, payload: bytes | dict[str, Any], retain: bool = False) -> None:
        data = json.dumps(payload).encode() if isinstance(payload, dict) else payload
        self.client.publish(topic, data, qos=1, retain=retain).wait_for_publish(5)

    def collect(self, seconds: float) -> list[tuple[str, bytes, bool]]:
        out = []
        try:
            while True:
                out.append(self.messages.get(timeout=seconds))
        except queue.Empty:
            return out

    def wait_for(self, match: Callable[[str, dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
        while True:
            topic, payload, _ = self.messages.get(timeout=timeout)
            try:
                data = json.loads(payload)
            except ValueError:
                continue
            if isinstance(data, dict) and match(topic, data):
                return data

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def make_sim(broker: Mosquitto, tmp_path: Path) -> Iterator[Callable[..., LockerSimulator]]:
    sims: list[LockerSimulator] = []

    def make(locker_id: str = "U1", profile: LockerProfile | None = None, **kw: Any) -> LockerSimulator:
        sim = LockerSimulator(profile or quick_profile(tmp_path), SITE, locker_id, broker.host, broker.port,
                              **kw)
        sims.append(sim.start())
        return sim

    yield make
    for s in sims:
        s.stop()


@pytest.fixture
def make_link(broker: Mosquitto) -> Iterator[Callable[..., MqttLockerLink]]:
    links: list[MqttLockerLink] = []

    def make(locker_ids: tuple[str, ...] = ("U1",), station_id: str = "K01", **kw: Any) -> MqttLockerLink:
        link = MqttLockerLink(SITE, station_id, locker_ids, broker.host, broker.port, **kw)
        link.start()
        links.append(link)
        for lid in locker_ids:
            assert link.wait_for_state(lid, 5) is not None, f"no state from {lid}"
        return link

    yield make
    for link in links:
        link.close()


@pytest.fixture
def observer(broker: Mosquitto) -> Iterator[Callable[..., Observer]]:
    made: list[Observer] = []

    def make(topics: list[str], **kw: Any) -> Observer:
        o = Observer(broker, topics, **kw)
        made.append(o)
        return o

    yield make
    for o in made:
        o.close()


def control(sim: LockerSimulator, ctl: Observer, body: dict[str, Any], timeout: float = 5.0) -> None:
    """Publish a control message and wait until the simulator has acted on it (it arrives on its own
    connection, so without waiting a command sent next could overtake it)."""
    before = sim.stats().get("controls", 0)
    ctl.publish(control_topic(SITE, sim.locker_id), body)
    deadline = time.monotonic() + timeout
    while sim.stats().get("controls", 0) <= before:
        assert time.monotonic() < deadline, f"simulator did not act on {body['op']}"
        time.sleep(0.005)


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll what a user would notice (a view, a counter) until it holds or the time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not check():
        time.sleep(0.02)
    return check()
