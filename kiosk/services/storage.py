"""Bag storage lockers (存包): deposit into a free slot → signed receipt → one pickup per receipt.

Strollers need nothing here: a stroller dock is a locker profile with `item_type: stroller`, lent by the
lending service like an umbrella. Storage uses the lending policy of `storage` (free period, hourly fee,
daily cap; `loan_hours` is the longest stay, overtime is charged by the same rule).
"""
from __future__ import annotations

import logging
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from device_profiles.locker_schema import LockerProfile
from drivers.locker.link import LockerError, LockerLink
from kiosk.config import ItemPolicy
from kiosk.services.decisions import deposit_verdict, free_storage_slots, pickup_verdict
from kiosk.services.door import TAKE_MARGIN_S, Door, DoorJob
from kiosk.services.errors import StorageRefused
from kiosk.services.events import StorageDeposited, StoragePickedUp
from kiosk.services.fees import compute_fee, fee_rule_text
from kiosk.services.repository import Repositories, UnitOfWork
from kiosk.store import Store
from kiosk.tokens import TokenBook, TokenRejected

log = logging.getLogger(__name__)

PAID_GRACE_S = 900.0  # a fee paid at the screen covers the next 15 minutes on the way to the door
RECEIPT_PREFIX = "B1"
ACTIVE = ("opening", "stored", "picking")
STATE_REFRESH_S = 2.0


class StorageFeeDue(StorageRefused):
    """The bag's fee is paid by QR at the screen before its door opens (issue 14); `payer` names what is owed."""

    def __init__(self, deposit_id: str, owed_fen: int) -> None:
        super().__init__("fee_due", f"storage fee of {owed_fen} fen to pay first")
        self.deposit_id, self.owed_fen, self.payer = deposit_id, owed_fen, f"B-{deposit_id}"


