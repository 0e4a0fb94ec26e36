"""Paid borrows at the station (issue 14): deposit by WeChat Pay / Alipay QR through the centre, door, refunds.

The station holds no merchant key: it asks the centre for a QR, follows the order there, and asks the centre
to refund. Every step is a row in the station's store before the centre is called or a door moves, keyed so a
repeat reaches the same order (station_order_id) or the same refund (settle_key). After a crash `reconcile()`
settles each row: a paid order whose item left is kept; one whose item never left (or whose shopper has gone
with the screen) is refunded in full — resume or refund, never both, never neither.

    order = payments.start_borrow("power_bank", "wechat")   # durable row, then the centre's QR
    payments.wait_paid(order.station_order_id, timeout_s)     # long poll at the centre
    payments.dispense(order.station_order_id)                # door via LendingService; refund when nothing left
"""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from kiosk.services.errors import LendingRefused, ServiceRefused
from kiosk.services.lending import LendingService, PaymentNote, ReturnResult
from kiosk.store import Store, StoreFull
from kiosk.tokens import MemberCode

log = logging.getLogger(__name__)

NO_DEPOSIT_RECHECK_S = 600.0  # a return with no deposit found yet is asked about again for this long,
NO_DEPOSIT_RECHECK_EVERY_S = 30.0  # this often
PAYER_PREFIX = "PAY-"  # lendings paid by QR carry member_id PAY-<station_order_id>
KEEP_WHOLE_DEPOSIT = 10**8  # a fee above any deposit: the centre keeps all of it (an item kept = bought)
FEE_PURPOSES = ("fee", "storage")  # paid orders that settle something owed (no door, no refund)
UNSETTLED_RETURN_S = 30.0  # a PAY- lending returned this long ago with no settlement row: the disk was full
ABANDONED_AFTER_S = 330.0  # an unpaid QR this old has no shopper waiting (the pay screen waits 300 s): close it
SCHEMA = """
CREATE TABLE IF NOT EXISTS pay_orders (
    station_order_id TEXT PRIMARY KEY, provider TEXT NOT NULL, purpose TEXT NOT NULL, item_type TEXT NOT NULL,
    amount_fen INTEGER NOT NULL, state TEXT NOT NULL, order_id TEXT, qr TEXT, lending_id TEXT, item_id TEXT,
    refund_json TEXT, error TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS pay_settlements (
    settle_key TEXT PRIMARY KEY, item_id TEXT NOT NULL, lending_id TEXT, fee_fen INTEGER NOT NULL,
    state TEXT NOT NULL, result_json TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS pay_fees (
    lending_id TEXT PRIMARY KEY, member_id TEXT NOT NULL, item_type TEXT NOT NULL, fee_fen INTEGER NOT NULL,
    state TEXT NOT NULL, station_order_id TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS pay_fees_member ON pay_fees (member_id, state);
CREATE TABLE IF NOT EXISTS pay_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)
"""
# pay_orders.state: creating → open → paid → dispensing → dispensed → reported
#                                   ↘ refund_due → refunded          (and closed / failed for unpaid QRs)
#                                     refund_due → settled (the item had left after all; its return settled it)
# pay_settlements.state: due → done | no_deposit (asked again for a while) | off (the centre takes no payments)
# pay_fees.state (a member's fee at return, paid by a purpose='fee' order): due → paid
# fee orders (pay_orders.purpose = 'fee'): creating → open → paid → collected (the fees it paid marked paid)


class PaymentRefused(ServiceRefused):
    """The centre or the provider said no (bad amount, not configured): nothing to pay."""


class PaymentUnavailable(ServiceRefused):
    """The centre did not answer: ask again (the same key reaches the same order)."""


@dataclass(frozen=True)
class PayOrder:
    station_order_id: str
    provider: str
    item_type: str
    amount_fen: int
    state: str
    order_id: str | None
    qr: str | None
    lending_id: str | None = None
    item_id: str | None = None
    refund: dict[str, Any] | None = None
    error: str | None = None
    purpose: str = "deposit"  # deposit (a non-member's borrow) | fee (a member's fees owed) | storage (a bag's fee)


