"""Return: the cabinet with its free doors lit (put the item into any), or scan its label or receipt first;
then the amount card and a rating."""
from __future__ import annotations

from typing import Any

from kivy.factory import Factory
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from kiosk.services.lending import ReturnResult
from kiosk.services.scanning import ItemScanned, LendingScanned, MemberScanned, ScanEvent
from kiosk.ui.screens.base import FlowScreen


class ReturnScreen(FlowScreen):
    recognised = StringProperty("")   # what was scanned: an item id or a lending id

    def enter(self, **_: Any) -> None:
        super().enter()
        self.recognised = ""
        self._draw_lockers()

    def _draw_lockers(self) -> None:
        """One diagram per lending locker, its empty doors lit."""
        box = self.ids.lockers
        box.clear_widgets()
        lending = self.services.lending
        lent = set(lending.profiles) if lending is not None else set()
        for layout in self.services.layouts:
            if layout.locker_id not in lent:
                continue
            view = self.services.view(layout.locker_id)
            doors = [{"slot": s.slot, "state": s.state} for s in view.slots] if view is not None else []
            diagram = Factory.LockerDiagram(rows=layout.rows, cols=layout.cols, doors=doors, show_free=True,
                                            locker_id=layout.locker_id,
                                            accent=self.app.c_svc.get(layout.item_type, self.app.c_accent))
            box.add_widget(diagram)

    def on_enter(self, *_: Any) -> None:
        self.ids.camera.start()

    def on_leave(self, *_: Any) -> None:
        self.ids.camera.stop()

    def spoken(self) -> str:
        return self.app.t("Return an item") + ". " + self.app.t("Put the item into any lit door. It locks by itself.")

    def on_scan(self, event: ScanEvent) -> bool:
        if isinstance(event, ItemScanned):
            self.recognised = event.label.item_id
        elif isinstance(event, LendingScanned):
            self.recognised = event.token.lending_id
        elif isinstance(event, MemberScanned):
            self.notify("No code needed: just put the item into any empty slot.")
        else:
            return False
        return True

    def wipe(self) -> None:
        super().wipe()
        self.recognised = ""
        self.ids.camera.stop()


class ReturnedScreen(FlowScreen):
    keep_in_history = False
    home_button = False      # Done is the one way on
    back_button = False
    found = BooleanProperty(True)
    item_id = StringProperty("")
    minutes = NumericProperty(0)
    fee_cents = NumericProperty(0)
    bought = BooleanProperty(False)
    printed = BooleanProperty(False)
    refund = StringProperty("")  # issue 14: "<amount fen>|<reference>" of a QR deposit's refund, "due" or "kept"
    fee_due = BooleanProperty(False)  # issue 14: a member's fee to pay by QR now (the next borrow waits for it)
    member_id = StringProperty("")

    def enter(self, result: ReturnResult | None = None, **_: Any) -> None:
        super().enter()
        pay = result.payment if result is not None else None  # settled before the receipt printed
        # a QR deposit of another station's lending is matched by the centre: it was found there
        self.found = result is not None and (result.lending is not None or pay is not None)
        self.item_id = result.item_id if result is not None else ""
        self.minutes = int((result.duration_s if result is not None else 0) // 60)
        self.fee_cents = (pay.fee_fen if pay is not None else result.fee_cents) if result is not None else 0
        self.bought = bool(result is not None and result.bought)
        self.printed = bool(result is not None and result.receipt is not None and result.receipt.printed)
        self.refund, self.fee_due = "", False
        self.member_id = result.lending.member_id if result is not None and result.lending is not None else ""
        if pay is not None and pay.kind == "refund":
            self.refund = f"{pay.refund_fen}|{pay.out_refund_no or ''}"
        elif pay is not None and pay.kind in ("refund_due", "kept"):
            self.refund = "due" if pay.kind == "refund_due" else "kept"
        self.fee_due = pay is not None and pay.kind == "fee_due"
        if self.fee_due:
            self.refund = "fee"
        self.show_widget(self._pay, self.fee_due)

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        self._pay = self.ids.pay.__self__  # in the layout only when a member's fee is to be paid
        self.show_widget(self._pay, False)

    def pay_fee(self) -> None:
        self.app.go("pay", purpose="fee", member_id=self.member_id)

    def refund_text(self, refund: str, lang: str) -> str:
        t = self.app.t
        if refund == "due":
            return t("Your deposit refund is on its way.", lang)
        if refund == "fee":
            return t("Please pay the fee here by QR: your next borrow waits until it is paid.", lang)
        if refund == "kept":
            return t("The deposit became the price: nothing is refunded.", lang)
        if not refund:
            return ""
        amount, _, ref = refund.partition("|")
        return t("Deposit refunded: ¥{amount} (ref. {ref})", lang).format(amount=f"{int(amount) / 100:.2f}", ref=ref)

    def amount(self, found: bool, fee_cents: float, bought: bool, lang: str) -> str:
        if not found:
            return "—"
        if fee_cents <= 0 and not bought:
            return self.app.t("Free", lang)
        return f"¥{fee_cents / 100:.2f}"

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

    def spoken(self) -> str:
        lang = self.app.lang
        head = self.app.t("Thank you! The item is back.") if self.found else self.app.t("Item received")
        return f"{head} {self.summary(self.found, self.minutes, self.fee_cents, self.bought, lang)}"

    def wipe(self) -> None:
        super().wipe()
        self.item_id, self.fee_cents, self.minutes, self.refund = "", 0, 0, ""
        self.fee_due, self.member_id = False, ""

    def done(self) -> None:
        self.app.go("rating", flow="return")

    def back(self) -> None:
        self.done()

    def go_home(self) -> None:
        self.done()
