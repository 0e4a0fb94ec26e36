"""The centre's cost curve: simulated fleets of 1,000 / 10,000 / 100,000 stations against the centre on a
throwaway PostgreSQL, with 1, 2 and 4 API instances (`serve --alerts off`, as behind a proxy) and the alert
evaluator on its own.

Time is compressed: every station heartbeats at its real 30 s interval scaled down to what the load generator
can push, and ~2 % of requests are event uploads (40 events per station per day against 2,880 heartbeats, the
same ratio); ~2 % of heartbeats change what the alert rules judge (a lending or a battery crossing the
threshold). Per fleet size it reports heartbeats/s, p50/p99 latency, the alert pass (cold: a fresh view reads and
judges every station's health; steady: after 1 % of the fleet changed its health, wall and CPU time; real: after
the share that changes between two passes of a real fleet, n × 5 s / 30 s × 2 %, a third of that), and CPU per
1,000 stations at the real rate (centre + PostgreSQL CPU time per heartbeat × 1,000 / 30 s). Rows and bytes per
station per day come from one simulated day on PostgreSQL (`storage_day`: heap + TOAST + indexes of every table
before and after, after the roll-up and retention). One machine (2 shared cores) runs the load generator, the API
instances and PostgreSQL: the figures are a floor for this box, not a server.

The baseline, measured in the same run just before each row with the same load generator: as many no-op
servers on the same HTTP stack (bench/support/http_ceiling.py: uvicorn + httptools + uvloop answering 204) as API
instances. `ceiling/s` is what this box reaches at that moment with nothing behind HTTP; `of ceil` is the
centre's heartbeats/s as a share of it. The machine is shared: every row records the load average.

    .venv/bin/python bench/fleet_scale.py    # bounded: 1,000 and 10,000 stations, 1 and 2 instances, storage
                                             # on 300 stations (3 min 39 s at load 11)
    .venv/bin/python bench/fleet_scale.py --fleets 1000,10000,100000 --workers 1,2,4 --seconds 6 \
        --storage-stations 1000              # the full curve (15 min 40 s at load 10-31)
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from heartbeat_ingest import read_response  # noqa: E402  (bench/ is on the path when run as a script)
from sqlalchemy import insert, text  # noqa: E402

from mallcommon.net import free_port  # noqa: E402
from server_bridge.central import schema_migrations  # noqa: E402
from server_bridge.central.alerts import AlertSettings, FleetView, evaluate, sample_devices  # noqa: E402
from server_bridge.central.db import Database  # noqa: E402
from server_bridge.central.demo_history import history_for  # noqa: E402
from server_bridge.central.fleet import HeartbeatBuffer, Retention, roll_up_and_prune  # noqa: E402
from server_bridge.central.ingest import ingest_batch  # noqa: E402
from server_bridge.central.localpg import LocalPostgres  # noqa: E402
from server_bridge.central.models import Station  # noqa: E402
from server_bridge.central.runner import CentralProcess  # noqa: E402
from server_bridge.central.schemas import Batch, Heartbeat  # noqa: E402
from server_bridge.central.wiring import build_registry  # noqa: E402

BEAT_S = 30.0
EVENTS_PER_DAY = 40
BEATS_PER_DAY = 86400 / BEAT_S
CHANGE_P = 0.02
EVAL_EVERY_S = 5.0  # the alerts process's pass interval (server_bridge/central/runner.py)
SAMPLE_EVERY_S = 60.0
STANDING = ("stations", "station_health", "device_samples")  # a row per station, or the last 6 h: not per day


def health(variant: int) -> dict[str, Any]:
    """A station as the kiosk reports it: printer, camera, 24 umbrella slots and 12 power bank slots."""
    return {"ts": time.time(), "version": "1.4.0", "uptime_s": 3600,
            "printer": {"online": True, "paper_out": False, "paper_near_end": False, "cover_open": False},
            "camera": {"connected": True, "fps": 15.0, "decode_rate": 0.95},
            "lockers": [{"locker_id": "UL1", "item_type": "umbrella", "online": True, "faults": [],
                         "slots": [{"slot": s, "state": "occupied" if (s + variant) % 4 else "empty",
                                    "item": f"U-{s:04d}" if (s + variant) % 4 else None} for s in range(1, 25)]},
                        {"locker_id": "PB1", "item_type": "power_bank", "online": True, "faults": [],
                         "slots": [{"slot": s, "state": "occupied", "item": f"P-{s:03d}", "battery": 60 + 3 * s,
                                    "charging": True} for s in range(1, 13)]}],
            "outbox": {"depth": 0, "oldest_age_s": None}}


BODIES = [json.dumps(health(v), separators=(",", ":")).encode() for v in (0, 1)]


def event_body(sid: str, seq: int) -> bytes:
    data = {"lending_id": f"{sid}-L{seq}", "member_id": None, "item_type": "umbrella", "item_id": f"{sid}-U{seq % 24}",
            "station_id": sid, "locker_id": "UL1", "slot": 1 + seq % 24, "started_at": time.time(),
            "due_at": time.time() + 86400}
    return json.dumps({"events": [{"seq": seq, "id": f"{sid}-{seq:010d}-ev", "type": "lending.started",
                                   "ts": "2026-11-30T10:00:00Z", "data": data}]}, separators=(",", ":")).encode()


def register(db: Database, n: int) -> dict[str, str]:
    tokens = {f"S{i:06d}": secrets.token_urlsafe(32) for i in range(n)}
    rows = [{"station_id": sid, "name": "", "token_hash": hashlib.sha256(tok.encode()).hexdigest(),
             "created_at": time.time(), "acked_seq": 0} for sid, tok in tokens.items()]
    with db.session() as s:
        for i in range(0, n, 10_000):
            s.execute(insert(Station), rows[i:i + 10_000])
    beats = HeartbeatBuffer(db, flush_s=60)  # not started: flushed below
    first = Heartbeat.model_validate_json(BODIES[0])
    for i, sid in enumerate(tokens):  # every station has reported once (the alert pass has a fleet to judge)
        beats.put(sid, first, BODIES[0])
        if i % 10_000 == 9_999:
            beats.flush()
    beats.flush()
    return tokens


async def load(ports: list[int], tokens: dict[str, str], connections: int, seconds: float,
               seed: int) -> dict[str, Any]:
    sids = list(tokens)
    heads = {sid: (f"Authorization: Bearer {tok}\r\nContent-Type: application/json\r\n").encode()
             for sid, tok in tokens.items()}
    variant = dict.fromkeys(sids, 0)
    seqs = dict.fromkeys(sids, 0)
    lat: list[float] = []
    ev_lat: list[float] = []
    errors = 0
    changes = 0
    rng = random.Random(seed)
    started = time.perf_counter()
    measure_from, stop_at = started + 1.5, started + 1.5 + seconds
    cursor = rng.randrange(len(sids))
    events_every = round(BEATS_PER_DAY / EVENTS_PER_DAY)

    async def worker(k: int) -> None:
        nonlocal errors, changes, cursor
        port = ports[k % len(ports)]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = 0
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                break
            sid = sids[cursor % len(sids)]
            cursor += 1
            n += 1
            is_event = n % events_every == 0
            if is_event:
                seqs[sid] += 1
                body, path = event_body(sid, seqs[sid]), f"/api/v1/stations/{sid}/events"
            else:
                if rng.random() < CHANGE_P:
                    variant[sid] ^= 1
                    changes += 1
                body, path = BODIES[variant[sid]], f"/api/v1/stations/{sid}/heartbeat"
            writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n".encode()
                         + heads[sid] + b"\r\n" + body)
            status = await read_response(reader)
            t1 = time.perf_counter()
            if status not in (200, 204):
                errors += 1
            if t0 >= measure_from:
                (ev_lat if is_event else lat).append(t1 - t0)
        writer.close()

    await asyncio.gather(*(worker(k) for k in range(connections)))
    lat.sort()
    q = statistics.quantiles(lat, n=100) if len(lat) > 100 else [float("nan")] * 99
    return {"beats": len(lat), "beats_per_s": len(lat) / seconds, "events_per_s": len(ev_lat) / seconds,
            "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "errors": errors, "changes": changes}


def run_load(ports: list[int], tokens: dict[str, str], connections: int, seconds: float, seed: int) -> dict[str, Any]:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # the load generator's own cost, lower
        return runner.run(load(ports, tokens, connections, seconds, seed))


def run_ceiling(servers: int, tokens: dict[str, str], connections: int, seconds: float, seed: int) -> dict[str, Any]:
    """The same load against `servers` no-op servers on the centre's HTTP stack (the baseline of this row)."""
    ports = [free_port() for _ in range(servers)]
    procs = [subprocess.Popen([sys.executable, "-m", "uvicorn", "--app-dir", str(Path(__file__).parent / "support"),
                               "http_ceiling:app", "--http", "httptools", "--loop", "uvloop", "--lifespan", "off",
                               "--no-access-log", "--log-level", "warning", "--host", "127.0.0.1", "--port", str(p)])
             for p in ports]
    try:
        for p in ports:
            deadline = time.monotonic() + 20
            while True:
                try:
                    asyncio.run(asyncio.wait_for(asyncio.open_connection("127.0.0.1", p), 1))
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        return run_load(ports, tokens, connections, seconds, seed)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


