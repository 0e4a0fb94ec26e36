"""Staff diagnostics: printer, camera, each locker's slots (open / self-test), links, outbox, disk."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import NumericProperty, StringProperty

from kiosk.services.diagnostics import StationHealth
from kiosk.ui.health_words import RESULTS, SLOT_OPS, camera_words, other_lines, printer_words
from kiosk.ui.screens.base import FlowScreen

log = logging.getLogger(__name__)

STATE_MARK = {"occupied": "■", "empty": "□", "open": "▲", "fault": "⚠", "disabled": "×"}


class DiagnosticsScreen(FlowScreen):
    printer_text = StringProperty("")
    camera_text = StringProperty("")
    links_text = StringProperty("")
    receipt_image = StringProperty("")
    selected_locker = StringProperty("")
    selected_slot = NumericProperty(0)

    _health: dict[str, Any] | None = None

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        self.app.bind(lang=self._relabel)

    def _relabel(self, *_: Any) -> None:
        if self._health is not None:
            self.show(self._health)

    def enter(self, **_: Any) -> None:
        super().enter()
        if self.app.session.get("staff") is None:
            self.app.go("home")
            return
        self.refresh()

    def on_enter(self, *_: Any) -> None:
        self.ids.camera.start()
        Clock.schedule_interval(self._auto_refresh, 2.0)

    def on_leave(self, *_: Any) -> None:
        self.ids.camera.stop()
        Clock.unschedule(self._auto_refresh)

    def _auto_refresh(self, _dt: float) -> None:
        self.refresh()

    def refresh(self) -> None:
        station = self.app.station
        receipts = self.app.settings.receipts_dir
        self.app.run_worker(lambda: self.collect(station, receipts), self.show, self._failed, name="ui-diag")

    @staticmethod
    def collect(station: Any, receipts_dir: Path | None = None) -> dict[str, Any]:
        """Runs on a worker: everything the screen shows, from the station and its services."""
        health: dict[str, Any] = {}
        if hasattr(station, "health"):
            report = station.health()  # kiosk.services.diagnostics.StationHealth (a test double may give a dict)
            health = report.as_dict() if isinstance(report, StationHealth) else dict(report)
        scanning = getattr(station, "scanning", None)
        if scanning is not None and "camera" not in health:
            health["camera"] = scanning.status()
        lockers = getattr(station, "lockers", None)
        views = []
        for lk in getattr(getattr(station, "config", None), "lockers", []):
            view = lockers.view(lk.id) if lockers is not None else None
            views.append((lk.id, view))
        health["_views"] = views
        store = getattr(station, "store", None)
        if store is not None and "outbox" not in health:
            depth, oldest = store.outbox_depth()
            health["outbox"] = {"depth": depth, "oldest_s": oldest}
        pictures = sorted(receipts_dir.glob("[0-9]*.png")) if receipts_dir and receipts_dir.is_dir() else []
        health["_receipt"] = str(pictures[-1]) if pictures else ""
        return health

    def show(self, health: dict[str, Any]) -> None:
        self._health = health
        t = self.app.t
        self.printer_text = t("Printer: {status}").format(status=printer_words(health.get("printer"), t))
        self.camera_text = t("Camera: {status}").format(status=camera_words(health.get("camera"), t))
        self.links_text = "\n".join(other_lines(health, t))
        receipt = health.get("_receipt") or ""
        self.receipt_image = receipt if receipt and Path(receipt).exists() else ""
        self._show_slots(health.get("_views", []))

    def _show_slots(self, views: list[tuple[str, Any]]) -> None:
        grid = self.ids.slots
        grid.clear_widgets()
        t = self.app.t
        for locker_id, view in views:
            online = bool(view and view.online)
            head = Factory.KLabel(text=f"{locker_id} · " + (t("online") if online else "⚠ " + t("offline")))
            grid.add_widget(head)
            row = Factory.GridLayout(cols=6, spacing=4, size_hint_y=None)
            row.bind(minimum_height=row.setter("height"))
            for slot in (view.slots if view else ()):
                battery = "" if slot.battery is None else f" {slot.battery}%"
                mark = STATE_MARK.get(slot.state, "?")
                chosen = locker_id == self.selected_locker and slot.slot == self.selected_slot
                button = Factory.KButton(text=f"{'▶' if chosen else ''}{slot.slot} {mark}\n{slot.item or '—'}{battery}",
                                         font_size=self.app.fs * 0.7)
                button.bind(on_release=lambda _b, lid=locker_id, n=slot.slot: self.select(lid, n))
                row.add_widget(button)
            grid.add_widget(row)

    def select(self, locker_id: str, slot: int) -> None:
        self.selected_locker, self.selected_slot = locker_id, slot
        self.notify("Selected {locker} slot {slot}", ok=True, locker=locker_id, slot=slot)

    def slot_command(self, op: str) -> None:
        staff, session = self.app.service("staff"), self.app.session.get("staff")
        lockers = self.app.service("lockers")
        if not self.selected_locker or staff is None or session is None or lockers is None:
            self.notify("Choose a slot first")
            return
        locker_id, slot = self.selected_locker, int(self.selected_slot)
        self.app.run_worker(lambda: staff.slot_command(session, lockers, locker_id, op, slot),
                            lambda result: self._slot_done(locker_id, slot, op, result),
                            self._failed, name="ui-slot")

    def _slot_done(self, locker_id: str, slot: int, op: str, result: str) -> None:
        self.notify("{action} {slot} of {locker}: {result}", ok=result == "ok", locker=locker_id, slot=slot,
                    action=SLOT_OPS.get(op, op), result=RESULTS.get(result, "failed"))

    def test_page(self) -> None:
        printing, session = self.app.service("printing"), self.app.session.get("staff")
        if printing is None or session is None:
            self.notify("No printer at this station")
            return
        from kiosk.services.receipts import StaffTestPage

        page = StaffTestPage(station_id=getattr(self.app.station.config, "station_id", "?"),
                             printer_model=getattr(getattr(printing, "profile", None), "model", "?"),
                             printed_at=time.time(), staff_id=session.staff_id)
        self.app.run_worker(lambda: printing.print_receipt(page), self._test_printed, self._failed,
                            name="ui-test-page")

    def _test_printed(self, outcome: Any) -> None:
        if getattr(outcome, "printed", False):
            self.notify("Test page printed", ok=True)
            self.refresh()
        else:
            self.notify("Test page not printed: {reason}", reason=getattr(outcome, "reason", "?"))

    def _failed(self, exc: BaseException) -> None:
        log.warning("ui.diagnostics_failed error=%s", type(exc).__name__)
        self.notify("Something went wrong: {code}", code=getattr(exc, "code", type(exc).__name__))

    def sign_out(self) -> None:
        self.app.end_session("staff_sign_out")

    def back(self) -> None:
        self.sign_out()

    def wipe(self) -> None:
        super().wipe()
        self._health = None
        self.selected_locker, self.selected_slot = "", 0
