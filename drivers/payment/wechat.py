"""WeChat Pay v3 Native pay on the official `wechatpayv3` SDK, platform-public-key mode.

Only the SDK's gateway attribute (`WeChatPay._core._gate_way`) is set from configuration, so the simulator or
a sandbox stands in for api.mch.weixin.qq.com without other changes. In public-key mode the SDK fetches no
platform certificates and checks every 2xx answer's `Wechatpay-Signature` against the platform public key.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import date
from typing import Any

import requests
from wechatpayv3 import WeChatPay, WeChatPayType

from drivers.payment.config import MerchantConfig
from drivers.payment.provider import (
    BillRow,
    InvalidNotification,
    OutcomeUnknown,
    PaymentNotice,
    PaymentRefused,
    Provider,
    QrOrder,
    RefundStatus,
    TradeStatus,
    check_out_no,
    yuan_to_fen,
)

_TRADE_STATES = {"NOTPAY": "NOTPAY", "USERPAYING": "NOTPAY", "SUCCESS": "SUCCESS", "CLOSED": "CLOSED",
                 "REVOKED": "CLOSED", "PAYERROR": "CLOSED", "REFUND": "REFUND"}


class WechatPayProvider:
    name: Provider = "wechat"

    def __init__(self, config: MerchantConfig, *, timeout_s: float = 5.0) -> None:
        creds = config.wechat
        if creds is None:
            raise ValueError("merchant file has no wechat section")
        self.mchid = creds.mchid
        self._client = WeChatPay(wechatpay_type=WeChatPayType.NATIVE, mchid=creds.mchid,
                                 private_key=creds.private_key, cert_serial_no=creds.cert_serial_no,
                                 appid=creds.appid, apiv3_key=creds.apiv3_key, public_key=creds.platform_public_key,
                                 public_key_id=creds.public_key_id, timeout=(timeout_s, timeout_s))
        self._client._core._gate_way = config.wechat_gateway

    # -- calls -----------------------------------------------------------------------------------------------
    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> tuple[int, Any]:
        try:
            code, body = fn(*args, **kwargs)
        except requests.RequestException as e:
            raise OutcomeUnknown(f"wechat: no answer: {e}") from e
        except Exception as e:  # the SDK raises a bare Exception for a response whose signature fails
            raise OutcomeUnknown(f"wechat: untrusted answer: {e}") from e
        if code >= 500 or code == 429:
            raise OutcomeUnknown(f"wechat: HTTP {code}: {body!r:.200}")
        if code >= 400:
            err = _json(body)
            raise PaymentRefused("wechat", str(err.get("code", code)), str(err.get("message", "")))
        return code, body

    def create_qr(self, out_trade_no: str, amount_fen: int, description: str, notify_url: str) -> QrOrder:
        check_out_no(out_trade_no)
        _, body = self._call(self._client.pay, description=description[:127], out_trade_no=out_trade_no,
                             amount={"total": amount_fen, "currency": "CNY"}, notify_url=notify_url,
                             pay_type=WeChatPayType.NATIVE)
        code_url = _json(body).get("code_url")
        if not isinstance(code_url, str) or not code_url:
            raise OutcomeUnknown("wechat: answer without code_url")
        return QrOrder("wechat", out_trade_no, amount_fen, code_url)

    def query(self, out_trade_no: str) -> TradeStatus:
        check_out_no(out_trade_no)
        try:
            _, body = self._call(self._client.query, out_trade_no=out_trade_no)
        except PaymentRefused as e:
            if e.code == "ORDER_NOT_EXIST":
                return TradeStatus("wechat", out_trade_no, "NOT_FOUND")
            raise
        d = _json(body)
        state = _TRADE_STATES.get(str(d.get("trade_state")))
        if state is None:
            raise OutcomeUnknown(f"wechat: unknown trade_state {d.get('trade_state')!r}")
        amount = d.get("amount") or {}
        return TradeStatus("wechat", out_trade_no, state, _int(amount.get("total")),  # type: ignore[arg-type]
                           d.get("transaction_id"), d.get("success_time"))

    def close(self, out_trade_no: str) -> None:
        check_out_no(out_trade_no)
        self._call(self._client.close, out_trade_no=out_trade_no)

    def refund(self, out_trade_no: str, out_refund_no: str, refund_fen: int, total_fen: int,
               reason: str = "") -> RefundStatus:
        check_out_no(out_trade_no)
        check_out_no(out_refund_no, "out_refund_no")
        _, body = self._call(self._client.refund, out_refund_no=out_refund_no, out_trade_no=out_trade_no,
                             amount={"refund": refund_fen, "total": total_fen, "currency": "CNY"},
                             reason=reason[:80] or None)
        return self._refund_status(out_trade_no, out_refund_no, _json(body))

    def query_refund(self, out_trade_no: str, out_refund_no: str) -> RefundStatus:
        check_out_no(out_refund_no, "out_refund_no")
        try:
            _, body = self._call(self._client.query_refund, out_refund_no=out_refund_no)
        except PaymentRefused as e:
            if e.code == "RESOURCE_NOT_EXISTS":
                return RefundStatus("wechat", out_trade_no, out_refund_no, "NOT_FOUND")
            raise
        return self._refund_status(out_trade_no, out_refund_no, _json(body))

    @staticmethod
    def _refund_status(out_trade_no: str, out_refund_no: str, d: dict[str, Any]) -> RefundStatus:
        status = str(d.get("status"))
        if status not in ("SUCCESS", "PROCESSING", "CLOSED", "ABNORMAL"):
            raise OutcomeUnknown(f"wechat: unknown refund status {status!r}")
        if d.get("out_refund_no") != out_refund_no:
            raise OutcomeUnknown("wechat: refund answer for another out_refund_no")
        return RefundStatus("wechat", str(d.get("out_trade_no") or out_trade_no), out_refund_no,
                            status,  # type: ignore[arg-type]
                            _int((d.get("amount") or {}).get("refund")), d.get("refund_id"))

    # -- notification ----------------------------------------------------------------------------------------
    def verify_notification(self, headers: dict[str, str], body: bytes) -> PaymentNotice:
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            data = self._client.callback(lowered, body)
        except Exception as e:  # unsupported algorithm / malformed: the SDK raises bare Exceptions
            raise InvalidNotification(f"wechat: {e}") from e
        if not data:
            raise InvalidNotification("wechat: signature or decryption failed")
        res = data.get("resource")
        if data.get("event_type") != "TRANSACTION.SUCCESS" or not isinstance(res, dict):
            raise InvalidNotification(f"wechat: not a payment notification: {data.get('event_type')!r}")
        if res.get("mchid") != self.mchid:
            raise InvalidNotification("wechat: notification for another merchant")
        try:
            out_trade_no = check_out_no(res.get("out_trade_no", ""))
            amount = int(res["amount"]["total"])
            transaction_id = str(res["transaction_id"])
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidNotification(f"wechat: malformed resource: {e}") from e
        state = _TRADE_STATES.get(str(res.get("trade_state")))
        if state != "SUCCESS":
            raise InvalidNotification(f"wechat: trade_state {res.get('trade_state')!r}")
        return PaymentNotice("wechat", out_trade_no, "SUCCESS", amount, transaction_id, res.get("success_time"),
                             str(data.get("id", "")))

    # -- bill ------------------------------------------------------------------------------------------------
    def trade_bill(self, day: date) -> list[BillRow]:
        try:
            _, body = self._call(self._client.trade_bill, bill_date=day.isoformat(), bill_type="ALL",
                                 tar_type="GZIP")
        except PaymentRefused as e:
            if e.code == "NO_STATEMENT_EXIST":
                return []
            raise
        url = _json(body).get("download_url")
        if not isinstance(url, str):
            raise OutcomeUnknown("wechat: bill answer without download_url")
        _, raw = self._call(self._client.download_bill, url)
        data = raw if isinstance(raw, bytes) else str(raw).encode()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        return parse_wechat_bill(data.decode("utf-8-sig"))


def parse_wechat_bill(text: str) -> list[BillRow]:
    """The v3 trade bill (bill_type=ALL): a header line, one line per trade/refund (each field prefixed with a
    backtick), then a summary header and summary line."""
    rows: list[BillRow] = []
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return rows
    header = next(csv.reader(io.StringIO(lines[0])))
    col = {name: i for i, name in enumerate(header)}
    for ln in lines[1:]:
        if not ln.startswith("`"):
            break  # the summary section
        f = [v.lstrip("`") for v in next(csv.reader(io.StringIO(ln)))]
        state = f[col["交易状态"]]
        if state == "REFUND":
            rows.append(BillRow("wechat", "refund", f[col["商户订单号"]], f[col["商户退款单号"]],
                                yuan_to_fen(f[col["退款金额"]]), f[col["微信退款单号"]]))
        else:
            rows.append(BillRow("wechat", "payment", f[col["商户订单号"]], None,
                                yuan_to_fen(f[col["订单金额"]]), f[col["微信订单号"]]))
    return rows


def _json(body: Any) -> dict[str, Any]:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        d = json.loads(body) if body else {}
    except ValueError:
        return {}
    return d if isinstance(d, dict) else {}


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None
