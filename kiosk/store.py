"""The station's durable store: SQLite in WAL mode with synchronous=FULL, schema migrations, the outbox.

Every state change and the outbox event describing it are written in one transaction, before any
device moves. Other services add their tables through `MIGRATIONS` (append only, never edit).
"""
from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MIGRATIONS: list[str] = [
    # 1: lending core
    """
    CREATE TABLE items (
        item_id TEXT PRIMARY KEY,
        item_type TEXT NOT NULL,
        status TEXT NOT NULL,            -- in_locker | lent | bought | lost (forced door) | unknown
        locker_id TEXT, slot INTEGER, battery INTEGER,
        updated_at REAL NOT NULL
    );
    CREATE TABLE intents (
        intent_id TEXT PRIMARY KEY,
        cmd_id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,              -- borrow | open
        member_id TEXT,
        item_type TEXT NOT NULL,
        locker_id TEXT NOT NULL,
        slot INTEGER NOT NULL,
        item_id TEXT,
        state TEXT NOT NULL,             -- pending | opened | done | cancelled
        reason TEXT,
        owner TEXT NOT NULL,             -- the process that sent the command (pid:start-time)
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE UNIQUE INDEX intents_one_per_slot ON intents(locker_id, slot) WHERE state IN ('pending', 'opened');
    CREATE TABLE lendings (
        lending_id TEXT PRIMARY KEY,
        intent_id TEXT UNIQUE,
        member_id TEXT NOT NULL,
        item_type TEXT NOT NULL,
        item_id TEXT NOT NULL,
        station_id TEXT NOT NULL,
        locker_id TEXT NOT NULL, slot INTEGER NOT NULL,
        started_at REAL NOT NULL,
        due_at REAL NOT NULL,
        status TEXT NOT NULL,            -- open | returned | bought
        returned_at REAL, return_locker_id TEXT, return_slot INTEGER,
        fee_cents INTEGER
    );
    CREATE UNIQUE INDEX lendings_one_open_per_item ON lendings(item_id) WHERE status = 'open';
    CREATE INDEX lendings_member ON lendings(member_id, status);
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        ts TEXT NOT NULL,
        created_at REAL NOT NULL,
        data TEXT NOT NULL,
        sent_at REAL
    );
    CREATE INDEX outbox_unsent ON outbox(seq) WHERE sent_at IS NULL;
    CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 2: receipts that could not be printed wait here
    """
    CREATE TABLE print_jobs (
        job_id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        created_at REAL NOT NULL,
        payload BLOB NOT NULL,
        status TEXT NOT NULL,            -- queued | printed | dropped
        attempts INTEGER NOT NULL DEFAULT 0,
        printed_at REAL,
        error TEXT
    );
    CREATE INDEX print_jobs_status ON print_jobs(status, job_id);
    """,
    # 3: the rest of the desk: complaints, parking vouchers, lost & found, storage deposits
    """
    CREATE TABLE desk_complaints (
        ticket_id TEXT PRIMARY KEY,
        code TEXT NOT NULL,
        category TEXT NOT NULL,
        floor TEXT, shop_unit TEXT,
        rating INTEGER NOT NULL,
        phone_masked TEXT,
        text TEXT NOT NULL,
        lang TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE desk_parking_vouchers (
        voucher_id TEXT PRIMARY KEY,
        redemption_id TEXT NOT NULL UNIQUE,
        member_id TEXT NOT NULL,
        hours INTEGER NOT NULL,
        points INTEGER NOT NULL,
        event_seq INTEGER NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        used_at REAL
    );
    CREATE INDEX desk_parking_member ON desk_parking_vouchers(member_id, created_at);
    CREATE TABLE desk_found_items (
        item_id TEXT PRIMARY KEY,
        category TEXT NOT NULL,
        floor TEXT, place TEXT NOT NULL,
        found_at REAL NOT NULL,
        description TEXT NOT NULL,
        photo_path TEXT, public_photo_path TEXT,
        registered_by TEXT NOT NULL,
        status TEXT NOT NULL,            -- held | claimed | handed_over
        claimed_at REAL, handed_over_at REAL, handed_over_by TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX desk_found_status ON desk_found_items(status, found_at);
    CREATE TABLE desk_lost_reports (
        report_id TEXT PRIMARY KEY,
        category TEXT NOT NULL,
        floor TEXT, place TEXT NOT NULL,
        lost_at REAL NOT NULL,
        description TEXT NOT NULL,
        phone_masked TEXT,
        created_at REAL NOT NULL
    );
    CREATE TABLE desk_storage (
        deposit_id TEXT PRIMARY KEY,
        member_id TEXT,
        item_type TEXT NOT NULL,
        locker_id TEXT NOT NULL, slot INTEGER NOT NULL,
        cmd_id TEXT NOT NULL,
        status TEXT NOT NULL,            -- opening | stored | picked_up | cancelled
        started_at REAL NOT NULL,
        due_at REAL NOT NULL,
        picked_up_at REAL, fee_cents INTEGER
    );
    CREATE UNIQUE INDEX desk_storage_one_per_slot ON desk_storage(locker_id, slot)
        WHERE status IN ('opening', 'stored');
    """,
    # 4: member codes already accepted at this station (replay refusal across processes and restarts)
    """
    CREATE TABLE used_codes (code TEXT PRIMARY KEY, used_at REAL NOT NULL);
    CREATE INDEX used_codes_age ON used_codes(used_at);
    """,
    # 5: a print job is claimed (status 'printing') by one process at a time; an old claim is a crashed one
    """
    ALTER TABLE print_jobs ADD COLUMN claimed_at REAL;
    """,
    # 6: the desk's written duties (issue 17): service supplies, bag-storage incidents, shift handovers
    """
    CREATE TABLE desk_supplies (
        item TEXT PRIMARY KEY,
        stock INTEGER NOT NULL,
        out INTEGER NOT NULL DEFAULT 0,  -- returnable items handed out and not back yet
        updated_at REAL NOT NULL
    );
    CREATE TABLE desk_supply_moves (
        move_id TEXT PRIMARY KEY,
        item TEXT NOT NULL,
        delta INTEGER NOT NULL,
        reason TEXT NOT NULL,            -- handout | returned | restock | check
        staff_id TEXT,
        at REAL NOT NULL
    );
    CREATE TABLE desk_storage_incidents (
        incident_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,              -- lost_tag | overnight | damage
        deposit_id TEXT NOT NULL,
        locker_id TEXT NOT NULL, slot INTEGER NOT NULL,
        staff_id TEXT NOT NULL,
        second_staff_id TEXT,            -- the witness badge (overnight) or the supervisor (damage)
        contents TEXT,                   -- personal: purged when retention ends
        id_masked TEXT,                  -- personal: purged when retention ends
        photos TEXT,                     -- JSON list of paths, personal: deleted when retention ends
        found_item_id TEXT,
        at REAL NOT NULL,
        purged_at REAL
    );
    CREATE INDEX desk_storage_incidents_at ON desk_storage_incidents(at);
    CREATE TABLE desk_handovers (
        handover_id TEXT PRIMARY KEY,
        outgoing TEXT NOT NULL,
        incoming TEXT NOT NULL,
        body TEXT NOT NULL,              -- JSON: the counts, open items, device problems and note as signed
        at REAL NOT NULL
    );
    """,
    # 7: 广播寻人 / 寻物 requests; when the desk's personal data was purged (kiosk.services.retention)
    """
    CREATE TABLE desk_requests (
        request_id TEXT PRIMARY KEY,
        code TEXT NOT NULL,
        kind TEXT NOT NULL,
        traits TEXT NOT NULL,
        description TEXT NOT NULL,
        floor TEXT NOT NULL, place TEXT NOT NULL,
        last_seen_at REAL NOT NULL,
        phone_masked TEXT,
        lang TEXT NOT NULL,
        filed_by TEXT,
        created_at REAL NOT NULL,
        status TEXT NOT NULL,            -- filed | closed (learnt from the centre)
        purged_at REAL
    );
    ALTER TABLE desk_found_items ADD COLUMN purged_at REAL;
    ALTER TABLE desk_lost_reports ADD COLUMN purged_at REAL;
    """,
    # 8: remote commands from the centre, recorded before they run (kiosk/services/remote.py)
    """
    CREATE TABLE remote_commands (
        command_id TEXT PRIMARY KEY,     -- the centre's id: a redelivered one is not run again
        kind TEXT NOT NULL,
        params TEXT NOT NULL,
        expires_at REAL NOT NULL,
        by TEXT,
        state TEXT NOT NULL,             -- received | running | uploading | restarting | done
        door_cmd_id TEXT,                -- open_slot: the locker command sent
        received_at REAL NOT NULL, started_at REAL, finished_at REAL,
        outcome TEXT, code TEXT, detail TEXT
    );
    CREATE INDEX remote_commands_state ON remote_commands(state);
    """,
    # 9: when a lending started on the boot clock ("<boot id>@<CLOCK_BOOTTIME s>"): its fee is measured on a clock
    #    NTP cannot step (docs/architecture.md, "Which clock")
    """
    ALTER TABLE lendings ADD COLUMN started_boot TEXT;
    """,
    # 10: an event the centre refused for its content is parked here with the centre's reason (never marked sent,
    #     never dropped) while the events after it keep flowing; staff resend it (docs/central.md, "Refused events")
    """
    ALTER TABLE outbox ADD COLUMN refused_at REAL;
    ALTER TABLE outbox ADD COLUMN refused_reason TEXT;
    """,
]


@dataclass(frozen=True)
class OutboxEvent:
    seq: int
    event_id: str
    type: str
    ts: str
    data: dict[str, Any]
    created_at: float

    def envelope(self) -> dict[str, Any]:
        return {"seq": self.seq, "id": self.event_id, "type": self.type, "ts": self.ts, "data": self.data}


@dataclass(frozen=True)
class RefusedEvent:
    """An outbox event the centre refused for its content, parked with the centre's reason."""

    event: OutboxEvent
    refused_at: float
    reason: str


SEQ_OFFSET_KEY = "uploader.seq_offset"  # wire seq = outbox seq + this (set when a re-imaged station renumbers)
RESENT_EVENT = "outbox.resent"

SQLITE_FULL = 13
ROOM_PROBE_BYTES = 256 * 1024  # a borrow and its receipt, many times over: less than this and we refuse new work
ROOM_MIN_FREE_BYTES = 1024 * 1024  # the filesystem's own free space (the WAL grows there, not in the pages)
ROOM_CACHE_S = 2.0


class StoreFull(sqlite3.OperationalError):
    """SQLite answered SQLITE_FULL: the disk (or the database's page limit) has no room. Nothing of the failed
    transaction was written; everything committed before is intact."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(f"disk full: free space on {path.parent} ({detail})")
        self.path = path


def is_full(exc: BaseException) -> bool:
    if isinstance(exc, StoreFull):
        return True
    if not isinstance(exc, sqlite3.Error):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    return (code is not None and code & 0xFF == SQLITE_FULL) or "database or disk is full" in str(exc)


@dataclass(frozen=True)
class StoreRoom:
    """Whether the store can take new work: the filesystem's free bytes and SQLite's own answer to a probe."""

    ok: bool
    path: str
    free_bytes: int
    detail: str | None = None

    def words(self) -> str:
        return (f"disk full: free space on {self.path} ({self.free_bytes // 1024} KiB free"
                + (f"; {self.detail}" if self.detail else "") + ")")


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Store:
    """One SQLite file; thread-safe through one connection and a lock (writes are short)."""

    def __init__(self, path: Path | str, clock: Any = time.time) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._room: StoreRoom | None = None
        self._room_at = -1e18
        self.full_at: float | None = None  # when a write last hit SQLITE_FULL (time.monotonic), until room returns
        self._migrate()

    def _migrate(self) -> None:
        with self._lock:
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in script.split(";"):
                        if statement.strip():
                            self._conn.execute(statement)
                    self._conn.execute(f"PRAGMA user_version={number}")
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                log.info("store.migrated path=%s version=%d", self.path, number)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT; everything inside is durable together or not at all.

        SQLITE_FULL (in a statement or at COMMIT, when the WAL cannot grow) comes out as `StoreFull`, with the
        transaction rolled back: SQLite may already have rolled it back itself, and a second ROLLBACK's "cannot
        rollback - no transaction is active" must not hide the real error (nor leave the connection inside a
        transaction that blocks every later write)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException as exc:
                if self._conn.in_transaction:
                    try:
                        self._conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        log.exception("store.rollback_failed path=%s", self.path)
                if is_full(exc) and not isinstance(exc, StoreFull):
                    self.full_at = time.monotonic()
                    self._room_at = -1e18
                    log.error("store.full path=%s error=%s", self.path, exc)
                    raise StoreFull(self.path, str(exc)) from exc
                raise

    def room(self, max_age_s: float = ROOM_CACHE_S) -> StoreRoom:
        """Is there room for new work? The filesystem's free space, then a probe: ROOM_PROBE_BYTES inserted and
        rolled back, which SQLite refuses with SQLITE_FULL when its pages cannot grow. Cached for `max_age_s`
        (the home screen asks often); a write that hit SQLITE_FULL clears the cache."""
        now = time.monotonic()
        with self._lock:
            if self._room is not None and now - self._room_at < max_age_s:
                return self._room
            try:
                free = shutil.disk_usage(self.path.parent).free
            except OSError:
                free = 0
            detail = None
            if free < ROOM_MIN_FREE_BYTES:
                detail = "the filesystem is full"
            else:
                try:
                    self._conn.execute("BEGIN IMMEDIATE")
                    try:
                        self._conn.execute("INSERT OR REPLACE INTO kv(key, value) VALUES ('room_probe', ?)",
                                           ("0" * ROOM_PROBE_BYTES,))
                    finally:
                        if self._conn.in_transaction:
                            self._conn.execute("ROLLBACK")
                except sqlite3.Error as exc:
                    if not is_full(exc):
                        raise
                    detail = "the database cannot grow"
            room = StoreRoom(detail is None, str(self.path.parent), free, detail)
            if room.ok:
                self.full_at = None
            self._room, self._room_at = room, now
            return room

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._conn.execute(sql, params).fetchall())

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # outbox -----------------------------------------------------------------------------------
    def append_event(self, conn: sqlite3.Connection, type_: str, data: dict[str, Any],
                     at: float | None = None) -> int:
        """Append to the outbox inside the caller's transaction; returns the event's seq."""
        now = self.clock() if at is None else at
        cur = conn.execute(
            "INSERT INTO outbox (event_id, type, ts, created_at, data) VALUES (?, ?, ?, ?, ?)",
            (str(uuid.uuid4()), type_, rfc3339(now), now, json.dumps(data, ensure_ascii=False,
                                                                     separators=(",", ":"))),
        )
        return int(cur.lastrowid or 0)

    def record_event(self, type_: str, data: dict[str, Any]) -> int:
        """An event that is its own state change (a rating, a maintenance record)."""
        with self.transaction() as conn:
            return self.append_event(conn, type_, data)

    def outbox_pending(self, limit: int = 500) -> list[OutboxEvent]:
        """Unsent events in seq order; parked ones (refused by the centre) wait for a staff resend."""
        rows = self.query(
            "SELECT seq, event_id, type, ts, data, created_at FROM outbox WHERE sent_at IS NULL "
            "AND refused_at IS NULL ORDER BY seq LIMIT ?", (limit,))
        return [OutboxEvent(r["seq"], r["event_id"], r["type"], r["ts"], json.loads(r["data"]),
                            r["created_at"]) for r in rows]

    def mark_sent(self, upto_seq: int, refused: Mapping[int, str] | None = None) -> int:
        """The centre stored everything up to `upto_seq`, except `refused` ({seq: the centre's reason}), which it
        holds in quarantine: those are parked here, not marked sent. Returns how many rows are newly sent."""
        now = self.clock()
        with self.transaction() as conn:
            for seq, reason in (refused or {}).items():
                conn.execute("UPDATE outbox SET refused_at=?, refused_reason=? WHERE seq=? AND sent_at IS NULL",
                             (now, reason[:2000], seq))
            cur = conn.execute("UPDATE outbox SET sent_at=? WHERE seq<=? AND sent_at IS NULL AND refused_at IS NULL",
                               (now, upto_seq))
            return cur.rowcount

    def outbox_depth(self) -> tuple[int, float | None]:
        """(unsent events, age in seconds of the oldest unsent one); parked events are `outbox_refused`."""
        row = self.query("SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox WHERE sent_at IS NULL "
                         "AND refused_at IS NULL")[0]
        oldest = None if row["oldest"] is None else max(0.0, self.clock() - row["oldest"])
        return int(row["n"]), oldest

    def outbox_refused(self, limit: int = 1000) -> list[RefusedEvent]:
        """Events the centre refused for their content, parked until staff resend them (oldest first)."""
        rows = self.query("SELECT seq, event_id, type, ts, data, created_at, refused_at, refused_reason FROM outbox "
                          "WHERE refused_at IS NOT NULL AND sent_at IS NULL ORDER BY seq LIMIT ?", (limit,))
        return [RefusedEvent(OutboxEvent(r["seq"], r["event_id"], r["type"], r["ts"], json.loads(r["data"]),
                                         r["created_at"]), r["refused_at"], r["refused_reason"] or "") for r in rows]

    def is_parked(self, seq: int) -> bool:
        return bool(self.query("SELECT 1 FROM outbox WHERE seq=? AND refused_at IS NOT NULL AND sent_at IS NULL",
                               (seq,)))

    def unpark(self, conn: sqlite3.Connection, seqs: Iterable[int] | None = None) -> list[int]:
        """Inside the caller's transaction: parked events (all, or those of `seqs`) go again with the next
        batch; returns their seqs."""
        rows = conn.execute("SELECT seq FROM outbox WHERE refused_at IS NOT NULL AND sent_at IS NULL ORDER BY seq")
        parked = [r[0] for r in rows]
        chosen = parked if seqs is None else sorted(set(parked) & set(seqs))
        conn.executemany("UPDATE outbox SET refused_at=NULL, refused_reason=NULL WHERE seq=?",
                         [(seq,) for seq in chosen])
        return chosen

    def resend_refused(self, by: str, seqs: Iterable[int] | None = None, command_id: str | None = None) -> list[int]:
        """Staff (`outbox resend`) or ops (the remote command `resend_refused`): parked events (all, or `seqs`) go
        again with the next batch, after the centre was fixed. In the same transaction an `outbox.resent` event
        records who asked and which seqs (the centre audits it); the centre stores a quarantined event it now
        accepts once, and lists one it still refuses (parked again). Returns the seqs unparked."""
        who = by.strip()[:64]
        if not who:
            raise ValueError("say who resends (a staff id or name)")
        offset = int(self.get_kv(SEQ_OFFSET_KEY) or 0)
        with self.transaction() as conn:
            chosen = self.unpark(conn, seqs)
            if chosen:
                data: dict[str, Any] = {"by": who, "seqs": [s + offset for s in chosen]}
                if command_id:
                    data["command_id"] = command_id
                self.append_event(conn, RESENT_EVENT, data)
        if chosen:
            log.warning("outbox.resend_refused by=%s seqs=%s", who, chosen)
        return chosen

    # small settings ---------------------------------------------------------------------------
    def get_kv(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM kv WHERE key=?", (key,))
        return rows[0]["value"] if rows else None

    def set_kv(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO kv(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                         (key, value))


class StoreReplayGuard:
    """Remembers accepted one-time codes in the store, so a replay is refused by any process."""

    def __init__(self, store: Store, keep_s: float = 120.0) -> None:
        self.store = store
        self.keep_s = keep_s

    def first_use(self, code: str, now: float) -> bool:
        """True the first time; a code whose use cannot be recorded (the disk is full) is refused, never
        accepted unrecorded (it could then be used twice)."""
        from kiosk.tokens import TokenRejected  # tokens imports nothing of ours; this is the one way up

        try:
            with self.store.transaction() as conn:
                conn.execute("DELETE FROM used_codes WHERE used_at < ?", (now - self.keep_s,))
                cur = conn.execute("INSERT OR IGNORE INTO used_codes(code, used_at) VALUES (?, ?)", (code, now))
                return cur.rowcount == 1
        except StoreFull as exc:
            raise TokenRejected("disk_full", "the station cannot record this code now (its disk is full)") from exc
