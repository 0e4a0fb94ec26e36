"""Pay a deposit by QR (issue 14): WeChat Pay / Alipay through the centre, then the door opens. Or a member's
fee owed from a return (purpose "fee"): the member chooses WeChat Pay or Alipay, pays, and may borrow again.

The payment service does the work (kiosk.services.payments); this screen shows the amount and the QR, waits for
the centre to say paid, dispenses, and says what happened — the item is out, or nothing left and the deposit
is refunded in full. Leaving before paying closes the QR (a payment that raced it is refunded).
"""
from __future__ import annotations

import logging
from typing import Any

from kivy.properties import NumericProperty, StringProperty

from kiosk.ui.screens.base import FlowScreen
from kiosk.ui.services import error_code

log = logging.getLogger(__name__)

PROVIDERS = {"wechat": "WeChat Pay", "alipay": "Alipay"}
# state → (headline msgid, advice msgid)
STATES: dict[str, tuple[str, str]] = {
    "creating": ("Preparing the payment code…", ""),
    "open": ("Scan to pay the deposit", "The door opens as soon as you have paid."),
    "dispensing": ("Paid. The door is opening…", "Take your item from the open door."),
    "done": ("Paid. Take your item.", "Return it to any station: the deposit comes back minus the fee."),
    "refunded": ("Nothing was dispensed", "Your deposit is refunded in full."),
    "failed": ("The payment could not start", "Nothing was charged. Please ask the service desk."),
    "expired": ("The payment code has expired", "Nothing was charged."),
    "choose": ("You have an unpaid fee", "Pay it here by QR, then you can borrow again."),
    "fee_open": ("Scan to pay the fee", "Your next borrow waits until the fee is paid."),
    "fee_paid": ("Fee paid. Thank you!", "You can borrow again."),
    "nothing_due": ("Nothing to pay", "No fee is owed."),
}
# a bag's storage fee (purpose "storage"): paid before the door opens, then the receipt is shown again
STORAGE_STATES: dict[str, tuple[str, str]] = {
    "choose": ("Storage fee to pay", "Pay it here by QR, then show your storage receipt again."),
    "fee_open": ("Scan to pay the storage fee", "The door opens when you show your receipt after paying."),
    "fee_paid": ("Fee paid. Thank you!", "Show your storage receipt again: the door opens."),
}


