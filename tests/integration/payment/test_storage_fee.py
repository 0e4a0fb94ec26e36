"""Bag storage charges like the rest (issue 14): the price is shown before the deposit, and a fee above 0 is paid
by QR through the centre before the bag's door opens; a payment covers the walk back to the door."""
from __future__ import annotations

import pytest

from kiosk.services.payments import CentrePayments, PaymentsService
from kiosk.services.storage import StorageFeeDue
from tests.unit.services.conftest import make_world, store_dir  # noqa: F401  (fixtures)
from tests.unit.services.test_storage import deposit


def test_bag_fee_is_paid_by_qr_before_its_door_opens(make_world, pay_centre) -> None:  # noqa: F811
    w = make_world({"S1": "storage", "U1": "umbrella"}, fill={"S1": 0}, auto_take={"S1": 0.2})
    pay = PaymentsService(store=w.store, centre=CentrePayments(pay_centre.url, "K01", pay_centre.tokens["K01"]),
                          lending=w.lending, station_id="K01", clock=w.clock.wall)
    w.storage.fee_gate = pay
    free, kept = deposit(w, "BAG-F"), deposit(w, "BAG-K")
    assert w.storage.pickup(free.code).fee_cents == 0  # within the free time: the door opens, nothing to pay
    w.clock.advance(3 * 3600 - 60)  # 2 h free, then one started hour: 200 fen
    with pytest.raises(StorageFeeDue) as due:
        w.storage.pickup(kept.code)
    assert (due.value.code, due.value.owed_fen) == ("fee_due", 200)
    assert w.link.slots("S1")[kept.slot - 1].item == "BAG-K"  # nothing moved
    order = pay.start_fee(due.value.payer, "wechat", "storage")
    assert (order.purpose, order.amount_fen) == ("storage", 200)
    assert pay_centre.gateway.pay("wechat", order.order_id)[0] == 200
    assert pay.wait_paid(order.station_order_id, 10).state == "collected"
    w.clock.advance(10 * 60)  # the walk to the door crosses into the next hour: the payment still covers it
    done = w.storage.pickup(kept.code)
    assert done.fee_cents == 200 and not w.link.slots("S1")[kept.slot - 1].item
    view = pay_centre.api("GET", "K01", f"/orders/{order.station_order_id}").json()
    assert (view["purpose"], view["state"], view["amount_fen"], view["refunds"]) == ("storage", "paid", 200, [])
