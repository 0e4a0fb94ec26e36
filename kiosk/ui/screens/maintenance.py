"""Maintenance log form (check / service / repair, device, note); records go out through the outbox."""
from __future__ import annotations

import logging
from typing import Any

from kivy.properties import ListProperty, StringProperty

from kiosk.ui.screens.base import FlowScreen

log = logging.getLogger(__name__)


class MaintenanceScreen(FlowScreen):
    action = StringProperty("check")
    device = StringProperty("")
    devices = ListProperty([])

    def enter(self, **_: Any) -> None:
        super().enter()
        cfg = getattr(self.app.station, "config", None)
        lockers = [lk.id for lk in getattr(cfg, "lockers", [])]
        self.devices = ["printer", "camera", *lockers, "station"]
        self.device = self.devices[0]
        self.action = "check"
        self.ids.note.text = ""
        if self.app.session.get("staff") is None:
            self.app.go("home")

    def save(self) -> None:
        staff, session = self.app.service("staff"), self.app.session.get("staff")
        if staff is None or session is None:
            self.app.go("home")
            return
        try:
            staff.log_maintenance(session, self.action, self.device, self.ids.note.text)
        except Exception as exc:
            self.notify("Please check the form: {field}", field=getattr(exc, "code", "?"))
            return
        self.ids.note.text = ""
        self.notify("Saved; it will be sent to the centre.", ok=True)

    def back(self) -> None:
        self.app.go("diagnostics")

    def wipe(self) -> None:
        super().wipe()
        self.ids.note.text = ""
