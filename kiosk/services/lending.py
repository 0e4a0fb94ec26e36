"""Borrow and return umbrellas and power banks (DESIGN §5): intent first, then the door, then the lending.

The intent row is durable before any command leaves; only the locker's own ack/event moves it on; a
command without an answer is reconciled from the locker's state, never taken as success.
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
from drivers.locker.link import LockerError, LockerEvent, LockerLink, LockerOffline, OutcomeUnknown
from kiosk.config import ItemPolicy, Policy
from kiosk.services.fees import compute_fee, fee_rule_text
from kiosk.services.intents import IntentBook, Reservation
from kiosk.store import Store
from kiosk.tokens import MemberCode, TokenBook

log = logging.getLogger(__name__)

ItemType = Literal["umbrella", "power_bank", "storage", "stroller"]
Stage = Literal["reserved", "unlocking", "door_open", "taken", "done"]
TAKE_MARGIN_S = 2.0


class LendingRefused(Exception):
    """A borrow or return that did not happen; `code` is what the UI maps to words."""

    def __init__(self, code: str, message: str, retry_elsewhere: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retry_elsewhere = retry_elsewhere  # nothing moved: another slot may be tried for this shopper


@dataclass(frozen=True)
class Lending:
    lending_id: str
    member_id: str
    item_type: ItemType
    item_id: str
    station_id: str
    locker_id: str
    slot: int
    started_at: float
    due_at: float
    status: str
    returned_at: float | None = None
    return_locker_id: str | None = None
    return_slot: int | None = None
    fee_cents: int | None = None


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


def lending_from_row(row: Any) -> Lending:
    return Lending(**{k: row[k] for k in Lending.__dataclass_fields__})


def list_lendings(store: Store, open_only: bool = False, limit: int = 200,
                  newest_first: bool = True) -> list[Lending]:
    """Lendings from the store alone (no locker link needed: the `lendings` CLI uses it too)."""
    where = "WHERE status='open'" if open_only else ""
    order = "DESC" if newest_first else "ASC"
    rows = store.query(f"SELECT * FROM lendings {where} ORDER BY started_at {order} LIMIT ?", (limit,))
    return [lending_from_row(r) for r in rows]


class LendingService:
    def __init__(self, *, store: Store, lockers: LockerLink, profiles: dict[str, LockerProfile],
                 policy: Policy, station_id: str, tokens: TokenBook, receipts: ReceiptSink | None = None,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.link = lockers
        self.profiles = profiles
        self.policy = policy
        self.station_id = station_id
        self.tokens = tokens
        self.receipts = receipts
        self.clock = clock
        self.monotonic = monotonic
        self.intents = IntentBook(store, lockers, profiles, clock, monotonic, self._commit_lending)
        self._return_listeners: list[Callable[[ReturnResult], None]] = []
        self._listeners_lock = threading.Lock()
        self._stop = threading.Event()
        self._return_thread: threading.Thread | None = None
        self._suspects: dict[str, tuple[str, int, int | None, int]] = {}

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
        out = {r["item_id"] for r in self.store.query("SELECT item_id FROM items WHERE status IN ('lent','bought')")}
        seen: dict[str, tuple[str, int, int | None, int]] = {}
        for locker_id in self.profiles:
            view = self.link.view(locker_id)
            if view is None or not view.online:
                continue
            for s in view.slots:
                if s.item is not None and s.item in out and s.state != "open":
                    seen[s.item] = (locker_id, s.slot, s.battery, view.seq or 0)
        confirmed = [(item, where) for item, where in seen.items() if self._suspects.get(item, (None,))[:2] == where[:2]]
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
        prof = self.profiles[locker_id]
        if prof.item_type != "power_bank":
            return 0
        return max(self.policy.min_dispense_battery, prof.min_dispense_battery or 0)

    def availability(self, item_type: str) -> Availability:
        candidates, any_online = self.intents.candidates(item_type, self.min_battery)
        best = max((c.battery for c in candidates if c.battery is not None), default=None)
        return Availability(item_type, len(candidates), any_online, best)

    def lendings(self, open_only: bool = False, limit: int = 200) -> list[Lending]:
        return list_lendings(self.store, open_only, limit)

    def open_lendings(self, member_id: str) -> list[Lending]:
        rows = self.store.query("SELECT * FROM lendings WHERE member_id=? AND status='open' ORDER BY started_at",
                                (member_id,))
        return [lending_from_row(r) for r in rows]

    def return_token(self, lending: Lending) -> str:
        return self.tokens.lending_token(lending.lending_id, int(lending.due_at + 30 * 86_400))

    # borrow -----------------------------------------------------------------------------------
    def check_member(self, member_id: str, item_type: str) -> None:
        open_now = self.open_lendings(member_id)
        now = self.clock()
        if any(lending.due_at < now for lending in open_now):
            raise LendingRefused("overdue", "please return the overdue item first")
        same = [lending for lending in open_now if lending.item_type == item_type]
        if len(same) >= self.policy.max_open_per_member_per_type:
            raise LendingRefused("limit_reached", f"you already have a {item_type} on loan")

    def borrow(self, member: MemberCode, item_type: str,
               progress: Callable[[BorrowProgress], None] | None = None) -> BorrowResult:
        """Open a door for a verified member and record the lending once the item has left. Blocking."""
        self.item_policy(item_type)
        self.check_member(member.member_id, item_type)
        tried: set[tuple[str, int]] = set()
        last_error: LendingRefused | None = None
        for _ in range(3):
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
                if not exc.retry_elsewhere:
                    raise  # the door may have opened: never open a second one for the same shopper
                last_error = exc
        if last_error is not None and last_error.code != "slot_unusable":
            raise last_error
        _, any_online = self.intents.candidates(item_type, self.min_battery)
        if not any_online:
            raise LendingRefused("locker_offline", "the lockers are offline, please ask the service desk")
        raise LendingRefused("none_available", f"no {item_type} available right now")

    def _dispense(self, r: Reservation, progress: Callable[[BorrowProgress], None] | None) -> BorrowResult:
        prof = self.profiles[r.locker_id]

        def say(stage: Stage, deadline: float | None = None) -> None:
            if progress is not None:
                try:
                    progress(BorrowProgress(stage, r.locker_id, r.slot, r.item_id, r.battery, deadline))
                except Exception:  # a UI callback must never break a lending
                    log.exception("lending.progress_callback_failed")

        say("reserved")
        with self.intents.active(r.intent_id), self.link.events() as events:
            say("unlocking")
            try:
                ack = self.link.command(r.locker_id, "unlock", r.slot, cmd_id=r.cmd_id,
                                        ack_timeout=prof.timeouts.ack_s, retries=2,
                                        ttl=prof.timeouts.ack_s * 4)
            except LockerOffline as exc:
                self.intents.cancel(r.intent_id, "locker_offline")
                raise LendingRefused("locker_offline", "this locker is offline", retry_elsewhere=True) from exc
            except OutcomeUnknown:
                log.warning("lending.no_ack station=%s locker=%s slot=%d cmd=%s", self.station_id,
                            r.locker_id, r.slot, r.cmd_id)
                ack = None
            if ack is not None and not (ack.ok and ack.result == "opened"):
                self.intents.cancel(r.intent_id, f"ack_{ack.result}")
                log.info("lending.slot_refused locker=%s slot=%d result=%s", r.locker_id, r.slot, ack.result)
                raise LendingRefused("slot_unusable", f"slot answered {ack.result}", retry_elsewhere=True)
            if ack is not None:
                self.intents.mark_opened(r.intent_id)
            deadline = self.monotonic() + prof.timeouts.take_s + TAKE_MARGIN_S
            say("door_open", deadline)
            outcome, removed = self._await_take(events, r, deadline)
        if outcome == "taken":
            lending = self._commit_lending(r.intent_id, r.item_id, self.happened_at(removed))
        else:
            lending = self.intents.settle_from_state(r.intent_id, wait_s=prof.timeouts.ack_s * 4 + 1)
        if lending is None:
            if not self.intents.is_resolved(r.intent_id):
                log.warning("lending.unsettled intent=%s locker=%s slot=%d", r.intent_id, r.locker_id, r.slot)
                raise LendingRefused("no_answer" if ack is None else "locker_offline",
                                     "the locker stopped answering; nothing is charged unless the item left")
            if ack is None:
                raise LendingRefused("no_answer", "the locker did not answer; nothing was charged")
            raise LendingRefused("not_taken", "the door closed before the item was taken; nothing was charged")
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
        """When an event happened on this station's clock: now, less how long it waited in our queue
        (a slow ack holds the borrow while item_removed is already here; the lending starts when it left)."""
        now = self.clock()
        if ev is None or ev.received_mono is None:
            return now
        return now - max(0.0, time.monotonic() - ev.received_mono)

    def _await_take(self, events: Any, r: Reservation, deadline: float) -> tuple[str, LockerEvent | None]:
        """('taken', item_removed) for our slot, 'closed' when the door shut first, 'timeout' otherwise."""
        while True:
            left = deadline - self.monotonic()
            if left <= 0:
                return "timeout", None
            ev: LockerEvent | None = events.get(timeout=min(left, 0.5))
            if ev is None or ev.locker_id != r.locker_id or ev.slot != r.slot:
                continue
            if ev.type == "item_removed":
                if ev.item and ev.item != r.item_id:
                    log.warning("lending.item_mismatch expected=%s got=%s", r.item_id, ev.item)
                    self.intents.set_item(r.intent_id, ev.item)
                    r = replace(r, item_id=ev.item)
                return "taken", ev
            if ev.type == "door_closed":
                return "closed", None

    def _commit_lending(self, intent_id: str, item_id: str | None, taken_at: float | None = None) -> Lending:
        """Intent → lending + outbox event in one transaction; a second call returns the same lending.

        The lending starts when the item left (`taken_at`), never before its intent was written."""
        now = self.clock()
        with self.store.transaction() as conn:
            intent = conn.execute("SELECT * FROM intents WHERE intent_id=?", (intent_id,)).fetchone()
            existing = conn.execute("SELECT * FROM lendings WHERE intent_id=?", (intent_id,)).fetchone()
            if existing is not None:
                return lending_from_row(existing)
            started = min(now, max(intent["created_at"], now if taken_at is None else taken_at))
            item_id = item_id or intent["item_id"]
            policy = self.item_policy(intent["item_type"])
            lending = Lending(
                lending_id=f"{self.station_id}-{uuid.uuid4().hex[:10].upper()}",
                member_id=intent["member_id"], item_type=intent["item_type"], item_id=item_id,
                station_id=self.station_id, locker_id=intent["locker_id"], slot=intent["slot"],
                started_at=started, due_at=started + policy.loan_hours * 3600, status="open")
            conn.execute(
                "INSERT INTO lendings (lending_id, intent_id, member_id, item_type, item_id, station_id, locker_id,"
                " slot, started_at, due_at, status) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (lending.lending_id, intent_id, lending.member_id, lending.item_type, lending.item_id,
                 lending.station_id, lending.locker_id, lending.slot, lending.started_at, lending.due_at, "open"))
            conn.execute("UPDATE intents SET state='done', item_id=?, updated_at=? WHERE intent_id=?",
                         (item_id, now, intent_id))
            conn.execute(
                "INSERT INTO items(item_id, item_type, status, locker_id, slot, battery, updated_at)"
                " VALUES (?,?,?,?,?,NULL,?) ON CONFLICT(item_id) DO UPDATE SET status='lent', locker_id=NULL,"
                " slot=NULL, updated_at=excluded.updated_at",
                (item_id, lending.item_type, "lent", None, None, now))
            self.store.append_event(conn, "lending.started", {
                "lending_id": lending.lending_id, "member_id": lending.member_id, "item_type": lending.item_type,
                "item_id": item_id, "station_id": self.station_id, "locker_id": lending.locker_id,
                "slot": lending.slot, "started_at": lending.started_at, "due_at": lending.due_at}, now)
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
                ev = events.get(timeout=0.5)
                if ev is None or ev.type != "item_inserted" or ev.locker_id not in self.profiles:
                    continue
                try:
                    self.handle_insert(ev)
                except Exception:
                    log.exception("lending.return_failed locker=%s slot=%s", ev.locker_id, ev.slot)

    def handle_insert(self, ev: LockerEvent) -> ReturnResult | None:
        """An item went into a slot: close its lending wherever it was opened."""
        if not ev.item or ev.slot is None:
            log.warning("lending.insert_without_item locker=%s slot=%s", ev.locker_id, ev.slot)
            return None
        item_type = self.profiles[ev.locker_id].item_type
        for intent in self.store.query("SELECT intent_id, created_at FROM intents WHERE item_id=? AND state IN ('pending','opened')",
                                       (ev.item,)):
            # the item left under a borrow not yet committed (its ack or item_removed is late): commit it first
            log.info("lending.return_before_commit item=%s intent=%s", ev.item, intent["intent_id"])
            self._commit_lending(intent["intent_id"], ev.item, taken_at=intent["created_at"])
        now = self.happened_at(ev)
        with self.store.transaction() as conn:
            known = conn.execute("SELECT status, locker_id, slot FROM items WHERE item_id=?", (ev.item,)).fetchone()
            if known and known["status"] == "in_locker" and known["locker_id"] == ev.locker_id \
                    and known["slot"] == ev.slot:
                return None  # the same event delivered twice (QoS 1) or seen by another process first
            row = conn.execute("SELECT * FROM lendings WHERE item_id=? AND status IN ('open','bought')"
                               " ORDER BY started_at DESC LIMIT 1", (ev.item,)).fetchone()
            conn.execute(
                "INSERT INTO items(item_id, item_type, status, locker_id, slot, battery, updated_at)"
                " VALUES (?,?,'in_locker',?,?,?,?) ON CONFLICT(item_id) DO UPDATE SET status='in_locker',"
                " locker_id=excluded.locker_id, slot=excluded.slot, battery=excluded.battery,"
                " updated_at=excluded.updated_at",
                (ev.item, item_type, ev.locker_id, ev.slot, ev.battery, now))
            if row is None:
                lending = None
                fee, bought, duration = 0, False, 0.0
            else:
                duration = now - row["started_at"]
                fee, bought = compute_fee(self.item_policy(row["item_type"]), duration)
                status = "bought" if bought else "returned"
                conn.execute("UPDATE lendings SET status=?, returned_at=?, return_locker_id=?, return_slot=?,"
                             " fee_cents=? WHERE lending_id=?",
                             (status, now, ev.locker_id, ev.slot, fee, row["lending_id"]))
                lending = lending_from_row(conn.execute("SELECT * FROM lendings WHERE lending_id=?",
                                                        (row["lending_id"],)).fetchone())
            self.store.append_event(conn, "lending.returned", {
                "lending_id": lending.lending_id if lending else None, "item_id": ev.item,
                "item_type": item_type, "member_id": lending.member_id if lending else None,
                "station_id": self.station_id, "locker_id": ev.locker_id, "slot": ev.slot,
                "returned_at": now, "fee_cents": fee, "duration_s": duration}, now)
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
            with self.store.transaction() as conn:
                rows = conn.execute("SELECT * FROM lendings WHERE status='open' AND item_type=? AND started_at<=?",
                                    (item_type, cutoff)).fetchall()
                for row in rows:
                    conn.execute("UPDATE lendings SET status='bought', fee_cents=? WHERE lending_id=?",
                                 (pol.price_cents, row["lending_id"]))
                    conn.execute("UPDATE items SET status='bought', updated_at=? WHERE item_id=?",
                                 (now, row["item_id"]))
                    self.store.append_event(conn, "lending.bought", {
                        "lending_id": row["lending_id"], "item_id": row["item_id"],
                        "member_id": row["member_id"], "price_cents": pol.price_cents}, now)
                    settled += 1
        return settled


__all__ = [
    "Availability", "BorrowProgress", "BorrowResult", "Lending", "LendingRefused", "LendingService",
    "LockerError", "ReturnResult",
]
