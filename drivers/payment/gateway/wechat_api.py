"""The WeChat Pay v3 subset: Native order, query, close, refund, refund query, trade bill; signatures both ways."""
from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import re
import secrets
import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256

from drivers.payment.gateway.keys import GatewayKeys
from drivers.payment.gateway.ledger import Ledger, Trade, now_cst
from drivers.payment.provider import fen_to_yuan

Answer = tuple[int, dict[str, str], bytes]

_AUTH = re.compile(r'^WECHATPAY2-SHA256-RSA2048 (.*)$')
_ID = re.compile(r"^[A-Za-z0-9_\-|*]{6,32}$")
ROUTES = (
    ("POST", re.compile(r"^/v3/pay/transactions/native$"), "create"),
    ("GET", re.compile(r"^/v3/pay/transactions/out-trade-no/([^/?]+)$"), "query"),
    ("POST", re.compile(r"^/v3/pay/transactions/out-trade-no/([^/?]+)/close$"), "close"),
    ("POST", re.compile(r"^/v3/refund/domestic/refunds$"), "refund"),
    ("GET", re.compile(r"^/v3/refund/domestic/refunds/([^/?]+)$"), "refund_query"),
    ("GET", re.compile(r"^/v3/bill/tradebill$"), "bill"),
    ("GET", re.compile(r"^/v3/billdownload/file$"), "bill_file"),
)
BILL_HEADER = ("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
               "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,"
               "商户数据包,手续费,费率,订单金额,申请退款金额,费率备注")


def error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"code": code, "message": message}


