"""N simulated stations heartbeating concurrently against a real central process over loopback HTTP:
sustained heartbeats/s and latency percentiles of the write-behind centre, beside the same centre in
write-through mode (`--heartbeat-flush 0`: one database transaction per heartbeat) measured in the same run.
Goal: ≥ 2,000/s (60,000 stations at one per 30 s).

With the checks the heartbeat answer makes (issue 15.6/15.7): a rolled-out configuration bundle (every beat
carries `config_version`; `--stale` of the stations run an older one and get `{"config": …}` back on every beat)
and remote commands sent through the ops console at `--commands-per-s` while the load runs; a station told
`{"commands": n}` fetches them (`GET …/commands`) and acknowledges (`POST …/commands/received`) on its
connection, as the station does. Delivery = fetch answer − the command's created_at; the goal is p99 ≤ one
heartbeat interval (each station beats once per stations ÷ rate seconds here, round robin). The same
write-behind centre without either (no bundle rolled out, no commands) runs in the same run as the
"unchanged throughput" reference.

    .venv/bin/python bench/heartbeat_ingest.py [--stations 2000] [--connections 64] [--seconds 15]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server_bridge.central import accounts, schema_migrations  # noqa: E402
from server_bridge.central.bundles import ALL, ConfigBundle, ConfigTarget  # noqa: E402
from server_bridge.central.db import Database  # noqa: E402
from server_bridge.central.fleet import add_station  # noqa: E402
from server_bridge.central.runner import CentralProcess  # noqa: E402

OPS_USER, OPS_PASSWORD = "bench-ops", "X#QZ%W!KPV@M-bench"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


def health(i: int, config_version: int | None = None) -> dict:
    beat = {"ts": time.time(), "version": "1.4.0", "uptime_s": 3600 + i,
            "printer": {"online": True, "paper_out": False, "paper_near_end": i % 50 == 0, "cover_open": False},
            "camera": {"connected": True, "fps": 15.0, "decode_rate": 0.95},
            "lockers": [{"locker_id": "UL1", "item_type": "umbrella", "online": True, "faults": [],
                         "slots": [{"slot": s, "state": "occupied" if s % 4 else "empty",
                                    "item": f"U-{s:04d}" if s % 4 else None} for s in range(1, 25)]},
                        {"locker_id": "PB1", "item_type": "power_bank", "online": True, "faults": [],
                         "slots": [{"slot": s, "state": "occupied", "item": f"P-{s:03d}", "battery": 60 + 3 * s,
                                    "charging": True} for s in range(1, 13)]}],
            "outbox": {"depth": 0, "oldest_age_s": None}}
    if config_version is not None:
        beat["config_version"] = config_version
    return beat


def request(method: str, path: str, port: int, token: str, body: bytes = b"") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def requests_for(stations: dict[str, str], port: int, config_version: int | None = None,
                 stale: float = 0.0) -> list[bytes]:
    """One heartbeat request per station; with `config_version`, a `stale` share of them run version - 1."""
    out = []
    every = int(1 / stale) if stale > 0 else 0
    for i, (sid, token) in enumerate(stations.items()):
        version = None if config_version is None else (config_version - 1 if every and i % every == 0
                                                       else config_version)
        out.append(request("POST", f"/api/v1/stations/{sid}/heartbeat", port, token,
                           json.dumps(health(i, version)).encode()))
    return out


async def read_full(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP/1.1 response (head and body) off a keep-alive connection: (status, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    body = await reader.readexactly(length) if length else b""
    return int(head.split(b" ", 2)[1]), body


async def read_response(reader: asyncio.StreamReader) -> int:
    """Reads one HTTP/1.1 response off a keep-alive connection; returns its status."""
    return (await read_full(reader))[0]


def console_login(base_url: str) -> httpx.AsyncClient:
    """An ops login over the console's own form (the CSRF dance), for sending commands like a person; done
    before the load starts (the password hash is slow on purpose)."""
    client = httpx.Client(base_url=base_url, follow_redirects=False, timeout=30)
    token = CSRF_RE.search(client.get("/login").text)
    assert token, "no login form"
    answer = client.post("/login", data={"username": OPS_USER, "password": OPS_PASSWORD, "csrf": token.group(1),
                                         "next": "/"})
    assert answer.status_code == 303, answer.text[:300]
    found = CSRF_RE.search(client.get("/account/password").text)
    assert found, "no CSRF token after login"
    out = httpx.AsyncClient(base_url=base_url, follow_redirects=False, timeout=30, cookies=client.cookies,
                            headers={"X-CSRF-Token": found.group(1)})
    client.close()
    return out


async def load(port: int, reqs: list[bytes], stations: list[tuple[str, str]], connections: int, warmup_s: float,
               seconds: float, commands_per_s: float = 0.0, base_url: str = "") -> dict:
    latencies: list[float] = []
    delivered: dict[str, float] = {}
    visible: dict[str, float] = {}  # from the commit (the console's POST done) to the station
    fetch_s: list[float] = []  # from the heartbeat answer that said so to the commands in hand
    errors = configs = fetches = 0
    sent: list[float] = []
    refused: list[str] = []
    interval_s = len(reqs) / 500.0  # a guess (the rate is measured below): only stops commands before the end

    async def fetch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sid: str, token: str) -> None:
        nonlocal fetches, errors
        told = time.perf_counter()
        writer.write(request("GET", f"/api/v1/stations/{sid}/commands", port, token))
        status, body = await read_full(reader)
        got = time.time()
        fetch_s.append(time.perf_counter() - told)
        if status != 200:
            errors += 1
            return
        views = json.loads(body)["commands"]
        fetches += 1
        for v in views:
            delivered.setdefault(v["id"], got - v["created_at"])
            if v.get("sent_at") is not None:
                visible.setdefault(v["id"], got - v["sent_at"])
        if views:
            ids = json.dumps({"ids": [v["id"] for v in views]}).encode()
            writer.write(request("POST", f"/api/v1/stations/{sid}/commands/received", port, token, ids))
            if (await read_full(reader))[0] != 200:
                errors += 1

    async def worker(k: int) -> None:
        nonlocal errors, configs
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = k
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                break
            n = i % len(reqs)
            writer.write(reqs[n])
            i += connections
            status, body = await read_full(reader)
            t1 = time.perf_counter()
            if status == 200:
                answer = json.loads(body)
                configs += "config" in answer
                if answer.get("commands"):
                    await fetch(reader, writer, *stations[n])
            elif status != 204:
                errors += 1
            if t0 >= measure_from:
                latencies.append(t1 - t0)
        writer.close()

    client = console_login(base_url) if commands_per_s > 0 else None  # before the load: not timed
    started = time.perf_counter()
    measure_from, stop_at = started + warmup_s, started + warmup_s + seconds

    async def operator() -> None:
        """Sends commands through the console at a steady rate during the measured window."""
        if client is None:
            return
        rng = random.Random(7)
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        last = stop_at - 2 * interval_s - 1.0  # leave every command time to be delivered

        async def send(sid: str) -> None:
            try:
                answer = await client.post(f"/stations/{sid}/commands", data={"kind": "reprint", "expires_s": "600"})
            except httpx.HTTPError as exc:  # a console answer slower than the timeout: counted, not fatal
                refused.append(type(exc).__name__)
                return
            if answer.status_code == 303 and "error" not in answer.headers.get("location", ""):
                sent.append(time.time())
            else:
                refused.append(f"{answer.status_code} {answer.headers.get('location', '')}")

        posts = []  # at a steady rate, whatever each answer takes (a slow one does not hold the next)
        while time.perf_counter() < last:
            posts.append(asyncio.create_task(send(stations[rng.randrange(len(stations))][0])))
            await asyncio.sleep(1.0 / commands_per_s)
        await asyncio.gather(*posts)
        await client.aclose()

    await asyncio.gather(operator(), *(worker(k) for k in range(connections)))
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 100 else [float("nan")] * 99
    delays = sorted(delivered.values())
    seen = sorted(visible.values())
    dq = statistics.quantiles(delays, n=100, method="inclusive") if len(delays) > 10 else [float("nan")] * 99
    per_s = len(latencies) / seconds
    return {"heartbeats": len(latencies), "per_s": per_s, "errors": errors,
            "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "max_ms": latencies[-1] * 1000 if latencies else 0,
            "interval_s": len(reqs) / per_s if per_s else float("nan"), "config_answers": configs,
            "commands_sent": len(sent), "commands_refused": refused, "commands_delivered": len(delays),
            "fetches": fetches,
            "delivery_p50_s": dq[49], "delivery_p99_s": dq[98], "delivery_max_s": delays[-1] if delays else 0.0,
            "visible_p99_s": seen[int(0.99 * (len(seen) - 1))] if seen else float("nan"),
            "fetch_p99_ms": (sorted(fetch_s)[int(0.99 * (len(fetch_s) - 1))] * 1000) if fetch_s else float("nan")}


def measure(url: str, work: Path, stations: dict[str, str], flush_s: float, connections: int, seconds: float,
            eval_every_s: float, alerts: str, name: str, config_version: int | None = None, stale: float = 0.0,
            commands_per_s: float = 0.0) -> dict:
    central = CentralProcess(url, work / f"central-{name}", offline_after_s=120, eval_every_s=eval_every_s,
                             heartbeat_flush_s=flush_s, alerts="inline" if alerts == "inline" else "off")
    central.start()
    worker = None
    if alerts == "separate":  # the alert evaluator in its own process, as with several API instances
        worker = subprocess.Popen([sys.executable, "-m", "server_bridge.central", "alerts", "--db", url,
                                   "--eval-every", str(eval_every_s), "--offline-after", "120"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        reqs = requests_for(stations, central.port, config_version, stale)
        return asyncio.run(load(central.port, reqs, list(stations.items()), connections, 2.0, seconds,
                                commands_per_s, central.url))
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(10)
        central.stop()


def roll_out(url: str, version: int) -> None:
    """A configuration bundle rolled out to every station (what the console's rollout writes)."""
    db = Database(url)
    with db.session() as s:
        now = time.time()
        s.add(ConfigBundle(version=version, created_at=now, created_by="bench", note="bench", etag=f"bench-{version}",
                           body="{}"))
        s.add(ConfigTarget(station_id=ALL, version=version, set_at=now, set_by="bench"))
    db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stations", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--eval-every", type=float, default=5.0, help="the centre's alert evaluation period")
    parser.add_argument("--alerts", choices=["separate", "inline"], default="separate",
                        help="alert evaluator as its own process (serve --alerts off) or inside the API process")
    parser.add_argument("--baseline-seconds", type=float, default=6.0, help="how long to run the baseline")
    parser.add_argument("--commands-per-s", type=float, default=10.0, help="remote commands sent during the run")
    parser.add_argument("--stale", type=float, default=0.01, help="share of stations behind the rolled-out bundle")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-heartbeat-"))
    url = f"sqlite:///{work / 'central.db'}"
    try:
        schema_migrations.upgrade(url)
        db = Database(url)
        with db.session() as s:
            stations = {f"S{i:05d}": add_station(s, f"S{i:05d}", time.time()) for i in range(args.stations)}
            accounts.add_user(s, OPS_USER, "ops", time.time())
            accounts.set_password(s, OPS_USER, OPS_PASSWORD, time.time())
        db.dispose()
        naive = measure(url, work, stations, 0.0, args.connections, args.baseline_seconds, args.eval_every,
                        args.alerts, "naive")
        plain = measure(url, work, stations, 0.5, args.connections, args.seconds, args.eval_every, args.alerts,
                        "plain")
        roll_out(url, 1)
        figures = measure(url, work, stations, 0.5, args.connections, args.seconds, args.eval_every, args.alerts,
                          "checks", config_version=1, stale=args.stale, commands_per_s=args.commands_per_s)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    baseline = naive["per_s"]
    ratio = figures["per_s"] / baseline
    print(f"{'run':<34}{'beats/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}")
    for label, f in (("write-through (baseline)", naive), ("write-behind, no bundle/commands", plain),
                     ("write-behind + config + commands", figures)):
        print(f"{label:<34}{f['per_s']:>9.0f}{f['p50_ms']:>9.1f}{f['p99_ms']:>9.1f}{f['max_ms']:>9.1f}"
              f"{f['errors']:>8}")
    print(f"\n{'stations':>9}{'conns':>7}{'interval s':>12}{'cmds sent':>11}{'delivered':>11}{'p50 s':>8}"
          f"{'p99 s':>8}{'max s':>8}{'commit→p99 s':>14}{'fetch p99 ms':>14}{'config 200s':>13}")
    print(f"{args.stations:>9}{args.connections:>7}{figures['interval_s']:>12.2f}{figures['commands_sent']:>11}"
          f"{figures['commands_delivered']:>11}{figures['delivery_p50_s']:>8.2f}{figures['delivery_p99_s']:>8.2f}"
          f"{figures['delivery_max_s']:>8.2f}{figures['visible_p99_s']:>14.2f}{figures['fetch_p99_ms']:>14.1f}"
          f"{figures['config_answers']:>13}")
    load_avg = os.getloadavg()
    result = {"stations": args.stations, "eval_every_s": args.eval_every, "alerts": args.alerts,
              "connections": args.connections, "seconds": args.seconds,
              "heartbeats_per_s": round(figures["per_s"]), "p50_ms": round(figures["p50_ms"], 2),
              "p99_ms": round(figures["p99_ms"], 2), "errors": figures["errors"] + plain["errors"],
              "plain_per_s": round(plain["per_s"]), "plain_p99_ms": round(plain["p99_ms"], 2),
              "checks_vs_plain": round(figures["per_s"] / plain["per_s"], 2) if plain["per_s"] else None,
              "write_through_per_s": round(baseline), "write_through_p99_ms": round(naive["p99_ms"], 2),
              "ratio": round(ratio, 1),
              "heartbeat_interval_s": round(figures["interval_s"], 3),
              "commands_sent": figures["commands_sent"], "commands_delivered": figures["commands_delivered"],
              "commands_not_sent": len(figures["commands_refused"]),
              "delivery_p50_s": round(figures["delivery_p50_s"], 3),
              "delivery_p99_s": round(figures["delivery_p99_s"], 3),
              "delivery_p99_over_interval": round(figures["delivery_p99_s"] / figures["interval_s"], 3),
              "fetch_p99_ms": round(figures["fetch_p99_ms"], 1),
              "config_answers": figures["config_answers"],
              "goal_2000_per_s": figures["per_s"] >= 2000,
              "goal_delivery_p99_within_interval": figures["delivery_p99_s"] <= figures["interval_s"],
              "loadavg_1m": round(load_avg[0], 2)}
    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
