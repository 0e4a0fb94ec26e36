"""Return: put the item into any empty slot (or scan its label or receipt first); then the fee and a rating."""
from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from kiosk.ui.screens.base import FlowScreen


class ReturnScreen(FlowScreen):
    recognised = StringProperty("")   # what was scanned: an item id or a lending id

    def enter(self, **_: Any) -> None:
        super().enter()
        self.recognised = ""

    def on_enter(self, *_: Any) -> None:
        self.ids.camera.start()

    def on_leave(self, *_: Any) -> None:
        self.ids.camera.stop()

    def on_scan(self, event: Any) -> bool:
        kind = type(event).__name__
        if kind == "ItemScanned":
            self.recognised = getattr(event.label, "item_id", str(event.label))
        elif kind == "LendingScanned":
            self.recognised = getattr(event.token, "lending_id", str(event.token))
        elif kind == "MemberScanned":
            self.notify("No code needed: just put the item into any empty slot.")
        else:
            return False
        return True

    def wipe(self) -> None:
        super().wipe()
        self.recognised = ""
        self.ids.camera.stop()


class ReturnedScreen(FlowScreen):
    found = BooleanProperty(True)
    item_id = StringProperty("")
    minutes = NumericProperty(0)
    fee_cents = NumericProperty(0)
    bought = BooleanProperty(False)
    printed = BooleanProperty(False)
    refund = StringProperty("")  # issue 14: "<amount fen>|<reference>" of a QR deposit's refund, or "due"

    def enter(self, result: Any = None, **_: Any) -> None:
        super().enter()
        self.found = getattr(result, "lending", None) is not None
        self.item_id = str(getattr(result, "item_id", "") or "")
        self.minutes = int((getattr(result, "duration_s", 0) or 0) // 60)
        self.fee_cents = int(getattr(result, "fee_cents", 0) or 0)
        self.bought = bool(getattr(result, "bought", False))
        self.printed = bool(getattr(getattr(result, "receipt", None), "printed", False))
        self.refund = ""
        payments, item = self.app.service("payments"), self.item_id
        if payments is not None and item:
            self.app.run_worker(lambda: payments.settlement(item), self._show_refund, lambda _e: None,
                                name="ui-refund")

    def _show_refund(self, settlement: Any) -> None:
        """The deposit settled by the payment service's return listener (it ran before this screen)."""
        if not settlement or settlement.get("item_id", self.item_id) != self.item_id:
            return
        if settlement.get("state") == "due":
            self.refund = "due"
        elif settlement.get("state") == "done" and settlement.get("out_refund_no"):
            self.refund = f"{int(settlement.get('refund_fen') or 0)}|{settlement['out_refund_no']}"

    def refund_text(self, refund: str, lang: str) -> str:
        t = self.app.t
        if refund == "due":
            return t("Your deposit refund is on its way.", lang)
        if not refund:
            return ""
        amount, _, ref = refund.partition("|")
        return t("Deposit refunded: ¥{amount} (ref. {ref})", lang).format(amount=f"{int(amount) / 100:.2f}", ref=ref)

    def summary(self, found: bool, minutes: float, fee_cents: float, bought: bool, lang: str) -> str:
        t = self.app.t
        if not found:
            return t("We could not match this item to a lending. Staff have been told; nothing is charged now.", lang)
        text = (t("You had it for {minutes} min.", lang).format(minutes=int(minutes)) if minutes >= 1
                else t("You had it for less than a minute.", lang))
        if bought:
            rest = t("It was kept past the limit and counted as bought.", lang)
        elif fee_cents <= 0:
            rest = t("No fee.", lang)
        else:
            rest = t("Fee: ¥{amount}", lang).format(amount=f"{fee_cents / 100:.2f}")
        # Chinese sentences end in 。 and run on without a space; English ones take one
        return text + ("" if lang.startswith("zh") else " ") + rest

    def wipe(self) -> None:
        super().wipe()
        self.item_id, self.fee_cents, self.minutes, self.refund = "", 0, 0, ""

    def done(self) -> None:
        self.app.go("rating", flow="return")

    def back(self) -> None:
        self.done()

    def go_home(self) -> None:
        self.done()
