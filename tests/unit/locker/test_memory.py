"""A locker's flash: what it held and what it answered survive a restart; every physical act is journaled."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from device_profiles.locker_schema import LockerProfile
from device_profiles.schema import load_profile_as
from drivers.locker.firmware import LockerFirmware
from drivers.locker.memory import LockerMemory
from drivers.locker.models import parse_control

PROFILES = Path(__file__).resolve().parents[3] / "device_profiles" / "lockers"
WALL = 1_800_000_000.0


@pytest.fixture
def umbrella() -> LockerProfile:
    return load_profile_as(PROFILES / "umbrella-24.yaml", LockerProfile)


def unlock(slot: int, cmd_id: str) -> bytes:
    return json.dumps({"cmd_id": cmd_id, "op": "unlock", "slot": slot, "expires_at": WALL + 10}).encode()


def booted(profile: LockerProfile, tmp: Path) -> tuple[LockerFirmware, LockerMemory]:
    fw = LockerFirmware(profile, "U1", fill="all", auto_take=0, wall=lambda: WALL)
    memory = LockerMemory(tmp / "state.json", tmp / "journal")
    memory.load(fw)
    return fw, memory


def test_a_restart_keeps_slots_answers_and_the_journal(umbrella: LockerProfile, tmp_path: Path) -> None:
    fw, memory = booted(umbrella, tmp_path)
    memory.record(fw, fw.handle_cmd(unlock(3, "c-3"), now=0.0, run_due=True))
    memory.close()

    again, memory2 = booted(umbrella, tmp_path)
    assert again.slot_views()[2].state == "empty", "the item that left is still gone after the restart"
    assert again.slot_views()[3].item == "U-U1-04"
    repeat = again.handle_cmd(unlock(3, "c-3"), now=1.0, run_due=True)
    assert [o.leaf for o in repeat] == ["ack"] and repeat[0].message.result == "opened"  # type: ignore[union-attr]
    assert again.seq >= fw.seq, "seq goes on growing, never restarts"
    acts = [json.loads(line) for line in (tmp_path / "journal").read_text().splitlines()]
    assert [(a["act"], a["cmd_id"], a["item"]) for a in acts] == [
        ("door_opened", "c-3", None), ("item_removed", "c-3", "U-U1-03")]


def test_journal_lines_written_after_the_last_state_are_replayed(umbrella: LockerProfile, tmp_path: Path) -> None:
    fw, memory = booted(umbrella, tmp_path)
    memory.record(fw, [fw.state()])
    with open(tmp_path / "journal", "a") as f:  # a cut between the journal line and the state file
        f.write(json.dumps({"act": "door_opened", "ts": WALL, "seq": 9, "slot": 5, "item": None, "cmd_id": "c-5"}))
        f.write("\n" + json.dumps({"act": "item_removed", "ts": WALL, "seq": 10, "slot": 5, "item": "U-U1-05",
                                   "cmd_id": "c-5"}) + "\n")
        f.write('{"act": "item_inse')  # and a line torn by the cut
    again, memory2 = booted(umbrella, tmp_path)
    assert again.slot_views()[4].state == "empty" and again.seq >= 10
    assert [o.leaf for o in again.handle_cmd(unlock(5, "c-5"), now=0.0)] == ["ack"], "answered, not re-run"
    memory2.record(again, again.handle_control(parse_control(b'{"op": "insert", "item": "U-X", "slot": 5}'), 0.0))
    lines = (tmp_path / "journal").read_text().splitlines()
    assert json.loads(lines[-1])["item"] == "U-X", "the next act starts on a line of its own after the torn one"
