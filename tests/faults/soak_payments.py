"""Payments in the fault soak (issue 14): the gateway simulator, its faults, and the money verdict.

The soak's stations take QR deposits for power banks (`soak_station.py --pay-gateway URL`): a share of the
shoppers pay by WeChat Pay or Alipay through the centre, act out the phone on the simulator's control API, and
borrow; some walk away from the QR. Items come back anywhere like the members' ones, so deposits are settled at
either station. On top of the soak's own faults (station killed, centre down, broker restart …) the simulator
drops, duplicates and delays notifications, times out a create / query / refund call and fails a refund once.

The verdict is read from the gateway's ledger (what the providers would have on their books), the stations'
`pay_orders` / `lendings` and the centre's `payment_orders` / `payment_refunds`:
- double_refunds: a trade refunded beyond what was paid, or a deposit refunded by two refunds;
- paid_neither_dispensed_nor_refunded: money taken, no item left for it, and nothing refunded;
- dispensed_and_refunded_in_full: the item left and the whole deposit also came back as "not dispensed";
- refunds_without_payment: a refund on a trade that was never paid, or a centre refund job for an unpaid order.
"""
from __future__ import annotations

import random
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from drivers.payment.gateway import Gateway

DEPOSIT_FEN = 9900
# kind → weight; each is armed once at the gateway (the next matching call or notification meets it)
PAYMENT_FAULTS = {"drop_notification": 3, "duplicate_notification": 2, "delay_notification": 2, "timeout_create": 1,
                  "timeout_query": 1, "timeout_refund": 2, "fail_refund": 2}


