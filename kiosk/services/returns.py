"""Returns of lent items: an item_inserted (heard, or recovered from the lockers' state) closes its lending
wherever it was opened, with its fee; lendings kept past their 'counts as bought' day become purchases.

Part of the lending service (`LendingService.returns`); the SQL is `repository.LendingRepository`.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from device_profiles.locker_schema import LockerProfile
from drivers.locker.link import LockerEvent, LockerLink, LockerView
from kiosk.config import ItemPolicy, Policy
from kiosk.services import decisions
from kiosk.services.decisions import Lending, Sighting
from kiosk.services.events import ItemTakenUnlent, LendingBought, LendingReturned, LockerTampered
from kiosk.services.fees import compute_fee
from kiosk.services.repository import Repositories, UnitOfWork
from kiosk.store import Store, StoreFull
from mallcommon.clock import boot_clock, boot_elapsed, boot_id

log = logging.getLogger(__name__)
STOCK_KEY = "stock_taken:"  # kv: this locker's stock was recorded (items found later are returns)


@dataclass(frozen=True)
class PaymentNote:
    """What a return meant for money (issue 14), from the payment service, known before the receipt prints.

    kind: `refund` (the QR deposit came back minus the fee: `out_refund_no`), `refund_due` (the centre did not
    answer; the station retries with the same key), `kept` (fee ≥ deposit: the deposit became the price, nothing
    refunded), `fee_due` (a member's fee, paid by QR at the screen; the next borrow waits for it)."""
    kind: str
    fee_fen: int
    deposit_fen: int = 0
    refund_fen: int = 0
    out_refund_no: str | None = None


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
    payment: PaymentNote | None = None


class ReturnReceipts(Protocol):
    def lending_returned(self, result: ReturnResult) -> Any: ...


class ReturnDesk:
    def __init__(self, *, store: Store, link: LockerLink, profiles: dict[str, LockerProfile], policy: Policy,
                 item_policy: Callable[[str], ItemPolicy], station_id: str, clock: Callable[[], float],
                 happened_at: Callable[[LockerEvent | None], float],
                 commit: Callable[[str, str | None, float | None], Lending],
                 receipts: ReturnReceipts | None = None, boottime: Callable[[], float] = boot_clock,
                 boot: str | None = None) -> None:
        self.store = store
        self.boottime = boottime
        self.boot = boot if boot is not None else boot_id()
        self.repo = Repositories(store).lendings
        self.link = link
        self.profiles = profiles
        self.policy = policy
        self.item_policy = item_policy
        self.station_id = station_id
        self.clock = clock
        self.happened_at = happened_at
        self.commit = commit
        self.receipts = receipts
        self._listeners: list[Callable[[ReturnResult], None]] = []
        # the payment service (issue 14): settles the money of a return before its receipt prints
        self.settler: Callable[[ReturnResult], PaymentNote | None] | None = None
        self._listeners_lock = threading.Lock()
        self._deferred: list[LockerEvent] = []  # returns the full disk could not record yet, oldest first
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._suspects: dict[str, Sighting] = {}

    # listening ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="returns", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def on_return(self, callback: Callable[[ReturnResult], None]) -> Callable[[], None]:
        with self._listeners_lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self._listeners_lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)
        return unsubscribe

    def _watch(self) -> None:
        with self.link.events() as events:
            while not self._stop.is_set():
                self.on_locker_event(events.get(timeout=0.5))

    def on_locker_event(self, ev: LockerEvent | None) -> ReturnResult | None:
        """One event from the lockers (the watcher's loop body): an item_inserted is a return; a forced
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
        except StoreFull as exc:
            # nothing of this return was written: it is kept and tried again, with the moment the item went
            # in, on the next housekeeping pass (and recovered from the locker's state if this process dies)
            log.error("lending.return_deferred locker=%s slot=%s item=%s error=%s", ev.locker_id, ev.slot,
                      ev.item, exc)
            with self._listeners_lock:
                self._deferred.append(ev)
            return None
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

    # returning ---------------------------------------------------------------------------------
    def recover_returns(self) -> int:
        """Returns whose item_inserted never reached us (station down, broker restarting): a slot that has
        held an item we think is out, on two passes in a row, is that item's return."""
        with self._listeners_lock:
            deferred, self._deferred = self._deferred, []
        for i, ev in enumerate(deferred):
            try:
                self.handle_insert(ev)
            except StoreFull:
                with self._listeners_lock:
                    self._deferred[:0] = deferred[i:]
                return 0
        seen_at = self.clock()  # before the views: a borrow that begins later is not this return's lending
        views = {lid: self.link.view(lid) for lid in self.profiles}
        seen = decisions.out_items_seen(views, self.repo.items_out())
        # Another station's item put back here while this station was down is an item it never knew: a return
        # the centre pairs by the item's timeline. Only in lockers whose stock was taken first (silently, below),
        # so the stock of a new locker is never reported as returned.
        seen.update(decisions.unknown_items_seen(views, self.repo.known_items(), self._stocked()))
        # An item a borrow is taking right now (its intent read after the views) is not a return: confirmed here,
        # it committed that borrow before its door opened and closed it at once, fee 0, the item leaving with the
        # shopper (an unknown item is lendable, so a shopper may pick it between two passes).
        for item in self.repo.items_of_open_intents():
            seen.pop(item, None)
        try:
            self._take_stock(views)
        except StoreFull:  # taken on a later pass, once there is room
            log.warning("lending.stock_deferred (disk full)")
        confirmed = decisions.confirmed_returns(self._suspects, seen)
        self._suspects = seen
        for item, (locker_id, slot, battery, seq) in confirmed:
            log.warning("lending.return_recovered item=%s locker=%s slot=%d", item, locker_id, slot)
            try:
                self.handle_insert(LockerEvent(locker_id, seq, seen_at, "item_inserted", slot, item, None, battery),
                                   at=seen_at)
            except StoreFull as exc:  # still a suspect: confirmed again, and recorded, on a pass with room
                log.warning("lending.return_recovery_deferred item=%s error=%s", item, exc)
                return 0
        return len(confirmed)

    def _stocked(self) -> set[str]:
        return {lid for lid in self.profiles if self.store.get_kv(f"{STOCK_KEY}{lid}")}

    def _take_stock(self, views: dict[str, LockerView | None]) -> None:
        """The first time a locker is seen online, the items in it are its stock: recorded as in the locker,
        without any event (nothing was returned)."""
        for locker_id, view in views.items():
            if view is None or not view.online or not view.slots or self.store.get_kv(f"{STOCK_KEY}{locker_id}"):
                continue  # its state not heard yet: no stock to take
            item_type = self.profiles[locker_id].item_type
            now = self.clock()
            with UnitOfWork(self.store) as uow:
                known = uow.lendings.known_items()
                for s in view.slots:
                    if s.item is not None and s.item not in known:
                        uow.lendings.item_in_locker(s.item, item_type, locker_id, s.slot, s.battery, now)
            self.store.set_kv(f"{STOCK_KEY}{locker_id}", "1")
            log.info("lending.stock_taken locker=%s", locker_id)

    def handle_insert(self, ev: LockerEvent, at: float | None = None) -> ReturnResult | None:
        """An item went into a slot: close its lending wherever it was opened. `at`: when it was seen there, for a
        return recovered from the lockers' state (by default, when the event was received)."""
        if not ev.item or ev.slot is None:
            log.warning("lending.insert_without_item locker=%s slot=%s", ev.locker_id, ev.slot)
            return None
        item_type = self.profiles[ev.locker_id].item_type
        now = self.happened_at(ev) if at is None else min(at, self.clock())
        now_boot = self.boottime() - max(0.0, self.clock() - now)  # the same moment on the boot clock
        borrowed_since = False
        for intent in self.repo.open_intents_for_item(ev.item):
            if intent["created_at"] > now:
                # This borrow began after the item went in: the insert (heard late) is the item's earlier return,
                # not this borrow's; the item is on its way out again (docs/soak.md, the seed-8 residue).
                borrowed_since = True
                continue
            # the item left under a borrow not yet committed (its ack or item_removed is late): commit it first
            log.info("lending.return_before_commit item=%s intent=%s", ev.item, intent["intent_id"])
            try:
                self.commit(intent["intent_id"], ev.item, intent["created_at"])
            except sqlite3.IntegrityError:  # lent again since (a store from before the fix in `candidates`)
                log.exception("lending.commit_failed item=%s intent=%s", ev.item, intent["intent_id"])
        with UnitOfWork(self.store) as uow:
            known = uow.lendings.item(ev.item)
            if known and known["status"] == "in_locker" and known["locker_id"] == ev.locker_id \
                    and known["slot"] == ev.slot:
                return None  # the same event delivered twice (QoS 1) or seen by another process first
            out = uow.lendings.out_lending_at(ev.item, now)  # never a lending that started after the insert
            if borrowed_since or uow.lendings.lent_after(ev.item, now):
                log.warning("lending.return_heard_late item=%s locker=%s slot=%d (lent again since)", ev.item,
                            ev.locker_id, ev.slot)
            else:
                uow.lendings.item_in_locker(ev.item, item_type, ev.locker_id, ev.slot, ev.battery, now)
            lending: Lending | None = None
            fee, bought, duration = 0, False, 0.0
            if out is not None:
                # Within one boot the loan is timed on the boot clock, and it ends that long after it started:
                # a wall clock stepped by NTP meanwhile (±2 h) changes neither the fee nor the order of start and
                # return. A loan from an earlier boot has only the wall clock (never negative).
                lasted = boot_elapsed(uow.lendings.started_boot(out.lending_id), self.boot, now_boot)
                duration = max(0.0, now - out.started_at) if lasted is None else lasted
                now = out.started_at + duration
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
        if self.settler is not None:
            try:
                result = replace(result, payment=self.settler(result))
            except Exception:
                log.exception("lending.return_settle_failed item=%s", ev.item)
        if lending is not None and self.receipts is not None:
            try:
                result = replace(result, receipt=self.receipts.lending_returned(result))
            except Exception:
                log.exception("lending.return_receipt_failed lending=%s", lending.lending_id)
        with self._listeners_lock:
            listeners = list(self._listeners)
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
