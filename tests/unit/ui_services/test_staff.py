"""Staff sign-in: badge, hashed PIN, lockout after 5 wrong PINs for 5 minutes, maintenance records."""
from __future__ import annotations

import json
import logging
import tomllib
from pathlib import Path

import pytest

from kiosk.services.staff import LOCK_S, StaffError, StaffService, write_staff_file
from kiosk.store import Store
from kiosk.tokens import TokenBook, TokenKeys


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["staff.json", "staff.toml"])
def staff(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[StaffService, TokenBook, FakeTime, Store]:
    store = Store(tmp_path / "station.db")
    tokens = TokenBook(TokenKeys(b"k" * 32))
    clock = FakeTime()
    staff_file = tmp_path / request.param
    write_staff_file(staff_file, {"S-001": ("Wang", "2468")}, iterations=1000)
    return StaffService(store, tokens, clock, staff_file), tokens, clock, store


def test_pin_is_stored_hashed(staff) -> None:
    svc = staff[0]
    text = svc.staff_file.read_text()
    data = tomllib.loads(text) if svc.staff_file.suffix == ".toml" else json.loads(text)
    pin_hash = data["staff"][0]["pin_hash"]
    assert pin_hash.startswith("pbkdf2_sha256$1000$")
    # random salt/hash hex may contain the digits by chance; nowhere else may the PIN appear
    assert "2468" not in text.replace(pin_hash, "")


def test_right_pin_signs_in(staff) -> None:
    svc, tokens, _, _ = staff
    badge = svc.verify_badge(tokens.staff_badge("S-001"))
    session = svc.sign_in(badge, "2468")
    assert session.staff_id == "S-001" and session.name == "Wang"


def test_unknown_and_forged_badges_are_refused(staff) -> None:
    svc, tokens, _, _ = staff
    with pytest.raises(StaffError) as exc:
        svc.verify_badge(tokens.staff_badge("S-999"))
    assert exc.value.code == "unknown_staff"
    forged = tokens.staff_badge("S-001")[:-2] + "AA"
    with pytest.raises(StaffError) as exc:
        svc.verify_badge(forged)
    assert exc.value.code == "bad_badge"


def test_five_wrong_pins_lock_for_five_minutes(staff, caplog) -> None:
    svc, tokens, clock, store = staff
    badge = svc.verify_badge(tokens.staff_badge("S-001"))
    caplog.set_level(logging.INFO, logger="kiosk.services.staff")
    for _ in range(4):
        with pytest.raises(StaffError) as exc:
            svc.sign_in(badge, "1111")
        assert exc.value.code == "wrong_pin"
    with pytest.raises(StaffError) as exc:
        svc.sign_in(badge, "1111")
    assert exc.value.code == "locked"
    # even the right PIN is refused while locked, and so is the badge
    with pytest.raises(StaffError) as exc:
        svc.sign_in(badge, "2468")
    assert exc.value.code == "locked"
    with pytest.raises(StaffError):
        svc.verify_badge(tokens.staff_badge("S-001"))
    clock.now += LOCK_S - 1
    assert svc.locked_for("S-001") == pytest.approx(1.0)
    clock.now += 2
    assert svc.sign_in(badge, "2468").staff_id == "S-001"
    # attempts are logged and recorded, never with the PIN
    assert "1111" not in caplog.text and "2468" not in caplog.text
    attempts = [e for e in store.outbox_pending() if e.type == "staff.pin_attempt"]
    assert [a.data["ok"] for a in attempts] == [False] * 5 + [True]
    assert all("pin" not in a.data for a in attempts)


def test_a_right_pin_resets_the_count(staff) -> None:
    svc, tokens, _, _ = staff
    badge = svc.verify_badge(tokens.staff_badge("S-001"))
    for _ in range(4):
        with pytest.raises(StaffError):
            svc.sign_in(badge, "0000")
    svc.sign_in(badge, "2468")
    for _ in range(4):
        with pytest.raises(StaffError) as exc:
            svc.sign_in(badge, "0000")
        assert exc.value.code == "wrong_pin"


def test_no_staff_file_means_no_sign_in(tmp_path: Path) -> None:
    tokens = TokenBook(TokenKeys(b"k" * 32))
    svc = StaffService(Store(tmp_path / "s.db"), tokens, FakeTime(), None)
    with pytest.raises(StaffError) as exc:
        svc.verify_badge(tokens.staff_badge("S-001"))
    assert exc.value.code == "no_staff_file"


def test_maintenance_record_goes_to_outbox(staff) -> None:
    svc, tokens, _, store = staff
    session = svc.sign_in(svc.verify_badge(tokens.staff_badge("S-001")), "2468")
    seq = svc.log_maintenance(session, "repair", "U1", "  replaced slot 3 latch ")
    event = [e for e in store.outbox_pending() if e.seq == seq][0]
    assert event.type == "maintenance.logged"
    assert event.data == {"staff_id": "S-001", "action": "repair", "device": "U1", "note": "replaced slot 3 latch"}
    with pytest.raises(StaffError) as exc:
        svc.log_maintenance(session, "paint", "U1", "")
    assert exc.value.code == "invalid_action"
    with pytest.raises(StaffError) as exc:
        svc.log_maintenance(session, "check", "", "")
    assert exc.value.code == "invalid_device"


def wrong_pins(svc: StaffService, tokens: TokenBook, n: int) -> list[str]:
    codes = []
    for _ in range(n):
        try:
            svc.sign_in(svc.tokens.verify_staff(tokens.staff_badge("S-001")), "1111")
        except StaffError as exc:
            codes.append(exc.code)
    return codes


def test_a_restart_neither_clears_the_lock_nor_the_count(tmp_path: Path) -> None:
    """40 wrong guesses across 10 restarts used to lock nothing: each restart began a fresh count."""
    tokens = TokenBook(TokenKeys(b"k" * 32))
    staff_file = tmp_path / "staff.toml"
    write_staff_file(staff_file, {"S-001": ("Wang", "2468")}, iterations=1000)
    clock = FakeTime()
    codes: list[str] = []
    for _ in range(10):  # each iteration is a new process: a new store connection and a new service
        store = Store(tmp_path / "station.db")
        codes += wrong_pins(StaffService(store, tokens, clock, staff_file), tokens, 4)
        store.close()
    assert codes[:4] == ["wrong_pin"] * 4 and codes[4] == "locked", codes[:6]
    assert set(codes[5:]) == {"locked"}, "still locked across every restart, the right PIN included"
    store = Store(tmp_path / "station.db")
    svc = StaffService(store, tokens, clock, staff_file)
    assert 0 < svc.locked_for("S-001") <= LOCK_S
    clock.now += LOCK_S + 1
    assert svc.sign_in(svc.verify_badge(tokens.staff_badge("S-001")), "2468").staff_id == "S-001"


def test_a_lock_from_an_earlier_boot_is_rearmed_not_dropped(tmp_path: Path) -> None:
    tokens = TokenBook(TokenKeys(b"k" * 32))
    staff_file = tmp_path / "staff.toml"
    write_staff_file(staff_file, {"S-001": ("Wang", "2468")}, iterations=1000)
    store = Store(tmp_path / "station.db")
    before = FakeTime()
    before.now = 90_000.0  # long uptime
    wrong_pins(StaffService(store, tokens, before, staff_file, boot=lambda: "boot-1"), tokens, 5)
    after = FakeTime()
    after.now = 12.0  # rebooted: boot time starts again near zero
    svc = StaffService(store, tokens, after, staff_file, boot=lambda: "boot-2")
    assert svc.locked_for("S-001") == pytest.approx(LOCK_S), "a reboot never shortens a lockout"


def test_lockout_is_reported_to_the_centre(staff) -> None:
    svc, tokens, _, store = staff
    wrong_pins(svc, tokens, 5)
    locked = [e for e in store.outbox_pending() if e.type == "staff.pin_locked"]
    assert [(e.data["staff_id"], e.data["failures"], e.data["lock_s"]) for e in locked] == [("S-001", 5, LOCK_S)]


def test_a_wall_clock_step_does_not_end_a_lockout(station_stack) -> None:
    """The station's clock is the wall clock (fees, due dates); NTP stepping it 2 h ahead used to end the lock."""
    cfg = station_stack.config
    write_staff_file(cfg.data_dir / "staff.toml", {"S-001": ("Wang", "2468")}, iterations=1000)
    station = station_stack.build_station(start=False)
    tokens = station.tokens
    assert wrong_pins(station.staff, tokens, 5)[-1] == "locked"
    station_stack.clock.advance(2 * 3600)
    assert station.staff.locked_for("S-001") > LOCK_S - 60
    with pytest.raises(StaffError) as exc:
        station.staff.sign_in(tokens.verify_staff(tokens.staff_badge("S-001")), "2468")
    assert exc.value.code == "locked"