class PayScreen(FlowScreen):
    state = StringProperty("creating")
    purpose = StringProperty("deposit")  # deposit (non-member borrow) | fee (a member's fee owed) | storage (a bag)
    member_id = StringProperty("")       # who owes: a member id, or B-<deposit> for a bag
    provider = StringProperty("wechat")
    item_type = StringProperty("power_bank")
    qr = StringProperty("")
    amount_fen = NumericProperty(0)
    station_order_id = StringProperty("")

    @property
    def flow(self) -> str:  # type: ignore[override]
        return f"pay_{self.purpose}" if self.purpose != "deposit" else f"pay_{self.item_type}"

    @property
    def idle_exempt(self) -> bool:  # type: ignore[override]
        """Money or a door is moving; only the fee's choice of provider may time out like any screen."""
        return self.state != "choose"

    def enter(self, item_type: str = "power_bank", provider: str = "wechat", purpose: str = "deposit",
              member_id: str = "", **_: Any) -> None:
        super().enter()
        self.item_type, self.provider = item_type, provider if provider in PROVIDERS else "wechat"
        self.purpose, self.member_id = (purpose, member_id) if purpose in ("fee", "storage") and member_id \
            else ("deposit", "")
        self.state, self.qr, self.amount_fen, self.station_order_id = "creating", "", 0, ""
        payments = self.services.payments
        if payments is None:
            self.state = "failed"
            return
        if self.purpose != "deposit":
            member = self.member_id
            self.state = "choose"
            self.app.run_worker(lambda: payments.unpaid_fee_fen(member), self._show_owed, self._failed,
                                name="ui-fee-owed")
            return
        item_type, provider = self.item_type, self.provider
        self.app.run_worker(lambda: payments.start_borrow(item_type, provider), self._show_qr, self._failed,
                            name="ui-pay-create")

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        self._choose = self.ids.choose.__self__  # held here: in the layout only while the member chooses
        self.show_widget(self._choose, False)

    def on_state(self, *_: Any) -> None:
        self.show_widget(self._choose, self.state == "choose")

    def _show_owed(self, owed: int) -> None:
        self.amount_fen = owed
        if owed <= 0 and self.state == "choose":
            self.state = "nothing_due"

    def pay_fee(self, provider: str) -> None:
        """The member chose WeChat Pay or Alipay for the fee they owe."""
        payments, member = self.services.payments, self.member_id
        if payments is None or self.state != "choose" or not member:
            return
        self.provider, self.state = provider if provider in PROVIDERS else "wechat", "creating"
        provider, purpose = self.provider, self.purpose
        self.app.run_worker(lambda: payments.start_fee(member, provider, purpose), self._show_qr, self._failed,
                            name="ui-fee-create")

    def _show_qr(self, order: Any) -> None:
        self.qr, self.amount_fen, self.station_order_id = order.qr or "", order.amount_fen, order.station_order_id
        self.state = "open" if self.purpose == "deposit" else "fee_open"
        payments, soid = self.services.payments, order.station_order_id
        if payments is None:
            return
        self.app.run_worker(lambda: payments.wait_paid(soid, 300.0), self._after_wait, self._failed,
                            name="ui-pay-wait")

    def _after_wait(self, order: Any) -> None:
        if order.station_order_id != self.station_order_id:
            return  # an old wait of a shopper who has gone
        if self.purpose != "deposit":
            self.state = "fee_paid" if order.state == "collected" else "expired"
            return
        if order.state != "paid":
            self.state = "expired"
            return
        self.state = "dispensing"
        payments, soid = self.services.payments, order.station_order_id
        if payments is None:
            return
        self.app.run_worker(lambda: payments.dispense(soid), self._dispensed, self._failed, name="ui-pay-dispense")

    def _dispensed(self, order: Any) -> None:
        self.state = "done" if order.state in ("dispensed", "reported") else (
            "refunded" if order.state in ("refund_due", "refunded") else "dispensing")

    def _failed(self, exc: BaseException) -> None:
        log.warning("ui.pay_failed code=%s", error_code(exc, type(exc).__name__))
        self.state = "failed"

    def _words(self, state: str) -> tuple[str, str]:
        if self.purpose == "storage" and state in STORAGE_STATES:
            return STORAGE_STATES[state]
        return STATES.get(state, STATES["failed"])

    def headline(self, state: str, lang: str) -> str:
        return self.app.t(self._words(state)[0], lang)

    def advice(self, state: str, lang: str) -> str:
        msgid = self._words(state)[1]
        return self.app.t(msgid, lang) if msgid else ""

    def amount_text(self, amount_fen: float, provider: str, lang: str) -> str:
        if amount_fen <= 0:
            return ""
        if self.purpose != "deposit":
            return self.app.t("Fee ¥{amount}", lang).format(amount=f"{int(amount_fen) / 100:.2f}")
        return self.app.t("Deposit ¥{amount} with {provider}", lang).format(
            amount=f"{int(amount_fen) / 100:.2f}", provider=self.app.t(PROVIDERS[provider], lang))

    def back(self) -> None:
        self._give_up()
        super().back()

    def go_home(self) -> None:
        self._give_up()
        super().go_home()

    def _give_up(self) -> None:
        """Leaving an unpaid QR: close it at the centre (off the UI thread)."""
        payments, soid = self.services.payments, self.station_order_id
        if payments is not None and soid and self.state in ("open", "fee_open"):
            self.station_order_id = ""
            self.app.run_worker(lambda: payments.cancel(soid), lambda _o: None, self._failed, name="ui-pay-cancel")

    def wipe(self) -> None:
        self._give_up()
        super().wipe()
        self.qr, self.amount_fen, self.station_order_id, self.state = "", 0, "", "creating"
        self.member_id, self.purpose = "", "deposit"
