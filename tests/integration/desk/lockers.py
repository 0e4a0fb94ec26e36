"""Storage lockers and stroller docks on real parts: anonymous mosquitto, the locker simulator, MQTT link."""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from device_profiles import load_profile_as
from device_profiles.locker_schema import LockerProfile
from drivers.locker.broker import Mosquitto
from drivers.locker.client import MqttLockerLink
from drivers.locker.models import control_topic
from drivers.locker.simulator import LockerSimulator

ROOT = Path(__file__).resolve().parents[3]
SITE = "desk-mall"


def short(tmp: Path, name: str, **timeouts: float) -> LockerProfile:
    data = yaml.safe_load((ROOT / "device_profiles/lockers" / name).read_text())
    data["timeouts"].update(timeouts)
    out = tmp / name
    out.write_text(yaml.safe_dump(data, allow_unicode=True))
    return load_profile_as(out, LockerProfile)


@dataclass
class Lockers:
    broker: Mosquitto
    profiles: dict[str, LockerProfile]
    sims: dict[str, LockerSimulator] = field(default_factory=dict)
    link: MqttLockerLink | None = None
    _ctl: mqtt.Client | None = None

    def start(self, locker_id: str, fill: Any = 0, auto_take: float | None = None) -> LockerSimulator:
        sim = LockerSimulator(self.profiles[locker_id], SITE, locker_id, "127.0.0.1", self.broker.port, fill=fill,
                              auto_take=auto_take, keepalive=5).start()
        self.sims[locker_id] = sim
        return sim

    def connect(self) -> MqttLockerLink:
        self.link = MqttLockerLink(SITE, "K01", list(self.profiles), "127.0.0.1", self.broker.port, keepalive=5)
        self.link.start()
        for locker_id in self.sims:
            self.link.wait_for_state(locker_id, timeout=5)
        return self.link

    def control(self, locker_id: str, message: dict[str, Any]) -> None:
        """A shopper's hand: put a bag in, take a stroller."""
        if self._ctl is None:
            self._ctl = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="desk-ctl")
            self._ctl.connect("127.0.0.1", self.broker.port)
            self._ctl.loop_start()
        self._ctl.publish(control_topic(SITE, locker_id), json.dumps(message), qos=1).wait_for_publish(5)

    def close(self) -> None:
        if self.link is not None:
            self.link.close()
        for sim in self.sims.values():
            sim.stop()
        if self._ctl is not None:
            self._ctl.loop_stop()
            self._ctl.disconnect()


def wait(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


@pytest.fixture
def lockers(broker: Mosquitto, tmp_path: Path) -> Iterator[Lockers]:
    profiles = {"S1": short(tmp_path, "storage-12.yaml", ack_s=0.5, take_s=1.0, return_s=3.0),
                "T1": short(tmp_path, "stroller-6.yaml", ack_s=0.5, take_s=1.0)}
    stack = Lockers(broker, profiles)
    yield stack
    stack.close()
