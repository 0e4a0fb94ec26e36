"""A staff tool (lend, status, diag) connecting beside the running station must not knock it off the broker
or announce the station offline when it exits."""
from __future__ import annotations

import json
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from drivers.locker.client import MqttLockerLink
from tests.fixtures.station import SITE, StationStack


def kiosk_status(stack: StationStack) -> dict:
    got: list[dict] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.username_pw_set("station-K01", stack.password("station-K01"))
    client.on_message = lambda c, u, m: got.append(json.loads(m.payload))
    client.connect("127.0.0.1", stack.broker.port)
    client.subscribe(f"mall/v1/{SITE}/kiosk/K01/status", qos=1)
    client.loop_start()
    stack.wait(lambda: bool(got), what="the retained kiosk status")
    client.loop_stop()
    client.disconnect()
    return got[-1]


def test_a_tool_beside_the_station_leaves_it_connected_and_online(station_stack: StationStack) -> None:
    s = station_stack
    for lid in ("U1", "U2", "P1"):
        s.start_sim(lid)
    station = s.build_station(handle_returns=False)
    cfg = s.config
    tool = MqttLockerLink(cfg.site, cfg.station_id, ["U1"], "127.0.0.1", s.broker.port, username="station-K01",
                          password=s.password("station-K01"), announce=False)
    tool.start()
    assert tool.wait_for_state("U1", timeout=5) is not None
    time.sleep(1.0)
    tool.close()
    time.sleep(0.5)

    assert station.lockers.connected and station.lockers.stats().get("reconnects", 0) == 0
    assert kiosk_status(s)["online"] is True
