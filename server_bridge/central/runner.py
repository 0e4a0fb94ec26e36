"""Runs the central service as its own process on a loopback port (tests, benches, `make run`)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from mallcommon.net import free_port


class CentralProcess:
    """`python -m server_bridge.central serve` in a child process; `kill()` is a SIGKILL."""

    def __init__(self, db_url: str, workdir: Path, port: int | None = None, offline_after_s: float = 60.0,
                 eval_every_s: float = 5.0, sample_every_s: float = 60.0, heartbeat_flush_s: float = 0.5,
                 alerts: str = "inline", extra_env: dict[str, str] | None = None,
                 extra_args: list[str] | None = None) -> None:
        self.db_url = db_url
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.offline_after_s = offline_after_s
        self.eval_every_s = eval_every_s
        self.sample_every_s = sample_every_s
        self.heartbeat_flush_s = heartbeat_flush_s
        self.alerts = alerts
        self.env = {**os.environ, **(extra_env or {})}
        self.extra_args = list(extra_args or [])  # more `serve` flags, e.g. ["--header-timeout", "1"]
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str) -> str:
        """Runs another verb of the central CLI against the same database; returns stdout."""
        out = subprocess.run([sys.executable, "-m", "server_bridge.central", *args, "--db", self.db_url],
                             capture_output=True, text=True, env=self.env)
        if out.returncode != 0:
            raise RuntimeError(f"central {args[0]} failed ({out.returncode}): {out.stderr[-1500:]}")
        return out.stdout.strip()

    def add_station(self, station_id: str) -> str:
        return self.cli("add-station", "--station", station_id)

    def start(self, timeout: float = 30.0) -> CentralProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / f"central-{self.port}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server_bridge.central", "--log-level", "INFO", "serve", "--db", self.db_url,
             "--host", "127.0.0.1", "--port", str(self.port), "--offline-after", str(self.offline_after_s),
             "--eval-every", str(self.eval_every_s), "--sample-every", str(self.sample_every_s),
             "--heartbeat-flush", str(self.heartbeat_flush_s), "--alerts", self.alerts, *self.extra_args],
            stdout=log, stderr=log, env=self.env)
        started = time.monotonic()
        deadline = started + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"central exited early (status {self.proc.returncode}), see {log.name}")
            try:  # a loaded machine answers slowly: wait longer for each answer as the start drags on
                answer = httpx.get(self.url + "/openapi.json",
                                   timeout=max(1.0, min(5.0, (time.monotonic() - started) / 4)))
                if answer.status_code == 200:
                    return self
                last = f"HTTP {answer.status_code}"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}"
            time.sleep(0.03)
        self.kill()  # a fixture whose start fails never reaches its stop(): the centre would outlive the test
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        raise TimeoutError(f"central did not answer on {self.url} within {timeout:g} s (still running; last poll:"
                           f" {last}; load average {load}), see {log.name}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
