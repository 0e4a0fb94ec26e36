"""Bag storage: deposit into the door the screen names → receipt QR; collect by showing that QR, once."""
from __future__ import annotations

import logging
from typing import Any

from kivy.clock import Clock
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from kiosk.services.scanning import ScanEvent, SignedScanned
from kiosk.ui.screens.base import FlowScreen
from kiosk.ui.screens.receipt import due_words
from kiosk.ui.services import error_code

log = logging.getLogger(__name__)

REFUSALS = {"no_free_slot": "All storage lockers are full or offline",
            "deposit_timeout": "Nothing was put in, the deposit was cancelled",
            "already_collected": "This bag was already collected with this receipt",
            "forged": "This is not a genuine storage receipt", "malformed": "This is not a genuine storage receipt",
            "unknown_receipt": "This is not a genuine storage receipt"}


class StorageScreen(FlowScreen):
    flow = "storage"
    state = StringProperty("choose")  # choose | opening | stored | collected
    locker = StringProperty("")
    slot = NumericProperty(0)
    code = StringProperty("")
    printed = StringProperty("")
    due_at = NumericProperty(0)        # stored: the receipt's expiry
    fee_cents = NumericProperty(0)     # collected: what it cost
    duration_s = NumericProperty(0)
    overtime = BooleanProperty(False)
    camera_here = BooleanProperty(True)

    def enter(self, **_: Any) -> None:
        super().enter()
        self.state, self.locker, self.slot, self.code, self.printed = "choose", "", 0, "", ""
        self.due_at, self.fee_cents, self.duration_s, self.overtime = 0, 0, 0, False
        self.camera_here = self.services.scanning is not None

    def on_enter(self, *_: Any) -> None:
        if self.camera_here:
            self.ids.camera.start()

    def on_leave(self, *_: Any) -> None:
        self.ids.camera.stop()

    def deposit(self) -> None:
        storage, printing = self.services.storage, self.services.printing
        if storage is None:
            self.notify("This service is not available here")
            return
        self.idle_exempt = True
        lang = self.app.service_lang()

        def job() -> tuple[Any, bool]:
            receipt = storage.deposit(on_slot=lambda spot: Clock.schedule_once(lambda _dt: self._opened(spot)))
            printed = bool(printing.print_receipt(storage.receipt(receipt, lang)).printed) if printing else False
            return receipt, printed

        self.app.run_worker(job, self._stored, self._refused, name="ui-storage")

    def _opened(self, spot: Any) -> None:
        self.state, self.locker, self.slot = "opening", spot.locker_id, spot.slot

    def _stored(self, result: Any) -> None:
        receipt, printed = result
        self.idle_exempt = False
        self.state, self.code, self.printed = "stored", receipt.code, "yes" if printed else "no"
        self.locker, self.slot, self.due_at = receipt.locker_id, receipt.slot, receipt.due_at

    def _refused(self, exc: BaseException) -> None:
        self.idle_exempt = False
        self.state = "choose"
        code = error_code(exc, "error")
        log.info("ui.storage_refused code=%s", code)
        payer = getattr(exc, "payer", "")
        if code == "fee_due" and payer and self.services.payments is not None:
            self.app.go("pay", purpose="storage", member_id=payer)  # pay here; the receipt then opens the door
            return
        self.notify(REFUSALS.get(code, "Something went wrong"))

    def on_scan(self, event: ScanEvent) -> bool:
        if not isinstance(event, SignedScanned) or event.code.prefix != "B1":
            return False
        code = event.code
        storage = self.services.storage
        if storage is None:
            self.notify("This service is not available here")
            return True
        self.idle_exempt = True
        self.app.run_worker(lambda: storage.pickup(code.raw), self._collected, self._refused, name="ui-pickup")
        return True

    def _collected(self, pickup: Any) -> None:
        self.idle_exempt = False
        self.state, self.locker, self.slot = "collected", pickup.locker_id, pickup.slot
        self.fee_cents, self.duration_s, self.overtime = pickup.fee_cents, pickup.duration_s, pickup.overtime

    def headline(self, state: str, locker: str, slot: float, lang: str) -> str:
        t = self.app.t
        if state == "opening":
            return t("Put your bag into door {slot} of locker {locker} and close it", lang).format(
                slot=int(slot), locker=locker)
        if state == "stored":
            return t("Your bag is stored. Keep this code: it opens the door once.", lang)
        if state == "collected":
            return t("Door {slot} of locker {locker} is open: please take your bag.", lang).format(
                slot=int(slot), locker=locker)
        return t("Deposit a bag, or show your storage receipt to collect it", lang)

    def _price(self, lang: str) -> str:
        storage = self.services.storage
        if storage is None:
            return ""
        p = storage.policy
        return self.app.t("First {minutes} min free, then ¥{fee} per hour, at most ¥{cap} a day", lang).format(
            minutes=p.free_minutes, fee=f"{p.fee_per_hour_cents / 100:.2f}", cap=f"{p.daily_cap_cents / 100:.2f}")

    def price_text(self, state: str, slot: float, lang: str) -> str:
        """The price before anything is deposited; the door once the bag is in."""
        if state == "stored" and slot:
            return self.app.t("Door {slot} of locker {locker}", lang).format(slot=int(slot), locker=self.locker)
        return self._price(lang) if state == "choose" else ""

    def keep_text(self, state: str, due_at: float, lang: str) -> str:
        """Stored: what collecting will cost and until when the receipt opens the door."""
        if state != "stored":
            return ""
        until = self.app.t("Collect it by {when}", lang).format(when=due_words(due_at, lang)) if due_at else ""
        return "\n".join(x for x in (self._price(lang), until) if x)

    def amount(self, state: str, fee_cents: float, lang: str) -> str:
        """Collected: the fee in display size (the amount is the hero, as on the return screen)."""
        if state != "collected":
            return ""
        return f"¥{fee_cents / 100:.2f}" if fee_cents > 0 else self.app.t("Free", lang)

    def stay_text(self, state: str, duration_s: float, overtime: bool, lang: str) -> str:
        if state != "collected":
            return ""
        t = self.app.t
        minutes = max(1, round(duration_s / 60))
        hours, rest = divmod(minutes, 60)
        text = (t("Stored for {hours} h {minutes} min", lang).format(hours=hours, minutes=rest) if hours
                else t("Stored for {minutes} min", lang).format(minutes=minutes))
        if overtime:
            sep = "" if lang.startswith("zh") else " "
            text += sep + t("It was kept past the time on the receipt.", lang)
        return text

    def done(self) -> None:
        self.app.go("rating", flow="storage")

    def wipe(self) -> None:
        super().wipe()
        self.code, self.locker, self.fee_cents, self.due_at = "", "", 0, 0
        self.ids.camera.stop()
