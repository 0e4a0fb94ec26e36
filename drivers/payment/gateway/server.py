"""The HTTP server of the simulated gateway: provider routes, the control API, notification delivery."""
from __future__ import annotations

import json
import logging
import threading
import time
import urllib.parse
from dataclasses import fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from drivers.payment.gateway.alipay_api import METHODS, AlipayApi
from drivers.payment.gateway.keys import ensure_state
from drivers.payment.gateway.ledger import FAULT_KINDS, OPS, Fault, Faults, Ledger
from drivers.payment.gateway.wechat_api import ROUTES, WechatApi

log = logging.getLogger("payment.gateway")

DEFAULT_MAX_AMOUNT_FEN = 10_000_000  # 100,000.00 yuan: the simulated merchant's single-transaction limit
DEFAULT_NOTIFY_RETRY = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


class Notifier:
    """Delivers "paid" notifications; retries until acknowledged (WeChat: 2xx; Alipay: body `success`)."""

    def __init__(self, retry: tuple[float, ...], faults: Faults) -> None:
        self.retry = retry
        self.faults = faults
        self.log: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._session = requests.Session()

    def send(self, provider: str, out_trade_no: str, url: str, headers: dict[str, str], body: bytes) -> None:
        if self.faults.take("drop_notification", provider):
            self._record(provider, out_trade_no, url, "dropped", None)
            return
        copies = 2 if self.faults.take("duplicate_notification", provider) else 1
        delay_fault = self.faults.take("delay_notification", provider)
        delay = delay_fault.seconds if delay_fault else 0.0
        for i in range(copies):
            threading.Thread(target=self._deliver, args=(provider, out_trade_no, url, headers, body, delay + 0.05 * i),
                             daemon=True, name=f"notify-{out_trade_no}").start()

    def _deliver(self, provider: str, out_trade_no: str, url: str, headers: dict[str, str], body: bytes,
                 delay: float) -> None:
        if delay:
            time.sleep(delay)
        for attempt, wait in enumerate((0.0, *self.retry)):
            time.sleep(wait)
            try:
                r = self._session.post(url, data=body, headers=headers, timeout=5)
                ok = (200 <= r.status_code < 300) if provider == "wechat" else r.text.strip() == "success"
                self._record(provider, out_trade_no, url, "acked" if ok else f"refused {r.status_code}", attempt)
                if ok:
                    return
            except requests.RequestException as e:
                self._record(provider, out_trade_no, url, f"failed {type(e).__name__}", attempt)
        self._record(provider, out_trade_no, url, "gave up", None)

    def _record(self, provider: str, no: str, url: str, outcome: str, attempt: int | None) -> None:
        with self._lock:
            self.log.append({"provider": provider, "out_trade_no": no, "url": url, "outcome": outcome,
                             "attempt": attempt, "at": time.time()})


