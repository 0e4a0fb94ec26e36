"""Uploads that would stall or vanish without a sign: a centre restored from an older backup, and a station
re-imaged (new database, same id and token). Each is detected, alerted at the centre, shown in the station's
uploader status, and recovered: every event ends up stored once at the centre."""
from __future__ import annotations

import random
import shutil
from pathlib import Path

from sqlalchemy import create_engine, text

from kiosk.services.diagnostics import OutboxHealth, _upload_problems
from kiosk.store import Store
from server_bridge.central.runner import CentralProcess
from server_bridge.uploader import Uploader
from tests.fixtures.central import fill_outbox, migrated_sqlite
from tests.integration.central.test_exactly_once import wait_until


def centre_rows(central: CentralProcess, sql: str) -> list[tuple]:
    engine = create_engine(central.db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql)).all()]
    finally:
        engine.dispose()


def alerts_of(central: CentralProcess, kind: str) -> list[tuple]:
    return centre_rows(central, f"SELECT station_id, cleared_at FROM alerts WHERE kind = '{kind}'")


def uploader(store: Store, central: CentralProcess, token: str, seed: int) -> Uploader:
    return Uploader(store, "K01", central.url, token, dict, rng=random.Random(seed), batch_max=200,
                    batch_max_age_s=0.05, heartbeat_s=3600, timeout_s=3, backoff_max_s=0.5)


def start_centre(tmp_path: Path) -> tuple[CentralProcess, str]:
    central = CentralProcess(migrated_sqlite(tmp_path / "central.db"), tmp_path / "central", eval_every_s=0.3)
    token = central.add_station("K01")
    central.start()
    return central, token


def test_centre_restored_from_an_older_backup_gets_the_lost_events_again(tmp_path: Path) -> None:
    central, token = start_centre(tmp_path)
    store = Store(tmp_path / "station.db")
    backup = tmp_path / "backup.db"
    try:
        fill_outbox(store, 300)
        up = uploader(store, central, token, 1)
        while up.drain_once():
            pass
        assert store.outbox_depth()[0] == 0
        central.stop()
        shutil.copy(tmp_path / "central.db", backup)  # the nightly backup: seq 1..300
        central.start()
        fill_outbox(store, 300)  # seq 301..600, acknowledged by the centre and marked sent at the station
        while up.drain_once():
            pass
        assert store.outbox_depth()[0] == 0
        central.stop()
        for suffix in ("", "-wal", "-shm"):
            (tmp_path / f"central.db{suffix}").unlink(missing_ok=True)
        shutil.copy(backup, tmp_path / "central.db")  # disk lost: restored from the backup, 301..600 gone
        central.start()
        fill_outbox(store, 150)  # 601..750 start past the centre's 300: a gap it could never fill
        up.start()
        wait_until(lambda: centre_rows(central, "SELECT acked_seq FROM stations")[0][0] == 750, 60,
                   "the station to resend what the restore lost")
        wait_until(lambda: alerts_of(central, "upload_gap"), 10, "the upload_gap alert")
        # the centre commits before its answer reaches the station: wait for the station to note the last ack
        wait_until(lambda: store.outbox_depth()[0] == 0, 10, "the station to mark the resent events sent")
        status = up.status()
        shown = _upload_problems(up.link_status(), OutboxHealth())
        up.stop()
    finally:
        central.stop()
    assert [p.code for p in shown] == ["upload_recovered"] and "resent from seq 301" in shown[0].message
    assert status["upload_problem"]["kind"] == "centre_behind"
    assert status["upload_problem"]["resent_from_seq"] == 301
    assert status["link"] == "up" and status["outbox_depth"] == 0
    assert centre_rows(central, "SELECT COUNT(*), COUNT(DISTINCT seq), MAX(seq) FROM events")[0] == (750, 750, 750)
    assert centre_rows(central, "SELECT upload_problem FROM stations")[0] == (None,), "recovered"


def test_a_re_imaged_station_reusing_seqs_is_refused_then_numbered_after_the_centre(tmp_path: Path) -> None:
    central, token = start_centre(tmp_path)
    try:
        old = Store(tmp_path / "old.db")
        fill_outbox(old, 90)
        up = uploader(old, central, token, 2)
        while up.drain_once():
            pass
        up.stop()
        fresh = Store(tmp_path / "fresh.db")  # re-imaged: a new database numbering from 1, same id and token
        fill_outbox(fresh, 60)
        again = uploader(fresh, central, token, 3)
        assert again.drain_once() == 0, "the reused seqs are refused, not acknowledged"
        assert fresh.outbox_depth()[0] == 60, "nothing marked sent"
        assert centre_rows(central, "SELECT upload_problem FROM stations")[0] == ("seq_reused",)
        wait_until(lambda: alerts_of(central, "upload_seq_reused"), 10, "the upload_seq_reused alert")
        again.start()
        wait_until(lambda: fresh.outbox_depth()[0] == 0, 30, "the re-imaged station's events to be stored")
        status = again.status()
        shown = _upload_problems(again.link_status(), OutboxHealth())
        again.stop()
        assert [p.code for p in shown] == ["upload_recovered"] and "numbered from 91" in shown[0].message
        assert Uploader(fresh, "K01", central.url, token, dict).status()["seq_offset"] == 90, "kept across restarts"
    finally:
        central.stop()
    assert status["upload_problem"]["kind"] == "seq_reused" and status["seq_offset"] == 90
    n, distinct_ids, top = centre_rows(central, "SELECT COUNT(*), COUNT(DISTINCT event_id), MAX(seq) FROM events")[0]
    assert (n, distinct_ids, top) == (150, 150, 150), "both images' events stored, none overwritten or lost"
    assert centre_rows(central, "SELECT acked_seq, upload_problem FROM stations")[0] == (150, None)


def test_a_number_sent_as_a_string_is_refused_naming_the_field(tmp_path: Path) -> None:
    import httpx

    from tests.fixtures.central import envelope
    central, token = start_centre(tmp_path)
    try:
        ev = envelope(7, "survey.rated", {"flow": "borrow", "score": 5, "lang": "en"})
        answer = httpx.post(f"{central.url}/api/v1/stations/K01/events", json={"events": [{**ev, "seq": "7"}]},
                            headers={"Authorization": f"Bearer {token}"}, timeout=10)
        slot = httpx.post(f"{central.url}/api/v1/stations/K01/events", headers={"Authorization": f"Bearer {token}"},
                          json={"events": [{**ev, "data": {**ev["data"], "score": "5"}}]}, timeout=10)
    finally:
        central.stop()
    assert answer.status_code == 422 and answer.json()["field"] == "body.events.0.seq", answer.text
    assert slot.status_code == 422 and "score" in slot.json()["field"], slot.text
    assert centre_rows(central, "SELECT COUNT(*) FROM events")[0][0] == 0
