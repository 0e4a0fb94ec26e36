"""The payment-provider protocol: what the centre needs from WeChat Pay and Alipay, in one shape.

Amounts are integer fen everywhere here (the Alipay adapter converts to and from its yuan strings).
A provider call ends in one of three ways: a result, `PaymentRefused` (the provider answered a definite
"no": nothing happened), or `OutcomeUnknown` (timeout, 5xx, unverifiable answer: it may or may not have
happened, so the caller must query before it believes either).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol

Provider = Literal["wechat", "alipay"]
PROVIDERS: tuple[Provider, ...] = ("wechat", "alipay")

# NOTPAY: created, not paid; SUCCESS: paid; CLOSED: closed unpaid (or, for Alipay, fully refunded);
# REFUND: paid and (partly) refunded; NOT_FOUND: the provider does not know the order (Alipay: not scanned yet).
TradeState = Literal["NOTPAY", "SUCCESS", "CLOSED", "REFUND", "NOT_FOUND"]
RefundState = Literal["SUCCESS", "PROCESSING", "CLOSED", "ABNORMAL", "NOT_FOUND"]

# Both providers: out_trade_no / out_refund_no 6..32 (WeChat) / ≤64 (Alipay) of [A-Za-z0-9_-|*]; we use the
# common subset so one id is valid at both.
_ID = re.compile(r"^[A-Za-z0-9_-]{6,32}$")


def check_out_no(value: str, what: str = "out_trade_no") -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise ValueError(f"{what} must be 6-32 characters of A-Z a-z 0-9 _ -: {value!r}")
    return value


def fen_to_yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def yuan_to_fen(yuan: str) -> int:
    m = re.fullmatch(r"(-?)(\d+)(?:\.(\d{1,2}))?", str(yuan).strip())
    if not m:
        raise ValueError(f"not a yuan amount: {yuan!r}")
    fen = int(m.group(2)) * 100 + int((m.group(3) or "0").ljust(2, "0"))
    return -fen if m.group(1) else fen


class PaymentError(Exception):
    """Base of the errors a provider adapter raises."""


class PaymentRefused(PaymentError):
    """The provider answered a definite error: the request had no effect."""

    def __init__(self, provider: str, code: str, message: str = "") -> None:
        super().__init__(f"{provider} refused: {code} {message}".strip())
        self.provider = provider
        self.code = code
        self.message = message


class OutcomeUnknown(PaymentError):
    """No trustworthy answer (timeout, connection error, 5xx, bad response signature): query before deciding."""


class InvalidNotification(PaymentError):
    """A notification whose signature, decryption or content does not check out: refuse it, change nothing."""


@dataclass(frozen=True)
class QrOrder:
    provider: Provider
    out_trade_no: str
    amount_fen: int
    qr: str  # WeChat `code_url` / Alipay `qr_code`: what the screen renders as a QR code


@dataclass(frozen=True)
class TradeStatus:
    provider: Provider
    out_trade_no: str
    state: TradeState
    amount_fen: int | None = None
    transaction_id: str | None = None
    paid_at: str | None = None


@dataclass(frozen=True)
class RefundStatus:
    provider: Provider
    out_trade_no: str
    out_refund_no: str
    state: RefundState
    amount_fen: int | None = None
    refund_id: str | None = None


@dataclass(frozen=True)
class PaymentNotice:
    """A verified "paid" notification."""

    provider: Provider
    out_trade_no: str
    state: TradeState
    amount_fen: int
    transaction_id: str
    paid_at: str | None
    notification_id: str


@dataclass(frozen=True)
class BillRow:
    """One line of the provider's daily trade bill."""

    provider: Provider
    kind: Literal["payment", "refund"]
    out_trade_no: str
    out_refund_no: str | None
    amount_fen: int
    provider_ref: str


class PaymentProvider(Protocol):
    name: Provider

    def create_qr(self, out_trade_no: str, amount_fen: int, description: str, notify_url: str) -> QrOrder: ...

    def query(self, out_trade_no: str) -> TradeStatus: ...

    def close(self, out_trade_no: str) -> None: ...

    def refund(self, out_trade_no: str, out_refund_no: str, refund_fen: int, total_fen: int,
               reason: str = "") -> RefundStatus: ...

    def query_refund(self, out_trade_no: str, out_refund_no: str) -> RefundStatus: ...

    def verify_notification(self, headers: dict[str, str], body: bytes) -> PaymentNotice: ...

    def trade_bill(self, day: date) -> list[BillRow]: ...
