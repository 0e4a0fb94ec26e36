"""The centre's payments against the simulated gateway: orders, notifications, query fallback, refunds, books."""
from __future__ import annotations

import json
import time

import httpx
import pytest

from server_bridge.central.payments.service import order_id_for
from tests.fixtures.console import console_user

PROVIDERS = ("wechat", "alipay")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_order_paid_by_notification_is_idempotent(provider, pay_centre) -> None:
    c = pay_centre
    first = c.order("K01", "ord-000001", provider)
    assert first.status_code == 200, first.text
    o = first.json()
    assert o["state"] == "open" and o["qr"] and o["order_id"] == order_id_for("K01", "ord-000001")
    again = c.order("K01", "ord-000001", provider).json()
    assert again["order_id"] == o["order_id"] and again["qr"] == o["qr"]
    clash = c.order("K01", "ord-000001", provider, amount_fen=1)
    assert clash.status_code == 409
    assert c.gateway.pay(provider, o["order_id"])[0] == 200
    paid = c.wait_state("K01", "ord-000001", ("paid",))
    assert paid["state"] == "paid" and paid["paid_via"] in ("notification", "query")
    # another station cannot read K01's order under its own name
    assert c.api("GET", "K02", "/orders/ord-000001").status_code == 404


@pytest.mark.parametrize("provider", PROVIDERS)
def test_dropped_notification_is_found_by_query(provider, pay_centre) -> None:
    c = pay_centre
    o = c.order("K01", "ord-drop01", provider).json()
    c.fault(kind="drop_notification", provider=provider)
    c.gateway.pay(provider, o["order_id"])
    paid = c.wait_state("K01", "ord-drop01", ("paid",), timeout=5)
    assert paid["state"] == "paid" and paid["paid_via"] == "query"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_forged_and_replayed_notifications(provider, pay_centre, tmp_path) -> None:
    from drivers.payment.gateway import Gateway

    c = pay_centre
    o = c.order("K01", "ord-forge1", provider).json()
    c.fault(kind="drop_notification", provider=provider, count=5)
    c.fault(kind="timeout", provider=provider, op="query", seconds=2, count=1000, apply=False)  # no fallback
    url = f"{c.url}/api/v1/payments/{provider}/notify"
    # a forger's gateway (other keys) says the order is paid: refused, order unchanged
    forger = Gateway(tmp_path / "forger")
    forger.httpd.server_close()
    trade = c.gateway.ledger.get(provider, o["order_id"])
    api = forger.wechat if provider == "wechat" else forger.alipay
    trade_copy = type(trade)(**{**trade.__dict__, "state": "SUCCESS", "transaction_id": "FORGED0001",
                                "paid_at": "2026-11-30T10:00:00+08:00"})
    headers, body = api.notification(trade_copy)
    r = httpx.post(url, content=body, headers=headers)
    assert r.status_code == 400
    assert c.api("GET", "K01", "/orders/ord-forge1").json()["state"] == "open"
    # garbage is refused too
    assert httpx.post(url, content=b"{}", headers={"Content-Type": "application/json"}).status_code == 400
    # the real notification, delivered three times (replays): paid once
    c.gateway.pay(provider, o["order_id"])
    real_api = c.gateway.wechat if provider == "wechat" else c.gateway.alipay
    headers, body = real_api.notification(c.gateway.ledger.get(provider, o["order_id"]))
    for _ in range(3):
        r = httpx.post(url, content=body, headers=headers)
        assert r.status_code in (200, 204)
        if provider == "alipay":
            assert r.text == "success"
    view = c.api("GET", "K01", "/orders/ord-forge1").json()
    assert view["state"] == "paid" and view["paid_via"] == "notification"
    assert view["transaction_id"] == c.gateway.ledger.get(provider, o["order_id"]).transaction_id


def test_amount_limits_at_the_centre(pay_centre) -> None:
    c = pay_centre
    zero = c.order("K01", "ord-zero01", "wechat", amount_fen=0)
    assert zero.status_code == 422 and zero.json()["code"] == "payment_invalid"
    assert c.order("K01", "ord-onefen", "alipay", amount_fen=1).json()["state"] == "open"
    assert c.order("K01", "ord-capcap", "wechat", amount_fen=10_000_000).json()["state"] == "open"
    over = c.order("K01", "ord-overca", "wechat", amount_fen=10_000_001)
    assert over.status_code == 422
    bad = c.api("POST", "K01", "/orders", json={"station_order_id": "x", "provider": "paypal"})
    assert bad.status_code == 422
    assert c.api("GET", "K01", "/orders/ord-zero01").status_code == 404  # a refused body stored nothing


