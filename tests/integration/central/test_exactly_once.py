"""Station outbox → centre over real HTTP: centre down then up, SIGKILL of either side; all arrive once."""
from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from kiosk.store import Store
from server_bridge.central.runner import CentralProcess
from server_bridge.uploader import Uploader
from tests.fixtures.central import fill_outbox, migrated_sqlite


def centre_counts(central: CentralProcess, station: str = "K01") -> tuple[int, int, int, int, int]:
    """(events stored, distinct seqs, highest seq, lendings projected, lendings still open)."""
    engine = create_engine(central.db_url)
    try:
        with engine.connect() as conn:
            n, distinct, top = conn.execute(text("SELECT COUNT(*), COUNT(DISTINCT seq), MAX(seq) FROM events "
                                                 "WHERE station_id=:s"), {"s": station}).one()
            lendings, still_open = conn.execute(text(
                "SELECT COUNT(*), SUM(CASE WHEN status='open' THEN 1 ELSE 0 END) FROM lendings")).one()
    finally:
        engine.dispose()
    return int(n), int(distinct), int(top or 0), int(lendings), int(still_open or 0)


def wait_until(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def make_centre(tmp_path: Path, url: str | None = None) -> tuple[CentralProcess, str]:
    central = CentralProcess(url or migrated_sqlite(tmp_path / "central.db"), tmp_path / "central")
    return central, central.add_station("K01")


def test_centre_down_for_a_while_then_up(tmp_path: Path) -> None:
    central, token = make_centre(tmp_path)
    store = Store(tmp_path / "station.db")
    fill_outbox(store, 3000)
    up = Uploader(store, "K01", central.url, token, lambda: {"version": "t"}, rng=random.Random(1),
                  batch_max=500, batch_max_age_s=0.05, heartbeat_s=0.5, timeout_s=2, backoff_max_s=1.0).start()
    try:
        wait_until(lambda: up.status()["failures"] >= 3, 15, "the uploader to notice the centre is down")
        assert up.status()["link"] == "down" and store.outbox_depth()[0] == 3000
        central.start()
        wait_until(lambda: store.outbox_depth()[0] == 0, 60, "the outbox to drain")
        assert up.status()["link"] == "up" and up.status()["acked_seq"] == 3000
    finally:
        up.stop()
        central.stop()
    assert centre_counts(central) == (3000, 3000, 3000, 1000, 0)


def test_centre_sigkilled_mid_insert_loses_and_doubles_nothing(tmp_path: Path, central_db_url: str) -> None:
    """On SQLite and on PostgreSQL: the centre dies at random points while batches stream in."""
    central, token = make_centre(tmp_path, central_db_url)
    store = Store(tmp_path / "station.db")
    total = 12_000
    fill_outbox(store, total)
    central.start()
    up = Uploader(store, "K01", central.url, token, dict, rng=random.Random(2), batch_max=1000,
                  batch_max_age_s=0.05, heartbeat_s=3600, timeout_s=3, backoff_max_s=0.5).start()
    rng = random.Random(3)
    depth_at_kill: list[int] = []
    try:
        while store.outbox_depth()[0] > 0 and len(depth_at_kill) < 6:
            # each life first takes a batch (on a busy machine a fixed delay often killed a centre that had not
            # got one yet), then dies at a random point of the stream that follows
            alive_at = store.outbox_depth()[0]
            deadline = time.monotonic() + 20
            while 0 < store.outbox_depth()[0] == alive_at and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.3))
            central.kill()
            depth_at_kill.append(store.outbox_depth()[0])
            central.start()
        wait_until(lambda: store.outbox_depth()[0] == 0, 90, "the outbox to drain after the kills")
    finally:
        up.stop()
        central.stop()
    assert any(0 < d < total for d in depth_at_kill), depth_at_kill  # killed mid-stream at least once
    assert centre_counts(central) == (total, total, total, total // 3, 0)


def test_uploader_sigkilled_mid_batch_resumes_without_duplicates(tmp_path: Path) -> None:
    central, token = make_centre(tmp_path)
    (tmp_path / "token").write_text(token)
    db = tmp_path / "station.db"
    store = Store(db)
    total = 12_000
    fill_outbox(store, total)
    store.close()
    central.start()
    cmd = [sys.executable, "-m", "server_bridge.uploader", "--store", str(db), "--station", "K01",
           "--url", central.url, "--token-file", str(tmp_path / "token"), "--batch-max", "800", "--until-empty"]
    watch = Store(db)
    try:
        for k in range(1, 5):
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # Kill while batches are streaming: once it has made progress, without waiting for a pause.
            wait_until(lambda k=k: watch.outbox_depth()[0] <= total - k * total // 6, 60, "upload progress")
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        left = watch.outbox_depth()[0]
        assert 0 < left < total, f"the kills should land mid-stream, {left} left"
        final = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert final.returncode == 0, final.stderr[-500:]
    finally:
        central.stop()
    assert Store(db).outbox_depth()[0] == 0
    assert centre_counts(central) == (total, total, total, total // 3, 0)
