"""The SQL of the locker services behind small repositories, and a unit of work over `Store`.

    with UnitOfWork(store) as uow:        # BEGIN IMMEDIATE … COMMIT (ROLLBACK on any exception)
        uow.lendings.add_lending(...)
        uow.emit(LendingStarted(...), at=now)

Reads outside a transaction go through `Repositories(store)` (the same classes over `Store.query`).
"""
from __future__ import annotations

import sqlite3
from contextlib import ExitStack
from typing import Any, Protocol

from kiosk.services.decisions import Lending
from kiosk.services.events import OutboxRecord
from kiosk.store import Store

OPEN_INTENT_STATES = ("pending", "opened")
_OPEN = "state IN ('pending','opened')"


class Rows(Protocol):
    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]: ...
    def run(self, sql: str, params: tuple[Any, ...] = ()) -> int: ...


class _InTransaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return list(self.conn.execute(sql, params).fetchall())

    def run(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        return self.conn.execute(sql, params).rowcount


class _OnStore:
    """Reads as they come; a write is a transaction of its own."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self.store.query(sql, params)

    def run(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        with self.store.transaction() as conn:
            return conn.execute(sql, params).rowcount


def lending_from_row(row: Any) -> Lending:
    return Lending(**{k: row[k] for k in Lending.__dataclass_fields__})


def _one(rows: list[sqlite3.Row]) -> sqlite3.Row | None:
    return rows[0] if rows else None


class LendingRepository:
    """Intents, lendings and the station's view of its items."""

    def __init__(self, db: Rows) -> None:
        self.db = db

    # intents ----------------------------------------------------------------------------------------
    def add_intent(self, intent_id: str, cmd_id: str, member_id: str, item_type: str, locker_id: str, slot: int,
                   item_id: str, owner: str, now: float) -> None:
        """Raises sqlite3.IntegrityError when the slot already has an open intent (any process)."""
        self.db.run("INSERT INTO intents (intent_id, cmd_id, kind, member_id, item_type, locker_id, slot,"
                    " item_id, state, owner, created_at, updated_at)"
                    " VALUES (?,?,'borrow',?,?,?,?,?,'pending',?,?,?)",
                    (intent_id, cmd_id, member_id, item_type, locker_id, slot, item_id, owner, now, now))

    def intent(self, intent_id: str) -> sqlite3.Row | None:
        return _one(self.db.rows("SELECT * FROM intents WHERE intent_id=?", (intent_id,)))

    def open_intents(self) -> list[sqlite3.Row]:
        return self.db.rows(f"SELECT * FROM intents WHERE kind='borrow' AND {_OPEN}")  # not remote slot holds

    def open_intents_for_item(self, item_id: str) -> list[sqlite3.Row]:
        return self.db.rows(f"SELECT intent_id, created_at FROM intents WHERE item_id=? AND kind='borrow' AND {_OPEN}",
                            (item_id,))

    def busy_slots(self) -> set[tuple[str, int]]:
        return {(r["locker_id"], r["slot"]) for r in self.db.rows(f"SELECT locker_id, slot FROM intents WHERE {_OPEN}")}

    def mark_opened(self, intent_id: str, now: float) -> None:
        self.db.run(f"UPDATE intents SET state='opened', updated_at=? WHERE intent_id=? AND {_OPEN}", (now, intent_id))

    def set_intent_item(self, intent_id: str, item_id: str, now: float) -> None:
        self.db.run(f"UPDATE intents SET item_id=?, updated_at=? WHERE intent_id=? AND {_OPEN}",
                    (item_id, now, intent_id))

    def cancel_intent(self, intent_id: str, reason: str, now: float) -> None:
        self.db.run(f"UPDATE intents SET state='cancelled', reason=?, updated_at=? WHERE intent_id=? AND {_OPEN}",
                    (reason, now, intent_id))

    def finish_intent(self, intent_id: str, item_id: str, now: float) -> None:
        self.db.run("UPDATE intents SET state='done', item_id=?, updated_at=? WHERE intent_id=?",
                    (item_id, now, intent_id))

    # lendings ---------------------------------------------------------------------------------------
    def lending(self, lending_id: str) -> Lending | None:
        row = _one(self.db.rows("SELECT * FROM lendings WHERE lending_id=?", (lending_id,)))
        return lending_from_row(row) if row is not None else None

    def lending_for_intent(self, intent_id: str) -> Lending | None:
        row = _one(self.db.rows("SELECT * FROM lendings WHERE intent_id=?", (intent_id,)))
        return lending_from_row(row) if row is not None else None

    def add_lending(self, lending: Lending, intent_id: str) -> None:
        self.db.run("INSERT INTO lendings (lending_id, intent_id, member_id, item_type, item_id, station_id,"
                    " locker_id, slot, started_at, due_at, status) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (lending.lending_id, intent_id, lending.member_id, lending.item_type, lending.item_id,
                     lending.station_id, lending.locker_id, lending.slot, lending.started_at, lending.due_at,
                     lending.status))

    def lendings(self, open_only: bool = False, limit: int = 200, newest_first: bool = True) -> list[Lending]:
        where = "WHERE status='open'" if open_only else ""
        order = "DESC" if newest_first else "ASC"
        rows = self.db.rows(f"SELECT * FROM lendings {where} ORDER BY started_at {order} LIMIT ?", (limit,))
        return [lending_from_row(r) for r in rows]

    def open_lendings(self, member_id: str) -> list[Lending]:
        rows = self.db.rows("SELECT * FROM lendings WHERE member_id=? AND status='open' ORDER BY started_at",
                            (member_id,))
        return [lending_from_row(r) for r in rows]

    def latest_out_lending(self, item_id: str) -> Lending | None:
        """The lending under which `item_id` is out now (open, or counted as bought)."""
        row = _one(self.db.rows("SELECT * FROM lendings WHERE item_id=? AND status IN ('open','bought')"
                                " ORDER BY started_at DESC LIMIT 1", (item_id,)))
        return lending_from_row(row) if row is not None else None

    def set_started_boot(self, lending_id: str, stamp: str) -> None:
        self.db.run("UPDATE lendings SET started_boot=? WHERE lending_id=?", (stamp, lending_id))

    def started_boot(self, lending_id: str) -> str | None:
        row = _one(self.db.rows("SELECT started_boot FROM lendings WHERE lending_id=?", (lending_id,)))
        return row["started_boot"] if row is not None else None

    def out_lending_at(self, item_id: str, at: float) -> Lending | None:
        """The lending under which `item_id` was out at `at` (started by then, not yet returned)."""
        row = _one(self.db.rows("SELECT * FROM lendings WHERE item_id=? AND status IN ('open','bought')"
                                " AND started_at<=? ORDER BY started_at DESC LIMIT 1", (item_id, at)))
        return lending_from_row(row) if row is not None else None

    def lent_after(self, item_id: str, at: float) -> bool:
        """Whether `item_id` was lent again after `at` (a lending of it started later)."""
        return bool(self.db.rows("SELECT 1 FROM lendings WHERE item_id=? AND started_at>? LIMIT 1", (item_id, at)))

    def close_lending(self, lending_id: str, status: str, returned_at: float, locker_id: str, slot: int,
                      fee_cents: int) -> None:
        self.db.run("UPDATE lendings SET status=?, returned_at=?, return_locker_id=?, return_slot=?, fee_cents=?"
                    " WHERE lending_id=?", (status, returned_at, locker_id, slot, fee_cents, lending_id))

    def open_lendings_started_by(self, item_type: str, cutoff: float) -> list[Lending]:
        rows = self.db.rows("SELECT * FROM lendings WHERE status='open' AND item_type=? AND started_at<=?",
                            (item_type, cutoff))
        return [lending_from_row(r) for r in rows]

    def mark_bought(self, lending_id: str, price_cents: int | None) -> None:
        self.db.run("UPDATE lendings SET status='bought', fee_cents=? WHERE lending_id=?", (price_cents, lending_id))

    # items ------------------------------------------------------------------------------------------
    def items_not_in_locker(self) -> set[str]:
        return {r["item_id"] for r in self.db.rows("SELECT item_id FROM items WHERE status != 'in_locker'")}

    def items_of_open_intents(self) -> set[str]:
        """Items an open intent names: their borrow is not settled yet (the item may have left under it)."""
        return {r["item_id"] for r in self.db.rows(f"SELECT item_id FROM intents WHERE {_OPEN} AND item_id IS NOT NULL")}

    def items_out(self) -> set[str]:
        return {r["item_id"] for r in self.db.rows("SELECT item_id FROM items WHERE status IN ('lent','bought')")}

    def known_items(self) -> set[str]:
        return {r["item_id"] for r in self.db.rows("SELECT item_id FROM items")}

    def item(self, item_id: str) -> sqlite3.Row | None:
        return _one(self.db.rows("SELECT status, locker_id, slot FROM items WHERE item_id=?", (item_id,)))

    def item_lent(self, item_id: str, item_type: str, now: float) -> None:
        self.db.run("INSERT INTO items(item_id, item_type, status, locker_id, slot, battery, updated_at)"
                    " VALUES (?,?,'lent',NULL,NULL,NULL,?) ON CONFLICT(item_id) DO UPDATE SET status='lent',"
                    " locker_id=NULL, slot=NULL, updated_at=excluded.updated_at", (item_id, item_type, now))

    def item_in_locker(self, item_id: str, item_type: str, locker_id: str, slot: int, battery: int | None,
                       now: float) -> None:
        self.db.run("INSERT INTO items(item_id, item_type, status, locker_id, slot, battery, updated_at)"
                    " VALUES (?,?,'in_locker',?,?,?,?) ON CONFLICT(item_id) DO UPDATE SET status='in_locker',"
                    " locker_id=excluded.locker_id, slot=excluded.slot, battery=excluded.battery,"
                    " updated_at=excluded.updated_at", (item_id, item_type, locker_id, slot, battery, now))

    def item_bought(self, item_id: str, now: float) -> None:
        self.db.run("UPDATE items SET status='bought', updated_at=? WHERE item_id=?", (now, item_id))

    def item_lost(self, item_id: str, item_type: str, now: float) -> None:
        """Taken through a forced door: out of the locker, on nobody's lending (back in when it is returned)."""
        self.db.run("INSERT INTO items(item_id, item_type, status, locker_id, slot, battery, updated_at)"
                    " VALUES (?,?,'lost',NULL,NULL,NULL,?) ON CONFLICT(item_id) DO UPDATE SET status='lost',"
                    " locker_id=NULL, slot=NULL, updated_at=excluded.updated_at", (item_id, item_type, now))


