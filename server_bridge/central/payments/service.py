"""The centre's payments: orders for stations, notifications, query fallback, refund jobs, settlement of returns.

Every money movement is a row committed before the provider is called, keyed so that a repeat (after a lost
answer, a crash, a duplicate request) reaches the provider with the same key: out_trade_no is derived from
(station, station_order_id), out_refund_no from (order, refund_key). An unknown outcome is never success: the
row stays pending and is retried or queried until the provider says what happened.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from drivers.payment import (
    InvalidNotification,
    OutcomeUnknown,
    PaymentNotice,
    PaymentProvider,
    PaymentRefused,
)
from server_bridge.central.db import Database
from server_bridge.central.errors import CentralError, NotFound
from server_bridge.central.payments.models import PaymentMismatch, PaymentOrder, RefundJob

log = logging.getLogger(__name__)
CST = timezone(timedelta(hours=8))
DEFAULT_MAX_AMOUNT_FEN = 10_000_000


class PaymentConflict(CentralError):
    code = "payment_conflict"
    status = 409


class PaymentInvalid(CentralError):
    code = "payment_invalid"
    status = 422


class ProviderRefused(CentralError):
    code = "provider_refused"
    status = 422


class ProviderUnavailable(CentralError):
    code = "provider_unavailable"
    status = 503


class PaymentsOff(CentralError):
    """This centre takes no payments (serve without --payments): a lasting refusal, not a passing fault."""
    code = "payments_off"
    status = 404


def check_merchant_file(path: str) -> None:
    """Raises (with the reason) when the merchant file is not usable: before the server starts."""
    from drivers.payment.config import load_merchant

    load_merchant(path)


def uses_real_gateways(path: str) -> bool:
    """True when the merchant file names no `gateway_url` (the providers' own gateways, not the simulator)."""
    from drivers.payment.config import load_merchant

    return load_merchant(path).gateway_url is None


def order_id_for(station_id: str, station_order_id: str) -> str:
    return "P" + hashlib.sha256(f"{station_id}:{station_order_id}".encode()).hexdigest()[:27]


def refund_no_for(order_id: str, refund_key: str) -> str:
    return "R" + hashlib.sha256(f"{order_id}:{refund_key}".encode()).hexdigest()[:27]


def china_day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, CST).date().isoformat()


ENV_QUERY_AFTER = "CENTRAL_PAY_QUERY_AFTER_S"
ENV_QUERY_EVERY = "CENTRAL_PAY_QUERY_EVERY_S"
# The query fallback against the real gateways: WeChat Pay's guide for Native pay polls the order about every 2 s
# for about 60 s after the QR is shown, Alipay's asks for 3–6 s intervals over about 60 s. A notification
# normally arrives within a second or two, so the first query waits 3 s and then one runs every 3 s — 20
# queries a minute per open QR, inside both providers' advice, paid → door within 3–6 s when the notification
# is lost. The simulator answers in milliseconds and never rate-limits: 0.4 s there (bench/payment_flow.py).
REAL_QUERY_AFTER_S, REAL_QUERY_EVERY_S = 3.0, 3.0
SIM_QUERY_AFTER_S, SIM_QUERY_EVERY_S = 0.4, 0.4


@dataclass
class Settings:
    order_ttl_s: float = 300.0        # a QR stays payable this long, then it is closed
    query_after_s: float = SIM_QUERY_AFTER_S  # no notification this long after creation → query the provider
    query_every_s: float = SIM_QUERY_EVERY_S  # … and again at most this often while the QR is open
    poll_every_s: float = 0.1
    refund_backoff_max_s: float = 30.0
    max_amount_fen: int = DEFAULT_MAX_AMOUNT_FEN

    @classmethod
    def for_gateway(cls, real_gateway: bool, env: dict[str, str] | None = None) -> Settings:
        """The query fallback's pace: the real providers' advice, or the simulator's (a `gateway_url` in the
        merchant file); `CENTRAL_PAY_QUERY_AFTER_S` / `CENTRAL_PAY_QUERY_EVERY_S` override either."""
        env = env if env is not None else {}
        after, every = (REAL_QUERY_AFTER_S, REAL_QUERY_EVERY_S) if real_gateway else (SIM_QUERY_AFTER_S,
                                                                                        SIM_QUERY_EVERY_S)
        return cls(query_after_s=float(env.get(ENV_QUERY_AFTER, after)),
                   query_every_s=float(env.get(ENV_QUERY_EVERY, every)))


