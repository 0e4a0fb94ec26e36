"""Heartbeat ingest on PostgreSQL at the fleet the goal names (issue 16: 150,000 stations at one beat per 30 s =
5,000 heartbeats/s, p99 ≤ 50 ms), with a load generator that costs little CPU: `wrk` (C, Debian package) with
`bench/support/heartbeats.lua`, every station's heartbeat in turn with its own token, 2 % of beats changing the
station's health summary. Every request is a real, authenticated, strictly validated heartbeat.

Per API instance count (`serve --alerts off`, as behind a proxy; no alerts process during the load unless
`--alerts-process`), in the same run:
- the ceiling: the same wrk load against as many no-op servers on the centre's HTTP stack
  (`bench/support/http_ceiling.py`: uvicorn + httptools + uvloop answering 204);
- the centre at saturation (closed loop: each connection sends its next beat when the last is answered);
- with `--rate R` (default 5,000/s, 0 = off) the centre paced at that rate — what a fleet beating every 30 s sends:
  each wrk connection waits between beats so the connections together send about R/s. The goal is judged on this run.
CPU seconds of the centre, PostgreSQL and wrk are read from /proc over the measured window, with the load average.
With several instances one wrk runs per instance (connections split, each for its own share of the stations, as
a station's keep-alive connection through a proxy stays on one instance); p50 is their weighted mean, p99 the
worst of them.

    .venv/bin/python bench/heartbeat_pg.py      # 150,000 stations, 1 and 2 instances, 10 s each (~4 min idle)
    .venv/bin/python bench/heartbeat_pg.py --stations 20000 --instances 1 --seconds 5   # quick
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fleet_scale import BODIES, register  # noqa: E402  (bench/ is on the path when run as a script)

from mallcommon.net import free_port  # noqa: E402
from server_bridge.central import schema_migrations  # noqa: E402
from server_bridge.central.db import Database  # noqa: E402
from server_bridge.central.localpg import LocalPostgres  # noqa: E402
from server_bridge.central.runner import CentralProcess  # noqa: E402

HERE = Path(__file__).resolve().parent
LUA = HERE / "support" / "heartbeats.lua"
BEAT_S = 30.0


def cpu_times(procs: list[psutil.Process]) -> dict[int, float]:
    out = {}
    for p in procs:
        try:
            t = p.cpu_times()
            out[p.pid] = t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return out


def tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(v - before.get(pid, 0.0) for pid, v in after.items())


def wrk(port: int, files: list[Path], connections: int, threads: int, seconds: float, delay_ms: float = 0.0,
        part: int = 0, parts: int = 1) -> subprocess.Popen[str]:
    """wrk beating for the stations of parts part … part + threads - 1 of `parts` (one per thread)."""
    env = {**os.environ, "HB_DELAY_MS": str(delay_ms)}
    return subprocess.Popen(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s",
                             "--timeout", "5s", "-s", str(LUA), f"http://127.0.0.1:{port}/", "--",
                             *map(str, files), str(parts), str(part)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)


def drive(ports: list[int], files: list[Path], connections: int, threads: int, seconds: float, warmup: float,
          watch: dict[str, list[psutil.Process]], delay_ms: float = 0.0) -> dict[str, Any]:
    """Warm up, then one measured wrk run per port at once; CPU of each watched group over the measured run."""
    per = max(1, connections // len(ports))
    parts = len(ports) * threads  # each instance beats for its own share of the fleet (sticky, as via a proxy)
    if warmup > 0:
        for p in [wrk(port, files, per, threads, warmup, delay_ms, k * threads, parts)
                  for k, port in enumerate(ports)]:
            p.communicate()
    load0 = os.getloadavg()[0]
    sys0 = psutil.cpu_times()
    groups = {k: tree_all(v) for k, v in watch.items()}
    before = {k: cpu_times(v) for k, v in groups.items()}
    t0 = time.perf_counter()
    runs = [wrk(port, files, per, threads, seconds, delay_ms, k * threads, parts) for k, port in enumerate(ports)]
    gen = [psutil.Process(r.pid) for r in runs]
    gen_before = cpu_times(gen)
    gen_after: dict[int, float] = {}
    outs = []
    for r, g in zip(runs, gen, strict=True):
        while r.poll() is None:  # read its CPU just before it exits (an exited process has none to read)
            gen_after.update(cpu_times([g]))
            time.sleep(0.05)
        outs.append(r.communicate()[0])
    wall = time.perf_counter() - t0
    after = {k: cpu_times(tree_all(v)) for k, v in watch.items()}
    sys1 = psutil.cpu_times()
    busy = (sum(sys1) - sys1.idle - sys1.iowait) - (sum(sys0) - sys0.idle - sys0.iowait)
    stats = []
    for out in outs:
        line = next((x for x in out.splitlines() if x.startswith("WRK ")), None)
        if line is None:
            raise RuntimeError(f"wrk said: {out[-800:]}")
        stats.append(json.loads(line[4:]))
    requests = sum(s["requests"] for s in stats)
    duration = max(s["duration_us"] for s in stats) / 1e6
    errors = sum(s[k] for s in stats for k in ("status_errors", "connect_errors", "read_errors", "write_errors",
                                                   "timeouts"))
    out = {"per_s": requests / duration, "requests": requests, "errors": errors,
           "p50_ms": sum(s["p50_us"] * s["requests"] for s in stats) / max(requests, 1) / 1000,
           "p99_ms": max(s["p99_us"] for s in stats) / 1000, "max_ms": max(s["max_us"] for s in stats) / 1000,
           "wall_s": wall, "load_1m": (load0 + os.getloadavg()[0]) / 2,
           "machine_busy_cores": busy / wall, "gen_cores": cpu_delta(gen_before, gen_after) / wall}
    for k in watch:
        out[f"{k}_cores"] = cpu_delta(before[k], after[k]) / wall
    return out


def tree_all(procs: list[psutil.Process]) -> list[psutil.Process]:
    seen: dict[int, psutil.Process] = {}
    for p in procs:
        try:
            for q in tree(p.pid):
                seen[q.pid] = q
        except psutil.Error:
            pass
    return list(seen.values())


def wait_port(port: int, timeout: float = 20.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def ceiling(n: int, files: list[Path], args: argparse.Namespace) -> dict[str, Any]:
    ports = [free_port() for _ in range(n)]
    procs = [subprocess.Popen([sys.executable, "-m", "uvicorn", "--app-dir", str(HERE / "support"),
                               "http_ceiling:app", "--http", "httptools", "--loop", "uvloop", "--lifespan", "off",
                               "--no-access-log", "--log-level", "warning", "--host", "127.0.0.1", "--port", str(p)])
             for p in ports]
    try:
        for p in ports:
            wait_port(p)
        return drive(ports, files, args.connections, args.wrk_threads, args.seconds, 1.0,
                     {"server": [psutil.Process(p.pid) for p in procs]})
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


def centre_runs(n: int, url: str, work: Path, files: list[Path], pg: LocalPostgres,
                args: argparse.Namespace) -> list[dict[str, Any]]:
    centres = [CentralProcess(url, work / f"c{n}-{i}", offline_after_s=3600, eval_every_s=3600, alerts="off",
                              heartbeat_flush_s=args.flush) for i in range(n)]
    alerts = None
    try:
        for c in centres:
            c.start(timeout=120)
        if args.alerts_process:
            alerts = subprocess.Popen([sys.executable, "-m", "server_bridge.central", "alerts", "--db", url,
                                       "--eval-every", "5", "--offline-after", "120"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert pg.proc is not None
        watch = {"centre": [psutil.Process(c.proc.pid) for c in centres if c.proc is not None],
                 "pg": [psutil.Process(pg.proc.pid)]}
        if alerts is not None:
            watch["alerts"] = [psutil.Process(alerts.pid)]
        rows = [{"run": "saturated", **drive([c.port for c in centres], files, args.connections,
                                               args.wrk_threads, args.seconds, args.warmup, watch)}]
        if args.rate > 0:
            # closed loop paced by a pause after each answer: connections × 1000 / (pause + latency) ≈ rate
            delay = max(0.0, args.connections * 1000.0 / args.rate - 1.0)
            rows.append({"run": f"paced {args.rate:g}/s", **drive(
                [c.port for c in centres], files, args.connections, args.wrk_threads, args.seconds, 1.0, watch,
                delay_ms=delay)})
        return rows
    finally:
        if alerts is not None:
            alerts.terminate()
            alerts.wait(10)
        for c in centres:
            c.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stations", type=int, default=150_000)
    parser.add_argument("--instances", default="1,2", help="API instance counts to run, e.g. 1,2")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--rate", type=float, default=5000.0, help="paced run at this many beats/s (0: none)")
    parser.add_argument("--flush", type=float, default=0.5, help="the centre's --heartbeat-flush (s)")
    parser.add_argument("--alerts-process", action="store_true", help="run the alerts process during the load")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk; the Makefile's APT_PACKAGES has it)", file=sys.stderr)
        return 2
    instances = [int(x) for x in args.instances.split(",")]
    started = time.perf_counter()
    pg = LocalPostgres().start()
    work = Path(tempfile.mkdtemp(prefix="bench-hbpg-"))
    rows: list[dict[str, Any]] = []
    try:
        url = pg.create_database("heartbeats")
        schema_migrations.upgrade(url)
        db = Database(url)
        t0 = time.perf_counter()
        tokens = register(db, args.stations)  # every station registered and reported once
        db.dispose()
        setup_s = time.perf_counter() - t0
        files = [work / "stations.txt", work / "beat0.json", work / "beat1.json"]
        files[0].write_text("".join(f"{sid} {tok}\n" for sid, tok in tokens.items()))
        for f, body in zip(files[1:], BODIES, strict=True):
            f.write_bytes(body)
        for n in instances:
            top = ceiling(n, files, args)
            rows.append({"instances": n, "run": "ceiling (no-op HTTP)", **top, "centre_cores": top["server_cores"],
                         "pg_cores": 0.0})
            for r in centre_runs(n, url, work, files, pg, args):
                rows.append({"instances": n, **r, "of_ceiling": r["per_s"] / max(top["per_s"], 1e-9)})
            print(f"{n} instance(s): " + "; ".join(f"{r['run']} {r['per_s']:.0f}/s p99 {r['p99_ms']:.1f} ms"
                                                   for r in rows[-3:]), file=sys.stderr, flush=True)
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    cols = [("instances", "{:>4}"), ("run", "{:<22}"), ("per_s", "{:>8.0f}"), ("p50_ms", "{:>7.1f}"),
            ("p99_ms", "{:>7.1f}"), ("max_ms", "{:>7.0f}"), ("errors", "{:>5}"), ("centre_cores", "{:>7.2f}"),
            ("pg_cores", "{:>6.2f}"), ("gen_cores", "{:>6.2f}"), ("machine_busy_cores", "{:>6.2f}"),
            ("load_1m", "{:>5.1f}")]
    heads = ["inst", "run", "beats/s", "p50 ms", "p99 ms", "max ms", "err", "centre", "pg", "wrk", "box", "load"]
    print(" ".join(f"{h:{f[2] if f[2] in '<>' else '>'}{len(f.format(rows[0][k]))}}"
                   for h, (k, f) in zip(heads, cols, strict=True)))
    for r in rows:
        print(" ".join(f.format(r[k]) for k, f in cols))
    centre_rows = [r for r in rows if not r["run"].startswith("ceiling")]
    for r in centre_rows:
        r["cpu_ms_per_beat"] = 1000 * (r["centre_cores"] + r["pg_cores"]) / max(r["per_s"], 1e-9)
    print("\ncpu ms per beat (centre + PostgreSQL): " + ", ".join(
        f"{r['instances']}×{r['run']} {r['cpu_ms_per_beat']:.3f}" for r in centre_rows))
    paced = [r for r in centre_rows if r["run"].startswith("paced")]
    best = max(paced or centre_rows, key=lambda r: (r["p99_ms"] <= 50, r["per_s"]))
    result = {"stations": args.stations, "connections": args.connections, "seconds": args.seconds,
              "flush_s": args.flush, "alerts_process": args.alerts_process,
              "rows": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in rows],
              "best": {"instances": best["instances"], "run": best["run"], "heartbeats_per_s": round(best["per_s"]),
                       "p50_ms": round(best["p50_ms"], 2), "p99_ms": round(best["p99_ms"], 2),
                       "of_ceiling": round(best["of_ceiling"], 3), "cpu_ms_per_beat": round(best["cpu_ms_per_beat"], 3),
                       "centre_cores": round(best["centre_cores"], 2), "pg_cores": round(best["pg_cores"], 2),
                       "wrk_cores": round(best["gen_cores"], 2), "load_1m": round(best["load_1m"], 2)},
              "goal_5000_per_s_p99_50ms": best["per_s"] >= 5000 * 0.98 and best["p99_ms"] <= 50,
              "setup_s": round(setup_s, 1), "wall_s": round(time.perf_counter() - started, 1),
              "machine": f"{psutil.cpu_count()} cores shared; wrk, the centre and PostgreSQL on the same box"}
    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
