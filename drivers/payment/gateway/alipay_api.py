"""The Alipay OpenAPI subset at /gateway.do: precreate, query, close, refund, fastpay.refund.query, bill URL.

Requests are checked as Alipay does (sorted `k=v&…` of every parameter except `sign`, RSA2 under the app's
public key); answers are `{"<method>_response": {...}, "sign": "..."}` with the signature over the exact
response-object text; gateway-level errors (bad signature, unknown app) are the unsigned `error_response`.
"""
from __future__ import annotations

import base64
import csv
import io
import json
import re
import secrets
import zipfile
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256

from drivers.payment.gateway.keys import GatewayKeys
from drivers.payment.gateway.ledger import Ledger, Trade, now_cst
from drivers.payment.provider import fen_to_yuan, yuan_to_fen

METHODS = {"alipay.trade.precreate": "create", "alipay.trade.query": "query", "alipay.trade.close": "close",
           "alipay.trade.refund": "refund", "alipay.trade.fastpay.refund.query": "refund_query",
           "alipay.data.dataservice.bill.downloadurl.query": "bill"}
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_YUAN = re.compile(r"^\d{1,11}(\.\d{1,2})?$")
BILL_HEADER = ("支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,"
               "商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,"
               "商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注")


def biz_error(sub_code: str, sub_msg: str) -> dict[str, Any]:
    return {"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}


def _sign_string(params: dict[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()))


class AlipayApi:
    def __init__(self, keys: GatewayKeys, ledger: Ledger, max_amount_fen: int, base_url: str) -> None:
        self.keys = keys
        self.ledger = ledger
        self.max_amount_fen = max_amount_fen
        self.base_url = base_url

    def sign(self, text: str) -> str:
        return base64.b64encode(self.keys.alipay_private.sign(text.encode(), PKCS1v15(), SHA256())).decode()

    def check_request(self, params: dict[str, str]) -> tuple[str, str] | None:
        """None when app id, method and RSA2 signature are good, else (sub_code, sub_msg)."""
        if params.get("app_id") != self.keys.alipay_appid:
            return "isv.invalid-app-id", "无效的AppID参数"
        if params.get("method") not in METHODS:
            return "isv.invalid-method", "不存在的方法名"
        if params.get("sign_type") != "RSA2":
            return "isv.invalid-signature-type", "无效的签名类型"
        sign = params.get("sign", "")
        unsigned = {k: v for k, v in params.items() if k != "sign"}
        try:
            self.keys.alipay_app_public.verify(base64.b64decode(sign), _sign_string(unsigned).encode(), PKCS1v15(),
                                               SHA256())
        except (InvalidSignature, ValueError):
            return "isv.invalid-signature", "验签出错"
        return None

    def gateway_error(self, method: str, sub_code: str, sub_msg: str) -> bytes:
        return json.dumps({"error_response": {"code": "40002", "msg": "Invalid Arguments", "sub_code": sub_code,
                                              "sub_msg": sub_msg}}, ensure_ascii=False).encode()

    def answer(self, method: str, payload: dict[str, Any]) -> bytes:
        inner = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        key = method.replace(".", "_") + "_response"
        return f'{{"{key}":{inner},"sign":"{self.sign(inner)}"}}'.encode()

    # -- the operations --------------------------------------------------------------------------------------
    def handle(self, method: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            biz = json.loads(params.get("biz_content") or "{}")
        except ValueError:
            return biz_error("ACQ.INVALID_PARAMETER", "biz_content 不是合法的JSON")
        if not isinstance(biz, dict):
            return biz_error("ACQ.INVALID_PARAMETER", "biz_content 不是对象")
        op = METHODS[method]
        if op == "bill":
            return self.bill(biz)
        no = biz.get("out_trade_no")
        if not isinstance(no, str) or not _ID.match(no):
            return {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-parameter",
                    "sub_msg": "out_trade_no 不合法"}
        with self.ledger.lock:
            t = self.ledger.get("alipay", no)
            if op == "create":
                return self.precreate(no, t, biz, params)
            if t is None or (not t.scanned and op in ("query", "close")):
                return biz_error("ACQ.TRADE_NOT_EXIST", "交易不存在")
            if op == "query":
                return self._query_dict(t)
            if op == "close":
                if t.state == "SUCCESS":
                    return biz_error("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
                t.state = "CLOSED"
                self.ledger.save()
                return {"code": "10000", "msg": "Success", "trade_no": t.transaction_id, "out_trade_no": no}
            if op == "refund":
                return self.refund(t, biz)
            return self.refund_query(t, biz)

    def precreate(self, no: str, t: Trade | None, biz: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        total, subject = biz.get("total_amount"), biz.get("subject")
        if not isinstance(total, str | int | float) or not _YUAN.match(str(total)) or yuan_to_fen(str(total)) < 1:
            return biz_error("ACQ.INVALID_PARAMETER", "total_amount 取值范围[0.01,100000000]")
        fen = yuan_to_fen(str(total))
        if fen > self.max_amount_fen:
            return biz_error("ACQ.TOTAL_FEE_EXCEED", "订单金额超过限额")
        if not isinstance(subject, str) or not 1 <= len(subject) <= 256:
            return biz_error("ACQ.INVALID_PARAMETER", "subject 不能为空")
        notify_url = params.get("notify_url", "")
        if t is not None:
            if t.state == "SUCCESS":
                return biz_error("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
            if t.state == "CLOSED":
                return biz_error("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
            if (t.amount_fen, t.description) != (fen, subject):
                return biz_error("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
        else:
            self.ledger.add(Trade("alipay", no, fen, subject, notify_url))
        return {"code": "10000", "msg": "Success", "out_trade_no": no,
                "qr_code": f"https://qr.alipay.com/bax0{secrets.token_hex(3)}{no[-8:]}"}

    def _query_dict(self, t: Trade) -> dict[str, Any]:
        status = {"NOTPAY": "WAIT_BUYER_PAY", "SUCCESS": "TRADE_SUCCESS", "CLOSED": "TRADE_CLOSED"}[t.state]
        if t.state == "SUCCESS" and t.refunded_fen >= t.amount_fen:
            status = "TRADE_CLOSED"  # fully refunded
        d = {"code": "10000", "msg": "Success", "trade_no": t.transaction_id, "out_trade_no": t.out_trade_no,
             "buyer_logon_id": "sim***@example.com", "trade_status": status, "total_amount": fen_to_yuan(t.amount_fen),
             "buyer_pay_amount": fen_to_yuan(t.amount_fen if t.paid_at else 0), "buyer_user_id": "2088000000000001"}
        if t.paid_at:
            d["send_pay_date"] = t.paid_at[:19].replace("T", " ")
        return d

    def refund(self, t: Trade, biz: dict[str, Any]) -> dict[str, Any]:
        amount = biz.get("refund_amount")
        rno = biz.get("out_request_no") or t.out_trade_no
        if not isinstance(amount, str | int | float) or not _YUAN.match(str(amount)) or yuan_to_fen(str(amount)) < 1:
            return biz_error("ACQ.INVALID_PARAMETER", "refund_amount 不合法")
        if not isinstance(rno, str) or not _ID.match(rno):
            return biz_error("ACQ.INVALID_PARAMETER", "out_request_no 不合法")
        if t.state != "SUCCESS":
            return biz_error("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        fen = yuan_to_fen(str(amount))
        existing = t.refunds.get(rno)
        fund_change = "N"
        if existing is not None:
            if existing.amount_fen != fen:
                return biz_error("ACQ.INVALID_PARAMETER", "同一退款请求号的退款金额不一致")
        else:
            if fen > t.amount_fen - t.refunded_fen:
                return biz_error("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
            self.ledger.refund(t, rno, fen)
            fund_change = "Y"
        return {"code": "10000", "msg": "Success", "trade_no": t.transaction_id, "out_trade_no": t.out_trade_no,
                "buyer_logon_id": "sim***@example.com", "fund_change": fund_change,
                "refund_fee": fen_to_yuan(t.refunded_fen), "gmt_refund_pay": now_cst().strftime("%Y-%m-%d %H:%M:%S")}

    def refund_query(self, t: Trade, biz: dict[str, Any]) -> dict[str, Any]:
        rno = biz.get("out_request_no")
        d: dict[str, Any] = {"code": "10000", "msg": "Success", "trade_no": t.transaction_id,
                             "out_trade_no": t.out_trade_no, "out_request_no": rno}
        r = t.refunds.get(rno) if isinstance(rno, str) else None
        if r is not None:
            d.update({"total_amount": fen_to_yuan(t.amount_fen), "refund_amount": fen_to_yuan(r.amount_fen),
                      "refund_status": "REFUND_SUCCESS", "gmt_refund_pay": r.created_at[:19].replace("T", " ")})
        return d

    def bill(self, biz: dict[str, Any]) -> dict[str, Any]:
        day = biz.get("bill_date")
        if biz.get("bill_type") != "trade" or not isinstance(day, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
            return biz_error("isv.invalid-parameter", "bill_type=trade, bill_date=yyyy-MM-dd")
        if self.bill_zip(day) is None:
            return biz_error("isp.bill_not_exist", "账单不存在")
        return {"code": "10000", "msg": "Success",
                "bill_download_url": f"{self.base_url}/_bills/alipay/{day}.zip?token={secrets.token_hex(8)}"}

    def bill_zip(self, day: str) -> bytes | None:
        paid, refunds = self.ledger.bill("alipay", day)
        if not paid and not refunds:
            return None
        out = io.StringIO()
        out.write(f"#支付宝业务明细查询\r\n#账号：[{self.keys.alipay_appid}]\r\n#起始日期：[{day} 00:00:00]\r\n")
        out.write(BILL_HEADER + "\r\n")
        w = csv.writer(out, lineterminator="\r\n")
        for t in paid:
            y = fen_to_yuan(t.amount_fen)
            w.writerow((t.transaction_id, t.out_trade_no, "交易", t.description, _t(t.created_at), _t(t.paid_at), "",
                        "", "", "", "sim***@example.com", y, y, "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00",
                        "0.00", "", "0.00", "0.00", ""))
        for t, r in refunds:
            y = "-" + fen_to_yuan(r.amount_fen)
            w.writerow((t.transaction_id, t.out_trade_no, "退款", t.description, _t(t.created_at), _t(r.created_at), "",
                        "", "", "", "sim***@example.com", "0.00", y, "0.00", "0.00", "0.00", "0.00", "0.00", "",
                        "0.00", "0.00", r.out_refund_no, "0.00", "0.00", ""))
        out.write("#-----------------------------------------业务明细列表结束------------------------------------\r\n")
        buf = io.BytesIO()
        name = f"{self.keys.alipay_appid}_{day.replace('-', '')}"
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(f"{name}_业务明细.csv", out.getvalue().encode("utf-8"))
            z.writestr(f"{name}_业务明细(汇总).csv", f"#汇总\r\n交易笔数,{len(paid)}\r\n".encode())
        return buf.getvalue()

    # -- notification ----------------------------------------------------------------------------------------
    def notification(self, t: Trade) -> tuple[dict[str, str], bytes]:
        y = fen_to_yuan(t.amount_fen)
        params = {"notify_time": now_cst().strftime("%Y-%m-%d %H:%M:%S"), "notify_type": "trade_status_sync",
                  "notify_id": secrets.token_hex(16), "app_id": self.keys.alipay_appid, "charset": "utf-8",
                  "version": "1.0", "trade_no": t.transaction_id, "out_trade_no": t.out_trade_no,
                  "trade_status": "TRADE_SUCCESS", "total_amount": y, "receipt_amount": y, "buyer_pay_amount": y,
                  "subject": t.description, "gmt_create": _t(t.created_at), "gmt_payment": _t(t.paid_at),
                  "buyer_id": "2088000000000001", "seller_id": "2088000000000002"}
        params["sign"] = self.sign(_sign_string(params))
        params["sign_type"] = "RSA2"
        from urllib.parse import urlencode
        return ({"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                urlencode(params).encode())


def _t(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S") if iso else ""
