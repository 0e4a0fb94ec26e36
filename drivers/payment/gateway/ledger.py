"""The simulated gateway's books: trades and refunds of both providers, persisted to DIR/ledger.json."""
from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

CST = timezone(timedelta(hours=8))


def now_cst() -> datetime:
    return datetime.now(CST).replace(microsecond=0)


@dataclass
class Refund:
    out_refund_no: str
    amount_fen: int
    refund_id: str
    created_at: str  # ISO, +08:00


@dataclass
class Trade:
    provider: str
    out_trade_no: str
    amount_fen: int
    description: str
    notify_url: str
    state: str = "NOTPAY"        # NOTPAY | SUCCESS | CLOSED
    scanned: bool = False        # Alipay: a precreated trade exists for query/close only once scanned
    transaction_id: str = ""
    created_at: str = ""
    paid_at: str = ""
    refunds: dict[str, Refund] = field(default_factory=dict)

    @property
    def refunded_fen(self) -> int:
        return sum(r.amount_fen for r in self.refunds.values())


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.trades: dict[tuple[str, str], Trade] = {}
        if path.exists():
            for d in json.loads(path.read_text()).get("trades", []):
                refunds = {k: Refund(**v) for k, v in d.pop("refunds", {}).items()}
                t = Trade(**d, refunds=refunds)
                self.trades[(t.provider, t.out_trade_no)] = t

    def save(self) -> None:
        with self.lock:
            data = {"trades": [asdict(t) for t in self.trades.values()]}
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, ensure_ascii=False))
            tmp.replace(self.path)

    def get(self, provider: str, out_trade_no: str) -> Trade | None:
        return self.trades.get((provider, out_trade_no))

    def add(self, trade: Trade) -> None:
        trade.created_at = now_cst().isoformat()
        self.trades[(trade.provider, trade.out_trade_no)] = trade
        self.save()

    def pay(self, trade: Trade) -> None:
        trade.state = "SUCCESS"
        trade.scanned = True
        trade.paid_at = now_cst().isoformat()
        prefix = "4200" if trade.provider == "wechat" else "2026"
        trade.transaction_id = prefix + time.strftime("%Y%m%d") + secrets.token_hex(8)
        self.save()

    def refund(self, trade: Trade, out_refund_no: str, amount_fen: int) -> Refund:
        r = Refund(out_refund_no, amount_fen, "50" + secrets.token_hex(12), now_cst().isoformat())
        trade.refunds[out_refund_no] = r
        self.save()
        return r

    def refund_by_no(self, provider: str, out_refund_no: str) -> tuple[Trade, Refund] | None:
        for t in self.trades.values():
            if t.provider == provider and out_refund_no in t.refunds:
                return t, t.refunds[out_refund_no]
        return None

    def bill(self, provider: str, day: str) -> tuple[list[Trade], list[tuple[Trade, Refund]]]:
        """Payments completed and refunds made on `day` (YYYY-MM-DD, China time)."""
        with self.lock:
            paid = [t for t in self.trades.values() if t.provider == provider and t.paid_at[:10] == day]
            refunds = [(t, r) for t in self.trades.values() if t.provider == provider
                       for r in t.refunds.values() if r.created_at[:10] == day]
        return paid, refunds

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return [asdict(t) | {"refunded_fen": t.refunded_fen} for t in self.trades.values()]


@dataclass
class Fault:
    kind: str            # drop_notification | duplicate_notification | delay_notification | timeout | fail_refund
    provider: str = "any"
    op: str = "any"      # for timeout: create | query | close | refund | refund_query | bill
    count: int = 1
    seconds: float = 0.0
    apply: bool = True   # timeout: the request takes effect before the answer is held back


FAULT_KINDS = ("drop_notification", "duplicate_notification", "delay_notification", "timeout", "fail_refund")
OPS = ("any", "create", "query", "close", "refund", "refund_query", "bill")


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[Fault] = []

    def arm(self, f: Fault) -> None:
        with self._lock:
            self._armed.append(f)

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def take(self, kind: str, provider: str, op: str = "any") -> Fault | None:
        with self._lock:
            for f in self._armed:
                if f.kind == kind and f.provider in ("any", provider) and f.op in ("any", op):
                    f.count -= 1
                    if f.count <= 0:
                        self._armed.remove(f)
                    return f
        return None

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._armed]