class StorageRepository:
    """Bag storage deposits (`desk_storage`)."""

    def __init__(self, db: Rows) -> None:
        self.db = db

    def held_slots(self) -> set[tuple[str, int]]:
        return {(r["locker_id"], r["slot"]) for r in self.db.rows(
            "SELECT locker_id, slot FROM desk_storage WHERE status IN ('opening','stored','picking')")}

    def add_deposit(self, deposit_id: str, member_id: str | None, locker_id: str, slot: int, now: float,
                    due_at: float) -> None:
        """Raises sqlite3.IntegrityError when another deposit holds the slot."""
        self.db.run("INSERT INTO desk_storage (deposit_id, member_id, item_type, locker_id, slot, cmd_id, status,"
                    " started_at, due_at) VALUES (?,?,'storage',?,?,'','opening',?,?)",
                    (deposit_id, member_id, locker_id, slot, now, due_at))

    def held(self) -> list[sqlite3.Row]:
        return self.db.rows("SELECT * FROM desk_storage WHERE status='stored' ORDER BY started_at")

    def deposit(self, deposit_id: str) -> sqlite3.Row | None:
        return _one(self.db.rows("SELECT * FROM desk_storage WHERE deposit_id=?", (deposit_id,)))

    def move(self, deposit_id: str, status: str, expected: str) -> bool:
        """Compare-and-set of a deposit's status; True when this call moved it."""
        return self.db.run("UPDATE desk_storage SET status=? WHERE deposit_id=? AND status=?",
                           (status, deposit_id, expected)) == 1

    def set_cmd(self, deposit_id: str, cmd_id: str) -> None:
        self.db.run("UPDATE desk_storage SET cmd_id=? WHERE deposit_id=?", (cmd_id, deposit_id))

    def stored(self, deposit_id: str, started_at: float, due_at: float) -> None:
        self.db.run("UPDATE desk_storage SET status='stored', started_at=?, due_at=? WHERE deposit_id=?",
                    (started_at, due_at, deposit_id))

    def picked_up(self, deposit_id: str, at: float, fee_cents: int) -> None:
        self.db.run("UPDATE desk_storage SET status='picked_up', picked_up_at=?, fee_cents=? WHERE deposit_id=?",
                    (at, fee_cents, deposit_id))


