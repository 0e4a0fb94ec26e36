"""A real central service (FastAPI under uvicorn, SQLite file) on a free loopback port, with demo data."""
from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kiosk.store import Store
from kiosk.tokens import TokenBook, TokenKeys
from server_bridge.central.app import create_app
from server_bridge.central.db import Database
from server_bridge.central.localpg import LocalPostgres
from server_bridge.central.members import seed_demo
from tests.fixtures.central import serve_in_thread


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class CentralUnderTest:
    url: str
    db_url: str
    tokens: dict[str, str]
    db: Database
    app: Any

    def upload(self, store: Store, station_id: str = "K01") -> int:
        """What the uploader does: send the outbox as one batch, mark sent on the centre's ack."""
        events = [e.envelope() for e in store.outbox_pending()]
        if not events:
            return 0
        resp = httpx.post(f"{self.url}/api/v1/stations/{station_id}/events", json={"events": events},
                          headers={"Authorization": f"Bearer {self.tokens[station_id]}"}, timeout=10)
        resp.raise_for_status()
        acked = int(resp.json()["acked_seq"])
        store.mark_sent(acked)
        return acked


@contextmanager
def serve_central(db_url: str) -> Iterator[CentralUnderTest]:
    app = create_app(db_url, eval_every_s=3600, flush_s=0.2)
    db: Database = app.state.central.db
    with db.session() as session:
        tokens = seed_demo(session, time.time())
    with serve_in_thread(app) as url:
        yield CentralUnderTest(url, db_url, tokens, db, app)


@pytest.fixture
def central(tmp_path: Path) -> Iterator[CentralUnderTest]:
    with serve_central(f"sqlite:///{tmp_path / 'central.db'}") as c:
        yield c


@pytest.fixture
def central_pg(local_postgres: LocalPostgres, postgres_template: str) -> Iterator[CentralUnderTest]:
    """The same centre on the session's throwaway PostgreSQL (skipped where the server binaries are missing)."""
    with serve_central(local_postgres.create_database(f"desk_{uuid.uuid4().hex[:12]}",
                                                      template=postgres_template)) as c:
        yield c


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "station.db")
    yield s
    s.close()


@pytest.fixture
def tokens() -> TokenBook:
    return TokenBook(TokenKeys(b"integration-site-key-0123456789"))


from tests.integration.desk.lockers import lockers  # noqa: E402,F401  (fixture shared by the desk tests)