class FeeGate(Protocol):
    """The payment service, when the station takes payments: what a bag still owes, what was paid for it."""

    def storage_owed(self, deposit_id: str, fee_now_fen: int, fee_in_grace_fen: int) -> int: ...
    def storage_paid(self, deposit_id: str) -> int: ...


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
                 monotonic: Callable[[], float] = time.monotonic, door: Door | None = None) -> None:
        self.store = store
        self.repo = Repositories(store).storage
        self.link = lockers
        self.profiles = {k: p for k, p in profiles.items() if p.item_type == "storage"}
        self.policy = policy
        self.tokens = tokens
        self.station_id = station_id
        self.clock = clock
        self.monotonic = monotonic
        self.door = door or Door(lockers, monotonic)
        self.fee_gate: FeeGate | None = None  # set when the station takes payments: the fee before the door
        tokens.register_kind(RECEIPT_PREFIX)

    def free_slots(self) -> list[tuple[str, int]]:
        """Empty, closed, working slots of online storage lockers that no deposit holds."""
        held = self.repo.held_slots()
        return free_storage_slots({locker_id: self.link.view(locker_id) for locker_id in self.profiles}, held)

    def _reserve(self, member_id: str | None) -> DepositSlot:
        free = self.free_slots()
        if not free:
            raise StorageRefused("no_free_slot", "all storage lockers are full or offline")
        now = self.clock()
        for locker_id, slot in free:
            deposit_id = uuid.uuid4().hex[:12].upper()
            try:
                with UnitOfWork(self.store) as uow:
                    uow.storage.add_deposit(deposit_id, member_id, locker_id, slot, now,
                                            now + self.policy.loan_hours * 3600)
            except Exception as exc:  # sqlite3.IntegrityError: another deposit took the slot
                log.info("storage.slot_taken locker=%s slot=%d error=%s", locker_id, slot, type(exc).__name__)
                continue
            return DepositSlot(deposit_id, locker_id, slot)
        raise StorageRefused("no_free_slot", "all storage lockers are full or offline")

    def deposit(self, member_id: str | None = None, on_slot: Callable[[DepositSlot], None] | None = None,
                timeout_s: float | None = None) -> StorageReceipt:
        """Reserve a free slot, open its empty door, tell the shopper (`on_slot`), wait for the bag; blocks, run
        off the UI thread.

        A protocol v1.1 locker is told to `open` the empty door (its ack proves the door opened; the bag's
        item_inserted carries our cmd_id). A v1 locker has no such command and takes a bag into an empty slot by
        itself, so for it the door job sends nothing and only waits for item_inserted."""
        room = self.store.room()
        if not room.ok:  # no door opens for a deposit the store could not record
            raise StorageRefused("disk_full", f"the station cannot record a deposit now ({room.words()})")
        with self.door.watch() as door:
            spot = self._reserve(member_id)
            profile = self.profiles[spot.locker_id]
            limit = timeout_s if timeout_s is not None else profile.timeouts.return_s
            view = self.link.view(spot.locker_id)
            if view is not None and view.speaks_v11:
                # a door we opened is waited for until the locker shuts it (return_s): giving up earlier would
                # cancel a deposit while the shopper can still put a bag in
                wait = max(limit, profile.timeouts.return_s + TAKE_MARGIN_S)
                job = DoorJob.for_profile(profile, spot.locker_id, spot.slot, "arrive", cmd_id=str(uuid.uuid4()),
                                          op="open", wait_s=wait)
            else:
                job = DoorJob(spot.locker_id, spot.slot, "arrive", wait_s=limit)
            if on_slot:
                on_slot(spot)
            outcome = door.open(job)
        if outcome.ack_status in ("refused", "offline"):  # the door did not open: nothing can be in there
            self._move(spot.deposit_id, "cancelled", "opening")
            result = outcome.ack.result if outcome.ack is not None else "offline"
            log.warning("storage.deposit_door_refused deposit=%s locker=%s slot=%d result=%s", spot.deposit_id,
                        spot.locker_id, spot.slot, result)
            raise StorageRefused("locker_offline" if result == "offline" else "locker_" + result,
                                 "the locker did not open, please try again or ask staff")
        if outcome.moved:
            return self._stored(spot)
        # the event may have been missed: the slot's state says whether the bag is in
        verdict = self.door.settle(spot.locker_id, lambda view: deposit_verdict(view, spot.slot),
                                   refresh_s=profile.timeouts.ack_s)
        if verdict == "moved":
            return self._stored(spot)
        self._move(spot.deposit_id, "cancelled", "opening")
        raise StorageRefused("deposit_timeout", "nothing was put in, the deposit was cancelled")

    def _stored(self, spot: DepositSlot) -> StorageReceipt:
        now = self.clock()
        due = int(now + self.policy.loan_hours * 3600)
        code = self.tokens.sign(RECEIPT_PREFIX, spot.deposit_id)
        with UnitOfWork(self.store) as uow:
            uow.storage.stored(spot.deposit_id, now, due)
            uow.emit(StorageDeposited(spot.deposit_id, self.station_id, spot.locker_id, spot.slot, now, due), now)
        log.info("storage.deposited deposit=%s locker=%s slot=%d", spot.deposit_id, spot.locker_id, spot.slot)
        return StorageReceipt(spot.deposit_id, spot.locker_id, spot.slot, code, now, due)

    def _move(self, deposit_id: str, status: str, expected: str) -> bool:
        return self.repo.move(deposit_id, status, expected)

    def pickup(self, payload: str | bytes) -> Pickup:
        """Open the slot of this receipt, once. A replayed, forged or foreign receipt opens nothing."""
        try:
            code = self.tokens.verify_signed(payload, RECEIPT_PREFIX)
        except TokenRejected as exc:
            raise StorageRefused(exc.reason, "this is not a genuine storage receipt") from exc
        return self.release(code.fields[0])

    def release(self, deposit_id: str, fee: bool = True) -> Pickup:
        """Open a held bag's door, once (BLOCKING): the receipt's pickup, or staff's release of a bag whose tag was
        lost or that stayed overnight (`fee=False`: nothing is charged for a bag staff take out)."""
        row = self.repo.deposit(deposit_id)
        if row is None:
            raise StorageRefused("unknown_receipt", "this receipt is not from this station's lockers")
        if row["status"] == "picked_up":
            raise StorageRefused("already_collected", "this bag was already collected with this receipt")
        if fee and self.fee_gate is not None:  # pay first, as at a car park's exit; nothing moves until it is paid
            stay = self.clock() - row["started_at"]
            owed = self.fee_gate.storage_owed(deposit_id, compute_fee(self.policy, stay)[0],
                                              compute_fee(self.policy, max(0.0, stay - PAID_GRACE_S))[0])
            if owed > 0:
                raise StorageFeeDue(deposit_id, owed)
        # Claim the pickup before the door moves, so two scans of one receipt cannot both open it.
        if not self._move(deposit_id, "picking", "stored"):
            raise StorageRefused("busy", "this receipt is being used right now")
        locker_id, slot = row["locker_id"], int(row["slot"])
        cmd_id = str(uuid.uuid4())
        self.repo.set_cmd(deposit_id, cmd_id)
        # A door closed without the bag taken still counts: the receipt opened its door, once.
        job = replace(DoorJob.for_profile(self.profiles[locker_id], locker_id, slot, "leave", cmd_id=cmd_id),
                      wait_unanswered=False)
        try:
            with self.door.watch() as door:
                outcome = door.open(job)
        except LockerError as exc:
            self._move(deposit_id, "stored", "picking")
            raise StorageRefused(exc.code, "the locker is not reachable, please ask staff") from exc
        if outcome.ack_status == "offline":
            self._move(deposit_id, "stored", "picking")
            raise StorageRefused("locker_offline", "the locker is not reachable, please ask staff")
        if outcome.ack_status == "refused":
            self._move(deposit_id, "stored", "picking")
            result = outcome.ack.result if outcome.ack is not None else "refused"
            raise StorageRefused("locker_" + result, "the locker did not open, please ask staff")
        if outcome.ack_status == "unknown" and not (outcome.moved or outcome.door_opened):
            # Maybe it opened: the slot's state decides; until then the receipt stays claimed.
            log.warning("storage.outcome_unknown deposit=%s", deposit_id)
            verdict = self.door.settle(locker_id, lambda view: pickup_verdict(view, slot), refresh_s=STATE_REFRESH_S)
            if verdict != "moved":
                raise StorageRefused("locker_no_answer", "the locker did not answer, please ask staff")
        return self._picked_up(deposit_id, fee)

    def held(self) -> list[sqlite3.Row]:
        """Bags in the lockers now (status stored), oldest first."""
        return self.repo.held()

    def _picked_up(self, deposit_id: str, charge: bool = True) -> Pickup:
        now = self.clock()
        with UnitOfWork(self.store) as uow:
            row = uow.storage.deposit(deposit_id)
            assert row is not None
            duration = now - row["started_at"]
            fee = compute_fee(self.policy, duration)[0] if charge else 0
            if charge and self.fee_gate is not None:  # what was paid at the screen (it covers a grace period)
                fee = self.fee_gate.storage_paid(deposit_id)
            overtime = now > row["due_at"]
            uow.storage.picked_up(deposit_id, now, fee)
            uow.emit(StoragePickedUp(deposit_id, self.station_id, row["locker_id"], row["slot"], now, duration, fee,
                                     overtime), now)
        log.info("storage.picked_up deposit=%s fee=%d", deposit_id, fee)
        return Pickup(deposit_id, row["locker_id"], row["slot"], duration, fee, overtime)

    def receipt(self, receipt: StorageReceipt, lang: str = "zh") -> Any:
        """The printed storage receipt (receipts.StorageReceipt) carrying the signed pickup code."""
        from kiosk.services.receipts import StorageReceipt as Printed

        return Printed(station_id=self.station_id, deposit_id=receipt.deposit_id, locker_id=receipt.locker_id,
                       slot=receipt.slot, stored_at=receipt.started_at, fee_rule=fee_rule_text(self.policy, lang),
                       pickup_token=receipt.code, expires_at=receipt.due_at)


__all__ = ["DepositSlot", "FeeGate", "Pickup", "StorageFeeDue", "StorageReceipt", "StorageRefused", "StorageService"]
