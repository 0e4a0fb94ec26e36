"""A throwaway local PostgreSQL (tests, benches, a developer's laptop): initdb + postgres on a free port.

As root the server runs as the `postgres` user (PostgreSQL refuses root) with a data dir it owns.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


class PostgresUnavailable(RuntimeError):
    """No server binaries here; callers skip with this message."""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalPostgres:
    def __init__(self, port: int | None = None, settings: dict[str, str] | None = None,
                 parent: Path | None = None) -> None:
        """`settings` are extra server settings (`-c name=value`), e.g. {"fsync": "off"} for throwaway test data:
        it survives a process kill, only an OS crash loses it; benches keep the defaults. The data directory
        is made under `parent` (default: the system's temporary directory)."""
        if not (PG_BIN / "initdb").exists() or not (PG_BIN / "postgres").exists():
            raise PostgresUnavailable(f"PostgreSQL server binaries not found in {PG_BIN}")
        self.port = port or _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="central-pg-", dir=parent))
        self.datadir = self.root / "data"
        self.proc: subprocess.Popen[bytes] | None = None
        self.settings = dict(settings or {})
        self._as: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                raise PostgresUnavailable("running as root and runuser is missing")
            self._as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres", "postgres")
        self.root.chmod(0o755)

    def start(self, timeout: float = 30.0) -> LocalPostgres:
        subprocess.run([*self._as, str(PG_BIN / "initdb"), "-D", str(self.datadir), "-U", "postgres",
                        "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                       check=True, capture_output=True)
        log_file = open(self.root / "postgres.log", "ab")  # noqa: SIM115 (lives as long as the server)
        if self._as:
            shutil.chown(self.root / "postgres.log", "postgres", "postgres")
        self.proc = subprocess.Popen(
            [*self._as, str(PG_BIN / "postgres"), "-D", str(self.datadir), "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.root}",
             "-c", "max_connections=200", "-c", "shared_buffers=64MB",
             *(arg for name, value in self.settings.items() for arg in ("-c", f"{name}={value}"))],
            stdout=log_file, stderr=log_file)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PostgresUnavailable(f"postgres exited: {(self.root / 'postgres.log').read_text()[-800:]}")
            if self._ready():
                log.info("localpg.started port=%d dir=%s", self.port, self.root)
                return self
            time.sleep(0.1)
        raise PostgresUnavailable("postgres did not become ready in time")

    def _ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                                 connect_timeout=1):
                return True
        except psycopg.OperationalError:
            return False

    def create_database(self, name: str, template: str | None = None) -> str:
        """A fresh empty database, or a copy of database `template` (which nobody may be connected to);
        returns its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            # SIGINT to the postmaster = fast shutdown: it ends the idle connections pools still hold. SIGTERM
            # (smart) would wait for them, and as root the runuser in between answers SIGTERM by SIGKILLing
            # the postmaster two seconds later (its backends then linger).
            try:
                os.kill(int((self.datadir / "postmaster.pid").read_text().split()[0]), signal.SIGINT)
            except (OSError, ValueError, IndexError):
                self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.root, ignore_errors=True)
