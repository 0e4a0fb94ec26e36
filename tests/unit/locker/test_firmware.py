"""The locker's decisions without a network: time is a number the test moves."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from device_profiles.locker_schema import LockerProfile
from device_profiles.schema import load_profile_as
from drivers.locker.firmware import LockerFirmware, Outgoing
from drivers.locker.models import parse_control

PROFILES = Path(__file__).resolve().parents[3] / "device_profiles" / "lockers"


class FakeWall:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def umbrella() -> LockerProfile:
    return load_profile_as(PROFILES / "umbrella-24.yaml", LockerProfile)


@pytest.fixture
def power_bank() -> LockerProfile:
    return load_profile_as(PROFILES / "powerbank-12.yaml", LockerProfile)


def cmd(wall: FakeWall, op: str, slot: int | None = None, cmd_id: str = "c1", ttl: float = 10) -> bytes:
    body: dict[str, Any] = {"cmd_id": cmd_id, "op": op, "expires_at": wall() + ttl}
    if slot is not None:
        body["slot"] = slot
    return json.dumps(body).encode()


def kinds(out: list[Outgoing]) -> list[str]:
    return [o.message.type if o.leaf == "event" else o.leaf for o in out]  # type: ignore[attr-defined]


def test_unlock_then_not_taken_closes_after_take_timeout(umbrella: LockerProfile) -> None:
    wall = FakeWall()
    fw = LockerFirmware(umbrella, "U1", fill="all", wall=wall)
    out = fw.handle_cmd(cmd(wall, "unlock", 5), now=0.0)
    assert kinds(out) == ["ack", "door_opened", "state"]
    assert out[0].message.result == "opened"  # type: ignore[attr-defined]
    assert fw.slot_views()[4].state == "open"
    assert fw.due(umbrella.timeouts.take_s - 0.1) == []
    closed = fw.due(umbrella.timeouts.take_s)
    assert kinds(closed) == ["door_closed", "state"]
    assert fw.slot_views()[4].state == "occupied" and fw.slot_views()[4].item == "U-U1-05"


def test_auto_take_zero_empties_the_slot_at_once(umbrella: LockerProfile) -> None:
    wall = FakeWall()
    fw = LockerFirmware(umbrella, "U1", auto_take=0, wall=wall)
    fw.handle_cmd(cmd(wall, "unlock", 2), now=0.0)
    out = fw.due(0.0)
    assert kinds(out) == ["item_removed", "door_closed", "state"]
    assert out[0].message.item == "U-U1-02" and out[0].message.cmd_id == "c1"  # type: ignore[attr-defined]
    assert fw.due(100.0) == [], "the take timeout of a door already closed does nothing"
    seqs = [o.message.seq for o in out]  # type: ignore[attr-defined]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3


def test_duplicate_expired_and_bad_request(umbrella: LockerProfile) -> None:
    wall = FakeWall()
    fw = LockerFirmware(umbrella, "U1", wall=wall)
    first = fw.handle_cmd(cmd(wall, "unlock", 1), now=0.0)
    again = fw.handle_cmd(cmd(wall, "unlock", 1), now=0.1)
    assert again == [first[0]], "same cmd_id: the first answer again, nothing moves"
    late = fw.handle_cmd(cmd(wall, "unlock", 2, cmd_id="c2", ttl=-1), now=0.2)
    assert late[0].message.result == "expired" and fw.slot_views()[1].state == "occupied"  # type: ignore[attr-defined]
    bad = fw.handle_cmd(b'{"cmd_id": "c3", "op": "unlock", "slot": 25, "expires_at": 1e12}', now=0.3)
    assert bad[0].message.result == "bad_request"  # type: ignore[attr-defined]
    assert fw.handle_cmd(b"{nonsense", now=0.4) == []
    assert fw.counters["malformed"] == 1 and fw.counters["bad_request"] == 1
    assert fw.counters["duplicates"] == 1 and fw.counters["expired"] == 1


def test_drop_and_delay_acks(umbrella: LockerProfile) -> None:
    wall = FakeWall()
    fw = LockerFirmware(umbrella, "U1", wall=wall)
    fw.handle_control(parse_control(b'{"op": "drop_acks", "n": 1}'), now=0.0)
    out = fw.handle_cmd(cmd(wall, "unlock", 1), now=0.0)
    assert kinds(out) == ["door_opened", "state"], "the door opens, the ack is lost"
    fw.handle_control(parse_control(b'{"op": "delay_acks", "ms": 250}'), now=0.0)
    out = fw.handle_cmd(cmd(wall, "unlock", 2, cmd_id="c2"), now=1.0)
    assert "ack" not in kinds(out)
    assert fw.due(1.2) == []
    assert kinds(fw.due(1.25)) == ["ack"]


def test_insert_returns_an_item_and_power_banks_charge(power_bank: LockerProfile) -> None:
    wall = FakeWall()
    fw = LockerFirmware(power_bank, "P1", fill=11, seed=7, wall=wall, charge_step_s=30)
    out = fw.handle_control(parse_control(b'{"op": "insert", "item": "P-X", "battery": 55}'), now=0.0)
    assert kinds(out) == ["item_inserted", "state"]
    assert (out[0].message.slot, out[0].message.battery) == (12, 55)  # type: ignore[attr-defined]
    assert fw.handle_control(parse_control(b'{"op": "insert", "item": "P-Y"}'), now=0.0) == []
    assert fw.counters["control_refused"] == 1, "no empty slot left"
    fw.next_due(0.0)
    charged = fw.due(30.0)
    assert kinds(charged) == ["state"]
    assert fw.slot_views()[11].battery == 56


def test_fill_is_deterministic_per_seed(power_bank: LockerProfile) -> None:
    wall = FakeWall()
    a = [s.battery for s in LockerFirmware(power_bank, "P1", seed=3, wall=wall).slot_views()]
    b = [s.battery for s in LockerFirmware(power_bank, "P1", seed=3, wall=wall).slot_views()]
    c = [s.battery for s in LockerFirmware(power_bank, "P1", seed=4, wall=wall).slot_views()]
    assert a == b != c
    assert all(b is not None and 30 <= b <= 100 for b in a)


def test_busy_fault_disabled_and_repair(umbrella: LockerProfile) -> None:
    wall = FakeWall()
    fw = LockerFirmware(umbrella, "U1", wall=wall)
    results = []
    fw.handle_control(parse_control(b'{"op": "fault", "slot": 3}'), now=0.0)
    for i, (op, slot) in enumerate([("unlock", 1), ("unlock", 1), ("unlock", 3), ("disable", 4), ("unlock", 4),
                                    ("enable", 4), ("unlock", 4)]):
        out = fw.handle_cmd(cmd(wall, op, slot, cmd_id=f"k{i}"), now=0.0)
        results.append(out[0].message.result)  # type: ignore[attr-defined]
    assert results == ["opened", "busy", "fault", "ok", "fault", "ok", "opened"]
    fw.handle_control(parse_control(b'{"op": "repair", "slot": 3}'), now=0.0)
    assert fw.slot_views()[2].state == "occupied"
