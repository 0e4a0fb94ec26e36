"""Locker protocol v1.1 as the station and the centre show it: a forced door is recorded as a tamper and what
leaves through it as lost (never a lending); doors left open, fault codes and firmware reach health and `diag`
words; the centre raises their alerts and shows them on its slot grid."""
from __future__ import annotations

import csv
import io
import time
import uuid
from pathlib import Path

import httpx

from kiosk.services.diagnostics import assess
from server_bridge.central.runner import CentralProcess
from tests.fixtures.central import envelope
from tests.fixtures.console import console_user
from tests.fixtures.station import make_stack


def outbox_types(station: object) -> list[str]:
    return [e.type for e in station.store.outbox_pending()]  # type: ignore[attr-defined]


def test_a_forced_door_is_a_tamper_and_its_item_is_lost_not_lent(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, lockers=[("U1", "umbrella")])
    try:
        stack.start_sim("U1")
        station = stack.build_station()
        stack.control("U1", {"op": "force_door", "slot": 3})
        stack.control("U1", {"op": "take", "slot": 3})
        stack.wait(lambda: "locker.item_lost" in outbox_types(station), what="the lost item recorded")
        events = {e.type: e.data for e in station.store.outbox_pending()}
        assert events["locker.tamper"]["locker_id"] == "U1" and events["locker.tamper"]["slot"] == 3
        assert events["locker.tamper"]["item_id"] == "U-U1-03"
        assert (events["locker.item_lost"]["item_id"], events["locker.item_lost"]["reason"]) == ("U-U1-03", "tamper")
        assert station.store.query("SELECT status FROM items WHERE item_id='U-U1-03'")[0]["status"] == "lost"
        assert station.lending.lendings() == [], "a forced door lends nothing to anybody"
        assert "lending.started" not in outbox_types(station)
        # the item put back into a slot is simply in the locker again
        stack.control("U1", {"op": "close_door", "slot": 3})
        stack.control("U1", {"op": "insert", "item": "U-U1-03", "slot": 3})
        stack.wait(lambda: station.store.query("SELECT status FROM items WHERE item_id='U-U1-03'")[0]["status"]
                   == "in_locker", what="the item back in the locker")
    finally:
        stack.close()


def test_door_left_open_faults_and_firmware_in_health_and_diag(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, lockers=[("U1", "umbrella")], door_open_s=0.5)
    try:
        stack.start_sim("U1")
        station = stack.build_station()
        stack.control("U1", {"op": "hold_door", "slot": 2})
        ack = station.lockers.command("U1", "unlock", 2, cmd_id=str(uuid.uuid4()), ack_timeout=2)
        assert ack.result == "opened"
        stack.control("U1", {"op": "fault", "slot": 5, "code": "rfid_unreadable"})

        def u1() -> object:
            return next(lk for lk in station.health().lockers if lk.locker_id == "U1")
        stack.wait(lambda: any(s.left_open for s in u1().slots), what="door 2 reported left open")  # type: ignore[attr-defined]
        health = station.health()
        lk = next(lk for lk in health.lockers if lk.locker_id == "U1")
        assert lk.fw == "ul24-2.3.0" and lk.proto == "1.1"
        assert [s.slot for s in lk.slots if s.left_open] == [2]
        assert station.lockers.view("U1").doors_left_open() == [2]  # what the screen asks to close
        problems = {p.code: p.message for p in assess(health)}
        assert "请关闭 2 号柜门" in problems["door_left_open"] and "door 2" in problems["door_left_open"]
        assert "RFID tag unreadable" in problems["slot_fault"] and "RFID 无法读取" in problems["slot_fault"]
        as_sent = health.as_dict()["lockers"][0]
        assert as_sent["fw"] == "ul24-2.3.0" and as_sent["slots"][1]["left_open"] is True
        assert as_sent["slots"][4]["fault"] == "rfid_unreadable"
        stack.control("U1", {"op": "close_door", "slot": 2})
        stack.wait(lambda: not any(s.left_open for s in u1().slots), what="the prompt cleared")  # type: ignore[attr-defined]
        assert "door_left_open" not in {p.code for p in assess(station.health())}
    finally:
        stack.close()