class WechatApi:
    def __init__(self, keys: GatewayKeys, ledger: Ledger, max_amount_fen: int, base_url: str) -> None:
        self.keys = keys
        self.ledger = ledger
        self.max_amount_fen = max_amount_fen
        self.base_url = base_url

    # -- signatures ------------------------------------------------------------------------------------------
    def check_request(self, method: str, target: str, headers: dict[str, str], body: str) -> str | None:
        """None when the merchant's Authorization is good, else the reason."""
        m = _AUTH.match(headers.get("authorization", ""))
        if not m:
            return "Authorization is not WECHATPAY2-SHA256-RSA2048"
        fields = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if fields.get("mchid") != self.keys.mchid:
            return "mchid in Authorization does not match"
        if fields.get("serial_no") != self.keys.cert_serial_no:
            return "serial_no is not the merchant certificate's"
        try:
            ts = int(fields.get("timestamp", ""))
        except ValueError:
            return "bad timestamp"
        if abs(time.time() - ts) > 300:
            return "timestamp is more than 5 minutes off"
        message = f"{method}\n{target}\n{ts}\n{fields.get('nonce_str', '')}\n{body}\n".encode()
        try:
            self.keys.merchant_public.verify(base64.b64decode(fields.get("signature", "")), message, PKCS1v15(),
                                             SHA256())
        except (InvalidSignature, ValueError):
            return "signature does not verify"
        return None

    def sign_headers(self, body: bytes) -> dict[str, str]:
        ts = str(int(time.time()))
        nonce = secrets.token_hex(16).upper()
        sig = self.keys.platform_private.sign(f"{ts}\n{nonce}\n{body.decode()}\n".encode(), PKCS1v15(), SHA256())
        return {"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce,
                "Wechatpay-Signature": base64.b64encode(sig).decode(), "Wechatpay-Serial": self.keys.public_key_id,
                "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048", "Request-ID": secrets.token_hex(16)}

    def answer(self, status: int, payload: dict[str, Any] | None) -> Answer:
        body = json.dumps(payload, ensure_ascii=False).encode() if payload is not None else b""
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if 200 <= status < 300:
            headers.update(self.sign_headers(body))
        return status, headers, body

    # -- the operations --------------------------------------------------------------------------------------
    def create(self, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if data.get("appid") != self.keys.appid or data.get("mchid") != self.keys.mchid:
            return error(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
        no, desc, url = data.get("out_trade_no"), data.get("description"), data.get("notify_url")
        if not isinstance(no, str) or not _ID.match(no):
            return error(400, "PARAM_ERROR", "out_trade_no 长度需在6到32之间 (6-32 of [A-Za-z0-9_-|*])")
        if not isinstance(desc, str) or not 1 <= len(desc) <= 127:
            return error(400, "PARAM_ERROR", "description 长度需在1到127之间")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")) or "?" in url:
            return error(400, "PARAM_ERROR", "notify_url 格式不正确")
        amount = data.get("amount")
        if not isinstance(amount, dict):
            return error(400, "PARAM_ERROR", "amount 必须为对象")
        total = amount.get("total")
        if not isinstance(total, int) or isinstance(total, bool) or total < 1:
            return error(400, "PARAM_ERROR", "amount.total 必须为大于0的整数 (fen)")
        if total > self.max_amount_fen:
            return error(400, "PARAM_ERROR", f"amount.total 超过单笔限额 {self.max_amount_fen}")
        if amount.get("currency", "CNY") != "CNY":
            return error(400, "PARAM_ERROR", "currency 只支持 CNY")
        with self.ledger.lock:
            t = self.ledger.get("wechat", no)
            if t is not None:
                if t.state == "SUCCESS":
                    return error(400, "ORDERPAID", "该订单已支付")
                if t.state == "CLOSED":
                    return error(400, "ORDER_CLOSED", "当前订单已关闭，请重新下单")
                if (t.amount_fen, t.description) != (total, desc):
                    return error(400, "INVALID_REQUEST", "201 商户订单号重复 (out_trade_no used with other parameters)")
            else:
                t = Trade("wechat", no, total, desc, url)
                self.ledger.add(t)
        return 200, {"code_url": f"weixin://wxpay/bizpayurl?pr={_pr(no)}"}

    def _query_dict(self, t: Trade) -> dict[str, Any]:
        state = "REFUND" if t.state == "SUCCESS" and t.refunds else t.state
        d: dict[str, Any] = {"appid": self.keys.appid, "mchid": self.keys.mchid, "out_trade_no": t.out_trade_no,
                             "trade_state": state, "trade_state_desc": {"NOTPAY": "订单未支付", "SUCCESS": "支付成功",
                                                                        "CLOSED": "已关闭", "REFUND": "转入退款"}[state],
                             "amount": {"total": t.amount_fen, "currency": "CNY"}}
        if t.state == "SUCCESS":
            d.update({"transaction_id": t.transaction_id, "trade_type": "NATIVE", "bank_type": "OTHERS",
                      "success_time": t.paid_at, "attach": "", "payer": {"openid": "o" + _pr(t.out_trade_no)[:27]}})
            d["amount"].update({"payer_total": t.amount_fen, "payer_currency": "CNY"})
        return d

    def query(self, no: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if query.get("mchid") != self.keys.mchid:
            return error(400, "PARAM_ERROR", "mchid 与 Authorization 不一致")
        t = self.ledger.get("wechat", no)
        if t is None:
            return error(404, "ORDER_NOT_EXIST", "订单不存在")
        return 200, self._query_dict(t)

    def close(self, no: str, data: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        if data.get("mchid") != self.keys.mchid:
            return error(400, "PARAM_ERROR", "mchid 不正确")
        with self.ledger.lock:
            t = self.ledger.get("wechat", no)
            if t is None:
                return error(404, "ORDER_NOT_EXIST", "订单不存在")
            if t.state == "SUCCESS":
                return error(400, "ORDERPAID", "订单已支付，不能关闭")
            t.state = "CLOSED"
            self.ledger.save()
        return 204, None

    def refund(self, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        rno, no = data.get("out_refund_no"), data.get("out_trade_no")
        if not isinstance(rno, str) or not _ID.match(rno):
            return error(400, "PARAM_ERROR", "out_refund_no 格式不正确")
        amount = data.get("amount")
        refund = amount.get("refund") if isinstance(amount, dict) else None
        total = amount.get("total") if isinstance(amount, dict) else None
        if (not isinstance(refund, int) or not isinstance(total, int) or isinstance(refund, bool)
                or isinstance(total, bool) or refund < 1):
            return error(400, "PARAM_ERROR", "amount.refund / amount.total 必须为大于0的整数")
        with self.ledger.lock:
            t = self.ledger.get("wechat", no) if isinstance(no, str) else None
            if t is None:
                return error(404, "RESOURCE_NOT_EXISTS", "订单不存在")
            if t.state != "SUCCESS":
                return error(400, "INVALID_REQUEST", "订单未支付，不能退款")
            if total != t.amount_fen:
                return error(400, "PARAM_ERROR", "订单金额与实际不符 (amount.total)")
            existing = t.refunds.get(rno)
            if existing is not None:
                if existing.amount_fen != refund:
                    return error(400, "INVALID_REQUEST", "同一退款单号的退款金额不一致")
                return 200, self._refund_dict(t, rno, "SUCCESS")
            if self.ledger.refund_by_no("wechat", rno) is not None:
                return error(400, "INVALID_REQUEST", "退款单号已用于其他订单")
            if refund > t.amount_fen - t.refunded_fen:
                return error(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
            self.ledger.refund(t, rno, refund)
        return 200, self._refund_dict(t, rno, "PROCESSING")

    def _refund_dict(self, t: Trade, rno: str, status: str) -> dict[str, Any]:
        r = t.refunds[rno]
        return {"refund_id": r.refund_id, "out_refund_no": rno, "transaction_id": t.transaction_id,
                "out_trade_no": t.out_trade_no, "channel": "ORIGINAL", "user_received_account": "支付用户零钱",
                "success_time": r.created_at if status == "SUCCESS" else None, "create_time": r.created_at,
                "status": status, "funds_account": "AVAILABLE",
                "amount": {"total": t.amount_fen, "refund": r.amount_fen, "payer_total": t.amount_fen,
                           "payer_refund": r.amount_fen, "settlement_refund": r.amount_fen,
                           "settlement_total": t.amount_fen, "discount_refund": 0, "currency": "CNY"}}

    def refund_query(self, rno: str) -> tuple[int, dict[str, Any]]:
        found = self.ledger.refund_by_no("wechat", rno)
        if found is None:
            return error(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return 200, self._refund_dict(found[0], rno, "SUCCESS")

    def bill(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        day = query.get("bill_date", "")
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
            return error(400, "PARAM_ERROR", "bill_date 格式为 YYYY-MM-DD")
        tar = query.get("tar_type") or ""
        data = self.bill_bytes(day, tar)
        if data is None:
            return error(400, "NO_STATEMENT_EXIST", "账单不存在")
        return 200, {"hash_type": "SHA1", "hash_value": hashlib.sha1(data).hexdigest(),
                     "download_url": f"{self.base_url}/v3/billdownload/file?token={day}.{tar or 'RAW'}"}

    def bill_bytes(self, day: str, tar: str) -> bytes | None:
        paid, refunds = self.ledger.bill("wechat", day)
        if not paid and not refunds:
            return None
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\r\n")
        out.write(BILL_HEADER + "\r\n")
        k = self.keys
        for t in paid:
            w.writerow("`" + str(v) for v in (
                _bill_time(t.paid_at), k.appid, k.mchid, "0", "", t.transaction_id, t.out_trade_no, "o-sim",
                "NATIVE", "SUCCESS", "OTHERS", "CNY", fen_to_yuan(t.amount_fen), "0.00", "0", "0", "0.00", "0.00",
                "", "", t.description, "", "0.00000", "0.60%", fen_to_yuan(t.amount_fen), "0.00", ""))
        for t, r in refunds:
            w.writerow("`" + str(v) for v in (
                _bill_time(r.created_at), k.appid, k.mchid, "0", "", t.transaction_id, t.out_trade_no, "o-sim",
                "NATIVE", "REFUND", "OTHERS", "CNY", "0.00", "0.00", r.refund_id, r.out_refund_no,
                fen_to_yuan(r.amount_fen), "0.00", "ORIGINAL", "SUCCESS", t.description, "", "0.00000", "0.60%",
                "0.00", fen_to_yuan(r.amount_fen), ""))
        out.write("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n")
        w.writerow("`" + str(v) for v in (
            len(paid), fen_to_yuan(sum(t.amount_fen for t in paid)), fen_to_yuan(sum(r.amount_fen for _, r in refunds)),
            "0.00", "0.00000", fen_to_yuan(sum(t.amount_fen for t in paid)),
            fen_to_yuan(sum(r.amount_fen for _, r in refunds))))
        data = out.getvalue().encode("utf-8")
        return gzip.compress(data) if tar == "GZIP" else data

    # -- notification ----------------------------------------------------------------------------------------
    def notification(self, t: Trade) -> tuple[dict[str, str], bytes]:
        plain = json.dumps(self._query_dict(t) | {"trade_state": "SUCCESS"}, ensure_ascii=False)
        nonce = secrets.token_hex(6)
        ct = AESGCM(self.keys.apiv3_key.encode()).encrypt(nonce.encode(), plain.encode(), b"transaction")
        body = json.dumps({
            "id": "EV-" + secrets.token_hex(16), "create_time": now_cst().isoformat(),
            "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
            "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                         "ciphertext": base64.b64encode(ct).decode(), "associated_data": "transaction",
                         "nonce": nonce}}, ensure_ascii=False).encode()
        return {"Content-Type": "application/json"} | self.sign_headers(body), body


def _pr(no: str) -> str:
    return hashlib.sha256(no.encode()).hexdigest()[:28]


def _bill_time(iso: str) -> str:
    return iso[:19].replace("T", " ")