def order_view(o: PaymentOrder, refunds: list[RefundJob]) -> dict[str, Any]:
    return {"order_id": o.order_id, "station_id": o.station_id, "station_order_id": o.station_order_id,
            "provider": o.provider, "purpose": o.purpose, "amount_fen": o.amount_fen, "description": o.description,
            "item_type": o.item_type, "item_id": o.item_id, "lending_id": o.lending_id, "member_id": o.member_id,
            "qr": o.qr, "state": o.state, "transaction_id": o.transaction_id, "paid_via": o.paid_via,
            "created_at": o.created_at, "expires_at": o.expires_at, "paid_at": o.paid_at, "closed_at": o.closed_at,
            "settled_at": o.settled_at, "fee_fen": o.fee_fen, "error": o.error,
            "refunds": [refund_view(r) for r in refunds]}


def refund_view(r: RefundJob) -> dict[str, Any]:
    return {"out_refund_no": r.out_refund_no, "order_id": r.order_id, "refund_key": r.refund_key,
            "station_id": r.station_id, "amount_fen": r.amount_fen, "reason": r.reason, "state": r.state,
            "attempts": r.attempts, "created_at": r.created_at, "done_at": r.done_at, "refund_id": r.refund_id,
            "last_error": r.last_error}


class PaymentsCentre:
    def __init__(self, db: Database, providers: dict[str, PaymentProvider], public_url: str, *,
                 settings: Settings | None = None, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.providers = providers
        self.public_url = public_url.rstrip("/")
        self.settings = settings or Settings()
        self.clock = clock
        self.changed = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._wake_refunds = threading.Event()
        self.counters = {"notifications": 0, "notifications_refused": 0, "queries": 0, "paid_by_query": 0,
                         "refund_calls": 0}

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> PaymentsCentre:
        for name, target in (("payments-poller", self._poll_loop), ("payments-refunds", self._refund_loop)):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake_refunds.set()
        for t in self._threads:
            t.join(5)

    def _bump(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def provider(self, name: str) -> PaymentProvider:
        p = self.providers.get(name)
        if p is None:
            raise PaymentInvalid(f"provider {name!r} is not configured here", field="provider")
        return p

    def notify_url(self, provider: str) -> str:
        return f"{self.public_url}/api/v1/payments/{provider}/notify"

    # -- orders ----------------------------------------------------------------------------------------------
    def create_order(self, station_id: str, req: dict[str, Any]) -> dict[str, Any]:
        provider = self.provider(req["provider"])
        amount = req["amount_fen"]
        if not 1 <= amount <= self.settings.max_amount_fen:
            raise PaymentInvalid(f"amount_fen must be 1..{self.settings.max_amount_fen}", field="amount_fen")
        oid = order_id_for(station_id, req["station_order_id"])
        now = self.clock()
        keys = ("provider", "purpose", "amount_fen", "description", "item_type", "item_id", "lending_id", "member_id")
        with self.db.session() as s:
            o = s.get(PaymentOrder, oid)
            if o is None:
                o = PaymentOrder(order_id=oid, station_id=station_id, station_order_id=req["station_order_id"],
                                 state="creating", created_at=now, expires_at=now + self.settings.order_ttl_s,
                                 **{k: req.get(k) for k in keys})
                s.add(o)
            elif any(getattr(o, k) != req.get(k) for k in keys):
                raise PaymentConflict("station_order_id already used for another order", field="station_order_id")
            if o.state != "creating":
                return self._view(s, o)
        try:
            qr = provider.create_qr(oid, amount, req["description"], self.notify_url(req["provider"]))
        except PaymentRefused as e:
            with self.db.session() as s:
                o = s.get(PaymentOrder, oid)
                assert o is not None
                if o.state == "creating":
                    o.state, o.error, o.closed_at = "failed", f"{e.code}: {e.message}", self.clock()
            raise ProviderRefused(f"{e.provider} refused the order: {e.code} {e.message}".strip()) from e
        except OutcomeUnknown as e:
            raise ProviderUnavailable(f"provider did not answer; ask again with the same station_order_id ({e})") from e
        with self.db.session() as s:
            o = s.get(PaymentOrder, oid)
            assert o is not None
            if o.state == "creating":
                o.state, o.qr = "open", qr.qr
            view = self._view(s, o)
        self._bump()
        return view

    def _view(self, s: Session, o: PaymentOrder) -> dict[str, Any]:
        refunds = s.scalars(select(RefundJob).where(RefundJob.order_id == o.order_id)
                            .order_by(RefundJob.created_at)).all()
        return order_view(o, list(refunds))

    def _own(self, s: Session, station_id: str, station_order_id: str) -> PaymentOrder:
        o = s.get(PaymentOrder, order_id_for(station_id, station_order_id))
        if o is None:
            raise NotFound("no such payment order for this station")
        return o

    def get_order(self, station_id: str, station_order_id: str, wait_s: float = 0.0) -> dict[str, Any]:
        """The order; with `wait_s`, waits up to that long for it to leave `creating`/`open` (long poll)."""
        deadline = time.monotonic() + min(max(wait_s, 0.0), 25.0)
        while True:
            with self.db.session() as s:
                view = self._view(s, self._own(s, station_id, station_order_id))
            left = deadline - time.monotonic()
            if view["state"] not in ("creating", "open") or left <= 0:
                return view
            with self.changed:
                self.changed.wait(min(left, 1.0))

    def dispensed(self, station_id: str, station_order_id: str, item_id: str, lending_id: str) -> dict[str, Any]:
        """The paid item left its slot: remember which, so a return at any station finds this deposit."""
        with self.db.session() as s:
            o = self._own(s, station_id, station_order_id)
            if o.state != "paid":
                raise PaymentInvalid(f"order is {o.state}, not paid")
            if o.item_id not in (None, item_id) or o.lending_id not in (None, lending_id):
                raise PaymentConflict("order already names another item or lending", field="item_id")
            o.item_id, o.lending_id = item_id, lending_id
            return self._view(s, o)

    def close_order(self, station_id: str, station_order_id: str) -> dict[str, Any]:
        """The shopper gave up: close at the provider. A payment that raced the close wins (state paid)."""
        with self.db.session() as s:
            o = self._own(s, station_id, station_order_id)
            oid, state, provider = o.order_id, o.state, o.provider
        if state in ("creating", "open"):
            self._close_at_provider(oid, provider)
        with self.db.session() as s:
            return self._view(s, self._own(s, station_id, station_order_id))

    def _close_at_provider(self, oid: str, provider: str) -> None:
        p = self.provider(provider)
        try:
            p.close(oid)
        except PaymentRefused as e:
            log.info("payments.close_refused order=%s code=%s", oid, e.code)  # e.g. already paid: query decides
        except OutcomeUnknown as e:
            raise ProviderUnavailable(f"close not confirmed: {e}") from e
        status = p.query(oid)
        if status.state in ("SUCCESS", "REFUND"):
            self.mark_paid(oid, status.transaction_id or "", status.amount_fen or 0, "query")
            return
        with self.db.session() as s:
            o = s.get(PaymentOrder, oid)
            if o is not None and o.state in ("creating", "open"):
                o.state, o.closed_at = "closed", self.clock()
        self._bump()

    # -- paid ------------------------------------------------------------------------------------------------
    def mark_paid(self, oid: str, transaction_id: str, amount_fen: int, via: str) -> bool:
        """True when this call moved the order to paid; a repeat (duplicate notification, query after the
        notification) changes nothing."""
        with self.db.session() as s:
            o = s.get(PaymentOrder, oid)
            if o is None:
                raise NotFound(f"no order {oid}")
            if amount_fen != o.amount_fen:
                raise PaymentInvalid(f"paid amount {amount_fen} is not the order's {o.amount_fen}")
            if o.state == "paid":
                return False
            late = o.state in ("closed", "failed")
            o.state, o.transaction_id, o.paid_at, o.paid_via = "paid", transaction_id, self.clock(), via
            if late:  # money arrived for a QR we had given up on: give it back
                self._add_refund(s, o, "late-payment", o.amount_fen, "paid after the order was closed", "centre")
                o.settled_at, o.settle_key = self.clock(), f"{oid}:late-payment"
        log.info("payments.paid order=%s via=%s", oid, via)
        self._bump()
        self._wake_refunds.set()
        return True

    def notification(self, provider: str, headers: dict[str, str], body: bytes) -> PaymentNotice:
        """Verify and apply a provider notification. Raises InvalidNotification (nothing changed)."""
        p = self.provider(provider)
        try:
            notice = p.verify_notification(headers, body)
        except InvalidNotification:
            self.counters["notifications_refused"] += 1
            raise
        try:
            self.mark_paid(notice.out_trade_no, notice.transaction_id, notice.amount_fen, "notification")
        except (NotFound, PaymentInvalid) as e:
            self.counters["notifications_refused"] += 1
            raise InvalidNotification(str(e)) from e
        self.counters["notifications"] += 1
        return notice

    # -- query fallback --------------------------------------------------------------------------------------
    def poll_once(self) -> int:
        """Query the provider for open orders past `query_after_s` without news; close expired ones."""
        now = self.clock()
        st = self.settings
        with self.db.session() as s:
            rows = s.execute(select(PaymentOrder.order_id, PaymentOrder.provider, PaymentOrder.expires_at,
                                    PaymentOrder.state)
                             .where(PaymentOrder.state.in_(("open", "creating")),
                                    PaymentOrder.created_at <= now - st.query_after_s,
                                    (PaymentOrder.last_query_at.is_(None))
                                    | (PaymentOrder.last_query_at <= now - st.query_every_s))
                             .limit(200)).all()
        done = 0
        for oid, provider, expires_at, state in rows:
            if self._stop.is_set():
                break
            with self.db.session() as s:
                o = s.get(PaymentOrder, oid)
                if o is not None:
                    o.last_query_at = now
            try:
                status = self.provider(provider).query(oid)
                self.counters["queries"] += 1
            except (OutcomeUnknown, PaymentRefused) as e:
                log.info("payments.query_failed order=%s %s", oid, e)
                continue
            if status.state in ("SUCCESS", "REFUND"):
                if self.mark_paid(oid, status.transaction_id or "", status.amount_fen or 0, "query"):
                    self.counters["paid_by_query"] += 1
                done += 1
            elif status.state == "CLOSED" or (now > expires_at and state == "creating"
                                               and status.state == "NOT_FOUND"):
                with self.db.session() as s:
                    o = s.get(PaymentOrder, oid)
                    if o is not None and o.state in ("open", "creating"):
                        o.state, o.closed_at = "closed", now
                self._bump()
            elif now > expires_at:
                try:
                    self._close_at_provider(oid, provider)
                except (ProviderUnavailable, OutcomeUnknown) as e:
                    log.info("payments.close_failed order=%s %s", oid, e)
        return done

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.settings.poll_every_s):
            try:
                self.poll_once()
            except Exception:
                log.exception("payments.poll_failed")

    # -- refunds ---------------------------------------------------------------------------------------------
    def _refunded_or_due(self, s: Session, oid: str) -> int:
        total = s.scalar(select(func.coalesce(func.sum(RefundJob.amount_fen), 0))
                         .where(RefundJob.order_id == oid, RefundJob.state != "refused"))
        return int(total or 0)

    def _add_refund(self, s: Session, o: PaymentOrder, key: str, amount: int, reason: str,
                    station_id: str) -> RefundJob:
        rno = refund_no_for(o.order_id, key)
        job = s.get(RefundJob, rno)
        if job is not None:
            if job.amount_fen != amount:
                raise PaymentConflict("refund_key already used with another amount", field="refund_key")
            return job
        if o.state != "paid":
            raise PaymentInvalid(f"order is {o.state}, not paid: nothing to refund")
        if amount < 1:
            raise PaymentInvalid("refund amount must be at least 1 fen", field="amount_fen")
        if self._refunded_or_due(s, o.order_id) + amount > o.amount_fen:
            raise PaymentInvalid("refunds would exceed what was paid", field="amount_fen")
        now = self.clock()
        job = RefundJob(out_refund_no=rno, order_id=o.order_id, refund_key=key, station_id=station_id,
                        amount_fen=amount, reason=reason[:80], state="pending", attempts=0, next_attempt_at=now,
                        created_at=now)
        s.add(job)
        s.flush()
        return job

    def request_refund(self, station_id: str, station_order_id: str, refund_key: str, amount_fen: int,
                       reason: str) -> dict[str, Any]:
        with self.db.session() as s:
            o = self._own(s, station_id, station_order_id)
            view = refund_view(self._add_refund(s, o, refund_key, amount_fen, reason, station_id))
        self._wake_refunds.set()
        return view

    def settle(self, station_id: str, req: dict[str, Any]) -> dict[str, Any]:
        """A return (at any station) or a borrow that never dispensed: refund deposit − fee, exactly once per
        deposit order. Found by `order_id`, or by `item_id` (the open deposit of that item)."""
        settle_key = f"{station_id}:{req['settle_key']}"
        fee = req["fee_fen"]
        with self.db.session() as s:
            o: PaymentOrder | None
            if req.get("order_id"):
                o = s.get(PaymentOrder, req["order_id"])
            elif req.get("item_id"):
                o = s.scalars(select(PaymentOrder).where(PaymentOrder.item_id == req["item_id"],
                                                         PaymentOrder.purpose == "deposit",
                                                         PaymentOrder.state == "paid",
                                                         PaymentOrder.settled_at.is_(None))
                              .order_by(PaymentOrder.paid_at.desc()).limit(1)).first()
                if o is None:  # already settled by this very request?
                    o = s.scalars(select(PaymentOrder).where(PaymentOrder.settle_key == settle_key)).first()
            else:
                raise PaymentInvalid("order_id or item_id is required", field="order_id")
            if o is None:
                raise NotFound("no paid deposit to settle")
            if o.settle_key is not None and o.settle_key != settle_key:
                raise PaymentConflict(f"deposit {o.order_id} was already settled", field="settle_key")
            if o.state != "paid":
                raise PaymentInvalid(f"order is {o.state}: no deposit was paid")
            if o.settle_key is None:
                if fee < 0:
                    raise PaymentInvalid("fee_fen must be ≥ 0", field="fee_fen")
                o.settle_key, o.settled_at, o.fee_fen = settle_key, self.clock(), min(fee, o.amount_fen)
                refund = o.amount_fen - o.fee_fen
                if refund > 0:
                    self._add_refund(s, o, "settle", refund, str(req.get("reason") or "deposit minus fee"), station_id)
            job = s.get(RefundJob, refund_no_for(o.order_id, "settle"))
            out = {"order_id": o.order_id, "deposit_fen": o.amount_fen, "fee_fen": o.fee_fen,
                   "refund_fen": job.amount_fen if job else 0, "out_refund_no": job.out_refund_no if job else None,
                   "refund_state": job.state if job else None, "kept_fen": o.fee_fen}
        self._wake_refunds.set()
        return out

    def refund_status(self, out_refund_no: str) -> dict[str, Any]:
        with self.db.session() as s:
            job = s.get(RefundJob, out_refund_no)
            if job is None:
                raise NotFound("no such refund")
            return refund_view(job)

    def refund_once(self, limit: int = 50) -> int:
        """One pass of the refund worker over due jobs; returns how many finished."""
        now = self.clock()
        with self.db.session() as s:
            jobs = s.execute(select(RefundJob.out_refund_no, RefundJob.order_id, RefundJob.amount_fen,
                                    RefundJob.reason, RefundJob.state, RefundJob.attempts, PaymentOrder.provider,
                                    PaymentOrder.amount_fen)
                             .join(PaymentOrder, PaymentOrder.order_id == RefundJob.order_id)
                             .where(RefundJob.state.in_(("pending", "processing")),
                                    RefundJob.next_attempt_at <= now)
                             .order_by(RefundJob.next_attempt_at).limit(limit)).all()
        finished = 0
        for rno, oid, amount, reason, state, attempts, provider, total in jobs:
            if self._stop.is_set():
                break
            p = self.provider(provider)
            error: str | None = None
            new_state, refund_id = state, None
            try:
                self.counters["refund_calls"] += 1
                if state == "pending":
                    r = p.refund(oid, rno, amount, total, reason)
                else:
                    r = p.query_refund(oid, rno)
                    if r.state == "NOT_FOUND":
                        r = p.refund(oid, rno, amount, total, reason)
                new_state = {"SUCCESS": "succeeded", "PROCESSING": "processing"}.get(r.state, state)
                if r.state in ("CLOSED", "ABNORMAL"):
                    new_state, error = "refused", f"provider refund {r.state}"
                refund_id = r.refund_id
            except PaymentRefused as e:
                new_state, error = "refused", f"{e.code}: {e.message}"
            except OutcomeUnknown as e:
                error = str(e)  # stays pending: the same out_refund_no is sent again later
            with self.db.session() as s:
                job = s.get(RefundJob, rno)
                if job is None or job.state in ("succeeded", "refused"):
                    continue
                job.attempts = attempts + 1
                job.last_error = error
                job.refund_id = refund_id or job.refund_id
                job.state = new_state
                if new_state in ("succeeded", "refused"):
                    job.done_at = self.clock()
                    finished += 1
                    if new_state == "refused":
                        log.warning("payments.refund_refused %s %s", rno, error)
                else:
                    wait = 0.2 if new_state == "processing" else min(self.settings.refund_backoff_max_s,
                                                                      0.25 * 2 ** min(attempts, 8))
                    job.next_attempt_at = self.clock() + wait
        if finished:
            self._bump()
        return finished

    def _refund_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.refund_once()
            except Exception:
                log.exception("payments.refund_pass_failed")
            self._wake_refunds.wait(0.1)
            self._wake_refunds.clear()

    # -- reconciliation --------------------------------------------------------------------------------------
    def reconcile(self, provider: str, day: date) -> list[dict[str, Any]]:
        """Compare the provider's bill of `day` (China time) with the ledger; record each difference."""
        rows = self.provider(provider).trade_bill(day)
        d = day.isoformat()
        start = datetime(day.year, day.month, day.day, tzinfo=CST).timestamp()
        end = start + 86400
        found: list[tuple[str, str, str, str]] = []  # kind, ref, station, detail
        with self.db.session() as s:
            paid = {o.order_id: o for o in s.scalars(select(PaymentOrder).where(
                PaymentOrder.provider == provider, PaymentOrder.paid_at >= start, PaymentOrder.paid_at < end))}
            refunds = {r.out_refund_no: r for r in s.scalars(
                select(RefundJob).join(PaymentOrder, PaymentOrder.order_id == RefundJob.order_id)
                .where(PaymentOrder.provider == provider, RefundJob.state == "succeeded",
                       RefundJob.done_at >= start, RefundJob.done_at < end))}
            billed_pay = {r.out_trade_no: r for r in rows if r.kind == "payment"}
            billed_ref = {r.out_refund_no: r for r in rows if r.kind == "refund" and r.out_refund_no}
            for oid, o in paid.items():
                b = billed_pay.get(oid)
                if b is None:
                    found.append(("missing_at_provider", oid, o.station_id, f"paid {o.amount_fen} fen, not billed"))
                elif b.amount_fen != o.amount_fen:
                    found.append(("amount_differs", oid, o.station_id, f"ledger {o.amount_fen}, bill {b.amount_fen}"))
            for oid, b in billed_pay.items():
                if oid not in paid:
                    known = s.get(PaymentOrder, oid)
                    if known is None or known.state != "paid":
                        found.append(("extra_at_provider", oid, known.station_id if known else "",
                                      f"billed {b.amount_fen} fen, not paid in the ledger"))
            for rno, r in refunds.items():
                rb = billed_ref.get(rno)
                if rb is None:
                    found.append(("missing_at_provider", rno, r.station_id, f"refund {r.amount_fen} fen, not billed"))
                elif rb.amount_fen != r.amount_fen:
                    found.append(("amount_differs", rno, r.station_id, f"ledger {r.amount_fen}, bill {rb.amount_fen}"))
            for rno, rb in billed_ref.items():
                if rno not in refunds:
                    job = s.get(RefundJob, rno)
                    if job is None or job.state != "succeeded":
                        found.append(("extra_at_provider", rno, job.station_id if job else "",
                                      f"billed refund {rb.amount_fen} fen, not in the ledger"))
            now = self.clock()
            for kind, ref, station, detail in found:
                exists = s.scalars(select(PaymentMismatch).where(
                    PaymentMismatch.provider == provider, PaymentMismatch.day == d, PaymentMismatch.kind == kind,
                    PaymentMismatch.ref == ref)).first()
                if exists is None:
                    s.add(PaymentMismatch(provider=provider, day=d, kind=kind, ref=ref, station_id=station,
                                          detail=detail, found_at=now))
        return [{"provider": provider, "day": d, "kind": k, "ref": r, "station_id": st, "detail": det}
                for k, r, st, det in found]
