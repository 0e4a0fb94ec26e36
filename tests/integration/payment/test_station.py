"""Paid borrows at a real station (mosquitto + locker simulators) against a real centre and the gateway."""
from __future__ import annotations

import pytest

from kiosk.services.errors import LendingRefused
from kiosk.services.payments import CentrePayments, PaymentsService
from tests.fixtures.printer import wait_for_receipts
from tests.fixtures.station import StationStack
from tests.integration.payment.conftest import DEPOSIT


def receipt_texts(stack: StationStack, count: int) -> list[str]:
    """The virtual printer's receipts as text, once `count` of them exist."""
    return [p.with_suffix(".txt").read_text() for p in wait_for_receipts(stack.printer, count)]  # type: ignore[attr-defined]


def payments_for(stack: StationStack, centre, station) -> PaymentsService:
    client = CentrePayments(centre.url, "K01", centre.tokens["K01"])
    svc = PaymentsService(store=station.store, centre=client, lending=station.lending, station_id="K01",
                          clock=stack.clock)
    svc.attach(station.lending)
    return svc


def paid_station(s: StationStack, centre, provider: str, take: float | None = 0.2) -> tuple:
    """Lockers up (P1's shopper takes the item after `take` s, or never), the station built, and a QR-paid order."""
    s.start_sim("U1")
    s.start_sim("U2")
    s.start_sim("P1", auto_take=take)
    station = s.build_station()
    pay = payments_for(s, centre, station)
    order = pay.start_borrow("power_bank", provider)
    assert centre.gateway.pay(provider, order.order_id)[0] == 200
    assert pay.wait_paid(order.station_order_id, 10).state == "paid"
    return station, pay, order


@pytest.mark.parametrize("provider", ["wechat", "alipay"])
def test_non_member_pays_borrows_and_gets_deposit_minus_fee_back(provider, paid_stack, pay_centre) -> None:
    s = paid_stack
    station, pay, order = paid_station(s, pay_centre, provider)
    assert order.amount_fen == DEPOSIT and order.qr
    done = pay.dispense(order.station_order_id)
    assert done.state == "reported" and done.item_id and done.lending_id
    lending = station.lending.lendings(open_only=True)[0]
    assert lending.item_id == done.item_id and lending.member_id == "PAY-" + order.station_order_id
    s.clock.advance(2 * 3600)  # 2 h: 10 min free, then 2 started hours at 3 yuan = 600 fen
    s.control("P1", {"op": "insert", "item": done.item_id, "battery": 90})
    s.wait(lambda: (pay.settlement(done.item_id) or {}).get("state") == "done", what="settlement")
    st = pay.settlement(done.item_id)
    assert (st["fee_fen"], st["refund_fen"]) == (600, DEPOSIT - 600) and st["out_refund_no"]
    view = pay_centre.wait_refunds("K01", order.station_order_id)
    assert [(r["amount_fen"], r["state"]) for r in view["refunds"]] == [(DEPOSIT - 600, "succeeded")]
    assert pay_centre.gateway.ledger.get(provider, order.order_id).refunded_fen == DEPOSIT - 600
    lent, back = receipt_texts(s, 2)  # on paper: fee, refund and its reference; the payer is no member
    assert "借用凭证" in lent and "扫码已付" in lent and "PAY-" not in lent and "会员" not in lent
    assert "归还凭证" in back and "PAY-" not in back and "会员" not in back
    assert "¥6.00" in back and "¥99.00" in back and "¥93.00" in back and st["out_refund_no"] in back


def test_door_that_never_gives_the_item_refunds_in_full(paid_stack, pay_centre) -> None:
    s = paid_stack
    station, pay, order = paid_station(s, pay_centre, "wechat", take=None)  # the door closes on the item
    out = pay.dispense(order.station_order_id)
    if out.state == "dispensing":  # the outcome needed the locker's state: reconcile settles it
        s.wait(lambda: (pay.reconcile() or True) and pay.order(order.station_order_id).state != "dispensing",
               timeout=30, what="the unsettled borrow")
        out = pay.order(order.station_order_id)
    assert out.state == "refunded" and out.refund and out.refund["refund_fen"] == DEPOSIT
    view = pay_centre.wait_refunds("K01", order.station_order_id)
    assert [(r["amount_fen"], r["state"]) for r in view["refunds"]] == [(DEPOSIT, "succeeded")]
    assert station.lending.lendings(open_only=True) == []


def test_station_killed_after_payment_before_the_door_refunds_once(paid_stack, pay_centre) -> None:
    s = paid_stack
    station, pay, order = paid_station(s, pay_centre, "alipay")
    # the process dies here: a new run over the same store reconciles
    station.stop()
    station = s.build_station()
    pay = payments_for(s, pay_centre, station)
    pay.reconcile()
    pay.reconcile()  # twice: still one refund
    assert pay.order(order.station_order_id).state == "refunded"
    view = pay_centre.wait_refunds("K01", order.station_order_id)
    assert [(r["amount_fen"], r["state"]) for r in view["refunds"]] == [(DEPOSIT, "succeeded")]
    assert station.lending.lendings(open_only=True) == []  # never both: no door was opened
    assert pay_centre.gateway.ledger.get("alipay", order.order_id).refunded_fen == DEPOSIT


