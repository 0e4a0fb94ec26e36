"""A station process killed between unlock and item_removed: the restart settles the intent from the
locker's retained state — the lending exists once if the item left, not at all if it did not."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.tokens import TokenBook, TokenKeys
from tests.fixtures.station import StationStack, make_stack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stack(tmp_path: Path) -> StationStack:
    s = make_stack(tmp_path, take_s=3.0)
    s.start_sim("U1", fill=1)
    s.start_sim("U2", fill=0)
    s.start_sim("P1", fill=0)
    yield s
    s.close()


def cli(stack: StationStack, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "kiosk", "--config", str(stack.config_path), *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def member_code(stack: StationStack, member_id: str, step_offset: int = 0) -> str:
    book = TokenBook(TokenKeys(stack.config.site_key()))
    return book.member_code(member_id, at=book.clock() + 30 * step_offset)


def kill_when_door_opens(stack: StationStack) -> None:
    proc = cli(stack, "lend", "--type", "umbrella", "--member-code", member_code(stack, "M1"))
    stack.wait(lambda: any(sl.state == "open" for sl in stack.sims["U1"].slots()), timeout=20,
               what="the station to open the door")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(5)
    assert proc.returncode == -signal.SIGKILL


def restart(stack: StationStack) -> tuple[list, list]:
    station = stack.build_station(handle_returns=False)  # start() reconciles before accepting work
    lendings = station.store.query("SELECT item_id, status FROM lendings")
    open_intents = station.store.query("SELECT * FROM intents WHERE state IN ('pending','opened')")
    station.stop()
    stack.station = None
    return [tuple(r) for r in lendings], list(open_intents)


def test_item_left_while_station_was_dead_is_recorded_exactly_once(stack: StationStack) -> None:
    kill_when_door_opens(stack)
    item = next(sl.item for sl in stack.sims["U1"].slots() if sl.slot == 1)
    stack.control("U1", {"op": "take", "slot": 1})
    stack.wait(lambda: stack.sims["U1"].slots()[0].state == "empty", what="the item to leave")

    lendings, open_intents = restart(stack)
    assert lendings == [(item, "open")] and open_intents == []

    again, _ = restart(stack)  # a second restart changes nothing
    assert again == [(item, "open")]
    out, _ = cli(stack, "lendings", "--open").communicate(timeout=60)
    assert [json.loads(line)["item_id"] for line in out.splitlines()] == [item]


def test_item_still_there_after_crash_means_no_lending(stack: StationStack) -> None:
    kill_when_door_opens(stack)
    stack.wait(lambda: stack.sims["U1"].slots()[0].state == "occupied", timeout=10,
               what="the door to close on its take timeout")

    lendings, open_intents = restart(stack)
    assert lendings == [] and open_intents == []
    rows = stack.build_station(start=False).store.query("SELECT state, reason FROM intents")
    assert [tuple(r) for r in rows] == [("cancelled", "item_not_taken")]


@pytest.mark.parametrize(("kind", "reason"), [("forged", "forged"), ("expired", "expired"), ("replayed", "replayed")])
def test_cli_refuses_bad_member_codes_with_a_reason(stack: StationStack, kind: str, reason: str) -> None:
    code = member_code(stack, "M9", step_offset=-3 if kind == "expired" else 0)
    if kind == "forged":
        code = TokenBook(TokenKeys(b"someone-elses-key-32-bytes-long!")).member_code("M9")
    if kind == "replayed":
        stack.control("U1", {"op": "fault", "slot": 1})  # the first use must not dispense anything
        first = cli(stack, "lend", "--type", "umbrella", "--member-code", code)
        first.communicate(timeout=60)
    proc = cli(stack, "lend", "--type", "umbrella", "--member-code", code)
    out, err = proc.communicate(timeout=60)
    answer = json.loads(out.strip().splitlines()[-1])
    assert proc.returncode == 1 and answer["ok"] is False and answer["error"] == reason, err


def settle_returns(stack: StationStack) -> list[tuple]:
    """Restart, then the two housekeeping passes that confirm a return the station never heard of."""
    station = stack.build_station(handle_returns=False)
    station.lending.periodic()
    station.lending.periodic()
    rows = [tuple(r) for r in station.store.query("SELECT item_id, status, return_locker_id FROM lendings")]
    station.stop()
    stack.station = None
    return rows


def test_item_taken_and_put_back_into_the_same_slot_while_dead_is_one_lending_and_its_return(
        stack: StationStack) -> None:
    kill_when_door_opens(stack)
    item = next(sl.item for sl in stack.sims["U1"].slots() if sl.slot == 1)
    stack.control("U1", {"op": "take", "slot": 1})
    stack.control("U1", {"op": "insert", "item": item, "slot": 1})
    assert stack.sims["U1"].slots()[0].item == item

    assert settle_returns(stack) == [(item, "returned", "U1")]


def test_a_return_made_while_the_station_was_down_is_recorded_after_restart(stack: StationStack) -> None:
    kill_when_door_opens(stack)
    item = next(sl.item for sl in stack.sims["U1"].slots() if sl.slot == 1)
    stack.control("U1", {"op": "take", "slot": 1})
    lendings, _ = restart(stack)
    assert lendings == [(item, "open")]
    stack.control("U2", {"op": "insert", "item": item})  # nobody is listening

    assert settle_returns(stack) == [(item, "returned", "U2")]
