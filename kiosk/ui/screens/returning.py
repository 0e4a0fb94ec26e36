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

    def enter(self, result: Any = None, **_: Any) -> None:
        super().enter()
        self.found = getattr(result, "lending", None) is not None
        self.item_id = str(getattr(result, "item_id", "") or "")
        self.minutes = int((getattr(result, "duration_s", 0) or 0) // 60)
        self.fee_cents = int(getattr(result, "fee_cents", 0) or 0)
        self.bought = bool(getattr(result, "bought", False))
        self.printed = bool(getattr(getattr(result, "receipt", None), "printed", False))

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
        self.item_id, self.fee_cents, self.minutes = "", 0, 0

    def done(self) -> None:
        self.app.go("rating", flow="return")

    def back(self) -> None:
        self.done()

    def go_home(self) -> None:
        self.done()