def test_centre_down_while_a_refund_is_due_retries_until_done_once(paid_stack, pay_centre) -> None:
    s = paid_stack
    station, pay, order = paid_station(s, pay_centre, "wechat")
    done = pay.dispense(order.station_order_id)
    pay_centre.proc.stop()
    s.control("P1", {"op": "insert", "item": done.item_id, "battery": 90})
    s.wait(lambda: pay.settlement(done.item_id) is not None, what="the return")
    assert pay.settlement(done.item_id)["state"] == "due"
    pay.periodic()  # centre still down: still due
    assert pay.settlement(done.item_id)["state"] == "due"
    pay_centre.proc.start()
    pay.periodic()
    pay.periodic()
    assert pay.settlement(done.item_id)["state"] == "done"
    view = pay_centre.wait_refunds("K01", order.station_order_id)
    assert [(r["amount_fen"], r["state"]) for r in view["refunds"]] == [(DEPOSIT, "succeeded")]  # free minutes


def test_lend_pay_cli_and_sim_pay(paid_stack, pay_centre) -> None:
    """`lend --pay wechat`: its first JSON line carries the order and code_url; `sim pay` is the phone."""
    import json
    import subprocess
    import sys

    s = paid_stack
    s.start_sim("U1")
    s.start_sim("U2")
    s.start_sim("P1", auto_take=0.2)
    kiosk = [sys.executable, "-m", "kiosk", "--config", str(s.config_path)]
    proc = subprocess.Popen([*kiosk, "lend", "--type", "power_bank", "--pay", "wechat"], stdout=subprocess.PIPE,
                            text=True)
    try:
        first = json.loads(proc.stdout.readline())
        assert first["ok"] and first["stage"] == "pay" and first["code_url"].startswith("weixin://")
        assert first["amount_fen"] == DEPOSIT
        soid = first["order"]["station_order_id"]
        paid = subprocess.run([*kiosk, "sim", "pay", soid, "--gateway", pay_centre.gateway.url], capture_output=True,
                              text=True, timeout=60)
        assert paid.returncode == 0, paid.stdout + paid.stderr
        rest = [json.loads(line) for line in proc.stdout]
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert [r["stage"] for r in rest] == ["paid", "dispensed"]
    assert rest[-1]["order"]["item_id"]
    listed = subprocess.run([*kiosk, "payments"], capture_output=True, text=True, timeout=60).stdout
    assert soid in listed and '"state": "reported"' in listed
    item = rest[-1]["order"]["item_id"]  # `sim return` is the shopper's hand bringing it back (make run's demo)
    back = subprocess.run([*kiosk, "sim", "return", item, "--locker", "P1", "--creds", str(s.creds)],
                          capture_output=True, text=True, timeout=60)
    assert back.returncode == 0 and json.loads(back.stdout)["ok"], back.stdout + back.stderr
    s.wait(lambda: any(slot.item == item for slot in s.sims["P1"].slots()), what="the item back in P1")


def test_power_bank_kept_past_the_limit_keeps_the_deposit(paid_stack, pay_centre) -> None:
    s = paid_stack
    station, pay, order = paid_station(s, pay_centre, "wechat")
    done = pay.dispense(order.station_order_id)
    s.clock.advance(8 * 86400)  # the policy's 7 days: it counts as bought
    assert station.lending.settle_bought() == 1
    pay.periodic()
    st = pay.settlement(done.item_id)
    assert st["state"] == "done" and st["refund_fen"] == 0 and st["fee_fen"] == DEPOSIT
    view = pay_centre.api("GET", "K01", f"/orders/{order.station_order_id}").json()
    assert view["refunds"] == [] and view["settled_at"] and view["fee_fen"] == DEPOSIT
    pay.periodic()  # once
    assert pay_centre.gateway.ledger.get("wechat", order.order_id).refunds == {}
    returns: list = []  # brought back after all: the same settlement, and the receipt says the deposit was kept
    station.lending.on_return(returns.append)
    s.control("P1", {"op": "insert", "item": done.item_id, "battery": 90})
    s.wait(lambda: bool(returns), what="the late return")
    note = returns[0].payment
    assert returns[0].bought and note is not None and (note.kind, note.refund_fen, note.fee_fen) == ("kept", 0, DEPOSIT)
    back = receipt_texts(s, 2)[1]
    assert "押金已抵作购买价，不予退还" in back and "已转为购买" in back and "PAY-" not in back
    pay.periodic()
    assert pay_centre.gateway.ledger.get("wechat", order.order_id).refunds == {}


