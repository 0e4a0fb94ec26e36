"""Borrow and return umbrellas, power banks and strollers (docs/architecture.md, "The door use case"): intent
first, then the door, then the lending.

The intent row is durable before any command leaves; only the locker's own ack/event moves it on; a
command without an answer is reconciled from the locker's state, never taken as success. The door itself
is `kiosk.services.door`; the rules are `kiosk.services.decisions`; the SQL is `kiosk.services.repository`.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from device_profiles.locker_schema import LockerProfile
from drivers.locker.link import LockerError, LockerEvent, LockerLink
from kiosk.config import ItemPolicy, Policy
from kiosk.services import decisions
from kiosk.services.decisions import ItemType, Lending
from kiosk.services.door import AckStatus, Door, DoorJob, happened_at
from kiosk.services.errors import LendingRefused
from kiosk.services.events import LendingStarted
from kiosk.services.fees import fee_rule_text
from kiosk.services.intents import IntentBook, Reservation
from kiosk.services.repository import Repositories, UnitOfWork, lending_from_row
from kiosk.services.returns import PaymentNote, ReturnDesk, ReturnResult
from kiosk.store import Store, StoreFull
from kiosk.tokens import MemberCode, TokenBook
from mallcommon.clock import boot_clock, boot_id, boot_stamp

log = logging.getLogger(__name__)

Stage = Literal["reserved", "unlocking", "door_open", "taken", "done"]
SLOT_ATTEMPTS = 3


@dataclass(frozen=True)
class Availability:
    item_type: str
    count: int
    lockers_online: bool
    best_battery: int | None


@dataclass(frozen=True)
class BorrowProgress:
    stage: Stage
    locker_id: str
    slot: int
    item_id: str | None
    battery: int | None
    deadline_monotonic: float | None = None


@dataclass(frozen=True)
class BorrowResult:
    lending: Lending
    return_token: str
    receipt: Any = None


def disk_full_refusal(detail: str) -> LendingRefused:
    return LendingRefused("disk_full", f"the station cannot record a lending now ({detail}); no door was opened")


class ReceiptSink(Protocol):
    """Where lending receipts go (the printing service, adapted by station.py)."""

    def lending_started(self, lending: Lending, return_token: str, fee_rule: str) -> Any: ...
    def lending_returned(self, result: ReturnResult) -> Any: ...


def list_lendings(store: Store, open_only: bool = False, limit: int = 200,
                  newest_first: bool = True) -> list[Lending]:
    """Lendings from the store alone (no locker link needed: the `lendings` CLI uses it too)."""
    return Repositories(store).lendings.lendings(open_only, limit, newest_first)


class LendingService:
    def __init__(self, *, store: Store, lockers: LockerLink, profiles: dict[str, LockerProfile],
                 policy: Policy, station_id: str, tokens: TokenBook, receipts: ReceiptSink | None = None,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, door: Door | None = None,
                 boottime: Callable[[], float] = boot_clock, boot: str | None = None) -> None:
        self.store = store
        self.boottime = boottime
        self.boot = boot if boot is not None else boot_id()
        self.repo = Repositories(store).lendings
        self.link = lockers
        self.profiles = profiles
        self.policy = policy
        self.station_id = station_id
        self.tokens = tokens
        self.receipts = receipts
        self.clock = clock
        self.monotonic = monotonic
        self.door = door or Door(lockers, monotonic)
        self.unpaid_fees: Callable[[str], int] | None = None  # the payment service's: fees a member still owes
        self.intents = IntentBook(store, lockers, profiles, clock, monotonic, self._commit_lending, self.door)
        self.returns = ReturnDesk(store=store, link=lockers, profiles=profiles, policy=policy,
                                  item_policy=self.item_policy, station_id=station_id, clock=clock,
                                  happened_at=self.happened_at, commit=self._commit_lending, receipts=receipts,
                                  boottime=boottime, boot=self.boot)

    # life cycle -------------------------------------------------------------------------------
    def start(self, handle_returns: bool = True) -> None:
        """Reconcile what a previous run left open, then (optionally) watch for returns."""
        for locker_id in self.profiles:
            self.link.wait_for_state(locker_id, timeout=5.0)
        self.intents.reconcile(startup=True)
        if handle_returns:
            self.returns.start()

    def stop(self) -> None:
        self.returns.stop()

    def periodic(self) -> None:
        """Housekeeping the station loop calls every few seconds."""
        self.intents.reconcile(startup=False)
        self.recover_returns()
        self.settle_bought()

    # queries ----------------------------------------------------------------------------------
    def use(self, profiles: dict[str, LockerProfile], policy: Policy) -> None:
        """A new configuration bundle (kiosk.bundles): the next lending reads these; one in flight keeps its own."""
        self.profiles, self.policy = profiles, policy
        self.returns.profiles, self.returns.policy = profiles, policy

    def item_policy(self, item_type: str) -> ItemPolicy:
        policy = next((p for name, p in self.policy.items.items() if name == item_type), None)
        if policy is None:
            raise LendingRefused("not_offered", f"{item_type} is not offered at this station")
        return policy

    def fee_rule_text(self, item_type: str, lang: str = "zh") -> str:
        return fee_rule_text(self.item_policy(item_type), lang)

    def min_battery(self, locker_id: str) -> int:
        return decisions.min_battery(self.profiles[locker_id], self.policy)

    def availability(self, item_type: str) -> Availability:
        candidates, any_online = self.intents.candidates(item_type, self.min_battery)
        best = max((c.battery for c in candidates if c.battery is not None), default=None)
        return Availability(item_type, len(candidates), any_online, best)

    def lendings(self, open_only: bool = False, limit: int = 200) -> list[Lending]:
        return self.repo.lendings(open_only, limit)

    def open_lendings(self, member_id: str) -> list[Lending]:
        return self.repo.open_lendings(member_id)

    def return_token(self, lending: Lending) -> str:
        return self.tokens.lending_token(lending.lending_id, int(lending.due_at + 30 * 86_400))

    # borrow -----------------------------------------------------------------------------------
    def check_member(self, member_id: str, item_type: str) -> None:
        owed = self.unpaid_fees(member_id) if self.unpaid_fees is not None else 0
        refusal = decisions.borrow_refusal(self.open_lendings(member_id), item_type, self.clock(),
                                           self.policy.max_open_per_member_per_type, owed)
        if refusal is not None:
            raise refusal

    def check_room(self) -> None:
        """No door opens while the store could not record what it does (the disk is full)."""
        room = self.store.room()
        if not room.ok:
            raise disk_full_refusal(room.words())

    def borrow(self, member: MemberCode, item_type: str,
               progress: Callable[[BorrowProgress], None] | None = None) -> BorrowResult:
        """Open a door for a verified member and record the lending once the item has left. Blocking."""
        self.item_policy(item_type)
        self.check_member(member.member_id, item_type)
        self.check_room()
        tried: set[tuple[str, int]] = set()
        last_error: LendingRefused | None = None
        for _ in range(SLOT_ATTEMPTS):
            candidates, _ = self.intents.candidates(item_type, self.min_battery, exclude=tried)
            if not candidates:
                break
            try:
                reservation = self.intents.reserve(candidates, member.member_id, item_type)
            except LendingRefused as exc:
                last_error = exc
                break
            except StoreFull as exc:  # no intent was written, so no door opens
                raise disk_full_refusal(str(exc)) from exc
            tried.add((reservation.locker_id, reservation.slot))
            try:
                return self._dispense(reservation, progress)
            except LendingRefused as exc:
                if not decisions.may_retry_elsewhere(exc):
                    raise  # the door may have opened: never open a second one for the same shopper
                last_error = exc
        raise decisions.final_refusal(last_error, lambda: self.intents.candidates(item_type, self.min_battery)[1],
                                      item_type)

    def _dispense(self, r: Reservation, progress: Callable[[BorrowProgress], None] | None) -> BorrowResult:
        prof = self.profiles[r.locker_id]

        def say(stage: Stage, deadline: float | None = None) -> None:
            if progress is not None:
                try:
                    progress(BorrowProgress(stage, r.locker_id, r.slot, r.item_id, r.battery, deadline))
                except Exception:  # a UI callback must never break a lending
                    log.exception("lending.progress_callback_failed")

        def waiting(status: AckStatus, deadline: float) -> None:
            if status == "opened":
                self.intents.mark_opened(r.intent_id)
            say("door_open", deadline)

        say("reserved")
        job = DoorJob.for_profile(prof, r.locker_id, r.slot, "leave", cmd_id=r.cmd_id)
        with self.intents.active(r.intent_id), self.door.watch() as door:
            say("unlocking")
            outcome = door.open(job, on_waiting=waiting)
            refused = decisions.door_refusal(outcome)
            if refused is not None:
                reason, refusal = refused
                self.intents.cancel(r.intent_id, reason)
                if outcome.ack is not None:
                    log.info("lending.slot_refused locker=%s slot=%d result=%s", r.locker_id, r.slot,
                             outcome.ack.result)
                raise refusal
        lending: Lending | None
        if outcome.moved and outcome.event is not None:
            item = outcome.event.item or r.item_id
            if item != r.item_id:
                log.warning("lending.item_mismatch expected=%s got=%s", r.item_id, item)
                self.intents.set_item(r.intent_id, item)
            taken_at = happened_at(outcome.event, self.clock, self.monotonic)
            try:
                lending = self._commit_lending(r.intent_id, item, taken_at)
            except StoreFull as exc:
                # The item left and the disk filled meanwhile: the intent stays open (durable since before
                # the door opened) and housekeeping settles it from the locker's state once there is room.
                log.error("lending.commit_deferred intent=%s error=%s", r.intent_id, exc)
                raise LendingRefused("disk_full_taken", "the item is yours; the station records the lending "
                                     "as soon as its disk has room") from exc
        else:
            try:
                lending = self.intents.settle_from_state(r.intent_id, wait_s=prof.timeouts.ack_s * 4 + 1)
            except StoreFull as exc:
                log.error("lending.settle_deferred intent=%s error=%s", r.intent_id, exc)
                raise LendingRefused("disk_full_taken", "the station records this as soon as its disk has "
                                     "room; nothing is charged unless the item left") from exc
        if lending is None:
            resolved = self.intents.is_resolved(r.intent_id)
            if not resolved:
                log.warning("lending.unsettled intent=%s locker=%s slot=%d", r.intent_id, r.locker_id, r.slot)
            raise decisions.unsettled_refusal(outcome.ack is not None, resolved)
        say("taken")
        token = self.return_token(lending)
        receipt = None
        if self.receipts is not None:
            try:
                receipt = self.receipts.lending_started(lending, token, self.fee_rule_text(lending.item_type))
            except Exception:
                log.exception("lending.receipt_failed lending=%s", lending.lending_id)
        say("done")
        return BorrowResult(lending, token, receipt)

    def happened_at(self, ev: LockerEvent | None) -> float:
        return happened_at(ev, self.clock, self.monotonic)

    def _commit_lending(self, intent_id: str, item_id: str | None, taken_at: float | None = None) -> Lending:
        """Intent → lending + outbox event in one transaction; a second call returns the same lending.

        The lending starts when the item left (`taken_at`), never before its intent was written."""
        now = self.clock()
        with UnitOfWork(self.store) as uow:
            intent = uow.lendings.intent(intent_id)
            assert intent is not None, f"no intent {intent_id}"
            existing = uow.lendings.lending_for_intent(intent_id)
            if existing is not None:
                return existing
            started = decisions.lending_start(intent["created_at"], now, taken_at)
            item_id = item_id or intent["item_id"]
            policy = self.item_policy(intent["item_type"])
            lending = Lending(
                lending_id=f"{self.station_id}-{uuid.uuid4().hex[:10].upper()}",
                member_id=intent["member_id"], item_type=intent["item_type"], item_id=item_id,
                station_id=self.station_id, locker_id=intent["locker_id"], slot=intent["slot"],
                started_at=started, due_at=started + policy.loan_hours * 3600, status="open")
            uow.lendings.add_lending(lending, intent_id)
            # the same moment on the boot clock: how long the loan lasts is measured there (a fee never grows or
            # shrinks by an NTP step); the wall time above is what receipts print and the centre orders by
            uow.lendings.set_started_boot(lending.lending_id,
                                          boot_stamp(self.boot, self.boottime() - max(0.0, now - started)))
            uow.lendings.finish_intent(intent_id, item_id, now)
            uow.lendings.item_lent(item_id, lending.item_type, now)
            uow.emit(LendingStarted(lending.lending_id, lending.member_id, lending.item_type, item_id,
                                    self.station_id, lending.locker_id, lending.slot, lending.started_at,
                                    lending.due_at, intent["cmd_id"]), now)
        log.info("lending.started station=%s lending=%s type=%s locker=%s slot=%d item=%s", self.station_id,
                 lending.lending_id, lending.item_type, lending.locker_id, lending.slot, item_id)
        return lending

    # returns (kiosk.services.returns) -----------------------------------------------------------
    def on_return(self, callback: Callable[[ReturnResult], None]) -> Callable[[], None]:
        return self.returns.on_return(callback)

    def set_settler(self, settler: Callable[[ReturnResult], PaymentNote | None]) -> None:
        """The payment service settles each return's money before its receipt prints (issue 14)."""
        self.returns.settler = settler

    def on_locker_event(self, ev: LockerEvent | None) -> ReturnResult | None:
        return self.returns.on_locker_event(ev)

    def handle_forced(self, ev: LockerEvent) -> None:
        self.returns.handle_forced(ev)

    def handle_insert(self, ev: LockerEvent) -> ReturnResult | None:
        return self.returns.handle_insert(ev)

    def recover_returns(self) -> int:
        return self.returns.recover_returns()

    def settle_bought(self) -> int:
        return self.returns.settle_bought()


__all__ = [
    "Availability", "BorrowProgress", "BorrowResult", "ItemType", "Lending", "LendingRefused", "LendingService",
    "LockerError", "PaymentNote", "ReturnResult", "lending_from_row", "list_lendings",
]
