"""Per-station bearer tokens: random, shown once, stored as SHA-256 (tokens are 256-bit, so no KDF needed)."""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable

from sqlalchemy import select

from server_bridge.central.db import Database
from server_bridge.central.errors import Forbidden, Unauthorized
from server_bridge.central.models import Station

log = logging.getLogger(__name__)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer_from_header(header: str | None) -> str:
    if not header or not header.startswith("Bearer ") or len(header) > 200:
        raise Unauthorized("a station bearer token is required")
    return header[7:].strip()


class StationTokens:
    """Token hash → station id, kept in memory so a heartbeat never reads the database for auth.

    With `start()` a background thread reloads the map every `ttl_s` (a revoked or rotated token is refused
    within that); a token not in the map is looked up on its own (an indexed point query: a station added a
    moment ago). Without `start()` (tests, CLI) a stale map is reloaded on the caller's thread."""

    def __init__(self, db: Database, ttl_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self.clock = clock
        self._lock = threading.Lock()
        self._by_hash: dict[str, str] = {}
        self._loaded_at = -1e18
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _reload(self) -> None:
        with self.db.session() as s:
            rows = s.execute(select(Station.token_hash, Station.station_id)
                             .where(Station.token_hash != "")).tuples().all()
        with self._lock:
            self._by_hash = dict(rows)
            self._loaded_at = self.clock()

    def _lookup(self, digest: str) -> str | None:
        with self.db.session() as s:
            found = s.scalar(select(Station.station_id).where(Station.token_hash == digest))
        if found is not None:
            with self._lock:
                self._by_hash[digest] = found
        return found

    def start(self) -> StationTokens:
        self._reload()
        self._thread = threading.Thread(target=self._run, name="station-tokens", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.ttl_s):
            try:
                self._reload()
            except Exception:  # the map in hand stays; the next period tries again
                log.exception("tokens.reload_failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def station_for(self, token: str) -> str | None:
        digest = hash_token(token)
        if self._thread is None and self.clock() - self._loaded_at > self.ttl_s:
            self._reload()
        return self._by_hash.get(digest) or self._lookup(digest)

    def owner_of(self, header: str | None) -> str | None:
        """The station a well-formed bearer header belongs to, or None (no exception: the fast path)."""
        if not header or not header.startswith("Bearer ") or len(header) > 200:
            return None
        return self.station_for(header[7:].strip())

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
