"""The payment-QR screen on a real station (Kivy under Xvfb): borrow → pay by QR → the door opens."""
from __future__ import annotations

from pathlib import Path

from kiosk.bootstrap import build_payments


def test_pay_screen_shows_the_qr_and_then_the_item(make_ui, paid_stack, pay_centre, screenshot_dir: Path) -> None:
    s = paid_stack
    s.start_sim("U1")
    s.start_sim("U2")
    s.start_sim("P1", auto_take=0.5)
    station = s.build_station()
    station.payments = build_payments(station, pay_centre.url, pay_centre.tokens["K01"])
    ui = make_ui(station)
    ui.app.go("borrow", item_type="power_bank")
    borrow = ui.wait_screen("borrow")
    ui.wait_until(lambda: borrow.status == "ready", 10, "availability")
    ui.tap_text("微信支付押金")
    pay = ui.wait_screen("pay", 10)
    ui.wait_until(lambda: pay.state == "open", 20, "the payment QR")
    texts = ui.visible_texts()
    assert any("押金 ¥99.00（微信支付）" in t for t in texts), texts
    assert any("请扫码支付押金" in t for t in texts)
    assert pay.qr.startswith("weixin://wxpay/bizpayurl?pr=")
    ui.screenshot(screenshot_dir / "pay-qr-zh_CN.png")
    order = station.payments.order(pay.station_order_id)
    assert pay_centre.gateway.pay("wechat", order.order_id)[0] == 200
    ui.wait_until(lambda: pay.state == "done", 30, "the item to come out")
    assert any("已支付，请取走物品。" in t for t in ui.visible_texts())
    ui.screenshot(screenshot_dir / "pay-done-zh_CN.png")
    assert station.payments.order(pay.station_order_id).state == "reported"
    assert len(station.lending.lendings(open_only=True)) == 1


def test_returned_screen_shows_the_deposit_refund_and_its_reference(make_ui, paid_stack, pay_centre,
                                                                     screenshot_dir: Path) -> None:
    s = paid_stack
    s.start_sim("U1")
    s.start_sim("U2")
    s.start_sim("P1", auto_take=0.2)
    station = s.build_station()
    station.payments = build_payments(station, pay_centre.url, pay_centre.tokens["K01"])
    returns: list = []
    station.lending.on_return(returns.append)  # after the payment service's listener, as the UI's is
    order = station.payments.start_borrow("power_bank", "alipay")
    pay_centre.gateway.pay("alipay", order.order_id)
    station.payments.wait_paid(order.station_order_id, 10)
    out = station.payments.dispense(order.station_order_id)
    s.clock.advance(2 * 3600)  # 600 fen
    s.control("P1", {"op": "insert", "item": out.item_id, "battery": 90})
    s.wait(lambda: bool(returns), what="the return")
    ui = make_ui(station)
    ui.app.go("returned", result=returns[0])
    screen = ui.wait_screen("returned")
    ui.wait_until(lambda: bool(screen.refund), 10, "the refund line")
    ref = station.payments.settlement(out.item_id)["out_refund_no"]
    texts = ui.visible_texts()
    assert any(f"押金已退：¥93.00（退款单号 {ref}）" in t for t in texts), texts
    assert any("费用：¥6.00" in t or "¥6.00" in t for t in texts), texts
    ui.screenshot(screenshot_dir / "pay-returned-zh_CN.png")


def test_member_fee_is_paid_at_the_screen_and_an_unpaid_one_stops_the_next_borrow(make_ui, paid_stack, pay_centre,
                                                                                 screenshot_dir: Path) -> None:
    from kiosk.services.scanning import MemberScanned

    s = paid_stack
    s.start_sim("U1", auto_take=0.1)
    s.start_sim("U2", fill=0)
    s.start_sim("P1")
    station = s.build_station()
    station.payments = build_payments(station, pay_centre.url, pay_centre.tokens["K01"])
    returns: list = []
    station.lending.on_return(returns.append)
    lent = station.lending.borrow(s.member_code("M10086"), "umbrella")
    s.clock.advance(2 * 3600)  # 400 fen
    s.control("U2", {"op": "insert", "item": lent.lending.item_id})
    s.wait(lambda: bool(returns), what="the return")
    ui = make_ui(station)
    # the next borrow is refused and the fee is offered right there
    ui.app.go("borrow", item_type="umbrella")
    borrow = ui.wait_screen("borrow")
    ui.wait_until(lambda: borrow.status == "ready", 10, "availability")
    assert borrow.on_scan(MemberScanned(s.member_code("M10086")))  # the member shows the code
    pay = ui.wait_screen("pay", 10)
    ui.wait_until(lambda: pay.state == "choose" and pay.amount_fen == 400, 10, "the fee owed")
    assert any("您有未支付的费用" in t for t in ui.visible_texts())
    assert station.lending.lendings(open_only=True) == []
    # the returned screen offers the same payment
    ui.app.go("returned", result=returns[0])
    returned = ui.wait_screen("returned")
    ui.wait_until(lambda: returned.fee_due, 5, "the fee line")
    assert any("付清后才能再次借用" in t for t in ui.visible_texts())
    ui.screenshot(screenshot_dir / "pay-fee-returned-zh_CN.png")
    ui.tap_text("现在扫码支付费用")
    pay = ui.wait_screen("pay", 10)
    ui.wait_until(lambda: pay.state == "choose" and pay.amount_fen == 400, 10, "the fee owed")
    ui.tap_text("用支付宝支付费用")
    ui.wait_until(lambda: pay.state == "fee_open", 20, "the fee QR")
    assert any("费用 ¥4.00" in t for t in ui.visible_texts())
    ui.screenshot(screenshot_dir / "pay-fee-qr-zh_CN.png")
    order = station.payments.order(pay.station_order_id)
    assert pay_centre.gateway.pay("alipay", order.order_id)[0] == 200
    ui.wait_until(lambda: pay.state == "fee_paid", 30, "the fee paid")
    assert any("费用已支付，谢谢！" in t for t in ui.visible_texts())
    assert station.payments.unpaid_fee_fen("M10086") == 0
