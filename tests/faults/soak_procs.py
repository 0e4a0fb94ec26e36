"""The soak's moving parts: child processes it can SIGKILL and restart, journal tails, station configs."""
from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from tests.fixtures.station import POLICY_TOML

ROOT = Path(__file__).resolve().parents[2]


class Child:
    """One process the soak starts, kills (SIGKILL, as a power cut) and starts again with the same argv."""

    def __init__(self, name: str, argv: list[str], log_path: Path, seed_flag: bool = False) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.seed_flag = seed_flag
        self.proc: subprocess.Popen[bytes] | None = None
        self.wanted = False
        self.starts = 0
        self.crashes = 0

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc is not None else None

    def start(self, seed: int = 0) -> None:
        if self.alive:
            return
        argv = [*self.argv, "--seed", str(seed)] if self.seed_flag else self.argv
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== soak: start #{self.starts + 1} of {self.name}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.starts += 1
        self.wanted = True

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 20.0) -> None:
        self.wanted = False
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


class JournalTail:
    """New complete lines of a locker's journal since the last read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def new_acts(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        acts = []
        for line in chunk[:end].splitlines():
            try:
                acts.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line torn by a SIGKILL; the simulator starts the next on a fresh line
        return acts


def station_toml(site: str, station_id: str, data_dir: Path, site_key: Path, broker_port: int, creds: Path,
                 lockers: list[tuple[str, Path]], central_url: str, token_file: Path) -> str:
    """A station config on the soak's parts: short timeouts, quick uploads and heartbeats."""
    locker_toml = "".join(
        f'\n[[lockers]]\nid = "{lid}"\nprofile = "{prof}"\nusername = "locker-{lid}"\n'
        f'password_file = "{creds / f"locker-{lid}.pw"}"\n' for lid, prof in lockers)
    return f"""site = "{site}"
station_id = "{station_id}"
data_dir = "{data_dir}"
site_key_file = "{site_key}"

[broker]
host = "127.0.0.1"
port = {broker_port}
username = "station-{station_id}"
password_file = "{creds / f'station-{station_id}.pw'}"
keepalive_s = 5

[central]
url = "{central_url}"
token_file = "{token_file}"
batch_max_age_s = 0.2
heartbeat_s = 2.0
{locker_toml}
{POLICY_TOML}"""