class CommandRepository:
    """Remote commands from the centre (`remote_commands`) and the slot holds of a remote "open slot"
    (`intents` rows of kind `open`: the one-open-intent-per-slot index keeps borrows off the slot; lending
    reconciliation reads only kind `borrow`)."""

    def __init__(self, db: Rows) -> None:
        self.db = db

    def finish(self, command_id: str, outcome: str, code: str | None, detail: str, now: float) -> None:
        self.db.run("UPDATE remote_commands SET state='done', outcome=?, code=?, detail=?, finished_at=? "
                    "WHERE command_id=?", (outcome, code, detail, now, command_id))

    def hold_slot(self, hold_id: str, cmd_id: str, item_type: str, locker_id: str, slot: int, item_id: str | None,
                  owner: str, now: float) -> None:
        """Raises sqlite3.IntegrityError when the slot already has an open intent (a borrow under way)."""
        self.db.run("INSERT INTO intents (intent_id, cmd_id, kind, member_id, item_type, locker_id, slot, item_id,"
                    " state, owner, created_at, updated_at) VALUES (?,?,'open',NULL,?,?,?,?,'opened',?,?,?)",
                    (hold_id, cmd_id, item_type, locker_id, slot, item_id, owner, now, now))

    def set_door_cmd(self, command_id: str, cmd_id: str) -> None:
        self.db.run("UPDATE remote_commands SET door_cmd_id=? WHERE command_id=?", (cmd_id, command_id))

    def holds_of(self, cmd_id: str | None) -> list[str]:
        if not cmd_id:
            return []
        return [r["intent_id"] for r in self.db.rows(
            f"SELECT intent_id FROM intents WHERE kind='open' AND cmd_id=? AND {_OPEN}", (cmd_id,))]