class PaymentSoak:
    def __init__(self, workdir: Path, rng: random.Random) -> None:
        self.dir = workdir / "payment-gateway"
        self.rng = rng
        self.gateway: Gateway | None = None
        self.running = False
        self.faults: Counter[str] = Counter()

    def start(self) -> PaymentSoak:
        self.gateway = Gateway(self.dir, notify_retry=(0.2, 0.5, 1.0, 2.0, 5.0)).start()
        self.running = True
        return self

    def stop(self) -> None:
        """The server stops; its ledger stays readable for the verdict."""
        if self.gateway is not None and self.running:
            self.gateway.stop()
            self.running = False

    @property
    def url(self) -> str:
        assert self.gateway is not None
        return self.gateway.url

    def centre_env(self, centre_url: str) -> dict[str, str]:
        """What the centre process needs to take payments from the soak's stations."""
        assert self.gateway is not None
        return {"CENTRAL_PAYMENTS": str(self.gateway.merchant_file), "CENTRAL_PUBLIC_URL": centre_url}

    def inject(self) -> str | None:
        """Arm one payment fault at the gateway; its kind, or None when the gateway did not take it."""
        kinds = list(PAYMENT_FAULTS)
        kind = self.rng.choices(kinds, weights=[PAYMENT_FAULTS[k] for k in kinds])[0]
        body: dict[str, Any] = {"kind": kind, "provider": self.rng.choice(("any", "wechat", "alipay"))}
        if kind == "delay_notification":
            body["seconds"] = round(self.rng.uniform(1.0, 4.0), 1)
        elif kind.startswith("timeout_"):
            # the call takes effect (or not) and the answer is held past the adapter's timeout: outcome unknown
            body.update(kind="timeout", op=kind.removeprefix("timeout_"), seconds=7.0,
                        apply=self.rng.random() < 0.5)
        try:
            httpx.post(self.url + "/_sim/faults", json=body, timeout=5).raise_for_status()
        except httpx.HTTPError:
            return None
        self.faults[kind] += 1
        return kind

    def clear(self) -> None:
        httpx.delete(self.url + "/_sim/faults", timeout=5)

    # -- settled / verdict ------------------------------------------------------------------------------------
    def unsettled(self, station_dbs: list[Path], centre_db: Path) -> int:
        """Money still moving: station orders midway, settlements due, centre refunds not finished."""
        n = 0
        for db in station_dbs:
            n += _count(db, "SELECT COUNT(*) FROM pay_orders WHERE state IN "
                            "('creating', 'open', 'paid', 'dispensing', 'dispensed', 'refund_due')")
            n += _count(db, "SELECT COUNT(*) FROM pay_settlements WHERE state = 'due'")
        n += _count(centre_db, "SELECT COUNT(*) FROM payment_refunds WHERE state IN ('pending', 'processing')")
        return n

    def verdict(self, station_dbs: list[Path], centre_db: Path) -> dict[str, Any]:
        assert self.gateway is not None
        trades = {(t["provider"], t["out_trade_no"]): t for t in self.gateway.ledger.snapshot()}
        centre = _rows(centre_db, "SELECT * FROM payment_orders")
        jobs = _rows(centre_db, "SELECT * FROM payment_refunds")
        dispensed: set[str] = set()   # centre order ids whose item left (a PAY- lending at its station)
        station_orders: dict[str, dict[str, Any]] = {}
        for db in station_dbs:
            sid = db.parent.name
            lent = {r["member_id"].removeprefix("PAY-") for r in _rows(db, "SELECT member_id FROM lendings WHERE "
                                                                           "member_id LIKE 'PAY-%'")}
            for o in _rows(db, "SELECT * FROM pay_orders"):
                station_orders[f"{sid}:{o['station_order_id']}"] = o
                if o["station_order_id"] in lent and o["order_id"]:
                    dispensed.add(o["order_id"])
        by_order = {o["order_id"]: o for o in centre}
        double, neither, both, without = [], [], [], []
        for (_provider, no), t in trades.items():
            refunds = list(t["refunds"].values())
            if t["refunded_fen"] > t["amount_fen"]:
                double.append(no)
            paid = t["state"] == "SUCCESS"
            if refunds and not paid:
                without.append(no)
            if not paid:
                continue
            o = by_order.get(no)
            if o is not None and o["purpose"] == "deposit":
                if len(refunds) > 1:
                    double.append(no)
                if no not in dispensed and not refunds:
                    neither.append(no)
                if no in dispensed and (o["settle_key"] or "").split(":", 1)[-1].startswith("undispensed-"):
                    both.append(no)
        for j in jobs:
            o = by_order.get(j["order_id"])
            if j["state"] == "succeeded" and (o is None or o["state"] != "paid"):
                without.append(j["out_refund_no"])
        paid_deposits = [o for o in centre if o["state"] == "paid" and o["purpose"] == "deposit"]
        refunded = sum(1 for o in paid_deposits if trades.get((o["provider"], o["order_id"]), {}).get("refunds"))
        return {
            "orders": len(centre), "paid": len(paid_deposits), "dispensed": len(dispensed),
            "walked_away": sum(1 for o in station_orders.values() if o["state"] == "closed"),
            "refunded_in_full_undispensed": sum(1 for o in paid_deposits
                                                if (o["settle_key"] or "").split(":", 1)[-1].startswith("undisp")),
            "deposits_refunded": refunded, "fees_kept_fen": sum(o["fee_fen"] or 0 for o in paid_deposits),
            "refunded_fen": sum(t["refunded_fen"] for t in trades.values()),
            "paid_by_query": sum(1 for o in paid_deposits if o["paid_via"] == "query"),
            "refund_attempts_over_1": sum(1 for j in jobs if (j["attempts"] or 0) > 1),
            "faults": dict(sorted(self.faults.items())),
            "double_refunds": len(set(double)), "paid_neither_dispensed_nor_refunded": len(neither),
            "dispensed_and_refunded_in_full": len(both), "refunds_without_payment": len(set(without)),
            "examples": {"double": sorted(set(double))[:3], "neither": neither[:3], "both": both[:3],
                         "without": sorted(set(without))[:3]},
        }


def _rows(db: Path, sql: str) -> list[dict[str, Any]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql)]
    except sqlite3.OperationalError:  # a table not created yet (the store is new)
        return []
    finally:
        conn.close()


def _count(db: Path, sql: str) -> int:
    rows = _rows(db, sql.replace("COUNT(*)", "COUNT(*) AS n"))
    return int(rows[0]["n"]) if rows else 0

