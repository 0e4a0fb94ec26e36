"""The deploy shape of docs/deploy.md: several API instances (`serve --alerts off`) and one `alerts` process on
one PostgreSQL. Stations upload concurrently to all instances while instances are SIGKILLed and restarted; at the
end every event is stored once, the projections equal those of the same events through a single instance, and
each alert was raised once."""
from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from kiosk.store import Store
from server_bridge.central.localpg import LocalPostgres
from server_bridge.central.runner import CentralProcess
from server_bridge.uploader import Uploader
from tests.integration.central.test_exactly_once import wait_until

T0 = 1_764_000_000.0
STATIONS = [f"K{i:02d}" for i in range(1, 7)]


def fill(stores: dict[str, Store], lendings: int, seed: int) -> None:
    """Items lent at one station and returned at another, every event in its station's outbox."""
    rng = random.Random(seed)
    at = T0
    for n in range(lendings):
        item = f"U-{n % 17:02d}"
        start, back = rng.choice(STATIONS), rng.choice(STATIONS)
        at += rng.uniform(1, 30)
        lid = f"{start}-L{n:05d}"
        with stores[start].transaction() as conn:
            stores[start].append_event(conn, "lending.started", {
                "lending_id": lid, "member_id": None, "item_type": "umbrella", "item_id": item,
                "station_id": start, "locker_id": "UL1", "slot": 1 + n % 24, "started_at": at,
                "due_at": at + 86400}, at=at)
        at += rng.uniform(1, 30)
        with stores[back].transaction() as conn:
            stores[back].append_event(conn, "lending.returned", {
                "lending_id": lid if back == start else None, "item_id": item, "item_type": "umbrella",
                "member_id": None, "station_id": back, "locker_id": "UL2", "slot": 1 + n % 24,
                "returned_at": at, "fee_cents": 100}, at=at)


def projections(url: str) -> tuple[Any, ...]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            lendings = conn.execute(text("SELECT lending_id, status, returned_at, return_station_id, return_kind,"
                                         " fee_cents FROM lendings ORDER BY lending_id")).all()
            returns = conn.execute(text("SELECT station_id, seq, outcome, lending_id FROM lending_returns"
                                        " ORDER BY station_id, seq")).all()
            events = conn.execute(text("SELECT COUNT(*), COUNT(DISTINCT (station_id, seq)),"
                                       " COUNT(DISTINCT event_id) FROM events")).one()
            alerts = conn.execute(text("SELECT kind, station_id, subject, COUNT(*) FROM alerts"
                                       " GROUP BY kind, station_id, subject")).all()
    finally:
        engine.dispose()
    return [tuple(r) for r in lendings], [tuple(r) for r in returns], tuple(events), [tuple(r) for r in alerts]


def run_fleet(pg: LocalPostgres, work: Path, instances: int, kills: int, seed: int,
              lendings: int) -> tuple[Any, ...]:
    url = pg.create_database(f"multi_{uuid.uuid4().hex[:8]}")
    centres = [CentralProcess(url, work / f"api{i}", offline_after_s=4, eval_every_s=3600, alerts="off")
               for i in range(instances)]
    centres[0].cli("migrate")
    tokens = {sid: centres[0].add_station(sid) for sid in STATIONS}
    stores = {sid: Store(work / f"{sid}.db") for sid in STATIONS}
    fill(stores, lendings, seed)
    for c in centres:
        c.start()
    alerts = subprocess.Popen([sys.executable, "-m", "server_bridge.central", "alerts", "--db", url,
                               "--eval-every", "0.3", "--offline-after", "4"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uploaders = [Uploader(stores[sid], sid, centres[i % instances].url, tokens[sid], dict,
                          rng=random.Random(i), batch_max=40, batch_max_age_s=0.05, heartbeat_s=0.5, timeout_s=2,
                          backoff_max_s=0.5).start() for i, sid in enumerate(STATIONS)]
    stop = threading.Event()
    rng = random.Random(seed)

    def chaos() -> None:
        for _ in range(kills):
            if stop.wait(rng.uniform(0.3, 1.0)):
                return
            victim = rng.choice(centres)
            victim.kill()
            time.sleep(rng.uniform(0.2, 0.8))
            victim.start()

    killer = threading.Thread(target=chaos)
    killer.start()
    try:
        wait_until(lambda: all(s.outbox_depth()[0] == 0 for s in stores.values()), 60 + lendings / 5,
                   "every outbox drained")
        killer.join()
        uploaders[-1].stop()  # the last station goes silent: station_offline, raised once
        wait_until(lambda: ("station_offline", STATIONS[-1], "", 1) in projections(url)[3], 30, "station_offline")
        time.sleep(1.0)  # a few more passes: nothing raised twice
    finally:
        stop.set()
        killer.join()
        for up in uploaders[:-1]:
            up.stop()
        alerts.terminate()
        alerts.wait(10)
        for c in centres:
            c.stop()
    return projections(url)


@pytest.mark.postgres
@pytest.mark.parametrize(("lendings", "kills"), [
    (150, 4), pytest.param(2000, 20, marks=[pytest.mark.slow, pytest.mark.timeout(1200)])])
def test_three_instances_and_an_alerts_process_lose_double_and_differ_in_nothing(
        local_postgres: LocalPostgres, tmp_path: Path, lendings: int, kills: int) -> None:
    several = run_fleet(local_postgres, tmp_path / "several", instances=3, kills=kills, seed=5, lendings=lendings)
    single = run_fleet(local_postgres, tmp_path / "single", instances=1, kills=0, seed=5, lendings=lendings)
    total = 2 * lendings
    assert several[2] == (total, total, total), "every event stored once"
    assert several[0] == single[0] and several[1] == single[1], "projections as through one instance"
    assert all(r[3] == 1 for r in several[3]), f"each alert raised once: {several[3]}"
    assert ("station_offline", STATIONS[-1], "", 1) in several[3]
    assert not [r for r in several[0] if r[1] == "open"], "every lending ended by its return"
    assert {r[2] for r in several[1]} == {"closed"}, "every return paired"
