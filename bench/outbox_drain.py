"""Outbox drain station → centre over loopback HTTP (SQLite and PostgreSQL centre), against a naive
one-event-per-request baseline measured in the same run. Goal: ≥ 5,000 events/s on SQLite, ≥ 20× baseline.

    .venv/bin/python bench/outbox_drain.py [--events 100000] [--baseline-events 2000] [--backends sqlite,postgres]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402

from kiosk.store import Store  # noqa: E402
from server_bridge.central.localpg import LocalPostgres, PostgresUnavailable  # noqa: E402
from server_bridge.central.runner import CentralProcess  # noqa: E402
from server_bridge.simulate import fill_outbox  # noqa: E402
from server_bridge.uploader import Uploader  # noqa: E402


def drain(store: Store, central: CentralProcess, station: str, batch_max: int) -> tuple[float, int]:
    """Seconds to empty the outbox, and how many requests it took."""
    token = central.add_station(station)
    up = Uploader(store, station, central.url, token, dict, batch_max=batch_max, timeout_s=30)
    requests = 0
    started = time.perf_counter()
    while store.outbox_depth()[0]:
        up.drain_once()
        requests += 1
        if up.status()["link"] == "down":
            raise RuntimeError(f"upload failed: {up.status()['last_error']}")
    elapsed = time.perf_counter() - started
    up.stop()
    return elapsed, requests


def centre_count(central: CentralProcess, station: str) -> int:
    """Events the centre holds for the station: the drain must have stored each one exactly once."""
    engine = create_engine(central.db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT COUNT(DISTINCT seq) FROM events WHERE station_id=:s"),
                                    {"s": station}).scalar_one())
    finally:
        engine.dispose()


def run_backend(name: str, db_url: str, work: Path, events: int, baseline_events: int) -> dict:
    central = CentralProcess(db_url, work / f"central-{name}")
    central.cli("migrate")
    central.start()
    try:
        store = Store(work / f"station-{name}.db")
        fill_outbox(store, events, station="K01")
        batched_s, requests = drain(store, central, "K01", batch_max=500)
        base_store = Store(work / f"station-{name}-baseline.db")
        fill_outbox(base_store, baseline_events, station="KB1")
        naive_s, _ = drain(base_store, central, "KB1", batch_max=1)
        stored = centre_count(central, "K01")
    finally:
        central.stop()
    batched = events / batched_s
    naive = baseline_events / naive_s
    return {"backend": name, "events": events, "batched_s": round(batched_s, 2), "requests": requests,
            "events_per_s": round(batched), "baseline_events": baseline_events,
            "baseline_events_per_s": round(naive, 1), "ratio": round(batched / naive, 1),
            "stored": stored}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--baseline-events", type=int, default=2000)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-drain-"))
    rows: list[dict] = []
    pg: LocalPostgres | None = None
    try:
        for backend in args.backends.split(","):
            if backend == "sqlite":
                url = f"sqlite:///{work / 'central.db'}"
            else:
                try:
                    pg = pg or LocalPostgres().start()
                except PostgresUnavailable as exc:
                    print(f"skipping postgres: {exc}")
                    continue
                url = pg.create_database("bench_drain")
            rows.append(run_backend(backend, url, work, args.events, args.baseline_events))
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'backend':<10}{'events':>9}{'seconds':>9}{'events/s':>10}{'naive ev/s':>12}{'ratio':>8}")
    for r in rows:
        print(f"{r['backend']:<10}{r['events']:>9}{r['batched_s']:>9}{r['events_per_s']:>10}"
              f"{r['baseline_events_per_s']:>12}{r['ratio']:>8}")
    sqlite_row = next((r for r in rows if r["backend"] == "sqlite"), None)
    result = {"runs": rows,
              "goal_sqlite_5000_per_s": bool(sqlite_row and sqlite_row["events_per_s"] >= 5000),
              "goal_20x_baseline": bool(sqlite_row and sqlite_row["ratio"] >= 20)}
    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