def test_member_fee_is_paid_by_qr_and_blocks_the_next_borrow_until_paid(paid_stack, pay_centre) -> None:
    s = paid_stack
    s.start_sim("U1", auto_take=0.1)
    s.start_sim("U2", fill=0)
    s.start_sim("P1")
    station = s.build_station()
    pay = payments_for(s, pay_centre, station)
    returns: list = []
    station.lending.on_return(returns.append)
    first = station.lending.borrow(s.member_code("M10086"), "umbrella")
    s.clock.advance(2 * 3600)  # 30 min free, then 2 started hours at 2 yuan = 400 fen
    s.control("U2", {"op": "insert", "item": first.lending.item_id})
    s.wait(lambda: bool(returns), what="the return")
    note = returns[0].payment
    assert note is not None and (note.kind, note.fee_fen) == ("fee_due", 400)
    assert "费用待支付 Fee to pay ¥4.00" in receipt_texts(s, 2)[1]
    assert pay.unpaid_fee_fen("M10086") == 400
    with pytest.raises(LendingRefused) as refused:  # blocked, nothing moved
        station.lending.borrow(s.member_code("M10086"), "umbrella")
    assert refused.value.code == "unpaid_fee" and station.lending.lendings(open_only=True) == []
    import json
    import subprocess
    import sys
    import time

    code = station.tokens.member_code("M10086", at=time.time())  # the CLI runs on the wall clock
    cli = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(s.config_path), "lend", "--type", "umbrella",
                          "--member-code", code], capture_output=True, text=True, timeout=60)
    assert cli.returncode == 1 and json.loads(cli.stdout.splitlines()[-1])["error"] == "unpaid_fee", cli.stdout
    abandoned = pay.start_fee("M10086", "wechat")  # the member walks away from the first QR ...
    order = pay.start_fee("M10086", "alipay")      # ... comes back: the first QR is closed, one fee QR remains
    assert pay.order(abandoned.station_order_id).state == "closed"
    assert (order.purpose, order.amount_fen) == ("fee", 400) and order.qr
    assert pay_centre.gateway.pay("alipay", order.order_id)[0] == 200
    assert pay.wait_paid(order.station_order_id, 10).state == "collected"
    assert pay.unpaid_fee_fen("M10086") == 0
    view = pay_centre.api("GET", "K01", f"/orders/{order.station_order_id}").json()
    assert (view["purpose"], view["state"], view["member_id"], view["refunds"]) == ("fee", "paid", "M10086", [])
    again = station.lending.borrow(s.member_code("M10086"), "umbrella")  # paid: borrowing works again
    assert again.lending.member_id == "M10086"
    pay.reconcile()  # after a restart nothing about the paid fee changes
    assert pay.order(order.station_order_id).state == "collected" and pay.unpaid_fee_fen("M10086") == 0


def test_return_at_another_station_refunds_there_once_with_its_receipt_note(paid_stack, pay_centre, tmp_path) -> None:
    """K02 does not know K01's lending: it settles the item's open deposit at the centre, once per return."""
    from kiosk.services.lending import ReturnResult
    from kiosk.store import Store

    s = paid_stack
    station, pay, order = paid_station(s, pay_centre, "alipay")
    done = pay.dispense(order.station_order_id)
    assert done.state == "reported"
    k02_store = Store(tmp_path / "k02.db")
    try:
        k02 = PaymentsService(store=k02_store, centre=CentrePayments(pay_centre.url, "K02", pay_centre.tokens["K02"]),
                              lending=station.lending, station_id="K02", clock=s.clock)
        back = ReturnResult(None, done.item_id, "P2", 3, 900, 3 * 3600, False)  # fee 900 computed at K02
        note = k02.note_for_return(back)
        assert note is not None and (note.kind, note.deposit_fen, note.fee_fen, note.refund_fen) == \
            ("refund", DEPOSIT, 900, DEPOSIT - 900) and note.out_refund_no
        assert k02.note_for_return(back) is None  # the same return heard again: no open deposit, no second refund
        view = pay_centre.wait_refunds("K01", order.station_order_id)
        assert [(r["amount_fen"], r["state"], r["station_id"]) for r in view["refunds"]] == \
            [(DEPOSIT - 900, "succeeded", "K02")]
        assert pay_centre.gateway.ledger.get("alipay", order.order_id).refunded_fen == DEPOSIT - 900
    finally:
        k02_store.close()


def test_refund_of_a_borrow_whose_item_came_back_is_not_made_twice(paid_stack, pay_centre) -> None:
    """Seen in the 10,000-lending soak: the door said "not taken", yet the item had left and its return settled the
    deposit first; the undispensed refund then meets the settled deposit and stops (one settlement per deposit)."""
    s = paid_stack
    station, pay, order = paid_station(s, pay_centre, "wechat")
    done = pay.dispense(order.station_order_id)
    s.control("P1", {"op": "insert", "item": done.item_id, "battery": 90})
    s.wait(lambda: (pay.settlement(done.item_id) or {}).get("state") == "done", what="the return's settlement")
    pay._set(order.station_order_id, state="refund_due", error="not_taken")  # what the lost door answer left
    assert pay.refund_in_full(order.station_order_id).state == "settled"
    pay.periodic()
    view = pay_centre.wait_refunds("K01", order.station_order_id)
    assert [(r["amount_fen"], r["state"]) for r in view["refunds"]] == [(DEPOSIT, "succeeded")]
    assert pay.order(order.station_order_id).state == "settled"
