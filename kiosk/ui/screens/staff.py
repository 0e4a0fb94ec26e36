"""Staff sign-in: the badge was scanned; the PIN is typed on a keypad (5 wrong → locked 5 min)."""
from __future__ import annotations

import logging
from typing import Any

from kivy.properties import BooleanProperty, StringProperty

from kiosk.ui.screens.base import FlowScreen
from kiosk.ui.services import error_code

log = logging.getLogger(__name__)

ERRORS = {
    "wrong_pin": "Wrong PIN",
    "locked": "Too many wrong PINs: locked for {minutes} min",
    "unknown_staff": "This badge is not registered at this station",
    "bad_badge": "This is not a staff badge we know",
    "no_staff_file": "Staff sign-in is not set up on this station",
}


class StaffPinScreen(FlowScreen):
    staff_only = True
    keep_in_history = False
    staff_id = StringProperty("")
    ready = BooleanProperty(False)
    checking = BooleanProperty(False)
    _badge: Any = None

    def enter(self, badge: Any = None, **_: Any) -> None:
        super().enter()
        self.ids.keypad.clear()
        self.ids.keypad.on_ok = self.submit
        self._badge, self.staff_id, self.ready, self.checking = None, "", False, False
        staff = self.services.staff
        if staff is None or badge is None:
            self.notify(ERRORS["no_staff_file"])
            return
        raw = getattr(badge, "raw", badge)
        try:
            self._badge = staff.verify_badge(raw)
        except Exception as exc:
            self.show_error(exc)
            return
        self.staff_id, self.ready = self._badge.staff_id, True

    def show_error(self, exc: BaseException) -> None:
        code = error_code(exc, "")
        msgid = ERRORS.get(code, "Something went wrong")
        minutes = int(((getattr(exc, "retry_after_s", 0) or 0) + 59) // 60)
        self.notify(msgid, minutes=minutes)

    def submit(self, pin: str) -> None:
        staff = self.services.staff
        if not self.ready or self.checking or staff is None:
            return
        self.checking = True
        self.ids.keypad.clear()
        badge = self._badge
        # PBKDF2 takes a noticeable moment: off the UI thread
        self.app.run_worker(lambda: staff.sign_in(badge, pin), self._signed_in, self._refused, name="ui-staff")

    def _signed_in(self, session: Any) -> None:
        self.checking = False
        self.app.session["staff"] = session
        self.app.go("diagnostics")

    def _refused(self, exc: BaseException) -> None:
        self.checking = False
        if error_code(exc, "") == "locked":
            self.ready = False
        self.show_error(exc)

    def masked(self, entered: str) -> str:
        return "●" * len(entered) if entered else "—"

    def wipe(self) -> None:
        super().wipe()
        self._badge, self.staff_id, self.ready = None, "", False
        self.ids.keypad.clear()