class Repositories:
    """The repositories over the store itself (reads; a write outside a unit of work is its own transaction)."""

    def __init__(self, store: Store) -> None:
        db = _OnStore(store)
        self.lendings = LendingRepository(db)
        self.storage = StorageRepository(db)
        self.commands = CommandRepository(db)


class UnitOfWork:
    """One transaction: everything done through `lendings`, `storage` and `emit` is durable together."""

    lendings: LendingRepository
    storage: StorageRepository
    commands: CommandRepository

    def __init__(self, store: Store) -> None:
        self.store = store
        self._stack: ExitStack | None = None
        self._conn: sqlite3.Connection | None = None

    def __enter__(self) -> UnitOfWork:
        stack = ExitStack()
        self._conn = stack.enter_context(self.store.transaction())
        self._stack = stack
        db = _InTransaction(self._conn)
        self.lendings = LendingRepository(db)
        self.storage = StorageRepository(db)
        self.commands = CommandRepository(db)
        return self

    def __exit__(self, *exc: Any) -> bool | None:
        stack, self._stack, self._conn = self._stack, None, None
        assert stack is not None
        return stack.__exit__(*exc)

    def emit(self, event: OutboxRecord, at: float) -> int:
        """Append `event` to the outbox in this transaction; returns its seq."""
        assert self._conn is not None, "emit() outside `with UnitOfWork(...)`"
        return self.store.append_event(self._conn, event.TYPE, event.data(), at)