def test_centre_alerts_and_slot_grid(central: CentralProcess) -> None:
    token = central.add_station("K01")
    auth = {"Authorization": f"Bearer {token}"}

    def beat(left_open: bool) -> dict[str, object]:
        return {"ts": time.time(), "version": "1.0", "uptime_s": 5, "outbox": {"depth": 0},
                "lockers": [{"locker_id": "U1", "item_type": "umbrella", "online": True, "fw": "ul24-2.4.0",
                             "proto": "1.1", "faults": 1,
                             "slots": [{"slot": 1, "state": "fault", "fault": "door_jammed"},
                                       {"slot": 2, "state": "open", "left_open": left_open},
                                       {"slot": 3, "state": "occupied", "item": "U-3"}]}]}

    assert httpx.post(f"{central.url}/api/v1/stations/K01/heartbeat", json=beat(True), headers=auth).status_code == 204
    batch = {"events": [envelope(1, "locker.tamper", {"station_id": "K01", "locker_id": "U1", "slot": 4,
                                                      "at": time.time(), "item_id": "U-4"}),
                        envelope(2, "staff.pin_locked", {"staff_id": "S-001", "failures": 5, "lock_s": 300})]}
    assert httpx.post(f"{central.url}/api/v1/stations/K01/events", json=batch, headers=auth).status_code == 200

    ops = console_user(central.url, central.db_url, "olga", "ops")

    def open_alerts() -> dict[str, str]:
        text = ops.get("/export/alerts.csv").text.lstrip("\ufeff")
        return {rec["kind"]: rec["subject"] for rec in csv.DictReader(io.StringIO(text)) if not rec["cleared_at"]}

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(open_alerts().keys() & {"slot_fault", "door_left_open",
                                                                       "locker_tamper", "staff_pin_lockout"}) < 4:
        time.sleep(0.2)
    alerts = open_alerts()
    assert alerts["slot_fault"] == "U1#1" and alerts["door_left_open"] == "U1#2"
    assert alerts["locker_tamper"].startswith("U1#4") and alerts["staff_pin_lockout"].startswith("S-001")
    page = ops.get("/stations/K01?lang=en").text
    assert "door jammed" in page and "Left open" in page and "ul24-2.4.0" in page
    zh = ops.get("/stations/K01?lang=zh").text
    assert "柜门卡住" in zh and "门开着" in zh  # an open door, not a complaint's "open" (未处理)
    # the door closes: its alert clears on the next heartbeat
    assert httpx.post(f"{central.url}/api/v1/stations/K01/heartbeat", json=beat(False), headers=auth).status_code == 204
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "door_left_open" in open_alerts():
        time.sleep(0.2)
    assert "door_left_open" not in open_alerts() and "slot_fault" in open_alerts()


def test_locker_reboots_into_other_firmware_mid_borrow(tmp_path: Path) -> None:
    """The door is open for a shopper when the locker loses power and boots another firmware (its slots kept in
    flash; the latch shut with the umbrella inside). The borrow ends without a lending, nothing is lost or lent
    twice, the station follows the new firmware, and the next borrow works."""
    import threading

    from device_profiles.locker_schema import LockerProfile
    from device_profiles.schema import load_profile_as
    from drivers.locker.simulator import LockerSimulator
    from kiosk.services.errors import LendingRefused
    from tests.fixtures.station import SITE

    stack = make_stack(tmp_path, lockers=[("U1", "umbrella")], take_s=3.0)
    flash, journal = tmp_path / "u1-flash.json", tmp_path / "u1-journal.jsonl"
    profile = load_profile_as(next(lk.profile for lk in stack.config.lockers if lk.id == "U1"), LockerProfile)

    def boot(fw: str | None = None) -> LockerSimulator:
        sim = LockerSimulator(profile, SITE, "U1", "127.0.0.1", stack.broker.port, username="locker-U1",
                              password=stack.password("locker-U1"), fill="all", keepalive=5, state_file=flash,
                              journal=journal, fw=fw).start()
        stack.sims["U1"] = sim
        return sim

    try:
        first = boot()
        station = stack.build_station()
        assert station.lockers.view("U1").fw == "ul24-2.3.0"  # type: ignore[union-attr]
        outcome: dict[str, object] = {}

        def borrow() -> None:
            try:
                outcome["result"] = station.lending.borrow(stack.member_code("M1"), "umbrella")
            except LendingRefused as exc:
                outcome["refused"] = exc.code

        shopper = threading.Thread(target=borrow)
        shopper.start()
        stack.wait(lambda: any(s.state == "open" for s in first.slots()), what="the door open for the shopper")
        opened = next(s.slot for s in first.slots() if s.state == "open")
        stack.control("U1", {"op": "offline"})  # power cut: no goodbye, the broker sends the Will
        first.stop()
        rebooted = boot(fw="ul24-2.4.0-rc1")
        shopper.join(30)
        assert not shopper.is_alive()
        assert "result" not in outcome, f"nobody took the umbrella, yet the borrow said {outcome}"
        assert outcome.get("refused") == "not_taken", "the shopper is told the borrow did not happen"
        assert station.lending.lendings() == [] and "lending.started" not in outbox_types(station)
        view = station.lockers.view("U1")
        assert view is not None and (view.fw, view.session) == ("ul24-2.4.0-rc1", rebooted.session)
        assert station.lockers.stats().get("firmware_changes") == 1
        assert rebooted.slots()[opened - 1].item == f"U-U1-{opened:02d}", "still in its slot after the reboot"
        lk = next(lk for lk in station.health().lockers if lk.locker_id == "U1")
        assert lk.fw == "ul24-2.4.0-rc1"
        # the next borrow works on the new firmware, and takes exactly one umbrella
        stack.control("U1", {"op": "repair", "slot": opened})
        done: dict[str, object] = {}
        second = threading.Thread(target=lambda: done.setdefault("r", station.lending.borrow(
            stack.member_code("M2"), "umbrella")))
        second.start()
        stack.wait(lambda: any(s.state == "open" for s in rebooted.slots()), what="a door open on the new firmware")
        stack.control("U1", {"op": "take", "slot": next(s.slot for s in rebooted.slots() if s.state == "open")})
        second.join(20)
        assert len(station.lending.lendings()) == 1 and "r" in done
    finally:
        stack.close()
