"""After the item is taken: the receipt came out, or (printer trouble) its return code as an on-screen QR."""
from __future__ import annotations

import time
from typing import Any

from kivy.properties import BooleanProperty, StringProperty

from kiosk.ui.screens.base import FlowScreen


class ReceiptScreen(FlowScreen):
    item_type = StringProperty("umbrella")
    printed = BooleanProperty(False)
    return_token = StringProperty("")
    due_text = StringProperty("")
    fee_rule = StringProperty("")

    def enter(self, result: Any = None, item_type: str = "umbrella", **_: Any) -> None:
        super().enter()
        self.item_type = item_type
        receipt = getattr(result, "receipt", None)
        self.printed = bool(getattr(receipt, "printed", False))
        self.return_token = getattr(result, "return_token", "") or ""
        lending = getattr(result, "lending", None)
        due_at = getattr(lending, "due_at", None)
        self.due_text = time.strftime("%m-%d %H:%M", time.localtime(due_at)) if due_at else ""
        svc = self.app.service("lending")
        self.fee_rule = svc.fee_rule_text(item_type, self.app.service_lang()) if svc is not None else ""

    def wipe(self) -> None:
        super().wipe()
        self.return_token, self.due_text, self.printed = "", "", False

    def done(self) -> None:
        self.app.go("rating", flow=f"borrow_{self.item_type}")

    def back(self) -> None:
        self.done()

    def go_home(self) -> None:
        self.done()
