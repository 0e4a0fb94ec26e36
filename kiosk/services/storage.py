"""Bag storage lockers (存包): deposit into a free slot → signed receipt → one pickup per receipt.

Strollers need nothing here: a stroller dock is a locker profile with `item_type: stroller`, lent by the
lending service like an umbrella. Storage uses the lending policy of `storage` (free period, hourly fee,
daily cap; `loan_hours` is the longest stay, overtime is charged by the same rule).
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from device_profiles.locker_schema import LockerProfile
from drivers.locker.link import LockerError, LockerLink, OutcomeUnknown
from kiosk.config import ItemPolicy
from kiosk.services.fees import compute_fee
from kiosk.store import Store
from kiosk.tokens import TokenBook, TokenRejected

log = logging.getLogger(__name__)

RECEIPT_PREFIX = "B1"
ACTIVE = ("opening", "stored", "picking")


class StorageRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class DepositSlot:
    deposit_id: str
    locker_id: str
    slot: int


@dataclass(frozen=True)
class StorageReceipt:
    deposit_id: str
    locker_id: str
    slot: int
    code: str
    started_at: float
    due_at: float


@dataclass(frozen=True)
class Pickup:
    deposit_id: str
    locker_id: str
    slot: int
    duration_s: float
    fee_cents: int
    overtime: bool


class StorageService:
    def __init__(self, *, store: Store, lockers: LockerLink, profiles: dict[str, LockerProfile],
                 policy: ItemPolicy, tokens: TokenBook, station_id: str, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.link = lockers
        self.profiles = {k: p for k, p in profiles.items() if p.item_type == "storage"}
        self.policy = policy
        self.tokens = tokens
        self.station_id = station_id
        self.clock = clock
        self.monotonic = monotonic
        tokens.register_kind(RECEIPT_PREFIX)

    def free_slots(self) -> list[tuple[str, int]]:
        """Empty, closed, working slots of online storage lockers that no deposit holds."""
        held = {(r["locker_id"], r["slot"]) for r in self.store.query(
            "SELECT locker_id, slot FROM desk_storage WHERE status IN ('opening','stored','picking')")}
        free = []
        for locker_id in self.profiles:
            view = self.link.view(locker_id)
            if view is None or not view.online:
                continue
            free += [(locker_id, s.slot) for s in view.slots if s.state == "empty" and (locker_id, s.slot) not in held]
        return free

    def _reserve(self, member_id: str | None) -> DepositSlot:
        free = self.free_slots()
        if not free:
            raise StorageRefused("no_free_slot", "all storage lockers are full or offline")
        now = self.clock()
        for locker_id, slot in free:
            deposit_id = uuid.uuid4().hex[:12].upper()
            try:
                with self.store.transaction() as conn:
                    conn.execute("INSERT INTO desk_storage (deposit_id, member_id, item_type, locker_id, slot, cmd_id,"
                                 " status, started_at, due_at) VALUES (?,?,?,?,?,?,'opening',?,?)",
                                 (deposit_id, member_id, "storage", locker_id, slot, "", now,
                                  now + self.policy.loan_hours * 3600))
            except Exception as exc:  # sqlite3.IntegrityError: another deposit took the slot
                log.info("storage.slot_taken locker=%s slot=%d error=%s", locker_id, slot, type(exc).__name__)
                continue
            return DepositSlot(deposit_id, locker_id, slot)
        raise StorageRefused("no_free_slot", "all storage lockers are full or offline")

    def deposit(self, member_id: str | None = None, on_slot: Callable[[DepositSlot], None] | None = None,
                timeout_s: float | None = None) -> StorageReceipt:
        """Reserve a free slot, tell the shopper (`on_slot`), wait for the bag; blocks, run off the UI thread."""
        with self.link.events() as events:
            spot = self._reserve(member_id)
            if on_slot:
                on_slot(spot)
            limit = timeout_s if timeout_s is not None else self.profiles[spot.locker_id].timeouts.return_s
            deadline = self.monotonic() + limit
            while self.monotonic() < deadline:
                ev = events.get(timeout=min(0.5, max(0.01, deadline - self.monotonic())))
                if ev and ev.locker_id == spot.locker_id and ev.slot == spot.slot and ev.type == "item_inserted":
                    return self._stored(spot)
            view = self.link.view(spot.locker_id)
            slot = view.slot(spot.slot) if view else None
            if slot is not None and slot.state == "occupied":  # the event was missed, the state says it is in
                return self._stored(spot)
            self._set(spot.deposit_id, "cancelled", "opening")
            raise StorageRefused("deposit_timeout", "nothing was put in, the deposit was cancelled")

    def _stored(self, spot: DepositSlot) -> StorageReceipt:
        now = self.clock()
        due = int(now + self.policy.loan_hours * 3600)
        code = self.tokens.sign(RECEIPT_PREFIX, spot.deposit_id)
        with self.store.transaction() as conn:
            conn.execute("UPDATE desk_storage SET status='stored', started_at=?, due_at=? WHERE deposit_id=?",
                         (now, due, spot.deposit_id))
            self.store.append_event(conn, "storage.deposited", {
                "deposit_id": spot.deposit_id, "station_id": self.station_id, "locker_id": spot.locker_id,
                "slot": spot.slot, "started_at": now, "due_at": due}, at=now)
        log.info("storage.deposited deposit=%s locker=%s slot=%d", spot.deposit_id, spot.locker_id, spot.slot)
        return StorageReceipt(spot.deposit_id, spot.locker_id, spot.slot, code, now, due)

    def _set(self, deposit_id: str, status: str, expected: str) -> bool:
        with self.store.transaction() as conn:
            cur = conn.execute("UPDATE desk_storage SET status=? WHERE deposit_id=? AND status=?",
                               (status, deposit_id, expected))
            return cur.rowcount == 1

    def pickup(self, payload: str | bytes) -> Pickup:
        """Open the slot of this receipt, once. A replayed, forged or foreign receipt opens nothing."""
        try:
            code = self.tokens.verify_signed(payload, RECEIPT_PREFIX)
        except TokenRejected as exc:
            raise StorageRefused(exc.reason, "this is not a genuine storage receipt") from exc
        deposit_id = code.fields[0]
        rows = self.store.query("SELECT * FROM desk_storage WHERE deposit_id=?", (deposit_id,))
        if not rows:
            raise StorageRefused("unknown_receipt", "this receipt is not from this station's lockers")
        row = rows[0]
        if row["status"] == "picked_up":
            raise StorageRefused("already_collected", "this bag was already collected with this receipt")
        # Claim the pickup before the door moves, so two scans of one receipt cannot both open it.
        if not self._set(deposit_id, "picking", "stored"):
            raise StorageRefused("busy", "this receipt is being used right now")
        locker_id, slot = row["locker_id"], int(row["slot"])
        profile = self.profiles[locker_id]
        cmd_id = str(uuid.uuid4())
        with self.store.transaction() as conn:
            conn.execute("UPDATE desk_storage SET cmd_id=? WHERE deposit_id=?", (cmd_id, deposit_id))
        try:
            with self.link.events() as events:
                ack = self.link.command(locker_id, "unlock", slot, cmd_id=cmd_id, ack_timeout=profile.timeouts.ack_s,
                                        ttl=profile.timeouts.ack_s * 4)
                if ack.result != "opened":
                    self._set(deposit_id, "stored", "picking")
                    raise StorageRefused("locker_" + ack.result, "the locker did not open, please ask staff")
                self._await_removed(events, locker_id, slot, profile.timeouts.take_s)
        except OutcomeUnknown:
            # Maybe it opened: the slot's state decides; until then the receipt stays claimed.
            log.warning("storage.outcome_unknown deposit=%s", deposit_id)
            if not self._settle_from_state(deposit_id, locker_id, slot):
                raise StorageRefused("locker_no_answer", "the locker did not answer, please ask staff") from None
        except LockerError as exc:
            self._set(deposit_id, "stored", "picking")
            raise StorageRefused(exc.code, "the locker is not reachable, please ask staff") from exc
        return self._picked_up(deposit_id)

    def _await_removed(self, events: object, locker_id: str, slot: int, take_s: float) -> None:
        # A door closed without the bag taken still counts: the receipt opened its door, once.
        deadline = self.monotonic() + take_s + 2.0
        while self.monotonic() < deadline:
            ev = events.get(timeout=0.5)  # type: ignore[attr-defined]
            if ev and ev.locker_id == locker_id and ev.slot == slot and ev.type in ("item_removed", "door_closed"):
                return

    def _settle_from_state(self, deposit_id: str, locker_id: str, slot: int) -> bool:
        try:
            view = self.link.refresh(locker_id, timeout=2.0)
        except LockerError:
            return False
        s = view.slot(slot)
        return s is not None and s.state in ("empty", "open")

    def _picked_up(self, deposit_id: str) -> Pickup:
        now = self.clock()
        with self.store.transaction() as conn:
            row = conn.execute("SELECT * FROM desk_storage WHERE deposit_id=?", (deposit_id,)).fetchone()
            duration = now - row["started_at"]
            fee, _ = compute_fee(self.policy, duration)
            conn.execute("UPDATE desk_storage SET status='picked_up', picked_up_at=?, fee_cents=? WHERE deposit_id=?",
                         (now, fee, deposit_id))
            self.store.append_event(conn, "storage.picked_up", {
                "deposit_id": deposit_id, "station_id": self.station_id, "locker_id": row["locker_id"],
                "slot": row["slot"], "picked_up_at": now, "duration_s": duration, "fee_cents": fee,
                "overtime": now > row["due_at"]}, at=now)
        log.info("storage.picked_up deposit=%s fee=%d", deposit_id, fee)
        return Pickup(deposit_id, row["locker_id"], row["slot"], duration, fee, now > row["due_at"])

    def receipt(self, receipt: StorageReceipt, lang: str = "zh") -> Any:
        """The printed storage receipt (receipts.StorageReceipt) carrying the signed pickup code."""
        from kiosk.services.fees import fee_rule_text
        from kiosk.services.receipts import StorageReceipt as Printed

        return Printed(station_id=self.station_id, deposit_id=receipt.deposit_id, locker_id=receipt.locker_id,
                       slot=receipt.slot, stored_at=receipt.started_at, fee_rule=fee_rule_text(self.policy, lang),
                       pickup_token=receipt.code, expires_at=receipt.due_at)