class Gateway:
    def __init__(self, state: Path, host: str = "127.0.0.1", port: int = 0, *,
                 max_amount_fen: int = DEFAULT_MAX_AMOUNT_FEN,
                 notify_retry: tuple[float, ...] = DEFAULT_NOTIFY_RETRY) -> None:
        self.state = Path(state)
        self.httpd = ThreadingHTTPServer((host, port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.gateway = self  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self.keys = ensure_state(self.state, self.url)
        self.ledger = Ledger(self.state / "ledger.json")
        self.faults = Faults()
        self.notifier = Notifier(notify_retry, self.faults)
        self.wechat = WechatApi(self.keys, self.ledger, max_amount_fen, self.url)
        self.alipay = AlipayApi(self.keys, self.ledger, max_amount_fen, self.url)
        self._thread: threading.Thread | None = None

    @property
    def merchant_file(self) -> Path:
        return self.state / "merchant.json"

    def start(self) -> Gateway:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="payment-gateway", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- the shopper's phone ---------------------------------------------------------------------------------
    def pay(self, provider: str, out_trade_no: str) -> tuple[int, dict[str, Any]]:
        with self.ledger.lock:
            t = self.ledger.get(provider, out_trade_no)
            if t is None:
                return 404, {"code": "ORDER_NOT_EXIST", "message": "no such order"}
            if t.state != "NOTPAY":
                return 409, {"code": "STATE", "message": f"order is {t.state}", "state": t.state}
            self.ledger.pay(t)
        api = self.wechat if provider == "wechat" else self.alipay
        headers, body = api.notification(t)
        self.notifier.send(provider, out_trade_no, t.notify_url, headers, body)
        return 200, {"provider": provider, "out_trade_no": out_trade_no, "state": "SUCCESS",
                     "transaction_id": t.transaction_id, "amount_fen": t.amount_fen}

    def arm(self, data: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(data, dict):
            return 422, {"code": "PARAM_ERROR", "message": "body must be an object"}
        known = {f.name for f in fields(Fault)}
        if set(data) - known:
            return 422, {"code": "PARAM_ERROR", "message": f"unknown keys {sorted(set(data) - known)}"}
        try:
            f = Fault(**data)
        except TypeError as e:
            return 422, {"code": "PARAM_ERROR", "message": str(e)}
        if (f.kind not in FAULT_KINDS or f.provider not in ("any", "wechat", "alipay") or f.op not in OPS
                or not isinstance(f.count, int) or f.count < 1 or not isinstance(f.seconds, int | float)
                or f.seconds < 0):
            return 422, {"code": "PARAM_ERROR", "message": f"kind in {FAULT_KINDS}, provider any|wechat|alipay, "
                                                           f"op in {OPS}, count ≥ 1, seconds ≥ 0"}
        self.faults.arm(f)
        return 200, {"armed": self.faults.listing()}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SimPayGateway/1.0"

    @property
    def gw(self) -> Gateway:
        return self.server.gateway  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        try:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            log.info("client left before the answer (timed out)")

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, {"Content-Type": "application/json; charset=utf-8"},
                   json.dumps(payload, ensure_ascii=False).encode())

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 1 << 20:
            self._json(413, {"code": "PARAM_ERROR", "message": "body too large"})
            return
        raw = self.rfile.read(length) if length else b""
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path
        try:
            if path.startswith("/v3/"):
                self._wechat(method, path, parsed.query, raw)
            elif path == "/gateway.do":
                self._alipay(method, parsed.query, raw)
            elif path.startswith("/_bills/alipay/") and method == "GET":
                data = self.gw.alipay.bill_zip(path.rsplit("/", 1)[-1].removesuffix(".zip"))
                if data is None:
                    self._json(404, {"code": "NOT_FOUND"})
                else:
                    self._send(200, {"Content-Type": "application/zip"}, data)
            elif path.startswith("/_sim/"):
                self._control(method, path, raw)
            else:
                self._json(404, {"code": "NOT_FOUND", "message": path})
        except Exception:  # a simulator bug must answer, not hang the client
            log.exception("gateway error on %s %s", method, self.path)
            self._json(500, {"code": "SYSTEM_ERROR", "message": "simulator error"})

    # -- WeChat ----------------------------------------------------------------------------------------------
    def _wechat(self, method: str, path: str, query: str, raw: bytes) -> None:
        api = self.gw.wechat
        for m, rx, op in ROUTES:  # noqa: B007 - op is used after the loop
            match = rx.match(path)
            if match and m == method:
                break
        else:
            self._json(404, {"code": "NOT_FOUND", "message": "no such API"})
            return
        body = raw.decode("utf-8", "replace")
        target = path + ("?" + query if query else "")
        headers = {k.lower(): v for k, v in self.headers.items()}
        reason = api.check_request(method, target, headers, body)
        if reason:
            self._send(*api.answer(401, {"code": "SIGN_ERROR", "message": f"签名错误: {reason}"}))
            return
        q = dict(urllib.parse.parse_qsl(query))
        if op == "bill_file":
            token = q.get("token", "")
            day, _, tar = token.partition(".")
            bill = api.bill_bytes(day, "" if tar == "RAW" else tar)
            if bill is None:
                self._json(404, {"code": "RESOURCE_NOT_EXISTS", "message": "账单不存在"})
            else:
                self._send(200, {"Content-Type": "application/octet-stream"}, bill)
            return
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            self._send(*api.answer(400, {"code": "PARAM_ERROR", "message": "body is not JSON"}))
            return
        if not isinstance(data, dict):
            self._send(*api.answer(400, {"code": "PARAM_ERROR", "message": "body is not an object"}))
            return
        timeout = self.gw.faults.take("timeout", "wechat", op)
        if timeout and not timeout.apply:
            time.sleep(timeout.seconds)
            self._send(*api.answer(504, {"code": "SYSTEM_ERROR", "message": "系统超时"}))
            return
        if op == "refund" and self.gw.faults.take("fail_refund", "wechat", op):
            status, payload = 500, {"code": "SYSTEM_ERROR", "message": "系统错误 (simulated)"}
        elif op == "create":
            status, payload = api.create(data)
        elif op == "query":
            status, payload = api.query(match.group(1), q)
        elif op == "close":
            status, payload = api.close(match.group(1), data)  # type: ignore[assignment]
        elif op == "refund":
            status, payload = api.refund(data)
        elif op == "refund_query":
            status, payload = api.refund_query(match.group(1))
        else:
            status, payload = api.bill(q)
        answer = api.answer(status, payload)
        if timeout:
            time.sleep(timeout.seconds)
        self._send(*answer)

    # -- Alipay ----------------------------------------------------------------------------------------------
    def _alipay(self, method: str, query: str, raw: bytes) -> None:
        api = self.gw.alipay
        text = query if method == "GET" else raw.decode("utf-8", "replace")
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True)
        params = dict(pairs)
        name = params.get("method", "")
        err = api.check_request(params) if len(params) == len(pairs) else ("isv.invalid-parameter", "参数重复")
        if err:
            self._send(200, {"Content-Type": "text/html;charset=utf-8"}, api.gateway_error(name, *err))
            return
        op = METHODS[name]
        timeout = self.gw.faults.take("timeout", "alipay", op)
        if timeout and not timeout.apply:
            time.sleep(timeout.seconds)
            self._send(504, {"Content-Type": "text/html"}, b"Gateway Timeout")
            return
        if op == "refund" and self.gw.faults.take("fail_refund", "alipay", op):
            payload = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.SYSTEM_ERROR",
                       "sub_msg": "系统错误 (simulated)"}
        else:
            payload = api.handle(name, params)
        body = api.answer(name, payload)
        if timeout:
            time.sleep(timeout.seconds)
        self._send(200, {"Content-Type": "text/html;charset=utf-8"}, body)

    # -- control ---------------------------------------------------------------------------------------------
    def _control(self, method: str, path: str, raw: bytes) -> None:
        parts = path.strip("/").split("/")
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            self._json(422, {"code": "PARAM_ERROR", "message": "body is not JSON"})
            return
        if len(parts) == 4 and parts[1] in ("wechat", "alipay") and parts[3] == "pay" and method == "POST":
            self._json(*self.gw.pay(parts[1], parts[2]))
        elif parts[1:] == ["faults"] and method == "POST":
            self._json(*self.gw.arm(data))
        elif parts[1:] == ["faults"] and method == "DELETE":
            self.gw.faults.clear()
            self._json(200, {"armed": []})
        elif parts[1:] == ["faults"] and method == "GET":
            self._json(200, {"armed": self.gw.faults.listing()})
        elif parts[1:] == ["state"] and method == "GET":
            self._json(200, {"trades": self.gw.ledger.snapshot()})
        elif parts[1:] == ["notifications"] and method == "GET":
            self._json(200, {"notifications": list(self.gw.notifier.log)})
        elif parts[1:] == ["health"] and method == "GET":
            self._json(200, {"ok": True, "gateway_url": self.gw.url})
        else:
            self._json(404, {"code": "NOT_FOUND", "message": "control: POST /_sim/{wechat|alipay}/{no}/pay, "
                                                             "GET|POST|DELETE /_sim/faults, GET /_sim/state"})
