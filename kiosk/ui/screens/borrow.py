"""Borrow an umbrella or a power bank: availability and fee rule, then the member code starts the locker."""
from __future__ import annotations

import logging
from typing import Any

from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from kiosk.services.lending import Availability, BorrowResult
from kiosk.services.scanning import ItemScanned, LendingScanned, MemberScanned, ScanEvent
from kiosk.ui.screens.base import FlowScreen
from kiosk.ui.services import error_code

log = logging.getLogger(__name__)

STATUS_MSGIDS = {"missing": "This service is not available here", "offline": "The locker is offline",
                 "none": "None left here right now", "error": "Something went wrong"}
TITLES = {"umbrella": "Borrow an umbrella", "power_bank": "Borrow a power bank", "stroller": "Borrow a stroller"}


class BorrowScreen(FlowScreen):
    item_type = StringProperty("umbrella")
    title_msgid = StringProperty(TITLES["umbrella"])   # set from TITLES: the kv never copies the table
    status = StringProperty("loading")     # loading | ready | none | offline | missing | error
    count = NumericProperty(-1)
    battery = NumericProperty(-1)           # best battery of what comes out next (power banks)
    fee_rule = StringProperty("")
    camera_note = StringProperty("")       # set from the scan service, never looked up in kv
    ready = BooleanProperty(False)         # the camera and the "show your code" call only when it can lend

    @property
    def flow(self) -> str:  # type: ignore[override]
        return f"borrow_{self.item_type}"

    def enter(self, item_type: str = "umbrella", **_: Any) -> None:
        super().enter()
        self.item_type = item_type if item_type in TITLES else "umbrella"
        self.title_msgid = TITLES[self.item_type]
        self.refresh()

    def on_status(self, *_: Any) -> None:
        self.ready = self.status in ("ready", "loading")
        self.show_widget(self._pay, self.can_pay(self.status))
        camera = self._camera
        if self.ready and camera.parent is None:
            self.ids.frame.hero.add_widget(camera)
            camera.start()
        elif not self.ready and camera.parent is not None:
            camera.stop()
            camera.parent.remove_widget(camera)

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        self._camera = self.ids.camera.__self__   # held here: it leaves the layout while the service is unavailable
        self._pay = self.ids.pay.__self__
        self.show_widget(self._pay, False)
        self._camera.bind(available=self._camera_note)

    def _camera_note(self, *_: Any) -> None:
        if self.services.scanning is None:
            self.camera_note = "No camera at this station"
        else:
            self.camera_note = "" if self._camera.available else "The camera is not working"

    def spoken(self) -> str:
        return ". ".join(x for x in (self.app.t(self.title_msgid), self.status_text(
            self.status, self.count, self.battery, self.app.lang).lstrip("✓⚠ "),
            self.app.t("Show your member code to the camera") if self.ready else "") if x)

    def on_enter(self, *_: Any) -> None:
        self._camera_note()
        if self._camera.parent is not None:
            self._camera.start()

    def on_leave(self, *_: Any) -> None:
        self._camera.stop()

    def refresh(self) -> None:
        lending = self.services.lending
        self.count, self.battery, self.fee_rule = -1, -1, ""
        if lending is None:
            self.status = "missing"
            return
        self.status = "loading"
        item_type, lang = self.item_type, self.app.service_lang()
        self.app.run_worker(lambda: (lending.availability(item_type), lending.fee_rule_text(item_type, lang)),
                            self._show_availability, self._availability_failed, name="ui-availability")

    def _show_availability(self, result: tuple[Availability, str]) -> None:
        avail, fee_rule = result
        self.fee_rule = fee_rule
        self.count = avail.count
        self.battery = -1 if avail.best_battery is None else avail.best_battery
        if not avail.lockers_online:
            self.status = "offline"
        elif avail.count <= 0:
            self.status = "none"
        else:
            self.status = "ready"

    def _availability_failed(self, exc: BaseException) -> None:
        log.warning("ui.availability_failed item_type=%s error=%s", self.item_type, type(exc).__name__)
        self.status = "error"

    def advice(self, status: str, lang: str) -> str:
        """Why, and what to do instead, when this station cannot lend."""
        if status in STATUS_MSGIDS:
            return self.app.t(STATUS_MSGIDS[status], lang) + "\n" + \
                self.app.t("Please use another service station, or ask the service desk.", lang)
        return ""

    def status_text(self, status: str, count: float, battery: float, lang: str) -> str:
        t = self.app.t
        if status in STATUS_MSGIDS:
            return "⚠ " + t("Out of service", lang)
        if status == "loading":
            return t("Checking the locker…", lang)
        text = t("{count} available", lang).format(count=int(count))
        if self.item_type == "power_bank" and battery >= 0:
            text += " · " + t("yours will have {battery}% battery", lang).format(battery=int(battery))
        return "✓ " + text

    def can_pay(self, status: str) -> bool:
        """A non-member may pay the deposit by QR (issue 14) when the station takes payments for this item."""
        payments = self.services.payments
        try:
            return status == "ready" and payments is not None and payments.deposit_fen(self.item_type) > 0
        except Exception:  # an item this station does not offer
            return False

    def on_scan(self, event: ScanEvent) -> bool:
        if isinstance(event, LendingScanned | ItemScanned):
            self.notify("To return an item, choose Return on the home screen.")
            return True
        if not isinstance(event, MemberScanned):
            return False
        lending = self.services.lending
        if lending is None or self.status in ("missing", "offline", "none"):
            self.notify(STATUS_MSGIDS.get(self.status, "This service is not available here"))
            return True
        item_type, member = self.item_type, event.code
        wait = self.app.go("wait", item_type=item_type)
        self.app.run_worker(lambda: lending.borrow(member, item_type, progress=wait.progress_from_worker),
                            lambda result: self._borrowed(result, item_type),
                            lambda exc: self._borrow_failed(exc, member.member_id), name="ui-borrow")
        return True

    def _borrowed(self, result: BorrowResult, item_type: str) -> None:
        self.app.go("receipt", result=result, item_type=item_type)

    def _borrow_failed(self, exc: BaseException, member_id: str = "") -> None:
        code = error_code(exc)
        log.info("ui.borrow_refused item_type=%s code=%s", self.item_type, code)
        if code == "unpaid_fee" and member_id and self.services.payments is not None:
            self.app.go("pay", purpose="fee", member_id=member_id)  # payable right here, then borrow again
            return
        self.app.go("message", code=code)

    def wipe(self) -> None:
        super().wipe()
        self._camera.stop()

    @property
    def accent(self) -> list[float]:
        return list(self.app.c_svc.get(self.item_type, self.app.c_accent))
