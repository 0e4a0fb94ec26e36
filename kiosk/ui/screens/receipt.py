"""After the item is taken: the receipt came out, or (printer trouble) its return code as an on-screen QR."""
from __future__ import annotations

import time
from typing import Any

from kivy.properties import BooleanProperty, StringProperty

from kiosk.services.lending import BorrowResult
from kiosk.ui.screens.base import FlowScreen

MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def due_words(due_at: float, lang: str) -> str:
    """12月1日 05:13 / 1 Dec 05:13: never the ambiguous 12-01."""
    tm = time.localtime(due_at)
    if lang.startswith("zh"):
        return f"{tm.tm_mon}月{tm.tm_mday}日 {tm.tm_hour:02d}:{tm.tm_min:02d}"
    return f"{tm.tm_mday} {MONTHS_EN[tm.tm_mon - 1]} {tm.tm_hour:02d}:{tm.tm_min:02d}"


class ReceiptScreen(FlowScreen):
    keep_in_history = False
    home_button = False      # Done is the one way on
    back_button = False
    item_type = StringProperty("umbrella")
    printed = BooleanProperty(False)
    return_token = StringProperty("")
    due_at = StringProperty("")      # epoch seconds as text ("" = none)
    fee_rule = StringProperty("")

    def enter(self, result: BorrowResult | None = None, item_type: str = "umbrella", **_: Any) -> None:
        super().enter()
        self.item_type = item_type
        self.printed = bool(result is not None and result.receipt is not None and result.receipt.printed)
        self.return_token = (result.return_token if result is not None else "") or ""
        self.due_at = str(result.lending.due_at) if result is not None and result.lending.due_at else ""
        svc = self.services.lending
        self.fee_rule = svc.fee_rule_text(item_type, self.app.service_lang()) if svc is not None else ""
        self._show_qr()

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        self._qr = self.ids.qr.__self__   # held here: it leaves the layout when the receipt was printed
        self._paper = self.ids.paper.__self__

    def _show_qr(self) -> None:
        hero = self.ids.frame.hero
        show, hide = (self._paper, self._qr) if self.printed else (self._qr, self._paper)
        if hide.parent is not None:
            hide.parent.remove_widget(hide)
        if show.parent is None:
            hero.add_widget(show, index=len(hero.children))

    def due_text(self, due_at: str, lang: str) -> str:
        if not due_at:
            return ""
        return self.app.t("Please return it by {due}", lang).format(due=due_words(float(due_at), lang))

    def spoken(self) -> str:
        t = self.app.t
        head = t("Please take your receipt: its QR code is how you return the item.") if self.printed else \
            t("The printer is not available. Take a photo of this QR code: it is your return receipt.")
        return f"{t('Borrowed')}. {head} {self.due_text(self.due_at, self.app.lang)}"

    def wipe(self) -> None:
        super().wipe()
        self.return_token, self.due_at, self.printed = "", "", False

    def done(self) -> None:
        self.app.go("rating", flow=f"borrow_{self.item_type}")

    def back(self) -> None:
        self.done()

    def go_home(self) -> None:
        self.done()
