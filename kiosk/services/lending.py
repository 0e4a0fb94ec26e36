"""Borrow and return umbrellas, power banks and strollers (docs/architecture.md, "The door use case"): intent first, then the door, then the
lending.

The intent row is durable before any command leaves; only the locker's own ack/event moves it on; a
command without an answer is reconciled from the locker's state, never taken as success. The door itself
is `kiosk.services.door`; the rules are `kiosk.services.decisions`; the SQL is `kiosk.services.repository`.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from device_profiles.locker_schema import LockerProfile
from drivers.locker.link import LockerError, LockerEvent, LockerLink
from kiosk.config import ItemPolicy, Policy
from kiosk.services import decisions
from kiosk.services.decisions import ItemType, Lending, Sighting
from kiosk.services.door import AckStatus, Door, DoorJob, happened_at
from kiosk.services.errors import LendingRefused
from kiosk.services.events import (
    ItemTakenUnlent,
    LendingBought,
    LendingReturned,
    LendingStarted,
    LockerTampered,
)
from kiosk.services.fees import compute_fee, fee_rule_text
from kiosk.services.intents import IntentBook, Reservation
from kiosk.services.repository import Repositories, UnitOfWork, lending_from_row
from kiosk.store import Store
from kiosk.tokens import MemberCode, TokenBook

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


@dataclass(frozen=True)
class ReturnResult:
    lending: Lending | None  # None: the item was lent by another station (the centre closes it)
    item_id: str
    locker_id: str
    slot: int
    fee_cents: int
    duration_s: float
    bought: bool
    receipt: Any = None


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
                 monotonic: Callable[[], float] = time.monotonic, door: Door | None = None) -> None:
        self.store = store
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
        self.intents = IntentBook(store, lockers, profiles, clock, monotonic, self._commit_lending, self.door)
        self._return_listeners: list[Callable[[ReturnResult], None]] = []
        self._listeners_lock = threading.Lock()
        self._stop = threading.Event()
        self._return_thread: threading.Thread | None = None
        self._suspects: dict[str, Sighting] = {}

    # life cycle -------------------------------------------------------------------------------
    def start(self, handle_returns: bool = True) -> None:
        """Reconcile what a previous run left open, then (optionally) watch for returns."""
        for locker_id in self.profiles:
            self.link.wait_for_state(locker_id, timeout=5.0)
        self.intents.reconcile(startup=True)
        if handle_returns:
            self._return_thread = threading.Thread(target=self._watch_returns, name="returns", daemon=True)
            self._return_thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._return_thread:
            self._return_thread.join(timeout=5)

    def periodic(self) -> None:
        """Housekeeping the station loop calls every few seconds."""
        self.intents.reconcile(startup=False)
        self.recover_returns()
        self.settle_bought()

    def recover_returns(self) -> int:
        """Returns whose item_inserted never reached us (station down, broker restarting): a slot that has
        held an item we think is out, on two passes in a row, is that item's return."""
        seen = decisions.out_items_seen({lid: self.link.view(lid) for lid in self.profiles}, self.repo.items_out())
        confirmed = decisions.confirmed_returns(self._suspects, seen)
        self._suspects = seen
        for item, (locker_id, slot, battery, seq) in confirmed:
            log.warning("lending.return_recovered item=%s locker=%s slot=%d", item, locker_id, slot)
            self.handle_insert(LockerEvent(locker_id, seq, self.clock(), "item_inserted", slot, item, None, battery))
        return len(confirmed)

    # queries ----------------------------------------------------------------------------------
    def item_policy(self, item_type: str) -> ItemPolicy:
        try:
            return self.policy.items[item_type]  # type: ignore[index]
        except KeyError as exc:
            raise LendingRefused("not_offered", f"{item_type} is not offered at this station") from exc

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
        refusal = decisions.borrow_refusal(self.open_lendings(member_id), item_type, self.clock(),
                                           self.policy.max_open_per_member_per_type)
        if refusal is not None:
            raise refusal

    def borrow(self, member: MemberCode, item_type: str,
               progress: Callable[[BorrowProgress], None] | None = None) -> BorrowResult:
        """Open a door for a verified member and record the lending once the item has left. Blocking."""
        self.item_policy(item_type)
        self.check_member(member.member_id, item_type)
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
            lending = self._commit_lending(r.intent_id, item, happened_at(outcome.event, self.clock, self.monotonic))
        else:
            lending = self.intents.settle_from_state(r.intent_id, wait_s=prof.timeouts.ack_s * 4 + 1)
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
            uow.lendings.finish_intent(intent_id, item_id, now)
            uow.lendings.item_lent(item_id, lending.item_type, now)
            uow.emit(LendingStarted(lending.lending_id, lending.member_id, lending.item_type, item_id,
                                    self.station_id, lending.locker_id, lending.slot, lending.started_at,
                                    lending.due_at, intent["cmd_id"]), now)
        log.info("lending.started station=%s lending=%s type=%s locker=%s slot=%d item=%s", self.station_id,
                 lending.lending_id, lending.item_type, lending.locker_id, lending.slot, item_id)
        return lending

    # returns ----------------------------------------------------------------------------------
    def on_return(self, callback: Callable[[ReturnResult], None]) -> Callable[[], None]:
        with self._listeners_lock:
            self._return_listeners.append(callback)

        def unsubscribe() -> None:
            with self._listeners_lock:
                if callback in self._return_listeners:
                    self._return_listeners.remove(callback)
        return unsubscribe

    def _watch_returns(self) -> None:
        with self.link.events() as events:
            while not self._stop.is_set():
                self.on_locker_event(events.get(timeout=0.5))

    def on_locker_event(self, ev: LockerEvent | None) -> ReturnResult | None:
        """One event from the lockers (the return watcher's loop body): an item_inserted is a return; a forced
        door (`tamper`) and what leaves it without a command are recorded as such, never as a lending."""
        if ev is not None and (ev.type == "tamper" or (ev.type == "item_removed" and ev.cmd_id is None)):
            try:
                self.handle_forced(ev)
            except Exception:
                log.exception("lending.tamper_record_failed locker=%s slot=%s", ev.locker_id, ev.slot)
            return None
        if ev is None or ev.type != "item_inserted" or ev.locker_id not in self.profiles:
            return None
        try:
            return self.handle_insert(ev)
        except Exception:
            log.exception("lending.return_failed locker=%s slot=%s", ev.locker_id, ev.slot)
            return None

    def handle_forced(self, ev: LockerEvent) -> None:
        """A door opened without a command (`tamper`), or an item left through one (`item_removed`, no cmd_id)."""
        now = self.happened_at(ev)
        slot = ev.slot or 0
        if ev.type == "tamper":
            view = self.link.view(ev.locker_id)
            held = view.slot(slot) if view is not None else None
            log.warning("lending.locker_tamper locker=%s slot=%d item=%s", ev.locker_id, slot,
                        held.item if held else None)
            with UnitOfWork(self.store) as uow:
                uow.emit(LockerTampered(self.station_id, ev.locker_id, slot, now, held.item if held else None), now)
            return
        if not ev.item or ev.locker_id not in self.profiles:
            return
        item_type = self.profiles[ev.locker_id].item_type
        log.warning("lending.item_lost item=%s locker=%s slot=%d reason=tamper", ev.item, ev.locker_id, slot)
        with UnitOfWork(self.store) as uow:
            uow.lendings.item_lost(ev.item, item_type, now)
            uow.emit(ItemTakenUnlent(ev.item, item_type, self.station_id, ev.locker_id, slot, now, "tamper"), now)

    def handle_insert(self, ev: LockerEvent) -> ReturnResult | None:
        """An item went into a slot: close its lending wherever it was opened."""
        if not ev.item or ev.slot is None:
            log.warning("lending.insert_without_item locker=%s slot=%s", ev.locker_id, ev.slot)
            return None
        item_type = self.profiles[ev.locker_id].item_type
        for intent in self.repo.open_intents_for_item(ev.item):
            # the item left under a borrow not yet committed (its ack or item_removed is late): commit it first
            log.info("lending.return_before_commit item=%s intent=%s", ev.item, intent["intent_id"])
            self._commit_lending(intent["intent_id"], ev.item, taken_at=intent["created_at"])
        now = self.happened_at(ev)
        with UnitOfWork(self.store) as uow:
            known = uow.lendings.item(ev.item)
            if known and known["status"] == "in_locker" and known["locker_id"] == ev.locker_id \
                    and known["slot"] == ev.slot:
                return None  # the same event delivered twice (QoS 1) or seen by another process first
            out = uow.lendings.latest_out_lending(ev.item)
            uow.lendings.item_in_locker(ev.item, item_type, ev.locker_id, ev.slot, ev.battery, now)
            lending: Lending | None = None
            fee, bought, duration = 0, False, 0.0
            if out is not None:
                duration = now - out.started_at
                fee, bought = compute_fee(self.item_policy(out.item_type), duration)
                uow.lendings.close_lending(out.lending_id, "bought" if bought else "returned", now, ev.locker_id,
                                           ev.slot, fee)
                lending = uow.lendings.lending(out.lending_id)
            uow.emit(LendingReturned(lending.lending_id if lending else None, ev.item, item_type,
                                     lending.member_id if lending else None, self.station_id, ev.locker_id,
                                     ev.slot, now, fee, duration), now)
        result = ReturnResult(lending, ev.item, ev.locker_id, ev.slot, fee, duration, bought)
        log.info("lending.returned station=%s lending=%s item=%s locker=%s slot=%d fee=%d", self.station_id,
                 lending.lending_id if lending else "-", ev.item, ev.locker_id, ev.slot, fee)
        if lending is not None and self.receipts is not None:
            try:
                result = replace(result, receipt=self.receipts.lending_returned(result))
            except Exception:
                log.exception("lending.return_receipt_failed lending=%s", lending.lending_id)
        with self._listeners_lock:
            listeners = list(self._return_listeners)
        for cb in listeners:
            try:
                cb(result)
            except Exception:
                log.exception("lending.return_listener_failed")
        return result

    def settle_bought(self) -> int:
        """Open lendings past their 'counts as bought' day become purchases."""
        now = self.clock()
        settled = 0
        for item_type, pol in self.policy.items.items():
            if pol.bought_after_days is None:
                continue
            cutoff = now - pol.bought_after_days * 86_400
            with UnitOfWork(self.store) as uow:
                for lending in uow.lendings.open_lendings_started_by(item_type, cutoff):
                    uow.lendings.mark_bought(lending.lending_id, pol.price_cents)
                    uow.lendings.item_bought(lending.item_id, now)
                    uow.emit(LendingBought(lending.lending_id, lending.item_id, lending.member_id,
                                           pol.price_cents), now)
                    settled += 1
        return settled


__all__ = [
    "Availability", "BorrowProgress", "BorrowResult", "ItemType", "Lending", "LendingRefused", "LendingService",
    "LockerError", "ReturnResult", "lending_from_row", "list_lendings",
]
