"""Lending intents: choosing and reserving a slot, and settling an intent from the locker's own state.

An intent is written (synchronous=FULL) before its unlock command leaves. At most one open intent per
slot, across processes, is enforced by a partial unique index. An intent the sender can no longer
finish is settled from the locker's retained state: item gone ⇒ the lending happened; item still
there after the command has expired ⇒ cancelled; anything else waits for the next pass.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from device_profiles.locker_schema import LockerProfile
from drivers.locker.link import LockerError, LockerLink, LockerView
from kiosk.store import Store

log = logging.getLogger(__name__)

OPEN_STATES = ("pending", "opened")


def cmd_ttl(profile: LockerProfile) -> float:
    """How long an unlock command stays valid at the locker (its expires_at)."""
    return profile.timeouts.ack_s * 4


def _process_identity(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            start_ticks = f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None
    return f"{pid}:{start_ticks}"


MY_OWNER = _process_identity(os.getpid()) or f"{os.getpid()}:?"


def owner_alive(owner: str) -> bool:
    pid_s = owner.split(":", 1)[0]
    return pid_s.isdigit() and _process_identity(int(pid_s)) == owner


@dataclass(frozen=True)
class SlotCandidate:
    locker_id: str
    slot: int
    item_id: str
    battery: int | None


@dataclass(frozen=True)
class Reservation:
    intent_id: str
    cmd_id: str
    locker_id: str
    slot: int
    item_id: str
    battery: int | None


class IntentBook:
    def __init__(self, store: Store, link: LockerLink, profiles: dict[str, LockerProfile],
                 clock: Callable[[], float], monotonic: Callable[[], float],
                 commit: Callable[[str, str | None], Any]) -> None:
        self.store = store
        self.link = link
        self.profiles = profiles
        self.clock = clock
        self.monotonic = monotonic
        self._commit = commit
        self._active: set[str] = set()
        self._lock = threading.Lock()
        self._reconcile_lock = threading.Lock()

    # choosing ---------------------------------------------------------------------------------
    def candidates(self, item_type: str, min_battery: Callable[[str], int],
                   exclude: set[tuple[str, int]] | None = None) -> tuple[list[SlotCandidate], bool]:
        """Slots that hold a dispensable item, best first; and whether any locker of the type is online."""
        busy = {(r["locker_id"], r["slot"]) for r in self.store.query(
            "SELECT locker_id, slot FROM intents WHERE state IN ('pending','opened')")}
        lent = {r["item_id"] for r in self.store.query("SELECT item_id FROM items WHERE status != 'in_locker'")}
        found: list[SlotCandidate] = []
        any_online = False
        for locker_id, prof in self.profiles.items():
            if prof.item_type != item_type:
                continue
            view = self.link.view(locker_id)
            if view is None or not view.online:
                continue
            any_online = True
            floor = min_battery(locker_id)
            for s in view.slots:
                if s.state != "occupied" or not s.item or s.item in lent:
                    continue
                if (locker_id, s.slot) in busy or (exclude and (locker_id, s.slot) in exclude):
                    continue
                if prof.sensors.battery and (s.battery is None or s.battery < floor):
                    continue
                found.append(SlotCandidate(locker_id, s.slot, s.item, s.battery))
        found.sort(key=lambda c: (-(c.battery or 0), c.locker_id, c.slot))
        return found, any_online

    def reserve(self, candidates: list[SlotCandidate], member_id: str, item_type: str) -> Reservation:
        from kiosk.services.lending import LendingRefused

        now = self.clock()
        for c in candidates:
            intent_id, cmd_id = uuid.uuid4().hex, str(uuid.uuid4())
            try:
                with self.store.transaction() as conn:
                    conn.execute(
                        "INSERT INTO intents (intent_id, cmd_id, kind, member_id, item_type, locker_id, slot,"
                        " item_id, state, owner, created_at, updated_at)"
                        " VALUES (?,?,'borrow',?,?,?,?,?,'pending',?,?,?)",
                        (intent_id, cmd_id, member_id, item_type, c.locker_id, c.slot, c.item_id, MY_OWNER,
                         now, now))
            except sqlite3.IntegrityError:
                continue  # another process reserved this slot a moment ago
            log.info("intent.reserved intent=%s locker=%s slot=%d item=%s", intent_id, c.locker_id, c.slot,
                     c.item_id)
            return Reservation(intent_id, cmd_id, c.locker_id, c.slot, c.item_id, c.battery)
        raise LendingRefused("busy", "all slots are busy, please try again")

    # state changes ----------------------------------------------------------------------------
    @contextmanager
    def active(self, intent_id: str) -> Iterator[None]:
        """While held, reconciliation leaves this intent to its sender."""
        with self._lock:
            self._active.add(intent_id)
        try:
            yield
        finally:
            with self._lock:
                self._active.discard(intent_id)

    def _set(self, intent_id: str, sql: str, params: tuple[Any, ...]) -> None:
        with self.store.transaction() as conn:
            conn.execute(sql + " WHERE intent_id=? AND state IN ('pending','opened')", (*params, intent_id))

    def mark_opened(self, intent_id: str) -> None:
        self._set(intent_id, "UPDATE intents SET state='opened', updated_at=?", (self.clock(),))

    def set_item(self, intent_id: str, item_id: str) -> None:
        self._set(intent_id, "UPDATE intents SET item_id=?, updated_at=?", (item_id, self.clock()))

    def cancel(self, intent_id: str, reason: str) -> None:
        self._set(intent_id, "UPDATE intents SET state='cancelled', reason=?, updated_at=?", (reason, self.clock()))
        log.info("intent.cancelled intent=%s reason=%s", intent_id, reason)

    def row(self, intent_id: str) -> Any:
        rows = self.store.query("SELECT * FROM intents WHERE intent_id=?", (intent_id,))
        return rows[0] if rows else None

    def is_resolved(self, intent_id: str) -> bool:
        row = self.row(intent_id)
        return row is None or row["state"] not in OPEN_STATES

    # settling from the locker's state ----------------------------------------------------------
    def _verdict(self, intent: Any, view: LockerView | None) -> str:
        if view is None or not view.online:
            return "unknown"
        slot = view.slot(intent["slot"])
        if slot is not None and slot.taken_by == intent["cmd_id"]:
            return "taken"  # whatever is in the slot now came back later
        if slot is None or slot.state == "open":
            return "unknown"
        if slot.item == intent["item_id"] and slot.state in ("occupied", "fault", "disabled"):
            expired = self.clock() > intent["created_at"] + cmd_ttl(self.profiles[intent["locker_id"]]) + 1
            return "present" if expired else "unknown"
        return "taken"

    def settle_from_state(self, intent_id: str, wait_s: float = 0.0) -> Any:
        """Ask the locker for fresh state and settle the intent; returns the lending when the item left."""
        intent = self.row(intent_id)
        if intent is None or intent["state"] not in OPEN_STATES:
            return None
        prof = self.profiles.get(intent["locker_id"])
        if prof is None:
            return None
        deadline = self.monotonic() + wait_s
        while True:
            try:
                view: LockerView | None = self.link.refresh(intent["locker_id"], timeout=prof.timeouts.ack_s)
            except LockerError:
                view = self.link.view(intent["locker_id"])
            verdict = self._verdict(intent, view)
            offline = view is None or not view.online
            if verdict != "unknown" or offline or self.monotonic() >= deadline:
                break
            threading.Event().wait(0.25)
        if verdict == "taken":
            log.info("intent.settled intent=%s verdict=taken", intent_id)
            return self._commit(intent_id, None)
        if verdict == "present":
            self.cancel(intent_id, "item_not_taken")
        return None

    def reconcile(self, startup: bool) -> int:
        """Settle every open intent nobody is working on; returns how many remain open."""
        if not self._reconcile_lock.acquire(blocking=False):
            return -1
        try:
            remaining = 0
            for intent in self.store.query("SELECT * FROM intents WHERE state IN ('pending','opened')"):
                with self._lock:
                    mine_active = intent["intent_id"] in self._active
                if mine_active or (intent["owner"] != MY_OWNER and owner_alive(intent["owner"])):
                    remaining += 1
                    continue
                prof = self.profiles.get(intent["locker_id"])
                if prof is None:
                    remaining += 1
                    continue
                wait = prof.timeouts.take_s + cmd_ttl(prof) + 2 if startup else 0.0
                log.info("intent.reconciling intent=%s locker=%s slot=%d state=%s", intent["intent_id"],
                         intent["locker_id"], intent["slot"], intent["state"])
                self.settle_from_state(intent["intent_id"], wait_s=wait)
                if not self.is_resolved(intent["intent_id"]):
                    remaining += 1
            return remaining
        finally:
            self._reconcile_lock.release()