class CentrePayments:
    """The centre's station payment API (docs/central.md "Payments"), bearer of this station."""

    def __init__(self, url: str, station_id: str, token: str, timeout_s: float = 10.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base = f"{url.rstrip('/')}/api/v1/stations/{station_id}/payments"
        self.client = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=timeout_s,
                                   transport=transport)

    def _call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        try:
            r = self.client.request(method, self.base + path, **kw)
        except httpx.HTTPError as e:
            raise PaymentUnavailable("centre_unreachable", f"centre did not answer: {e}") from e
        if r.status_code >= 500:
            raise PaymentUnavailable("centre_unavailable", r.text[:300])
        try:
            body = r.json()
        except ValueError as e:
            raise PaymentUnavailable("centre_garbled", r.text[:300]) from e
        if r.status_code >= 400:
            raise PaymentRefused(str(body.get("code", r.status_code)), str(body.get("message", "")))
        if not isinstance(body, dict):
            raise PaymentUnavailable("centre_garbled", "not an object")
        return body

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/orders", json=body)

    def get(self, station_order_id: str, wait_s: float = 0.0) -> dict[str, Any]:
        return self._call("GET", f"/orders/{station_order_id}", params={"wait": wait_s},
                          timeout=wait_s + 10.0)

    def close(self, station_order_id: str) -> dict[str, Any]:
        return self._call("POST", f"/orders/{station_order_id}/close")

    def dispensed(self, station_order_id: str, item_id: str, lending_id: str) -> dict[str, Any]:
        return self._call("POST", f"/orders/{station_order_id}/dispensed",
                          json={"item_id": item_id, "lending_id": lending_id})

    def settle(self, body: dict[str, Any], timeout_s: float | None = None) -> dict[str, Any]:
        kw: dict[str, Any] = {"timeout": timeout_s} if timeout_s is not None else {}
        return self._call("POST", "/settlements", json=body, **kw)

    def close_client(self) -> None:
        self.client.close()


