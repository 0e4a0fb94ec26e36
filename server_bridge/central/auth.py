"""Per-station bearer tokens: random, shown once, stored as SHA-256 (tokens are 256-bit, so no KDF needed)."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable

from sqlalchemy import select

from server_bridge.central.db import Database
from server_bridge.central.errors import Forbidden, Unauthorized
from server_bridge.central.models import Station


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer_from_header(header: str | None) -> str:
    if not header or not header.startswith("Bearer ") or len(header) > 200:
        raise Unauthorized("a station bearer token is required")
    return header[7:].strip()


class StationTokens:
    """Token hash → station id, cached briefly so heartbeats do not read the database for auth."""

    def __init__(self, db: Database, ttl_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self.clock = clock
        self._lock = threading.Lock()
        self._by_hash: dict[str, str] = {}
        self._loaded_at = -1e18

    def _reload(self) -> None:
        with self.db.session() as s:
            rows = s.execute(select(Station.token_hash, Station.station_id)
                             .where(Station.token_hash != "")).tuples().all()
        with self._lock:
            self._by_hash = dict(rows)
            self._loaded_at = self.clock()

    def station_for(self, token: str) -> str | None:
        digest = hash_token(token)
        if self.clock() - self._loaded_at > self.ttl_s:
            self._reload()
        found = self._by_hash.get(digest)
        if found is None and self.clock() - self._loaded_at > 1.0:
            self._reload()  # a station added a moment ago
            found = self._by_hash.get(digest)
        return found

    def check(self, header: str | None, station_id: str) -> str:
        """The station the token belongs to, which must be the one in the path."""
        token = bearer_from_header(header)
        owner = self.station_for(token)
        if owner is None:
            raise Unauthorized("unknown or revoked token")
        if not hmac.compare_digest(owner.encode(), station_id.encode()):
            raise Forbidden("this token belongs to another station")
        return owner

    def check_any(self, header: str | None) -> str:
        owner = self.station_for(bearer_from_header(header))
        if owner is None:
            raise Unauthorized("unknown or revoked token")
        return owner
