"""Station registry and heartbeats. Heartbeats are buffered and written in one transaction per flush:
a health snapshot is superseded by the next one, so losing <1 s of them on a crash costs nothing."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import JSON, Text, bindparam, cast, select, update
from sqlalchemy.orm import Session

from server_bridge.central.auth import hash_token, new_token
from server_bridge.central.db import Database
from server_bridge.central.errors import StationExists
from server_bridge.central.models import Station
from server_bridge.central.schemas import Heartbeat

log = logging.getLogger(__name__)


def add_station(session: Session, station_id: str, now: float, name: str = "", rotate: bool = False) -> str:
    """Registers a station, claims one registered without a token (seed-demo), or with `rotate` replaces its
    token; returns the new bearer token, shown only this once."""
    token = new_token()
    station = session.get(Station, station_id)
    if station is not None and station.token_hash and not rotate:
        raise StationExists(f"station {station_id} already has a token (use --rotate for a new one)")
    if station is None:
        session.add(Station(station_id=station_id, name=name, token_hash=hash_token(token), created_at=now,
                            acked_seq=0))
    else:
        station.token_hash = hash_token(token)
        station.name = name or station.name
    log.info("station.token_issued station=%s rotate=%s", station_id, rotate)
    return token


def register_station(session: Session, station_id: str, now: float, name: str = "") -> bool:
    """A station record without a token yet (no request can authenticate as it until `add_station`)."""
    if session.get(Station, station_id) is not None:
        return False
    session.add(Station(station_id=station_id, name=name, token_hash="", created_at=now, acked_seq=0))
    return True


class HeartbeatBuffer:
    """Keeps the newest heartbeat per station in memory; `flush()` writes them all at once."""

    def __init__(self, db: Database, flush_s: float = 0.5, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.flush_s = flush_s
        self.clock = clock
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[float, Heartbeat, str]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.flushed = 0

    def put(self, station_id: str, beat: Heartbeat) -> None:
        """Keep the beat for the next flush; with `flush_s <= 0` write it through at once (the naive way)."""
        health = beat.model_dump_json()  # normalised by the model, serialised in Rust
        with self._lock:
            self._pending[station_id] = (self.clock(), beat, health)
        if self.flush_s <= 0:
            self.flush()

    def flush(self) -> int:
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        rows: list[dict[str, Any]] = [
            {"sid": sid, "at": at, "version": hb.version, "uptime": hb.uptime_s, "health": health}
            for sid, (at, hb, health) in pending.items()]
        # The JSON text goes in as it is (no decode/encode round trip while holding the GIL).
        health_text = bindparam("health", type_=Text)
        health_value = cast(health_text, JSON) if self.db.dialect == "postgresql" else health_text
        stmt = (update(Station).where(Station.station_id == bindparam("sid"))
                .values(last_heartbeat_at=bindparam("at"), version=bindparam("version"),
                        uptime_s=bindparam("uptime"), health=health_value))
        with self.db.engine.begin() as conn:
            conn.execute(stmt, rows)
        self.flushed += len(rows)
        return len(rows)

    def start(self) -> HeartbeatBuffer:
        if self.flush_s <= 0:
            return self
        self._thread = threading.Thread(target=self._run, name="heartbeat-flush", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.flush_s):
            try:
                self.flush()
            except Exception:  # a failed flush must not stop later ones; the next beat retries
                log.exception("heartbeat.flush_failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()


def station_rows(session: Session) -> list[Any]:
    """Every station as a read-only row (attribute access like the model, without ORM bookkeeping: the
    alert pass reads all of them every few seconds)."""
    return list(session.execute(select(*Station.__table__.columns).order_by(Station.station_id)).all())


def is_online(station: Any, now: float, offline_after_s: float) -> bool:
    return station.last_heartbeat_at is not None and now - station.last_heartbeat_at <= offline_after_s


def stock(locker: dict[str, Any], min_battery: int) -> int:
    """Items ready to lend in one locker: occupied slots, and for power banks only charged ones."""
    ready = 0
    for slot in locker.get("slots", []):
        if slot.get("state") != "occupied":
            continue
        if locker.get("item_type") == "power_bank" and (slot.get("battery") or 0) < min_battery:
            continue
        ready += 1
    return ready
