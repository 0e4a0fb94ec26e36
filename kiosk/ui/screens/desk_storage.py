"""Bag storage: deposit into the door the screen names → receipt QR; collect by showing that QR, once."""
from __future__ import annotations

import logging
from typing import Any

from kivy.clock import Clock
from kivy.properties import NumericProperty, StringProperty

from kiosk.services.scanning import ScanEvent, SignedScanned
from kiosk.ui.screens.base import FlowScreen
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
    fee = StringProperty("")
    printed = StringProperty("")

    def enter(self, **_: Any) -> None:
        super().enter()
        self.state, self.locker, self.slot, self.code, self.fee, self.printed = "choose", "", 0, "", "", ""

    def on_enter(self, *_: Any) -> None:
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
        self.fee = f"{pickup.fee_cents / 100:.2f}"

    def headline(self, state: str, locker: str, slot: float, fee: str, lang: str) -> str:
        t = self.app.t
        if state == "opening":
            return t("Put your bag into door {slot} of locker {locker} and close it", lang).format(
                slot=int(slot), locker=locker)
        if state == "stored":
            return t("Your bag is stored. Keep this code: it opens the door once.", lang)
        if state == "collected":
            return t("Door {slot} is open: please take your bag. Fee: ¥{amount}", lang).format(
                slot=int(slot), amount=fee)
        return t("Deposit a bag, or show your storage receipt to collect it", lang)

    def price_text(self, state: str, lang: str) -> str:
        """The price before anything is deposited; the door afterwards."""
        storage = self.services.storage
        if state == "stored" and self.slot:
            return self.app.t("Door {slot} of locker {locker}", lang).format(slot=int(self.slot), locker=self.locker)
        if state != "choose" or storage is None:
            return ""
        p = storage.policy
        return self.app.t("First {minutes} min free, then ¥{fee} per hour, at most ¥{cap} a day", lang).format(
            minutes=p.free_minutes, fee=f"{p.fee_per_hour_cents / 100:.2f}", cap=f"{p.daily_cap_cents / 100:.2f}")

    def done(self) -> None:
        self.app.go("rating", flow="storage")

    def wipe(self) -> None:
        super().wipe()
        self.code, self.locker, self.fee = "", "", ""
        self.ids.camera.stop()