@pytest.mark.parametrize("provider", PROVIDERS)
def test_return_at_another_station_refunds_deposit_minus_fee_once(provider, pay_centre) -> None:
    c = pay_centre
    o = c.order("K01", "ord-lend01", provider, amount_fen=9900, item_type="powerbank", item_id="PB-0001").json()
    c.gateway.pay(provider, o["order_id"])
    assert c.wait_state("K01", "ord-lend01", ("paid",))["state"] == "paid"
    settle = {"settle_key": "ret-000001", "item_id": "PB-0001", "fee_fen": 300}
    r1 = c.api("POST", "K02", "/settlements", json=settle)
    assert r1.status_code == 200, r1.text
    s1 = r1.json()
    assert (s1["deposit_fen"], s1["fee_fen"], s1["refund_fen"]) == (9900, 300, 9600)
    s2 = c.api("POST", "K02", "/settlements", json=settle).json()  # the return uploaded twice
    assert s2["out_refund_no"] == s1["out_refund_no"]
    other = c.api("POST", "K01", "/settlements", json={**settle, "settle_key": "ret-other1"})
    assert other.status_code in (404, 409)  # no second settlement of the same deposit
    view = c.wait_refunds("K01", "ord-lend01")
    assert [(r["amount_fen"], r["state"]) for r in view["refunds"]] == [(9600, "succeeded")]
    trade = c.gateway.ledger.get(provider, o["order_id"])
    assert trade.refunded_fen == 9600 and len(trade.refunds) == 1


def test_kept_past_the_limit_refunds_nothing(pay_centre) -> None:
    c = pay_centre
    o = c.order("K01", "ord-kept01", "wechat", amount_fen=9900, item_id="PB-0002").json()
    c.gateway.pay("wechat", o["order_id"])
    c.wait_state("K01", "ord-kept01", ("paid",))
    s = c.api("POST", "K01", "/settlements", json={"settle_key": "ret-kept01", "order_id": o["order_id"],
                                                   "fee_fen": 12000}).json()
    assert (s["fee_fen"], s["refund_fen"], s["out_refund_no"]) == (9900, 0, None)
    assert c.gateway.ledger.get("wechat", o["order_id"]).refunds == {}


@pytest.mark.parametrize("provider", ["wechat", pytest.param("alipay", marks=pytest.mark.slow)])
def test_refund_retried_through_failure_and_timeout_happens_once(provider, pay_centre) -> None:
    c = pay_centre
    o = c.order("K01", "ord-retry1", provider, amount_fen=5000).json()
    c.gateway.pay(provider, o["order_id"])
    c.wait_state("K01", "ord-retry1", ("paid",))
    c.fault(kind="fail_refund", provider=provider)
    c.fault(kind="timeout", provider=provider, op="refund", seconds=6, apply=True)
    r = c.api("POST", "K01", "/orders/ord-retry1/refunds", json={"refund_key": "undispensed", "amount_fen": 5000,
                                                                 "reason": "door never opened"})
    assert r.status_code == 200 and r.json()["state"] == "pending"
    again = c.api("POST", "K01", "/orders/ord-retry1/refunds", json={"refund_key": "undispensed",
                                                                     "amount_fen": 5000})
    assert again.json()["out_refund_no"] == r.json()["out_refund_no"]
    over = c.api("POST", "K01", "/orders/ord-retry1/refunds", json={"refund_key": "another", "amount_fen": 1})
    assert over.status_code == 422  # beyond what was paid
    view = c.wait_refunds("K01", "ord-retry1", timeout=30)
    [job] = view["refunds"]
    assert job["state"] == "succeeded" and job["attempts"] >= 2
    assert c.gateway.ledger.get(provider, o["order_id"]).refunded_fen == 5000


def test_unpaid_order_is_closed_and_cannot_be_refunded(pay_centre) -> None:
    c = pay_centre
    o = c.order("K01", "ord-close1", "wechat").json()
    closed = c.api("POST", "K01", "/orders/ord-close1/close").json()
    assert closed["state"] == "closed"
    assert c.gateway.pay("wechat", o["order_id"])[0] == 409
    r = c.api("POST", "K01", "/orders/ord-close1/refunds", json={"refund_key": "nothing1", "amount_fen": 100})
    assert r.status_code == 422


def test_station_auth_is_required(pay_centre) -> None:
    c = pay_centre
    r = httpx.post(f"{c.url}/api/v1/stations/K01/payments/orders", json={})
    assert r.status_code == 401
    r = httpx.post(f"{c.url}/api/v1/stations/K01/payments/orders", json={},
                   headers={"Authorization": f"Bearer {c.tokens['K02']}"})
    assert r.status_code == 403


