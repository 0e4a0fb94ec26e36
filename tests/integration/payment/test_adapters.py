"""The two provider adapters against the simulated gateway, through the real SDKs (only the gateway URL set)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from drivers.payment import InvalidNotification, OutcomeUnknown, PaymentNotice, PaymentRefused, make_providers
from drivers.payment.alipay import AlipayProvider
from drivers.payment.config import load_merchant
from drivers.payment.gateway import Gateway
from drivers.payment.gateway.server import DEFAULT_MAX_AMOUNT_FEN
from drivers.payment.wechat import WechatPayProvider

PROVIDERS = ("wechat", "alipay")


def _no(tag: str) -> str:
    return f"{tag}{time.monotonic_ns() % 10**12:012d}"


@pytest.mark.parametrize("name", PROVIDERS)
def test_pay_notify_refund_bill(name, gateway, providers, receiver, china_today) -> None:
    p = providers[name]
    no = _no("T")
    qr = p.create_qr(no, 1500, "Power bank deposit", receiver.url + name)
    assert qr.qr.startswith("weixin://wxpay/bizpayurl?pr=" if name == "wechat" else "https://qr.alipay.com/")
    assert p.create_qr(no, 1500, "Power bank deposit", receiver.url + name).qr.startswith(qr.qr[:20])  # repeat is fine
    assert p.query(no).state == ("NOTPAY" if name == "wechat" else "NOT_FOUND")  # Alipay: not scanned yet
    status, paid = gateway.pay(name, no)
    assert status == 200
    [(_, notice)] = receiver.wait(1)
    assert isinstance(notice, PaymentNotice)
    assert (notice.out_trade_no, notice.amount_fen, notice.transaction_id) == (no, 1500, paid["transaction_id"])
    q = p.query(no)
    assert (q.state, q.amount_fen, q.transaction_id) == ("SUCCESS", 1500, paid["transaction_id"])
    r = p.refund(no, no + "R", 1200, 1500, "return minus fee")
    assert r.state in ("SUCCESS", "PROCESSING") and r.amount_fen == 1200
    again = p.refund(no, no + "R", 1200, 1500, "return minus fee")  # same out_refund_no: the same refund
    assert again.amount_fen == 1200
    assert p.query_refund(no, no + "R").state == "SUCCESS"
    assert p.query_refund(no, no + "X").state == "NOT_FOUND"
    with pytest.raises(PaymentRefused) as over:
        p.refund(no, no + "S", 301, 1500)
    assert over.value.code == ("INVALID_REQUEST" if name == "wechat" else "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL")
    p.refund(no, no + "S", 300, 1500)  # exactly the rest is allowed
    [trade] = [t for t in requests.get(gateway.url + "/_sim/state").json()["trades"] if t["out_trade_no"] == no]
    assert trade["refunded_fen"] == 1500 and sorted(trade["refunds"]) == [no + "R", no + "S"]
    rows = p.trade_bill(china_today())
    mine = sorted((r.kind, r.out_refund_no, r.amount_fen) for r in rows if r.out_trade_no == no)
    assert mine == [("payment", None, 1500), ("refund", no + "R", 1200), ("refund", no + "S", 300)]


@pytest.mark.parametrize("name", PROVIDERS)
def test_amounts_at_the_limits(name, providers, receiver) -> None:
    p = providers[name]
    with pytest.raises(PaymentRefused) as zero:
        p.create_qr(_no("Z"), 0, "zero", receiver.url + name)
    assert zero.value.code == ("PARAM_ERROR" if name == "wechat" else "ACQ.INVALID_PARAMETER")
    assert p.create_qr(_no("O"), 1, "one fen", receiver.url + name).amount_fen == 1
    assert p.create_qr(_no("C"), DEFAULT_MAX_AMOUNT_FEN, "cap", receiver.url + name).amount_fen == DEFAULT_MAX_AMOUNT_FEN
    with pytest.raises(PaymentRefused) as over:
        p.create_qr(_no("X"), DEFAULT_MAX_AMOUNT_FEN + 1, "over the cap", receiver.url + name)
    assert over.value.code == ("PARAM_ERROR" if name == "wechat" else "ACQ.TOTAL_FEE_EXCEED")


@pytest.mark.parametrize("name", PROVIDERS)
def test_unknown_orders_and_refund_of_unpaid(name, providers, receiver) -> None:
    p = providers[name]
    assert p.query(_no("U")).state == "NOT_FOUND"
    no = _no("N")
    p.create_qr(no, 100, "unpaid", receiver.url + name)
    with pytest.raises(PaymentRefused):
        p.refund(no, no + "R", 100, 100)
    with pytest.raises(PaymentRefused):
        p.refund(_no("U"), _no("R"), 100, 100)


def test_close_then_pay_is_refused(gateway, providers, receiver) -> None:
    p = providers["wechat"]
    no = _no("C")
    p.create_qr(no, 100, "closed", receiver.url + "wechat")
    p.close(no)
    assert p.query(no).state == "CLOSED"
    assert gateway.pay("wechat", no)[0] == 409
    with pytest.raises(PaymentRefused) as e:
        p.create_qr(no, 100, "closed", receiver.url + "wechat")
    assert e.value.code == "ORDER_CLOSED"


def test_alipay_close_of_unscanned_order_is_not_an_error(gateway, providers, receiver) -> None:
    p = providers["alipay"]
    no = _no("A")
    p.create_qr(no, 100, "never scanned", receiver.url + "alipay")
    p.close(no)  # ACQ.TRADE_NOT_EXIST is swallowed: nothing to close


@pytest.mark.parametrize("name", PROVIDERS)
def test_forged_notifications_are_refused(name, gateway, providers, receiver, gateway_keys_dir, tmp_path) -> None:
    p = providers[name]
    no = _no("F")
    p.create_qr(no, 800, "forge", receiver.url + name)
    gateway.pay(name, no)
    api = gateway.wechat if name == "wechat" else gateway.alipay
    trade = gateway.ledger.get(name, no)
    headers, body = api.notification(trade)
    assert p.verify_notification(headers, body).amount_fen == 800
    assert p.verify_notification(headers, body).out_trade_no == no  # a replay verifies: the centre dedups it
    if name == "alipay":
        tampered = body.replace(b"total_amount=8.00", b"total_amount=0.01")
    else:
        doc = json.loads(body)
        doc["summary"] = "forged"  # the signature covers the whole body
        tampered = json.dumps(doc, ensure_ascii=False).encode()
    assert tampered != body
    with pytest.raises(InvalidNotification):
        p.verify_notification(headers, tampered)
    # a notification signed by another gateway's keys (a forger's) does not verify here
    other = Gateway(tmp_path / "other").start()
    try:
        other_api = other.wechat if name == "wechat" else other.alipay
        h2, b2 = other_api.notification(trade)
        with pytest.raises(InvalidNotification):
            p.verify_notification(h2, b2)
    finally:
        other.stop()
    with pytest.raises(InvalidNotification):
        p.verify_notification({}, b"not a notification")


@pytest.mark.parametrize("name", PROVIDERS)
def test_bad_request_signature_gets_the_documented_error(name, gateway, tmp_path) -> None:
    merchant = json.loads(gateway.merchant_file.read_text())
    other = Gateway(tmp_path / "other")  # its merchant key is not the one this gateway knows
    other.httpd.server_close()
    key = "private_key_file" if name == "wechat" else "app_private_key_file"
    merchant[name][key] = str((other.state / json.loads(other.merchant_file.read_text())[name][key]).resolve())
    forged = tmp_path / "forged.json"
    for section in ("wechat", "alipay"):
        for k, v in merchant[section].items():
            if k.endswith("_file") and not Path(v).is_absolute():
                merchant[section][k] = str((gateway.state / v).resolve())
    forged.write_text(json.dumps(merchant))
    p = make_providers(str(forged))[name]
    with pytest.raises(PaymentRefused) as e:
        p.create_qr(_no("S"), 100, "bad signature", "http://127.0.0.1:9/n")
    assert e.value.code == ("SIGN_ERROR" if name == "wechat" else "isv.invalid-signature")
    assert gateway.ledger.snapshot() == []


@pytest.mark.parametrize("name", PROVIDERS)
def test_answer_signed_by_someone_else_is_not_trusted(name, gateway, tmp_path) -> None:
    other = Gateway(tmp_path / "other")
    other.httpd.server_close()
    cfg = load_merchant(gateway.merchant_file)
    other_cfg = load_merchant(other.merchant_file)
    if name == "wechat":
        w = cfg.wechat.__class__(**{**cfg.wechat.__dict__,
                                    "platform_public_key": other_cfg.wechat.platform_public_key})
        p = WechatPayProvider(cfg.__class__(cfg.gateway_url, w, None))
    else:
        a = cfg.alipay.__class__(**{**cfg.alipay.__dict__, "alipay_public_key": other_cfg.alipay.alipay_public_key})
        p = AlipayProvider(cfg.__class__(cfg.gateway_url, None, a))
    with pytest.raises(OutcomeUnknown):
        p.create_qr(_no("V"), 100, "spoofed gateway", "http://127.0.0.1:9/n")


@pytest.mark.parametrize("name", PROVIDERS)
def test_timeout_is_outcome_unknown_and_query_tells(name, gateway, providers, receiver) -> None:
    p = providers[name]
    no = _no("W")
    p.create_qr(no, 500, "timeout", receiver.url + name)
    gateway.pay(name, no)
    requests.post(gateway.url + "/_sim/faults", json={"kind": "timeout", "provider": name, "op": "refund",
                                                      "seconds": 2.5, "apply": True}).raise_for_status()
    with pytest.raises(OutcomeUnknown):
        p.refund(no, no + "R", 500, 500)
    assert p.query_refund(no, no + "R").state == "SUCCESS"  # it did happen
    assert p.refund(no, no + "R", 500, 500).amount_fen == 500  # retrying the same key is safe
    assert gateway.ledger.get(name, no).refunded_fen == 500


@pytest.mark.parametrize("name", PROVIDERS)
def test_failed_refund_once_then_retry(name, gateway, providers, receiver) -> None:
    p = providers[name]
    no = _no("E")
    p.create_qr(no, 500, "fail once", receiver.url + name)
    gateway.pay(name, no)
    requests.post(gateway.url + "/_sim/faults", json={"kind": "fail_refund", "provider": name}).raise_for_status()
    with pytest.raises(OutcomeUnknown):
        p.refund(no, no + "R", 400, 500)
    assert p.query_refund(no, no + "R").state == "NOT_FOUND"
    p.refund(no, no + "R", 400, 500)
    assert gateway.ledger.get(name, no).refunded_fen == 400


@pytest.mark.parametrize("name", PROVIDERS)
def test_notification_faults(name, gateway, providers, receiver) -> None:
    p = providers[name]
    faults = gateway.url + "/_sim/faults"
    no1, no2, no3, no4 = (_no(t) for t in "DPLR")
    for no in (no1, no2, no3, no4):
        p.create_qr(no, 100, "notify", receiver.url + name)
    requests.post(faults, json={"kind": "drop_notification", "provider": name}).raise_for_status()
    gateway.pay(name, no1)
    requests.post(faults, json={"kind": "duplicate_notification", "provider": name}).raise_for_status()
    gateway.pay(name, no2)
    requests.post(faults, json={"kind": "delay_notification", "provider": name, "seconds": 0.6}).raise_for_status()
    t0 = time.monotonic()
    gateway.pay(name, no3)
    receiver.refuse_first.add(no4)  # by order, not "the next one": no2's duplicate or no3 may come in between
    gateway.pay(name, no4)  # the merchant refuses the first delivery: the gateway retries
    got = receiver.wait(5)
    time.sleep(0.3)
    nos = [n.out_trade_no for _, n in receiver.received]
    assert no1 not in nos and nos.count(no2) == 2 and nos.count(no3) == 1 and nos.count(no4) == 2
    assert time.monotonic() - t0 >= 0.6
    assert len(got) >= 5
    assert p.query(no1).state == "SUCCESS"  # dropped notification: the query still tells
    log = requests.get(gateway.url + "/_sim/notifications").json()["notifications"]
    assert any(e["out_trade_no"] == no1 and e["outcome"] == "dropped" for e in log)


def test_control_api_refuses_bad_faults(gateway) -> None:
    r = requests.post(gateway.url + "/_sim/faults", json={"kind": "explode"})
    assert r.status_code == 422
    r = requests.post(gateway.url + "/_sim/faults", json={"kind": "timeout", "count": 0})
    assert r.status_code == 422
    assert requests.post(gateway.url + "/_sim/wechat/NOSUCHORDER/pay").status_code == 404


def test_serve_cli_writes_merchant_file_and_keeps_keys(tmp_path) -> None:
    state = tmp_path / "state"

    def run() -> dict:
        proc = subprocess.Popen([sys.executable, "-m", "drivers.payment.gateway", "serve", "--host", "127.0.0.1",
                                 "--port", "0", "--state", str(state)], stdout=subprocess.PIPE, text=True)
        try:
            line = json.loads(proc.stdout.readline())
            assert requests.get(line["gateway_url"] + "/_sim/health", timeout=5).json()["ok"]
            return line
        finally:
            proc.terminate()
            proc.wait(10)

    first = run()
    merchant = json.loads((state / "merchant.json").read_text())
    assert merchant["gateway_url"] == first["gateway_url"]
    assert set(merchant["wechat"]) == {"mchid", "appid", "apiv3_key", "cert_serial_no", "private_key_file",
                                       "public_key_id", "platform_public_key_file"}
    assert set(merchant["alipay"]) == {"appid", "app_private_key_file", "alipay_public_key_file"}
    cfg = load_merchant(state / "merchant.json")
    assert cfg.wechat and cfg.alipay and "PRIVATE KEY" in cfg.wechat.private_key
    second = run()
    again = json.loads((state / "merchant.json").read_text())
    assert again["gateway_url"] == second["gateway_url"]
    assert again["wechat"]["mchid"] == merchant["wechat"]["mchid"]  # same credentials on restart
