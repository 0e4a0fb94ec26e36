"""Broker hardening on the real mosquitto config: client ids nobody can take over, a message size limit, and
an ACL that scopes each station to its own lockers (and leaves the simulator's control user out of production)."""
from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from drivers.locker.acl import SIM_CONTROL_USER, locker_user, station_user, write_broker_auth
from drivers.locker.broker import Mosquitto
from drivers.locker.client import MqttLockerLink
from drivers.locker.models import MAX_PAYLOAD, topic
from drivers.locker.simulator import LockerSimulator
from tests.fixtures.broker import SECURED_SITE

from .conftest import Observer, quick_profile
from .test_acl import Secured, as_user, connect_result


def connect_as(mq: Mosquitto, user: str, password: str, client_id: str) -> mqtt.Client:
    """A raw connection with whatever client id an attacker chooses (returns once the broker answered)."""
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.username_pw_set(user, password)
    client.on_connect = lambda c, u, f, rc, p: done.set()
    client.connect(mq.host, mq.port)
    client.loop_start()
    assert done.wait(5)
    return client


def test_another_devices_login_cannot_take_over_a_lockers_connection(secured_broker: Secured,
                                                                       tmp_path: Path) -> None:
    mq, auth = secured_broker
    sim = LockerSimulator(quick_profile(tmp_path), SECURED_SITE, "U1", mq.host, mq.port,
                          username=locker_user("U1"), password=auth.password(locker_user("U1"))).start()
    link = MqttLockerLink(SECURED_SITE, "K01", ["U1"], mq.host, mq.port, username=station_user("K01"),
                          password=auth.password(station_user("K01")))
    link.start()
    watcher = as_user(mq, auth, station_user("K01"), [topic(SECURED_SITE, "U1", "status")])
    try:
        assert link.wait_for_state("U1", 5) is not None
        watcher.collect(0.3)  # the retained status
        # U2's stolen login tries every id a locker or the station could predictably use, over and over
        rogue_ids = [f"locker-{SECURED_SITE}-U1", f"sim-{SECURED_SITE}-U1-ctl", f"station-{SECURED_SITE}-K01",
                     "locker-U1", "U1"]
        for _ in range(3):
            for cid in rogue_ids:
                rogue = connect_as(mq, locker_user("U2"), auth.password(locker_user("U2")), cid)
                rogue.disconnect()
                rogue.loop_stop()
        went_offline = [p for _, p, _ in watcher.collect(1.0) if b'"online":false' in p.replace(b" ", b"")]
        assert went_offline == [], "the broker dropped the real locker and published its Will"
        assert sim.online and link.view("U1").online  # type: ignore[union-attr]
        ack = link.command("U1", "unlock", 1, cmd_id=str(uuid.uuid4()), ack_timeout=2)
        assert ack.result == "opened"
    finally:
        link.close()
        sim.stop()


def test_a_20_mib_message_is_not_forwarded(secured_broker: Secured) -> None:
    mq, auth = secured_broker
    station = as_user(mq, auth, station_user("K01"), [topic(SECURED_SITE, "U1", "state")])
    big = as_user(mq, auth, locker_user("U1"), [])
    big.client.publish(topic(SECURED_SITE, "U1", "state"), b"{" + b" " * (20 << 20) + b"}", qos=1)
    time.sleep(1.0)
    just_over = as_user(mq, auth, locker_user("U1"), [])
    just_over.client.publish(topic(SECURED_SITE, "U1", "state"), b"x" * (MAX_PAYLOAD + 1), qos=1)
    time.sleep(0.3)
    fine = as_user(mq, auth, locker_user("U1"), [])  # the path itself works: the limit, not the ACL, stopped them
    fine.publish(topic(SECURED_SITE, "U1", "state"), {"seq": 1, "ts": 1.0, "slots": []})
    got = station.collect(1.0)
    assert [len(p) for _, p, _ in got] == [len(b'{"seq": 1, "ts": 1.0, "slots": []}')], [len(p) for _, p, _ in got]


def test_each_station_commands_only_its_own_lockers(tmp_path: Path) -> None:
    auth = write_broker_auth(SECURED_SITE, {"K01": ["U1"], "K02": ["U2"]}, [], tmp_path / "auth",
                             sim_control=False)
    assert set(auth.users) == {"station-K01", "station-K02", "locker-U1", "locker-U2"}
    mq = Mosquitto(tmp_path / "mq", password_file=auth.password_file, acl_file=auth.acl_file).start()
    opened: list[Observer] = []
    try:
        u1 = Observer(mq, [topic(SECURED_SITE, "U1", "cmd")], locker_user("U1"), auth.password(locker_user("U1")))
        k02 = Observer(mq, [topic(SECURED_SITE, "U1", "state")], station_user("K02"),
                       auth.password(station_user("K02")))
        k01 = Observer(mq, [], station_user("K01"), auth.password(station_user("K01")))
        opened += [u1, k02, k01]
        body = {"cmd_id": "c1", "op": "unlock", "slot": 1, "expires_at": time.time() + 30}
        k02.publish(topic(SECURED_SITE, "U1", "cmd"), body)
        assert u1.collect(0.5) == [], "K02 must not command K01's locker"
        u1.publish(topic(SECURED_SITE, "U1", "state"), {"seq": 1, "ts": 1.0, "slots": []})
        assert k02.collect(0.5) == [], "K02 must not read K01's locker"
        k01.publish(topic(SECURED_SITE, "U1", "cmd"), body)
        assert [t for t, _, _ in u1.collect(0.5)] == [topic(SECURED_SITE, "U1", "cmd")]
        assert connect_result(mq, SIM_CONTROL_USER, "anything") == "Not authorized", "no sim-control in production"
        assert "sim/" not in auth.acl_file.read_text()
    finally:
        for o in opened:
            o.close()
        mq.stop()
