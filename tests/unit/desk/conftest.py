"""Desk unit fixtures: a real SQLite store on disk, a token book and a clock the test moves."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.store import Store
from kiosk.tokens import TokenBook, TokenKeys


class FakeClock:
    """A clock the test moves by hand, so SLAs and retention are tested without sleeping."""

    def __init__(self, start: float = 1_795_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    s = Store(tmp_path / "station.db", clock=clock)
    yield s
    s.close()


@pytest.fixture
def tokens(clock: FakeClock) -> TokenBook:
    return TokenBook(TokenKeys(b"unit-test-site-key-0123456789"), clock=clock)


def changes(store: Store) -> tuple[int, ...]:
    """Row counts of every desk table and the outbox: equal before and after means nothing changed."""
    tables = ("desk_complaints", "desk_parking_vouchers", "desk_found_items", "desk_lost_reports",
              "desk_storage", "outbox")
    return tuple(store.query(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"] for t in tables)
