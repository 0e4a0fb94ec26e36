"""Alipay face-to-face (当面付) on the official `python-alipay-sdk`: `alipay.trade.precreate` gives `qr_code`; RSA2.

Only the SDK's gateway attribute (`AliPay._gateway`) is set from configuration. Alipay quirk kept as is: a
precreated order the shopper has not scanned yet does not exist for `query`/`close` (ACQ.TRADE_NOT_EXIST), so
NOT_FOUND after a successful precreate means "not paid yet".
"""
from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from datetime import date
from typing import Any

from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig

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
    fen_to_yuan,
    yuan_to_fen,
)

_TRADE_STATES = {"WAIT_BUYER_PAY": "NOTPAY", "TRADE_SUCCESS": "SUCCESS", "TRADE_FINISHED": "SUCCESS",
                 "TRADE_CLOSED": "CLOSED"}
# Sub-codes after which the same request may be retried: the outcome is not known.
_RETRYABLE = {"ACQ.SYSTEM_ERROR", "aop.ACQ.SYSTEM_ERROR", "isp.unknow-error"}


class AlipayProvider:
    name: Provider = "alipay"

    def __init__(self, config: MerchantConfig, *, timeout_s: float = 5.0) -> None:
        creds = config.alipay
        if creds is None:
            raise ValueError("merchant file has no alipay section")
        self.appid = creds.appid
        self._timeout_s = timeout_s
        self._client = AliPay(appid=creds.appid, app_notify_url=None, app_private_key_string=creds.app_private_key,
                              alipay_public_key_string=creds.alipay_public_key, sign_type="RSA2",
                              config=AliPayConfig(timeout=timeout_s))
        self._client._gateway = config.alipay_gateway

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            result = fn(*args, **kwargs)
        except AliPayValidationError as e:
            raise OutcomeUnknown("alipay: answer signature does not verify") from e
        except AliPayException as e:  # unsigned gateway-level error (bad app id, bad signature, …)
            raise PaymentRefused("alipay", *_gateway_error(str(e))) from e
        except (urllib.error.URLError, OSError, ValueError) as e:  # timeouts, refused, 5xx, garbage
            raise OutcomeUnknown(f"alipay: no answer: {e}") from e
        if not isinstance(result, dict):
            raise OutcomeUnknown("alipay: answer is not an object")
        code = str(result.get("code"))
        if code == "10000":
            return result
        sub = str(result.get("sub_code") or code)
        if code == "20000" or sub in _RETRYABLE:
            raise OutcomeUnknown(f"alipay: {code} {sub} {result.get('sub_msg', '')}")
        raise PaymentRefused("alipay", sub, str(result.get("sub_msg") or result.get("msg") or ""))

    def create_qr(self, out_trade_no: str, amount_fen: int, description: str, notify_url: str) -> QrOrder:
        check_out_no(out_trade_no)
        r = self._call(self._client.api_alipay_trade_precreate, subject=description[:256],
                       out_trade_no=out_trade_no, total_amount=fen_to_yuan(amount_fen), notify_url=notify_url)
        qr = r.get("qr_code")
        if not isinstance(qr, str) or not qr:
            raise OutcomeUnknown("alipay: answer without qr_code")
        return QrOrder("alipay", out_trade_no, amount_fen, qr)

    def query(self, out_trade_no: str) -> TradeStatus:
        check_out_no(out_trade_no)
        try:
            r = self._call(self._client.api_alipay_trade_query, out_trade_no=out_trade_no)
        except PaymentRefused as e:
            if e.code == "ACQ.TRADE_NOT_EXIST":
                return TradeStatus("alipay", out_trade_no, "NOT_FOUND")
            raise
        state = _TRADE_STATES.get(str(r.get("trade_status")))
        if state is None:
            raise OutcomeUnknown(f"alipay: unknown trade_status {r.get('trade_status')!r}")
        return TradeStatus("alipay", out_trade_no, state, yuan_to_fen(r["total_amount"]),  # type: ignore[arg-type]
                           r.get("trade_no"), r.get("send_pay_date"))

    def close(self, out_trade_no: str) -> None:
        check_out_no(out_trade_no)
        try:
            self._call(self._client.api_alipay_trade_close, out_trade_no=out_trade_no)
        except PaymentRefused as e:
            if e.code != "ACQ.TRADE_NOT_EXIST":  # never scanned: nothing to close, and it can no longer be paid
                raise                             # once the QR's time is up (the centre also stops showing it)

    def refund(self, out_trade_no: str, out_refund_no: str, refund_fen: int, total_fen: int,
               reason: str = "") -> RefundStatus:
        check_out_no(out_trade_no)
        check_out_no(out_refund_no, "out_refund_no")
        r = self._call(self._client.api_alipay_trade_refund, refund_amount=fen_to_yuan(refund_fen),
                       out_trade_no=out_trade_no, out_request_no=out_refund_no, refund_reason=reason[:256] or None)
        # Alipay refunds synchronously: code 10000 means done (fund_change "N" on a repeated out_request_no).
        return RefundStatus("alipay", out_trade_no, out_refund_no, "SUCCESS", refund_fen, r.get("trade_no"))

    def query_refund(self, out_trade_no: str, out_refund_no: str) -> RefundStatus:
        check_out_no(out_refund_no, "out_refund_no")
        try:
            r = self._call(self._client.api_alipay_trade_fastpay_refund_query, out_request_no=out_refund_no,
                           out_trade_no=out_trade_no)
        except PaymentRefused as e:
            if e.code == "ACQ.TRADE_NOT_EXIST":
                return RefundStatus("alipay", out_trade_no, out_refund_no, "NOT_FOUND")
            raise
        if not r.get("refund_amount"):  # documented: no refund_amount = no such refund
            return RefundStatus("alipay", out_trade_no, out_refund_no, "NOT_FOUND")
        status = r.get("refund_status", "REFUND_SUCCESS")
        return RefundStatus("alipay", out_trade_no, out_refund_no,
                            "SUCCESS" if status == "REFUND_SUCCESS" else "PROCESSING",
                            yuan_to_fen(r["refund_amount"]), r.get("trade_no"))

    def verify_notification(self, headers: dict[str, str], body: bytes) -> PaymentNotice:
        try:
            pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError) as e:
            raise InvalidNotification(f"alipay: not a form body: {e}") from e
        data = dict(pairs)
        if len(data) != len(pairs):
            raise InvalidNotification("alipay: repeated field")
        sign = data.pop("sign", None)
        if not sign or data.get("sign_type", "RSA2") != "RSA2":
            raise InvalidNotification("alipay: unsigned or not RSA2")
        try:
            ok = self._client.verify(dict(data), sign)
        except Exception as e:  # bad base64 etc.
            raise InvalidNotification(f"alipay: {e}") from e
        if not ok:
            raise InvalidNotification("alipay: signature does not verify")
        if data.get("app_id") != self.appid:
            raise InvalidNotification("alipay: notification for another app")
        state = _TRADE_STATES.get(data.get("trade_status", ""))
        if state != "SUCCESS":
            raise InvalidNotification(f"alipay: trade_status {data.get('trade_status')!r}")
        try:
            return PaymentNotice("alipay", check_out_no(data.get("out_trade_no", "")), "SUCCESS",
                                 yuan_to_fen(data["total_amount"]), data["trade_no"], data.get("gmt_payment"),
                                 data.get("notify_id", ""))
        except (KeyError, ValueError) as e:
            raise InvalidNotification(f"alipay: malformed notification: {e}") from e

    def trade_bill(self, day: date) -> list[BillRow]:
        try:
            r = self._call(self._client.server_api, "alipay.data.dataservice.bill.downloadurl.query",
                           {"bill_type": "trade", "bill_date": day.isoformat()})
        except PaymentRefused as e:
            if e.code == "isp.bill_not_exist":
                return []
            raise
        url = r.get("bill_download_url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise OutcomeUnknown("alipay: bill answer without bill_download_url")
        try:
            with urllib.request.urlopen(url, timeout=self._timeout_s) as resp:  # noqa: S310 - provider URL
                raw = resp.read()
        except (urllib.error.URLError, OSError) as e:
            raise OutcomeUnknown(f"alipay: bill download failed: {e}") from e
        return parse_alipay_bill_zip(raw)


def parse_alipay_bill_zip(raw: bytes) -> list[BillRow]:
    """The trade bill is a zip; its 业务明细 CSV has '#' comment lines, a header, and rows of 交易 / 退款."""
    rows: list[BillRow] = []
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        for name in z.namelist():
            if "业务明细" not in name or "汇总" in name:
                continue
            text = z.read(name).decode("utf-8-sig")
            lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
            if not lines:
                continue
            reader = csv.reader(io.StringIO("\n".join(lines)))
            header = [h.strip() for h in next(reader)]
            col = {h: i for i, h in enumerate(header)}
            for f in reader:
                f = [v.strip() for v in f]
                kind = f[col["业务类型"]]
                if kind == "交易":
                    rows.append(BillRow("alipay", "payment", f[col["商户订单号"]], None,
                                        yuan_to_fen(f[col["订单金额（元）"]]), f[col["支付宝交易号"]]))
                elif kind == "退款":
                    rows.append(BillRow("alipay", "refund", f[col["商户订单号"]], f[col["退款批次号/请求号"]],
                                        -yuan_to_fen(f[col["商家实收（元）"]]), f[col["支付宝交易号"]]))
    return rows


def _gateway_error(text: str) -> tuple[str, str]:
    """AliPayException carries the raw answer; pull out sub_code / sub_msg."""
    start = text.find("{")
    try:
        d = json.loads(text[start:]) if start >= 0 else {}
    except ValueError:
        return "unknown", text[:200]
    for v in d.values():
        if isinstance(v, dict) and "code" in v:
            return str(v.get("sub_code") or v.get("code")), str(v.get("sub_msg") or v.get("msg") or "")
    return "unknown", text[:200]