class PaymentsService:
    def __init__(self, *, store: Store, centre: CentrePayments, lending: LendingService, station_id: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.centre = centre
        self.lending = lending
        self.station_id = station_id
        self.clock = clock
        self.abandoned_after_s = ABANDONED_AFTER_S
        self._lock = threading.Lock()
        self._dispensing: set[str] = set()  # orders whose door this process is opening now (not stuck)
        # returns whose settlement row could not be written (disk full): key -> (item, lending, fee); written and
        # settled by periodic() once there is room (a PAY- lending of ours is also found again from its row)
        self._unwritten: dict[str, tuple[str, str | None, int]] = {}
        with store.transaction() as conn:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            # fees are owed from here on: lendings of an older run (no payments then) never become debts
            conn.execute("INSERT OR IGNORE INTO pay_meta (key, value) VALUES ('fees_since', ?)", (str(self.clock()),))

    # -- rows ------------------------------------------------------------------------------------------------
    def order(self, station_order_id: str) -> PayOrder:
        rows = self.store.query("SELECT * FROM pay_orders WHERE station_order_id = ?", (station_order_id,))
        if not rows:
            raise PaymentRefused("no_such_order", f"no payment order {station_order_id}")
        r = rows[0]
        return PayOrder(r["station_order_id"], r["provider"], r["item_type"], r["amount_fen"], r["state"],
                        r["order_id"], r["qr"], r["lending_id"], r["item_id"],
                        json.loads(r["refund_json"]) if r["refund_json"] else None, r["error"], r["purpose"])

    def orders(self, states: tuple[str, ...] | None = None) -> list[PayOrder]:
        rows = self.store.query("SELECT station_order_id FROM pay_orders ORDER BY created_at")
        out = [self.order(r["station_order_id"]) for r in rows]
        return [o for o in out if states is None or o.state in states]

    def _set(self, station_order_id: str, **fields: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self.store.transaction() as conn:
            conn.execute(f"UPDATE pay_orders SET {cols}, updated_at = ? WHERE station_order_id = ?",  # noqa: S608
                         (*fields.values(), self.clock(), station_order_id))

    # -- borrow ----------------------------------------------------------------------------------------------
    def deposit_fen(self, item_type: str) -> int:
        return self.lending.item_policy(item_type).deposit_cents

    def start_borrow(self, item_type: str, provider: str) -> PayOrder:
        """Write the order, then get its QR from the centre. Refuses when nothing can be lent right now."""
        amount = self.deposit_fen(item_type)
        if amount <= 0:
            raise PaymentRefused("no_deposit", f"{item_type} has no deposit to pay at this station")
        if self.lending.availability(item_type).count == 0:
            raise LendingRefused("none_available", f"no {item_type} can be lent right now")
        self.lending.check_room()  # no order, no QR and no door while the store cannot record them (disk full)
        soid = f"{self.station_id}-{uuid.uuid4().hex[:16]}"
        now = self.clock()
        try:
            with self.store.transaction() as conn:
                conn.execute("INSERT INTO pay_orders (station_order_id, provider, purpose, item_type, amount_fen,"
                             " state, created_at, updated_at) VALUES (?, ?, 'deposit', ?, ?, 'creating', ?, ?)",
                             (soid, provider, item_type, amount, now, now))
        except StoreFull as exc:  # nothing written, nothing asked of the centre or the provider
            raise PaymentRefused("disk_full", f"the station cannot record a payment now ({exc})") from exc
        return self.create_at_centre(soid)

    def create_at_centre(self, station_order_id: str) -> PayOrder:
        o = self.order(station_order_id)
        body: dict[str, Any] = {"station_order_id": o.station_order_id, "provider": o.provider,
                                "purpose": o.purpose, "amount_fen": o.amount_fen, "item_type": o.item_type,
                                "description": f"{o.item_type} {o.purpose} {o.station_order_id[-6:]}"}
        if o.purpose == "fee":
            owner = self.store.query("SELECT member_id FROM pay_fees WHERE station_order_id = ? LIMIT 1",
                                     (station_order_id,))
            body["member_id"] = owner[0]["member_id"] if owner else None
        try:
            view = self.centre.create(body)
        except PaymentRefused as e:
            self._set(station_order_id, state="failed", error=f"{e.code}: {e}")
            raise
        self._set(station_order_id, state="open", order_id=view["order_id"], qr=view["qr"])
        return self.order(station_order_id)

    def wait_paid(self, station_order_id: str, timeout_s: float) -> PayOrder:
        """Follow the order at the centre until it is paid or closed, or `timeout_s` passes."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            try:
                view = self.centre.get(station_order_id, wait_s=max(0.0, min(left, 20.0)))
            except PaymentUnavailable:
                if time.monotonic() >= deadline:
                    return self.order(station_order_id)
                time.sleep(min(1.0, max(0.0, left)))
                continue
            if view["state"] == "paid":
                with self._lock:
                    if self.order(station_order_id).state in ("creating", "open"):
                        self._set(station_order_id, state="paid")
                o = self.order(station_order_id)
                return self.collect_fee(station_order_id) if o.purpose in FEE_PURPOSES and o.state == "paid" else o
            if view["state"] in ("closed", "failed"):
                self._set(station_order_id, state=view["state"])
                return self.order(station_order_id)
            if time.monotonic() >= deadline:
                return self.order(station_order_id)

    def cancel(self, station_order_id: str) -> PayOrder:
        """The shopper gave up before paying: close the QR; a payment that raced it is refunded."""
        view = self.centre.close(station_order_id)
        if view["state"] == "paid":
            if self.order(station_order_id).purpose in FEE_PURPOSES:  # the fee was paid after all: it counts
                self._set(station_order_id, state="paid")
                return self.collect_fee(station_order_id)
            self._set(station_order_id, state="refund_due")
            return self.refund_in_full(station_order_id)
        self._set(station_order_id, state="closed")
        return self.order(station_order_id)

    # -- member fees: paid by QR at the screen; an unpaid fee blocks the member's next borrow ------------------
    def unpaid_fee_fen(self, member_id: str) -> int:
        """What this member owes at this station (the lending service refuses a borrow while it is above 0)."""
        rows = self.store.query("SELECT COALESCE(SUM(fee_fen), 0) AS n FROM pay_fees WHERE member_id = ?"
                                " AND state = 'due'", (member_id,))
        return int(rows[0]["n"])

    def owe_fee(self, lending_id: str, member_id: str, item_type: str, fee_fen: int) -> None:
        now = self.clock()
        with self.store.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO pay_fees (lending_id, member_id, item_type, fee_fen, state,"
                         " created_at, updated_at) VALUES (?, ?, ?, ?, 'due', ?, ?)",
                         (lending_id, member_id, item_type, fee_fen, now, now))

    def start_fee(self, member_id: str, provider: str, purpose: str = "fee") -> PayOrder:
        """One QR for everything this member (or bag: `B-<deposit>`, purpose storage) owes here. An earlier unpaid fee QR is closed first (a payment
        that raced the close still counts, and then nothing is owed any more)."""
        for soid in {r["station_order_id"] for r in self.store.query(
                "SELECT f.station_order_id FROM pay_fees f JOIN pay_orders o USING (station_order_id)"
                " WHERE f.member_id = ? AND f.state = 'due' AND o.state IN ('creating', 'open', 'paid')",
                (member_id,))}:
            o = self.order(soid)
            if o.state == "paid":
                self.collect_fee(soid)
            elif o.order_id is not None:
                self.cancel(soid)
        owed = self.store.query("SELECT item_type, fee_fen FROM pay_fees WHERE member_id = ? AND state = 'due'"
                                " ORDER BY created_at", (member_id,))
        amount = sum(int(r["fee_fen"]) for r in owed)
        if amount <= 0:
            raise PaymentRefused("nothing_due", "no fee is owed")
        soid = f"{self.station_id}-{uuid.uuid4().hex[:16]}"
        now = self.clock()
        with self.store.transaction() as conn:
            conn.execute("INSERT INTO pay_orders (station_order_id, provider, purpose, item_type, amount_fen, state,"
                         " created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'creating', ?, ?)",
                         (soid, provider, purpose if purpose in FEE_PURPOSES else "fee", owed[0]["item_type"],
                          amount, now, now))
            conn.execute("UPDATE pay_fees SET station_order_id = ?, updated_at = ? WHERE member_id = ?"
                         " AND state = 'due'", (soid, now, member_id))
        return self.create_at_centre(soid)

    # -- bag storage: the fee is paid before the door opens --------------------------------------------------
    def storage_paid(self, deposit_id: str) -> int:
        rows = self.store.query("SELECT COALESCE(SUM(fee_fen), 0) AS n FROM pay_fees WHERE member_id = ?"
                                " AND state = 'paid'", (f"B-{deposit_id}",))
        return int(rows[0]["n"])

    def storage_owed(self, deposit_id: str, fee_now_fen: int, fee_in_grace_fen: int) -> int:
        """What the bag still owes before its door opens (0: open). A payment covers the fee of 15 minutes ago,
        so the walk from the QR to the door is not charged again; what is owed is recorded for one fee QR."""
        paid = self.storage_paid(deposit_id)
        if fee_now_fen <= 0 or (paid > 0 and paid >= fee_in_grace_fen):
            return 0
        owed = fee_now_fen - paid
        if owed <= 0:
            return 0
        payer = f"B-{deposit_id}"
        now = self.clock()
        with self.store.transaction() as conn:  # the fee owed now replaces what was owed before (it only grows)
            conn.execute("DELETE FROM pay_fees WHERE member_id = ? AND state = 'due' AND (station_order_id IS NULL"
                         " OR station_order_id NOT IN (SELECT station_order_id FROM pay_orders WHERE state IN"
                         " ('creating', 'open', 'paid')))", (payer,))
            still = conn.execute("SELECT COALESCE(SUM(fee_fen), 0) FROM pay_fees WHERE member_id = ? AND"
                                 " state = 'due'", (payer,)).fetchone()[0]
            if owed - still > 0:
                conn.execute("INSERT OR IGNORE INTO pay_fees (lending_id, member_id, item_type, fee_fen, state,"
                             " created_at, updated_at) VALUES (?, ?, 'storage', ?, 'due', ?, ?)",
                             (f"{payer}-{fee_now_fen}", payer, owed - still, now, now))
        return owed

    def collect_fee(self, station_order_id: str) -> PayOrder:
        """A paid fee QR: the fees it was made for are paid. One whose fees another QR took over (the member
        came back and paid again) is refunded in full: a fee is paid once."""
        with self.store.transaction() as conn:
            linked = conn.execute("SELECT COUNT(*) FROM pay_fees WHERE station_order_id = ?",
                                  (station_order_id,)).fetchone()[0]
            conn.execute("UPDATE pay_fees SET state = 'paid', updated_at = ? WHERE station_order_id = ?"
                         " AND state = 'due'", (self.clock(), station_order_id))
            if linked:
                conn.execute("UPDATE pay_orders SET state = 'collected', updated_at = ? WHERE station_order_id = ?"
                             " AND state = 'paid'", (self.clock(), station_order_id))
        if not linked:
            self._set(station_order_id, state="refund_due", error="fees paid by another QR")
            return self.refund_in_full(station_order_id)
        log.info("payments.fee_collected order=%s", station_order_id)
        return self.order(station_order_id)

    def dispense(self, station_order_id: str) -> PayOrder:
        """Paid: open the door. The item left → keep the deposit (reported to the centre); it did not → refund."""
        with self._lock:
            o = self.order(station_order_id)
            if o.state != "paid" or o.purpose != "deposit":
                raise PaymentRefused("not_paid", f"{o.purpose} order is {o.state}")
            self._set(station_order_id, state="dispensing")  # durable before the door moves
            self._dispensing.add(station_order_id)
        try:
            return self._dispense(station_order_id, o)
        finally:
            self._dispensing.discard(station_order_id)

    def _dispense(self, station_order_id: str, o: PayOrder) -> PayOrder:
        payer = MemberCode(PAYER_PREFIX + station_order_id, 0, "")
        try:
            result = self.lending.borrow(payer, o.item_type)
        except LendingRefused as e:
            if self._open_intent(payer.member_id):
                log.warning("payments.dispense_unsettled order=%s %s", station_order_id, e.code)
                return self.order(station_order_id)  # unknown: reconcile decides once the intent settles
            self._set(station_order_id, state="refund_due", error=e.code)
            return self.refund_in_full(station_order_id)
        self._set(station_order_id, state="dispensed", lending_id=result.lending.lending_id,
                  item_id=result.lending.item_id)
        return self.report_dispensed(station_order_id)

    def _open_intent(self, member_id: str) -> bool:
        from kiosk.services.intents import OPEN_STATES

        marks = ",".join("?" * len(OPEN_STATES))
        return bool(self.store.query(f"SELECT 1 FROM intents WHERE member_id = ? AND state IN ({marks})",  # noqa: S608
                                     (member_id, *OPEN_STATES)))

    def _door_outcome_known(self, member_id: str) -> bool:
        """The borrow's door has an outcome on record: its lending, or an intent that is no longer open."""
        from kiosk.services.intents import OPEN_STATES

        if self._lending_of(member_id) is not None:
            return True
        states = {r["state"] for r in self.store.query("SELECT state FROM intents WHERE member_id = ?", (member_id,))}
        return bool(states) and not states & set(OPEN_STATES)

    def _lending_of(self, member_id: str) -> tuple[str, str] | None:
        rows = self.store.query("SELECT lending_id, item_id FROM lendings WHERE member_id = ?", (member_id,))
        return (rows[0]["lending_id"], rows[0]["item_id"]) if rows else None

    def report_dispensed(self, station_order_id: str) -> PayOrder:
        o = self.order(station_order_id)
        assert o.item_id and o.lending_id
        try:
            self.centre.dispensed(station_order_id, o.item_id, o.lending_id)
        except PaymentUnavailable:
            return o  # periodic() reports it again
        self._set(station_order_id, state="reported")
        return self.order(station_order_id)

    def refund_in_full(self, station_order_id: str) -> PayOrder:
        o = self.order(station_order_id)
        try:
            s = self.centre.settle({"settle_key": f"undispensed-{station_order_id[-16:]}", "order_id": o.order_id,
                                    "fee_fen": 0, "reason": "item not dispensed"})
        except PaymentUnavailable:
            return o  # stays refund_due; periodic() asks again with the same key
        except PaymentRefused as e:
            if e.code != "payment_conflict":
                raise
            # the deposit was settled already: the door's answer was lost, the item left after all and came back
            # (its return settled deposit − fee). One settlement per deposit: nothing more to refund here.
            self._set(station_order_id, state="settled", error=f"settled by a return: {e}")
            return self.order(station_order_id)
        self._set(station_order_id, state="refunded", refund_json=json.dumps(s))
        return self.order(station_order_id)

    # -- returns ---------------------------------------------------------------------------------------------
    def attach(self, lending: LendingService) -> None:
        """Settle each return's money before its receipt prints; refuse a member's borrow while a fee is owed."""
        lending.set_settler(self.note_for_return)
        lending.unpaid_fees = self.unpaid_fee_fen

    def note_for_return(self, result: ReturnResult) -> PaymentNote | None:
        """The return's money, for the receipt and the screen: a member's fee becomes owed (paid by QR at the
        screen); a QR deposit is settled at the centre (deposit − fee refunded once, or kept as the price)."""
        lending = result.lending
        if lending is not None and not (lending.member_id or "").startswith(PAYER_PREFIX):
            if result.fee_cents <= 0:
                return None
            self.owe_fee(lending.lending_id, lending.member_id, lending.item_type, result.fee_cents)
            return PaymentNote("fee_due", result.fee_cents)
        self.settle_return(result)
        st = self.settlement(result.item_id)
        with self._lock:
            unwritten = any(v[0] == result.item_id for v in self._unwritten.values())
        if unwritten:  # the disk is full: settled with its key once there is room
            return PaymentNote("refund_due", result.fee_cents)
        if st is None or st["state"] in ("no_deposit", "off", "refused"):
            return None
        if st["state"] == "due":  # the centre did not answer: periodic() settles it with the same key
            return PaymentNote("refund_due", result.fee_cents)
        refund, deposit = int(st.get("refund_fen") or 0), int(st.get("deposit_fen") or 0)
        return PaymentNote("refund" if refund > 0 else "kept", int(st["fee_fen"]), deposit, refund,
                           st.get("out_refund_no"))

    def on_return(self, result: ReturnResult) -> None:
        """A return listener doing the settlement alone (for a lending service without `attach`)."""
        self.settle_return(result)

    def settle_return(self, result: ReturnResult) -> dict[str, Any] | None:
        """A return here: a QR-paid lending (ours, or another station's: lending None) settles its deposit."""
        lending = result.lending
        if lending is not None and not (lending.member_id or "").startswith(PAYER_PREFIX):
            return None  # a member's lending: deposit-free
        if lending is not None:  # settled already (kept past the limit, then brought back): the same answer
            done = self.store.query("SELECT settle_key FROM pay_settlements WHERE lending_id = ?",
                                    (lending.lending_id,))
            if done:
                return self.settle_due(done[0]["settle_key"])
        # another station's lending is known here by its item only: each return of it is its own settlement
        key = f"ret-{lending.lending_id[-40:]}" if lending else f"ret-{result.item_id[-24:]}-{uuid.uuid4().hex[:12]}"
        try:
            self._write_due(key, result.item_id, lending.lending_id if lending else None, result.fee_cents)
        except StoreFull as exc:  # nothing asked of the centre before its row is written: periodic() does both
            log.warning("payments.settle_deferred key=%s item=%s error=%s", key, result.item_id, exc)
            with self._lock:
                self._unwritten[key] = (result.item_id, lending.lending_id if lending else None, result.fee_cents)
            return None
        return self.settle_due(key)

    def _write_due(self, key: str, item_id: str, lending_id: str | None, fee_fen: int) -> None:
        now = self.clock()
        with self.store.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO pay_settlements (settle_key, item_id, lending_id, fee_fen, state,"
                         " created_at, updated_at) VALUES (?, ?, ?, ?, 'due', ?, ?)",
                         (key, item_id, lending_id, fee_fen, now, now))

    def write_deferred(self) -> int:
        """Settlement rows a full disk kept from being written: written now (then settled with their key); a PAY-
        lending of ours returned without one (the process died while the disk was full) gets its own again."""
        with self._lock:
            unwritten = dict(self._unwritten)
        lost = self.store.query(
            "SELECT l.lending_id, l.item_id, l.fee_cents FROM lendings l WHERE l.status = 'returned'"
            " AND l.member_id LIKE ? AND l.returned_at < ? AND NOT EXISTS (SELECT 1 FROM pay_settlements s"
            " WHERE s.lending_id = l.lending_id)", (PAYER_PREFIX + "%", self.clock() - UNSETTLED_RETURN_S))
        for r in lost:
            key = f"ret-{r['lending_id'][-40:]}"
            unwritten.setdefault(key, (r["item_id"], r["lending_id"], int(r["fee_cents"] or 0)))
        for key, (item_id, lending_id, fee_fen) in unwritten.items():
            self._write_due(key, item_id, lending_id, fee_fen)  # StoreFull: still full, the next pass tries
            log.info("payments.settle_resumed key=%s item=%s", key, item_id)
            with self._lock:
                self._unwritten.pop(key, None)
        return len(unwritten)

    def settle_due(self, settle_key: str) -> dict[str, Any] | None:
        rows = self.store.query("SELECT * FROM pay_settlements WHERE settle_key = ?", (settle_key,))
        if not rows or rows[0]["state"] != "due":
            return json.loads(rows[0]["result_json"]) if rows and rows[0]["result_json"] else None
        r = rows[0]
        where: dict[str, Any] = {"item_id": r["item_id"]}  # a lending of another station: its open deposit
        if r["lending_id"]:
            lent = self.store.query("SELECT member_id FROM lendings WHERE lending_id = ?", (r["lending_id"],))
            soid = lent[0]["member_id"].removeprefix(PAYER_PREFIX) if lent else ""
            own = self.store.query("SELECT order_id FROM pay_orders WHERE station_order_id = ?", (soid,))
            if own and own[0]["order_id"]:
                where = {"order_id": own[0]["order_id"]}  # ours: the very order, reported or not
        try:
            out = self.centre.settle({"settle_key": settle_key, **where, "fee_fen": r["fee_fen"],
                                      "reason": "return: deposit minus fee"}, timeout_s=5.0)
            state = "done"
        except PaymentRefused as e:
            out = {"refund_fen": 0, "note": "no paid deposit for this item"}
            state = {"not_found": "no_deposit", "payments_off": "off"}.get(e.code, "refused")
            if state == "refused":  # e.g. settled already under another key: a lasting answer, not retried
                out = {"refund_fen": 0, "note": f"{e.code}: {e}"}
                log.warning("payments.settle_refused key=%s %s", settle_key, e.code)
        except PaymentUnavailable:
            return None  # centre down: periodic() retries with the same key, so the refund happens once
        try:
            with self.store.transaction() as conn:
                conn.execute("UPDATE pay_settlements SET state = ?, result_json = ?, updated_at = ?"
                             " WHERE settle_key = ?", (state, json.dumps(out), self.clock(), settle_key))
        except StoreFull as exc:
            # the centre settled (or refused) but its answer is not recorded: the row stays due, and periodic()
            # asks again with the same key, which the centre answers with the same settlement (one refund)
            log.warning("payments.settle_unrecorded key=%s error=%s", settle_key, exc)
            return None
        log.info("payments.settled key=%s %s", settle_key, out)
        return out

    def settlement(self, item_id: str) -> dict[str, Any] | None:
        rows = self.store.query("SELECT * FROM pay_settlements WHERE item_id = ? ORDER BY created_at DESC LIMIT 1",
                                (item_id,))
        if not rows:
            return None
        r = rows[0]
        return {"settle_key": r["settle_key"], "state": r["state"], "fee_fen": r["fee_fen"],
                **(json.loads(r["result_json"]) if r["result_json"] else {})}

    # -- recovery --------------------------------------------------------------------------------------------
    def reconcile(self) -> int:
        """After a restart (lending reconciled first): settle every order a previous run left midway."""
        touched = 0
        for o in self.orders(("creating", "open", "paid", "dispensing", "dispensed", "refund_due")):
            touched += 1
            try:
                self._reconcile_one(o)
            except (PaymentUnavailable, PaymentRefused) as e:
                log.warning("payments.reconcile_later order=%s %s", o.station_order_id, e)
            except StoreFull as exc:  # its state unchanged: asked again (same keys) on a pass with room
                log.warning("payments.reconcile_deferred order=%s error=%s", o.station_order_id, exc)
        return touched

    def _reconcile_one(self, o: PayOrder) -> None:
        soid = o.station_order_id
        payer = PAYER_PREFIX + soid
        if o.state in ("creating", "open"):
            view = self.centre.get(soid) if o.state == "open" else None
            if o.state == "creating":
                try:
                    view = self.centre.get(soid)
                except PaymentRefused:  # the centre never got it: nothing to pay, nothing to close
                    self._set(soid, state="closed")
                    return
            assert view is not None
            if view["state"] in ("creating", "open"):
                self.cancel(soid)  # the shopper in front of the QR is gone with the old run
            elif view["state"] == "paid" and o.purpose in FEE_PURPOSES:
                self._set(soid, state="paid", order_id=view["order_id"])
                self.collect_fee(soid)
            elif view["state"] == "paid":
                self._set(soid, state="refund_due", order_id=view["order_id"])
                self.refund_in_full(soid)
            else:
                self._set(soid, state=view["state"])
        elif o.state == "paid" and o.purpose in FEE_PURPOSES:
            self.collect_fee(soid)
        elif o.state == "paid":  # paid, door never commanded
            self._set(soid, state="refund_due")
            self.refund_in_full(soid)
        elif o.state == "dispensing":
            lent = self._lending_of(payer)
            if lent is not None:  # the item left: keep the deposit
                self._set(soid, state="dispensed", lending_id=lent[0], item_id=lent[1])
                self.report_dispensed(soid)
            elif not self._open_intent(payer):  # the door did not give the item: refund
                self._set(soid, state="refund_due")
                self.refund_in_full(soid)
        elif o.state == "dispensed":
            self.report_dispensed(soid)
        elif o.state == "refund_due":
            self.refund_in_full(soid)

    def settle_bought(self) -> int:
        """A QR-paid item kept past the policy's days (the lending service marked it bought): the deposit
        becomes the price — settled at the centre with fee = price, nothing refunded."""
        rows = self.store.query(
            "SELECT l.lending_id, l.item_id, l.fee_cents FROM lendings l WHERE l.status = 'bought'"
            " AND l.member_id LIKE ? AND NOT EXISTS (SELECT 1 FROM pay_settlements s WHERE s.lending_id ="
            " l.lending_id)", (PAYER_PREFIX + "%",))
        for r in rows:
            key = f"bought-{r['lending_id'][-40:]}"
            try:
                self._write_due(key, r["item_id"], r["lending_id"], KEEP_WHOLE_DEPOSIT)
            except StoreFull as exc:  # found again by this query on the next pass
                log.warning("payments.settle_deferred key=%s error=%s", key, exc)
                continue
            self.settle_due(key)
        since = float(self.store.query("SELECT value FROM pay_meta WHERE key = 'fees_since'")[0]["value"])
        members = self.store.query(  # a member's item kept past the limit: its price is owed like a fee
            "SELECT l.lending_id, l.member_id, l.item_type, l.fee_cents FROM lendings l WHERE l.status = 'bought'"
            " AND l.member_id NOT LIKE ? AND l.started_at >= ? AND l.fee_cents > 0 AND NOT EXISTS"
            " (SELECT 1 FROM pay_fees f WHERE f.lending_id = l.lending_id)", (PAYER_PREFIX + "%", since))
        for m in members:
            try:
                self.owe_fee(m["lending_id"], m["member_id"], m["item_type"], int(m["fee_cents"]))
            except StoreFull as exc:  # found again by this query on the next pass
                log.warning("payments.fee_deferred lending=%s error=%s", m["lending_id"], exc)
        return len(rows) + len(members)

    def periodic(self) -> None:
        """Retries what waited on the centre: reports, refunds, settlements; deposits of items kept (bought).

        Each part goes on when the disk is full: what could not be written keeps its state (or its place in
        memory) and is retried on a later pass with the same key; nothing is taken as done that did not commit."""
        try:
            self.write_deferred()
        except StoreFull as exc:
            log.warning("payments.settle_deferred still_full error=%s", exc)
        self.settle_bought()
        self.reconcile_stuck()
        now = self.clock()
        try:
            with self.store.transaction() as conn:  # another station may not have reported its dispense yet
                conn.execute("UPDATE pay_settlements SET state = 'due' WHERE state = 'no_deposit' AND created_at > ?"
                             " AND updated_at < ?", (now - NO_DEPOSIT_RECHECK_S, now - NO_DEPOSIT_RECHECK_EVERY_S))
        except StoreFull as exc:  # asked again on a pass with room
            log.warning("payments.recheck_deferred error=%s", exc)
        for r in self.store.query("SELECT settle_key FROM pay_settlements WHERE state = 'due'"):
            self.settle_due(r["settle_key"])

    def reconcile_stuck(self) -> None:
        """Reports and refunds that waited on the centre; QRs whose shopper has gone (the screen's close did not
        reach the centre): closed, and refunded in full if they were paid after all."""
        old = self.clock() - self.abandoned_after_s
        gone = [r["station_order_id"] for r in self.store.query(
            "SELECT station_order_id FROM pay_orders WHERE state IN ('creating', 'open') AND created_at < ?", (old,))]
        # an order left `dispensing` by a full disk (its door's outcome not written, or the borrow's intent settled
        # by housekeeping later) is settled like after a restart once its door's outcome is known (a lending, or
        # an intent that is no longer open) and the door is not opening in this process now; one whose borrow has
        # no intent yet is left alone (it may be opening in another process: `lend --pay`)
        stuck = self.orders(("dispensed", "refund_due", "dispensing"))
        with self._lock:  # read after the rows: `dispense` marks the row and the set under this lock
            busy = set(self._dispensing)
        stuck = [o for o in stuck if o.state != "dispensing"
                 or (o.station_order_id not in busy and self._door_outcome_known(PAYER_PREFIX + o.station_order_id))]
        for o in [*stuck, *(self.order(soid) for soid in gone)]:
            try:
                self._reconcile_one(o)
            except (PaymentUnavailable, PaymentRefused) as e:
                log.info("payments.retry_later order=%s %s", o.station_order_id, e)
            except StoreFull as exc:  # its state unchanged: asked again (same keys) on a pass with room
                log.warning("payments.reconcile_deferred order=%s error=%s", o.station_order_id, exc)
