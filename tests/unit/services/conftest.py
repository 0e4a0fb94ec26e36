"""Lending and storage on the in-memory locker link: real firmware, real SQLite file, virtual time.

The broker-based layer (tests/integration/lending, tests/integration/desk, tests/faults) covers the same
flows over mosquitto; these run the service code on `InMemoryLockerLink` so all of them take milliseconds.
"""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from device_profiles import load_profile_as
from device_profiles.locker_schema import LockerProfile
from drivers.locker.inmemory import InMemoryLockerLink, ManualClock
from drivers.locker.link import LockerEvent
from kiosk.config import ItemPolicy, Policy
from kiosk.services.door import Door
from kiosk.services.lending import LendingService
from kiosk.services.storage import StorageService
from kiosk.store import Store
from kiosk.tokens import MemberCode, TokenBook, TokenKeys

ROOT = Path(__file__).resolve().parents[3]
PROFILE_FILES = {"umbrella": "umbrella-24.yaml", "power_bank": "powerbank-12.yaml", "storage": "storage-12.yaml",
                 "stroller": "stroller-6.yaml"}
# the same lending policy as the broker-based station fixture (tests/fixtures/station.py)
POLICY = Policy(max_open_per_member_per_type=1, min_dispense_battery=60, items={
    "umbrella": ItemPolicy(free_minutes=30, fee_per_hour_cents=200, daily_cap_cents=1000, loan_hours=24),
    "power_bank": ItemPolicy(free_minutes=10, fee_per_hour_cents=300, daily_cap_cents=2000, loan_hours=24,
                             bought_after_days=7, price_cents=9900),
    "stroller": ItemPolicy(free_minutes=240, fee_per_hour_cents=0, daily_cap_cents=0, loan_hours=4)})
STORAGE = ItemPolicy(free_minutes=120, fee_per_hour_cents=200, daily_cap_cents=1000, loan_hours=24)
_PROFILES: dict[str, LockerProfile] = {}


def profile(item_type: str) -> LockerProfile:
    """The shipped device profile, timeouts and all: virtual time makes a 30 s take timeout free."""
    if item_type not in _PROFILES:
        _PROFILES[item_type] = load_profile_as(ROOT / "device_profiles/lockers" / PROFILE_FILES[item_type],
                                               LockerProfile)
    return _PROFILES[item_type]


@dataclass
class World:
    """Lockers, store, tokens and clock of one station; services are built on demand."""

    tmp: Path
    lockers: dict[str, str]  # locker_id -> item_type
    fill: dict[str, Any] = field(default_factory=dict)
    auto_take: dict[str, float | None] = field(default_factory=dict)
    epoch: float | None = None  # the wall clock's start (default: the in-memory link's fixed epoch)

    def __post_init__(self) -> None:
        self.clock = ManualClock() if self.epoch is None else ManualClock(self.epoch)
        self.profiles = {lid: profile(t) for lid, t in self.lockers.items()}
        self.link = InMemoryLockerLink(self.profiles, clock=self.clock, fill=self.fill, auto_take=self.auto_take)
        self.store = Store(self.tmp / "station.db", clock=self.clock.wall)
        self.tokens = TokenBook(TokenKeys(b"unit-services-site-key-0123456789"), clock=self.clock.wall)
        self.door = Door(self.link, self.clock.monotonic, self.clock.sleep)
        self._lending: LendingService | None = None
        self._storage: StorageService | None = None

    @property
    def lending(self) -> LendingService:
        if self._lending is None:
            lent = {lid: p for lid, p in self.profiles.items() if p.item_type != "storage"}
            self._lending = LendingService(store=self.store, lockers=self.link, profiles=lent, policy=POLICY,
                                           station_id="K01", tokens=self.tokens, clock=self.clock.wall,
                                           monotonic=self.clock.monotonic, door=self.door,
                                           boottime=self.clock.monotonic, boot="virtual")
            self._lending.start(handle_returns=False)
        return self._lending

    def start(self) -> LendingService:
        """Build the lending service now (its start-up reconcile runs before the test's faults)."""
        return self.lending

    @property
    def storage(self) -> StorageService:
        if self._storage is None:
            self._storage = StorageService(store=self.store, lockers=self.link, profiles=self.profiles,
                                           policy=STORAGE, tokens=self.tokens, station_id="K01",
                                           clock=self.clock.wall, monotonic=self.clock.monotonic, door=self.door)
        return self._storage

    def member(self, member_id: str) -> MemberCode:
        return self.tokens.verify_member(self.tokens.member_code(member_id), consume=False)

    def events(self) -> list[str]:
        return [e.type for e in self.store.outbox_pending()]

    def open_intents(self) -> int:
        return int(self.store.query("SELECT COUNT(*) FROM intents WHERE state IN ('pending','opened')")[0][0])

    def lendings(self) -> list[Any]:
        return self.store.query("SELECT * FROM lendings ORDER BY started_at")

    def put_back(self, locker_id: str, item: str, slot: int | None = None, battery: int | None = None) -> Any:
        """A shopper returns an item; the lending service handles the item_inserted it hears."""
        message: dict[str, Any] = {"op": "insert", "item": item}
        if slot is not None:
            message["slot"] = slot
        if battery is not None:
            message["battery"] = battery
        with self.link.events() as events:
            self.link.control(locker_id, message)
            ev: LockerEvent | None = events.get(timeout=0)
        assert ev is not None and ev.type == "item_inserted", "the locker refused the insert"
        return self.lending.on_locker_event(ev)


@pytest.fixture
def store_dir(tmp_path: Path) -> Iterator[Path]:
    """Where the station's SQLite file lives: in memory-backed /dev/shm when there is one. The store is the
    same code (WAL, synchronous=FULL, the same SQL); only fsync costs nothing there (2 ms instead of ~30 ms per
    test on this machine's disk). Durability across kills and power cuts is the broker-based tests' job
    (tests/faults), on disk."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and shm.stat().st_mode & 0o002):
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(prefix="unit-services-", dir=shm))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def world(store_dir: Path) -> Iterator[World]:
    """Two umbrella lockers (U1 full, U2 empty) and a power-bank cabinet (P1 full); nobody takes anything."""
    w = World(store_dir, {"U1": "umbrella", "U2": "umbrella", "P1": "power_bank"}, fill={"U2": 0})
    yield w
    w.store.close()


@pytest.fixture
def make_world(store_dir: Path) -> Iterator[Any]:
    made: list[World] = []

    def make(lockers: dict[str, str], fill: dict[str, Any] | None = None,
             auto_take: dict[str, float | None] | None = None) -> World:
        w = World(store_dir / f"w{len(made)}", lockers, fill or {}, auto_take or {})
        made.append(w)
        return w
    yield make
    for w in made:
        w.store.close()
