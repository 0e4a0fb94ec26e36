"""Maintenance log form (check / service / repair, device, note); records go out through the outbox."""
from __future__ import annotations

import logging
from typing import Any

from kivy.properties import ListProperty, StringProperty

from kiosk.ui.screens.base import FlowScreen
from kiosk.ui.services import error_code

log = logging.getLogger(__name__)
DEVICE_WORDS = {"printer": "Receipt printer", "camera": "Camera", "station": "The whole station"}


class MaintenanceScreen(FlowScreen):
    staff_only = True
    home_button = False
    action = StringProperty("check")
    device = StringProperty("")
    devices = ListProperty([])

    def enter(self, **_: Any) -> None:
        super().enter()
        lockers = [lk.locker_id for lk in self.services.layouts]
        self.devices = ["printer", "camera", *lockers, "station"]
        self.device = self.devices[0]
        self.action = "check"
        self.ids.note.text = ""
        if self.app.session.get("staff") is None:
            self.app.go("home")

    def save(self) -> None:
        staff, session = self.services.staff, self.app.session.get("staff")
        if staff is None or session is None:
            self.app.go("home")
            return
        try:
            staff.log_maintenance(session, self.action, self.device, self.ids.note.text)
        except Exception as exc:
            self.notify("Please check the form: {field}", field=error_code(exc, "?"))
            return
        self.ids.note.text = ""
        self.notify("Saved; it will be sent to the centre.", ok=True)

    def back(self) -> None:
        self.app.go("diagnostics")

    def device_words(self, device: str, lang: str) -> str:
        return self.app.t(DEVICE_WORDS[device], lang) if device in DEVICE_WORDS else \
            self.app.t("Locker {locker}", lang).format(locker=device)

    def wipe(self) -> None:
        super().wipe()
        self.ids.note.text = ""