@pytest.mark.parametrize("provider", PROVIDERS)
def test_reconciliation_catches_missing_and_extra(provider, pay_centre, providers, china_today) -> None:
    c = pay_centre
    good = c.order("K01", "ord-book01", provider, amount_fen=700).json()
    c.gateway.pay(provider, good["order_id"])
    c.wait_state("K01", "ord-book01", ("paid",))
    # extra: a trade the provider billed that the centre never saw paid (made behind its back)
    providers[provider].create_qr("EXTRA" + provider.upper() + "01", 555, "not ours", "http://127.0.0.1:9/n")
    c.gateway.pay(provider, "EXTRA" + provider.upper() + "01")
    # missing: a payment the centre believes in that the provider does not bill (the gateway forgot it)
    lost = c.order("K01", "ord-book02", provider, amount_fen=800).json()
    c.gateway.pay(provider, lost["order_id"])
    c.wait_state("K01", "ord-book02", ("paid",))
    with c.gateway.ledger.lock:
        del c.gateway.ledger.trades[(provider, lost["order_id"])]
        c.gateway.ledger.save()
    ops = console_user(c.url, c.proc.db_url, "pay-ops", "ops")
    r = ops.post("/payments/reconcile", params={"day": china_today().isoformat(), "provider": provider})
    assert r.status_code == 200, r.text
    found = {(m["kind"], m["ref"]) for m in r.json()["mismatches"]}
    assert found == {("missing_at_provider", lost["order_id"]), ("extra_at_provider", "EXTRA" + provider.upper() + "01")}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        alerts = ops.get("/alerts?lang=en").text
        if lost["order_id"] in alerts:
            break
        time.sleep(0.3)
    assert lost["order_id"] in alerts and "EXTRA" + provider.upper() + "01" in alerts
    csv_text = ops.get("/payments/export.csv").text
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("day,station_id,payments,takings_fen")
    [row] = [ln for ln in lines[1:] if ",K01," in ln]
    assert row.split(",")[2:4] == ["2", "1500"]
    page = ops.get("/payments")
    assert page.status_code == 200 and "15.00" in page.text
    assert httpx.get(f"{c.url}/payments", follow_redirects=False).status_code == 303  # the console needs a login


def test_serve_flag_turns_payments_on(tmp_path, gateway) -> None:
    import subprocess
    import sys

    from mallcommon.net import free_port

    port = free_port()
    db = f"sqlite:///{tmp_path / 'c.db'}"
    proc = subprocess.Popen([sys.executable, "-m", "server_bridge.central", "serve", "--db", db, "--port", str(port),
                             "--payments", str(gateway.merchant_file)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/login", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        page = console_user(f"http://127.0.0.1:{port}", db, "pat", "ops").get("/payments")
        assert "on: alipay, wechat" in page.text
    finally:
        proc.terminate()
        proc.wait(10)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"wechat": {"mchid": "1"}}))
    out = subprocess.run([sys.executable, "-m", "server_bridge.central", "serve", "--db", db, "--port", str(port),
                          "--payments", str(bad)], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "wechat.appid" in out.stderr


@pytest.mark.parametrize("provider", ["wechat", pytest.param("alipay", marks=pytest.mark.slow)])
def test_create_timeout_then_retry_reaches_the_same_provider_order(provider, pay_centre) -> None:
    """Gateway timeout while creating (the order exists at the provider, the answer was lost): 503, then the
    station asks again with the same id and gets the same order, one trade at the provider."""
    c = pay_centre
    c.fault(kind="timeout", provider=provider, op="create", seconds=7, apply=True)
    first = c.order("K01", "ord-tmo001", provider)
    assert first.status_code == 503 and first.json()["code"] == "provider_unavailable"
    again = c.order("K01", "ord-tmo001", provider)
    assert again.status_code == 200 and again.json()["state"] == "open"
    oid = again.json()["order_id"]
    assert [t["out_trade_no"] for t in c.gateway.ledger.snapshot()].count(oid) == 1
    c.gateway.pay(provider, oid)
    assert c.wait_state("K01", "ord-tmo001", ("paid",))["state"] == "paid"


@pytest.mark.parametrize("provider", ["wechat", pytest.param("alipay", marks=pytest.mark.slow)])
def test_late_and_duplicated_notifications_change_nothing_twice(provider, pay_centre) -> None:
    c = pay_centre
    o = c.order("K01", "ord-late01", provider).json()
    c.fault(kind="delay_notification", provider=provider, seconds=2.0)
    c.fault(kind="duplicate_notification", provider=provider)
    c.gateway.pay(provider, o["order_id"])
    paid = c.wait_state("K01", "ord-late01", ("paid",), timeout=5)
    assert paid["paid_via"] == "query"  # the query fallback was first
    time.sleep(2.5)  # the late notification and its duplicate arrive now
    log = httpx.get(c.gateway.url + "/_sim/notifications").json()["notifications"]
    acked = [e for e in log if e["out_trade_no"] == o["order_id"] and e["outcome"] == "acked"]
    assert len(acked) == 2  # both copies acknowledged (so the provider stops retrying) …
    after = c.api("GET", "K01", "/orders/ord-late01").json()
    assert (after["state"], after["paid_at"], after["paid_via"]) == ("paid", paid["paid_at"], "query")  # … once
