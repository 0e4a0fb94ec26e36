"""Fees per policy, the durable store, and config/profile errors that name file and key."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from device_profiles import ProfileError, load_profile
from kiosk.config import ConfigError, ItemPolicy, load_config
from kiosk.services.fees import compute_fee, fee_rule_text
from kiosk.store import Store, StoreFull, StoreReplayGuard
from kiosk.tokens import TokenRejected
from tests.fixtures.disk import SmallDisk

ROOT = Path(__file__).resolve().parents[3]
UMBRELLA = ItemPolicy(free_minutes=30, fee_per_hour_cents=200, daily_cap_cents=1000, loan_hours=24)
POWER = ItemPolicy(free_minutes=10, fee_per_hour_cents=300, daily_cap_cents=2000, bought_after_days=7,
                   price_cents=9900)


@pytest.mark.parametrize(("minutes", "fee"), [(0, 0), (30, 0), (31, 200), (90, 200), (91, 400),
                                              (30 + 5 * 60, 1000), (30 + 24 * 60, 1000), (30 + 25 * 60, 1200)])
def test_umbrella_fee_free_period_started_hours_daily_cap(minutes: int, fee: int) -> None:
    assert compute_fee(UMBRELLA, minutes * 60) == (fee, False)


def test_power_bank_kept_seven_days_counts_as_bought() -> None:
    assert compute_fee(POWER, 7 * 86400) == (9900, True)
    assert compute_fee(POWER, 7 * 86400 - 1)[1] is False


def test_fee_rule_reads_in_both_languages() -> None:
    assert "前30分钟免费" in fee_rule_text(UMBRELLA, "zh")
    assert "per started hour" in fee_rule_text(UMBRELLA, "en")


def test_store_is_wal_and_full_sync_and_outbox_is_ordered(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    assert store.query("PRAGMA journal_mode")[0][0] == "wal"
    assert store.query("PRAGMA synchronous")[0][0] == 2
    with store.transaction() as conn:
        a = store.append_event(conn, "x", {"n": 1})
        b = store.append_event(conn, "x", {"n": 2})
    assert (a, b) == (1, 2)
    with pytest.raises(RuntimeError), store.transaction() as conn:
        store.append_event(conn, "x", {"n": 3})
        raise RuntimeError("crash before commit")
    assert [e.data["n"] for e in store.outbox_pending()] == [1, 2]
    store.mark_sent(1)
    assert store.outbox_depth()[0] == 1
    store.close()
    reopened = Store(tmp_path / "s.db")
    assert [e.seq for e in reopened.outbox_pending()] == [2]


def test_one_open_intent_per_slot_is_enforced_by_the_database(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    row = ("borrow", "M1", "umbrella", "U1", 3, "U-1", "pending", "me", 0.0, 0.0)
    sql = ("INSERT INTO intents(intent_id, cmd_id, kind, member_id, item_type, locker_id, slot, item_id, state,"
           " owner, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)")
    with store.transaction() as conn:
        conn.execute(sql, ("i1", "c1", *row))
    with pytest.raises(sqlite3.IntegrityError), store.transaction() as conn:
        conn.execute(sql, ("i2", "c2", *row))


def test_bad_locker_profile_names_file_and_key(tmp_path: Path) -> None:
    text = (ROOT / "device_profiles/lockers/umbrella-24.yaml").read_text().replace("slots: 24", "slots: -3")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(ProfileError) as exc:
        load_profile(bad)
    assert str(bad) in str(exc.value) and "slots" in str(exc.value)
    bad.write_text(text.replace("slots: -3", "slots: 24\ncolour: red"))
    with pytest.raises(ProfileError) as exc:
        load_profile(bad)
    assert "colour" in str(exc.value) and "unknown key" in str(exc.value)


def test_bad_station_config_names_file_and_key(tmp_path: Path) -> None:
    text = (ROOT / "station.example.toml").read_text().replace('station_id = "K01"', 'station_id = "k 01"')
    cfg = tmp_path / "station.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    assert str(cfg) in str(exc.value) and "station_id" in str(exc.value)
    cfg.write_text(text.replace('station_id = "k 01"', 'station_id = "K01"').replace("free_minutes = 30",
                                                                                    "free_minutes = -1"))
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    assert "policy.items.umbrella.free_minutes" in str(exc.value)


def test_diagnostics_call_an_empty_lending_locker_a_problem_but_not_an_empty_storage_locker() -> None:
    from kiosk.services.diagnostics import StationHealth, assess

    def locker(lid: str, item_type: str, items: list[str | None]) -> dict:
        return {"locker_id": lid, "item_type": item_type, "online": True,
                "slots": [{"slot": i + 1, "state": "occupied" if it else "empty", "item": it} for i, it in enumerate(items)]}

    health = StationHealth.from_dict({"lockers": [locker("U1", "umbrella", [None, None]),
                                                  locker("S1", "storage", [None, None]),
                                                  locker("S2", "storage", ["BAG-1", "BAG-2"])]})
    assert {(p.code, p.device) for p in assess(health)} == {("locker_empty", "U1"), ("locker_full", "S2")}


def test_a_full_disk_is_named_in_diagnostics_and_a_failed_write_keeps_what_was_committed(
        small_disk: SmallDisk) -> None:
    """SQLITE_FULL comes out as StoreFull (not "cannot rollback"), the store stays usable, and diag says where."""
    from kiosk.services.diagnostics import DiskHealth, OutboxHealth, StationHealth, assess

    store = Store(small_disk.path / "station.db")
    store.record_event("survey.rated", {"score": 5})
    assert store.room().ok
    small_disk.fill(store)
    room = store.room()
    with pytest.raises(StoreFull, match="disk full: free space on"):
        store.record_event("survey.rated", {"score": 4})
    with pytest.raises(TokenRejected) as refused:  # a member code whose use cannot be recorded is refused
        StoreReplayGuard(store).first_use("M1.M10086.1.X", 1.0)
    assert refused.value.reason == "disk_full"
    assert not room.ok and room.words().startswith(f"disk full: free space on {small_disk.path}")
    health = StationHealth(ts=0.0, version="t", uptime_s=1.0, outbox=OutboxHealth(),
                           disk=DiskHealth(0, 8 << 20, str(small_disk.path), room.words()))
    [problem] = [p for p in assess(health) if p.device == "disk"]
    assert problem.code == "disk_full" and f"disk full: free space on {small_disk.path}" in problem.message

    small_disk.free(store)
    store.record_event("survey.rated", {"score": 3})
    assert [e.data["score"] for e in store.outbox_pending()] == [5, 3]
    store.close()