def cpu_of(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def postgres_procs(pg: LocalPostgres) -> list[psutil.Process]:
    assert pg.proc is not None
    root = psutil.Process(pg.proc.pid)
    return [root, *root.children(recursive=True)]


def alert_pass(db: Database, n: int, pg_procs: list[psutil.Process]) -> dict[str, float]:
    """Cold pass (every health read), then steady passes after 1 % of the fleet changed its health. Wall time
    and CPU time (this process + PostgreSQL): on a shared box the wall time includes waiting for a core, the
    CPU time is what the pass costs."""
    rules = build_registry().alert_rules
    settings = AlertSettings(offline_after_s=3600)
    view = FleetView()
    t0, c0 = time.perf_counter(), time.process_time() + cpu_of(pg_procs)
    with db.session() as s:
        evaluate(s, time.time(), settings, rules, view)
    cold, cold_cpu = time.perf_counter() - t0, time.process_time() + cpu_of(pg_procs) - c0
    time.sleep(FleetView.CHANGE_MARGIN_S)  # the beats of registration are behind the steady passes' watermark
    beats = HeartbeatBuffer(db, flush_s=60)  # not started: flushed below
    changed = Heartbeat.model_validate_json(BODIES[1])
    ids = [f"S{i:06d}" for i in range(n)]

    def passes(changes: int, seed: int) -> tuple[list[float], list[float]]:
        wall, cpu = [], []
        for k in range(3):
            for sid in random.Random(seed + k).sample(ids, max(1, changes)):
                beats.put(sid, changed if k % 2 == 0 else Heartbeat.model_validate_json(BODIES[0]),
                          BODIES[k % 2 == 0])
            beats.flush()
            t0, c0 = time.perf_counter(), time.process_time() + cpu_of(pg_procs)
            with db.session() as s:
                evaluate(s, time.time(), settings, rules, view)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() + cpu_of(pg_procs) - c0)
        return wall, cpu

    steady, steady_cpu = passes(n // 100, 0)
    # what changes between two passes of the real fleet: beats every 30 s, 2 % of them change the health, a pass
    # every 5 s (the alerts process's default) -> n * 5 / 30 * 0.02, a third of the 1 % above
    real, real_cpu = passes(round(n * EVAL_EVERY_S / BEAT_S * CHANGE_P), 100)
    t0 = time.perf_counter()
    with db.session() as s:
        sample_devices(s, time.time(), settings, view)
    sample = time.perf_counter() - t0
    return {"cold_ms": cold * 1000, "cold_cpu_ms": cold_cpu * 1000, "steady_ms": statistics.median(steady) * 1000,
            "steady_cpu_ms": statistics.median(steady_cpu) * 1000,
            "steady_real_ms": statistics.median(real) * 1000, "steady_real_cpu_ms": statistics.median(real_cpu) * 1000,
            "health_read": view.health_read, "sample_ms": sample * 1000}


# heap + TOAST + indexes of each table, main forks only: pg_total_relation_size also counts each relation's
# free-space and visibility maps (~32 KB a table whatever its rows), noise at a few thousand stations
_SIZES = text("""SELECT c.relname, pg_relation_size(c.oid) + COALESCE(pg_relation_size(c.reltoastrelid), 0)
        + COALESCE((SELECT sum(pg_relation_size(i.indexrelid)) FROM pg_index i
                    WHERE i.indrelid IN (c.oid, c.reltoastrelid)), 0)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind = 'r'""")


def storage_day(pg: LocalPostgres, n: int, busy: float = 0.5) -> dict[str, Any]:
    """What one day of a fleet leaves on PostgreSQL, measured as pg_total_relation_size (heap, indexes, TOAST)
    of every table before and after, divided by stations: `n` stations each upload a day of events (the demo
    history's mix: lendings, returns, ratings, complaints, desk requests, duties; `busy` scales it), change their
    health summary at 2 % of 2,880 beats, and are sampled once a minute; then the alerts process's roll-up and
    retention run as at 06:00 the next day (raw samples past 6 h gone, hours and the day rolled up).
    `standing` are tables whose size per station does not grow by day (the latest row per station, the 6 h of
    raw samples)."""
    url = pg.create_database(f"storage_{n}")
    schema_migrations.upgrade(url)
    db = Database(url)
    reg = build_registry()
    # a weekday after registration (a beat older than the one stored changes nothing: registration beats now);
    # the demo history is busier at weekends, so always the same weekday (1970-01-01 was a Thursday: day % 7 == 6
    # is a Wednesday)
    day = int(time.time() // 86400) + 1
    day0 = (day + (6 - day) % 7) * 86400.0
    tokens = register(db, n)
    sids = list(tokens)

    def sizes_now() -> dict[str, int]:
        with db.session() as s:
            return {t: int(b) for t, b in s.execute(_SIZES).all()}

    def rows_now() -> dict[str, int]:
        with db.session() as s:
            return {t: int(s.scalar(text(f"SELECT count(*) FROM {t}")) or 0) for t in before}

    before = sizes_now()
    rows_before = rows_now()
    rng = random.Random(n)
    events = 0
    for sid in sids:
        batch = history_for(sid, 1, 1, day0 + 86400, rng, busy=busy)
        events += len(batch)
        for i in range(0, len(batch), 500):
            with db.session() as s:
                ingest_batch(s, sid, Batch.model_validate({"events": batch[i:i + 500]}), day0 + 86400,
                             reg.projections)
    clock = [day0]
    beats = HeartbeatBuffer(db, flush_s=60, clock=lambda: clock[0])  # not started: flushed below
    bodies = [Heartbeat.model_validate_json(b) for b in BODIES]
    changes_per_day = round(CHANGE_P * BEATS_PER_DAY)
    for k in range(changes_per_day):
        clock[0] = day0 + (k + 1) * 86400 / (changes_per_day + 1)
        for sid in sids:
            beats.put(sid, bodies[(k + 1) % 2], BODIES[(k + 1) % 2])
        beats.flush()
    with db.session() as s:
        s.execute(text("""INSERT INTO device_samples (station_id, at, station_up, printer_up, lockers_up, lockers_total)
            SELECT station_id, :day0 + 60 * k, true, true, 2, 2 FROM stations, generate_series(0, 1439) AS k"""),
                  {"day0": day0})
    # the raw samples kept at any time (6 h of 24) as a share of a day's worth, before the retention deletes
    # them (the space of deleted rows is reused by later ones, but still counted by the relation's size)
    raw_kept = (sizes_now()["device_samples"] - before["device_samples"]) * 6 / 24
    with db.session() as s:
        roll_up_and_prune(s, day0 + 86400 + 6 * 3600 + 1, Retention())
    after = sizes_now()
    after["device_samples"] = before["device_samples"] + int(raw_kept)
    rows_after = rows_now()
    rows_after["device_samples"] = rows_before["device_samples"] + n * 360
    db.dispose()
    tables = {t: {"bytes_per_station": (after[t] - before.get(t, 0)) / n,
                  "rows_per_station": (rows_after[t] - rows_before.get(t, 0)) / n}
              for t in after if after[t] != before.get(t, 0) or rows_after[t] != rows_before.get(t, 0)}
    if tables.get("health_changes", {}).get("rows_per_station") != changes_per_day:
        raise RuntimeError(f"the simulated day logged {tables.get('health_changes')} health changes a station, "
                           f"not {changes_per_day}: its beats were not taken as newer than the stored ones")
    daily = {t: v for t, v in tables.items() if t not in STANDING}
    return {"stations": n, "events_per_station_day": events / n, "tables": tables,
            "bytes_per_station_day": sum(v["bytes_per_station"] for v in daily.values()),
            "rows_per_station_day": sum(v["rows_per_station"] for v in daily.values()),
            "standing": {t: after[t] / n for t in STANDING}}


def run_fleet(pg: LocalPostgres, work: Path, n: int, workers: list[int], seconds: float,
              connections: int) -> list[dict[str, Any]]:
    url = pg.create_database(f"fleet_{n}")
    schema_migrations.upgrade(url)
    db = Database(url)
    t0 = time.perf_counter()
    tokens = register(db, n)
    setup_s = time.perf_counter() - t0
    out = []
    for w in workers:
        centres = [CentralProcess(url, work / f"c{n}-{w}-{i}", offline_after_s=3600, eval_every_s=3600,
                                  alerts="off") for i in range(w)]
        load_before = os.getloadavg()[0]
        ceiling = run_ceiling(w, tokens, connections, seconds, seed=n + w)
        for c in centres:
            c.start()
        procs = [psutil.Process(c.proc.pid) for c in centres if c.proc is not None] + postgres_procs(pg)
        cpu0, wall0 = cpu_of(procs), time.perf_counter()
        try:
            r = run_load([c.port for c in centres], tokens, connections, seconds, seed=n + w)
        finally:
            cpu1, wall1 = cpu_of(procs), time.perf_counter()
            for c in centres:
                c.stop()
        r.update(ceiling_per_s=ceiling["beats_per_s"], ceiling_p99_ms=ceiling["p99_ms"],
                 of_ceiling=r["beats_per_s"] / max(ceiling["beats_per_s"], 1e-9),
                 load_avg=(load_before + os.getloadavg()[0]) / 2)
        cores = (cpu1 - cpu0) / (wall1 - wall0)
        per_beat_cpu = cores / r["beats_per_s"] if r["beats_per_s"] else float("nan")  # none answered in time
        r.update(stations=n, workers=w, setup_s=setup_s, centre_pg_cores=cores,
                 millicores_per_1000_stations=1000 * per_beat_cpu * 1000 / BEAT_S)
        out.append(r)
    passes = alert_pass(db, n, postgres_procs(pg))
    for r in out:
        r.update(passes)
    db.dispose()
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fleets", default="1000,10000")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=48)
    parser.add_argument("--storage-stations", type=int, default=300,
                        help="stations of the simulated day the bytes per station per day are measured on")
    args = parser.parse_args()
    fleets = [int(x) for x in args.fleets.split(",")]
    workers = [int(x) for x in args.workers.split(",")]
    pg = LocalPostgres().start()
    work = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    rows: list[dict[str, Any]] = []
    try:
        t0 = time.perf_counter()
        storage = storage_day(pg, args.storage_stations)
        storage["load_avg"] = os.getloadavg()[0]
        print(f"storage: {storage['bytes_per_station_day']:.0f} B per station per day "
              f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
        for n in fleets:
            rows += run_fleet(pg, work, n, workers, args.seconds, args.connections)
            print(f"fleet {n}: " + "; ".join(f"{r['workers']} instance(s) {r['beats_per_s']:.0f}/s "
                                             f"({r['of_ceiling']:.2f} of ceiling) p99 {r['p99_ms']:.0f} ms "
                                             f"load {r['load_avg']:.1f}" for r in rows[-len(workers):]),
                  file=sys.stderr, flush=True)  # progress: the full curve takes a while
    finally:
        pg.stop()
    cols = [("stations", "{:>8}"), ("workers", "{:>4}"), ("load_avg", "{:>5.1f}"), ("ceiling_per_s", "{:>9.0f}"),
            ("beats_per_s", "{:>8.0f}"), ("of_ceiling", "{:>7.2f}"), ("p50_ms", "{:>7.1f}"),
            ("p99_ms", "{:>7.1f}"), ("events_per_s", "{:>6.0f}"), ("errors", "{:>5}"), ("cold_ms", "{:>8.0f}"),
            ("cold_cpu_ms", "{:>8.0f}"), ("steady_ms", "{:>8.0f}"), ("steady_cpu_ms", "{:>7.0f}"),
            ("steady_real_ms", "{:>8.0f}"), ("steady_real_cpu_ms", "{:>8.0f}"),
            ("centre_pg_cores", "{:>6.2f}"), ("millicores_per_1000_stations", "{:>8.1f}")]
    heads = ["stations", "wrk", "load", "ceiling/s", "beats/s", "of ceil", "p50 ms", "p99 ms", "ev/s", "err",
             "cold ms", "cold cpu", "pass ms", "cpu ms", "real ms", "real cpu", "cores", "mcore/1k"]
    print(" ".join(f"{h:>{len(f.format(rows[0][k]))}}" for h, (k, f) in zip(heads, cols, strict=True)))
    for r in rows:
        print(" ".join(f.format(r[k]) for k, f in cols))
    print(f"\nstorage per station per day ({storage['stations']} stations, one simulated day, "
          f"{storage['events_per_station_day']:.0f} events a station, load {storage['load_avg']:.1f}):")
    print(f"{'table':>24} {'rows/d':>7} {'B/d':>7} {'B/row':>6}")
    for t, v in sorted(storage["tables"].items(), key=lambda kv: -kv[1]["bytes_per_station"]):
        if t not in STANDING:
            print(f"{t:>24} {v['rows_per_station']:>7.1f} {v['bytes_per_station']:>7.0f} "
                  f"{v['bytes_per_station'] / max(v['rows_per_station'], 1e-9):>6.0f}")
    print(f"{'all':>24} {storage['rows_per_station_day']:>7.1f} {storage['bytes_per_station_day']:>7.0f}")
    print("standing, per station: " + ", ".join(f"{t} {b:.0f} B" for t, b in storage["standing"].items()))
    best = max((r for r in rows if r["stations"] == max(fleets)), key=lambda r: r["beats_per_s"])
    result = {"rows": [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()} for r in rows],
              "best_at_largest_fleet": {"stations": best["stations"], "workers": best["workers"],
                                        "beats_per_s": round(best["beats_per_s"]), "p99_ms": round(best["p99_ms"], 1),
                                        "ceiling_per_s": round(best["ceiling_per_s"]),
                                        "of_ceiling": round(best["of_ceiling"], 2), "load_avg": round(best["load_avg"], 1),
                                        "alert_pass_ms": round(best["steady_ms"], 1),
                                        "alert_pass_cpu_ms": round(best["steady_cpu_ms"], 1),
                                        "alert_pass_real_rate_ms": round(best["steady_real_ms"], 1),
                                        "alert_pass_real_rate_cpu_ms": round(best["steady_real_cpu_ms"], 1),
                                        "alert_pass_cold_ms": round(best["cold_ms"]),
                                        "alert_pass_cold_cpu_ms": round(best["cold_cpu_ms"])},
              "storage": {"bytes_per_station_day": round(storage["bytes_per_station_day"]),
                          "rows_per_station_day": round(storage["rows_per_station_day"], 1),
                          "events_per_station_day": round(storage["events_per_station_day"], 1),
                          "by_table": {t: round(v["bytes_per_station"]) for t, v in storage["tables"].items()
                                       if t not in STANDING},
                          "standing_bytes_per_station": {t: round(b) for t, b in storage["standing"].items()}},
              "goals": {"beats_5000_per_s_p99_50ms": best["beats_per_s"] >= 5000 and best["p99_ms"] <= 50,
                        "alert_pass_200ms": best["steady_ms"] <= 200,
                        "alert_pass_cpu_200ms": best["steady_cpu_ms"] <= 200,
                        "alert_pass_real_rate_200ms": best["steady_real_ms"] <= 200,
                        "storage_50kb_per_station_day": storage["bytes_per_station_day"] <= 50_000},
              "machine": f"{psutil.cpu_count()} cores shared with other work; load generator on the same box"}
    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
