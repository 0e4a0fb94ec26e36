"""N simulated stations heartbeating concurrently against a real central process over loopback HTTP:
sustained heartbeats/s and latency percentiles of the write-behind centre, beside the same centre in
write-through mode (`--heartbeat-flush 0`: one database transaction per heartbeat) measured in the same run. Goal: ≥ 2,000/s (60,000 stations at one per 30 s).

    .venv/bin/python bench/heartbeat_ingest.py [--stations 2000] [--connections 64] [--seconds 15]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server_bridge.central import schema_migrations  # noqa: E402
from server_bridge.central.db import Database  # noqa: E402
from server_bridge.central.fleet import add_station  # noqa: E402
from server_bridge.central.runner import CentralProcess  # noqa: E402


def health(i: int) -> dict:
    return {"ts": time.time(), "version": "1.4.0", "uptime_s": 3600 + i,
            "printer": {"online": True, "paper_out": False, "paper_near_end": i % 50 == 0, "cover_open": False},
            "camera": {"connected": True, "fps": 15.0, "decode_rate": 0.95},
            "lockers": [{"locker_id": "UL1", "item_type": "umbrella", "online": True, "faults": [],
                         "slots": [{"slot": s, "state": "occupied" if s % 4 else "empty",
                                    "item": f"U-{s:04d}" if s % 4 else None} for s in range(1, 25)]},
                        {"locker_id": "PB1", "item_type": "power_bank", "online": True, "faults": [],
                         "slots": [{"slot": s, "state": "occupied", "item": f"P-{s:03d}", "battery": 60 + 3 * s,
                                    "charging": True} for s in range(1, 13)]}],
            "outbox": {"depth": 0, "oldest_age_s": None}}


def requests_for(stations: dict[str, str], port: int) -> list[bytes]:
    out = []
    for i, (sid, token) in enumerate(stations.items()):
        body = json.dumps(health(i)).encode()
        out.append((f"POST /api/v1/stations/{sid}/heartbeat HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
    return out


async def read_response(reader: asyncio.StreamReader) -> int:
    """Reads one HTTP/1.1 response (head and body) off a keep-alive connection; returns its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    if length:
        await reader.readexactly(length)
    return int(head.split(b" ", 2)[1])


async def load(port: int, reqs: list[bytes], connections: int, warmup_s: float, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    measure_from, stop_at = started + warmup_s, started + warmup_s + seconds

    async def worker(k: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = k
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                break
            writer.write(reqs[i % len(reqs)])
            i += connections
            status = await read_response(reader)
            t1 = time.perf_counter()
            if status != 204:
                errors += 1
            if t0 >= measure_from:
                latencies.append(t1 - t0)
        writer.close()

    await asyncio.gather(*(worker(k) for k in range(connections)))
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 100 else [float("nan")] * 99
    return {"heartbeats": len(latencies), "per_s": len(latencies) / seconds, "errors": errors,
            "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "max_ms": latencies[-1] * 1000 if latencies else 0}


def measure(url: str, work: Path, stations: dict[str, str], flush_s: float, connections: int,
            seconds: float, eval_every_s: float, alerts: str) -> dict:
    central = CentralProcess(url, work / f"central-{flush_s}", offline_after_s=120, eval_every_s=eval_every_s,
                             heartbeat_flush_s=flush_s, alerts="inline" if alerts == "inline" else "off")
    central.start()
    worker = None
    if alerts == "separate":  # the alert evaluator in its own process, as with several API instances
        worker = subprocess.Popen([sys.executable, "-m", "server_bridge.central", "alerts", "--db", url,
                                   "--eval-every", str(eval_every_s), "--offline-after", "120"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return asyncio.run(load(central.port, requests_for(stations, central.port), connections, 2.0, seconds))
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(10)
        central.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stations", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--eval-every", type=float, default=5.0, help="the centre's alert evaluation period")
    parser.add_argument("--alerts", choices=["separate", "inline"], default="separate",
                        help="alert evaluator as its own process (serve --alerts off) or inside the API process")
    parser.add_argument("--baseline-seconds", type=float, default=6.0, help="how long to run the baseline")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-heartbeat-"))
    url = f"sqlite:///{work / 'central.db'}"
    try:
        schema_migrations.upgrade(url)
        db = Database(url)
        with db.session() as s:
            stations = {f"S{i:05d}": add_station(s, f"S{i:05d}", time.time()) for i in range(args.stations)}
        db.dispose()
        naive = measure(url, work, stations, 0.0, args.connections, args.baseline_seconds, args.eval_every, args.alerts)
        figures = measure(url, work, stations, 0.5, args.connections, args.seconds, args.eval_every, args.alerts)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    baseline = naive["per_s"]
    ratio = figures["per_s"] / baseline
    print(f"{'stations':>9}{'conns':>7}{'beats/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}"
          f"{'naive/s':>9}{'ratio':>7}")
    print(f"{args.stations:>9}{args.connections:>7}{figures['per_s']:>10.0f}{figures['p50_ms']:>9.1f}"
          f"{figures['p99_ms']:>9.1f}{figures['max_ms']:>9.1f}{figures['errors']:>8}{baseline:>9.0f}{ratio:>7.1f}")
    result = {"stations": args.stations, "eval_every_s": args.eval_every, "alerts": args.alerts, "connections": args.connections, "seconds": args.seconds,
              "heartbeats_per_s": round(figures["per_s"]), "p50_ms": round(figures["p50_ms"], 2),
              "p99_ms": round(figures["p99_ms"], 2), "errors": figures["errors"],
              "write_through_per_s": round(baseline), "write_through_p99_ms": round(naive["p99_ms"], 2),
              "ratio": round(ratio, 1),
              "goal_2000_per_s": figures["per_s"] >= 2000}
    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
