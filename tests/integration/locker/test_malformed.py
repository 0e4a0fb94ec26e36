"""Junk on every locker topic: both sides count it, drop it, and keep working."""
from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drivers.locker.broker import Mosquitto
from drivers.locker.client import MqttLockerLink
from drivers.locker.models import MAX_PAYLOAD, control_topic, topic
from drivers.locker.simulator import LockerSimulator

from .conftest import SITE, Observer, wait_until


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A broker without the 64 KiB limit (a site configured without it): the junk, oversized payloads included,
    reaches both sides, whose own checks must count and drop it (test_broker_hardening: the limit itself)."""
    mq = Mosquitto(tmp_path / "mosquitto-unlimited", limits=False).start()
    yield mq
    mq.stop()


OVERSIZED = json.dumps({"seq": 1, "ts": 1.0, "slots": [], "pad": "x" * (MAX_PAYLOAD + 10)}).encode()
JUNK: list[bytes] = [
    b"",
    b"not json at all",
    b"\xff\xfe\x00garbage",  # not UTF-8
    b"[1, 2, 3]",
    b'{"seq": "7", "ts": "yesterday", "online": "yes", "slots": 5, "result": 3}',  # wrong types
    OVERSIZED,
]



def test_junk_on_every_topic_is_counted_and_dropped_on_both_sides(
        make_sim: Callable[..., LockerSimulator], make_link: Callable[..., MqttLockerLink],
        observer: Callable[..., Observer], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    sim = make_sim()
    link = make_link()
    vandal = observer([topic(SITE, "U1", "ack")])
    for leaf in ("status", "state", "event", "ack", "cmd"):
        for payload in JUNK:
            vandal.publish(topic(SITE, "U1", leaf), payload)
    for payload in JUNK:
        vandal.publish(control_topic(SITE, "U1"), payload)
    bad = {"cmd_id": "has-an-id", "op": "launch", "slot": 1, "expires_at": time.time() + 5}
    vandal.publish(topic(SITE, "U1", "cmd"), bad)

    per_leaf = len(JUNK)
    assert wait_until(lambda: link.stats().get("malformed", 0) >= 4 * per_leaf)
    stats = link.stats()
    for leaf in ("status", "state", "event", "ack"):
        assert stats[f"malformed.{leaf}"] == per_leaf, leaf
    assert wait_until(lambda: sim.stats().get("malformed_control", 0) == per_leaf)
    assert vandal.wait_for(lambda t, d: d.get("cmd_id") == "has-an-id")["result"] == "bad_request"
    # status junk also reaches the locker (it watches its own status); cmd junk without a cmd_id is counted
    assert wait_until(lambda: sim.stats().get("malformed") == 2 * per_leaf), sim.stats()
    assert sim.stats()["bad_request"] == 1

    # still working afterwards, and nothing of the junk reached the logs
    assert link.view("U1").online
    ack = link.command("U1", "unlock", 1, cmd_id=str(uuid.uuid4()), ack_timeout=1)
    assert ack.result == "opened"
    assert link.stats().get("callback_errors", 0) == 0
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "not json at all" not in logged and "xxxxxxxx" not in logged and "launch" not in logged
    assert "bytes=65" in logged or f"bytes={len(OVERSIZED)}" in logged
