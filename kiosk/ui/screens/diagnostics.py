"""Staff diagnostics: printer, camera, each locker's slots (open / self-test), links, outbox, disk."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from kiosk.services.diagnostics import StationHealth
from kiosk.services.receipts import StaffTestPage
from kiosk.ui.health_words import RESULTS, SLOT_OPS, camera_words, other_lines, printer_words
from kiosk.ui.screens.base import FlowScreen
from kiosk.ui.services import UiServices, error_code, newest_receipt
from mallcommon.faults import fault_words

log = logging.getLogger(__name__)

STATE_MARK = {"occupied": "■", "empty": "□", "open": "▲", "fault": "⚠", "disabled": "×"}
STATE_WORDS = {"occupied": "in", "empty": "empty", "open": "open", "fault": "fault", "disabled": "off"}


class DiagnosticsScreen(FlowScreen):
    """The staff root: where staff land after the PIN and leave by signing out."""

    staff_only = True
    home_button = False
    printer_text = StringProperty("")
    camera_text = StringProperty("")
    links_text = StringProperty("")
    receipt_image = StringProperty("")
    selected_locker = StringProperty("")
    selected_slot = NumericProperty(0)
    confirm_open = BooleanProperty(False)   # "Open slot" asks once more before a door moves

    _health: dict[str, Any] | None = None

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        self.app.bind(lang=self._relabel)
        self._diagrams: dict[str, Any] = {}

    def _relabel(self, *_: Any) -> None:
        if self._health is not None:
            self.show(self._health)

    def enter(self, **_: Any) -> None:
        super().enter()
        self.app.history.clear()   # Back never leaves staff mode: Sign out does
        self.confirm_open = False
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
        station, services = self.app.station, self.services
        receipts = self.app.settings.receipts_dir
        self.app.run_worker(lambda: self.collect(station, services, receipts), self.show, self._failed,
                            name="ui-diag")

    @staticmethod
    def collect(station: Any, services: UiServices, receipts_dir: Path | None = None) -> dict[str, Any]:
        """Runs on a worker: everything the screen shows, from the station and its services."""
        health: dict[str, Any] = {}
        if hasattr(station, "health"):
            report = station.health()  # kiosk.services.diagnostics.StationHealth (a test double may give a dict)
            health = report.as_dict() if isinstance(report, StationHealth) else dict(report)
        if services.scanning is not None and not health.get("camera"):
            st = services.scanning.status()
            health["camera"] = {"connected": st.connected, "fps": st.fps}
        health["_views"] = [(lk.locker_id, services.view(lk.locker_id)) for lk in services.layouts]
        if services.store is not None and "outbox" not in health:
            depth, oldest = services.store.outbox_depth()
            health["outbox"] = {"depth": depth, "oldest_age_s": oldest}
        health["_receipt"] = newest_receipt(receipts_dir)
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
        """One locker diagram per locker, updated in place (a tap between refreshes is never lost)."""

        box = self.ids.slots
        t, lang = self.app.t, self.app.service_lang()
        for locker_id, view in views:
            layout = self.services.layout(locker_id)
            online = bool(view and view.online)
            faults = view.faults() if view is not None else {}
            left_open = view.doors_left_open() if view is not None else []
            parts = [f"{locker_id} · " + (t("online") if online else "⚠ " + t("offline"))]
            parts += [t("door {slot}: {words}").format(slot=n, words=fault_words(code, lang))
                      for n, code in sorted(faults.items())]
            parts += [t("door {slot} left open").format(slot=n) for n in left_open]
            if locker_id not in self._diagrams:
                head = Factory.KLabel(halign="left")
                diagram = Factory.LockerDiagram(selectable=True, locker_id=locker_id, size_hint_y=None)
                diagram.bind(on_select=lambda d, n, lid=locker_id: self.select(lid, n))
                box.add_widget(head)
                box.add_widget(diagram)
                self._diagrams[locker_id] = (head, diagram)
            head, diagram = self._diagrams[locker_id]
            head.text = " · ".join(parts)
            rows = layout.rows if layout is not None else 1
            diagram.rows, diagram.cols = rows, (layout.cols if layout is not None else 1)
            diagram.height = rows * max(self.app.tgt, self.app.fs * 2.2)
            diagram.doors = [{"slot": s.slot, "state": s.state} for s in (view.slots if view else ())]
            diagram.labels = {s.slot: STATE_MARK.get(s.state, "?") + (f" {s.battery}%" if s.battery is not None
                                                                    else "") for s in (view.slots if view else ())}
            diagram.selected = self.selected_slot if locker_id == self.selected_locker else 0

    def select(self, locker_id: str, slot: int) -> None:
        self.selected_locker, self.selected_slot, self.confirm_open = locker_id, slot, False
        for lid, (_head, diagram) in self._diagrams.items():
            diagram.selected = slot if lid == locker_id else 0
        self.notify("Selected {locker} slot {slot}", ok=True, locker=locker_id, slot=slot)

    def slot_command(self, op: str) -> None:
        staff, session = self.services.staff, self.app.session.get("staff")
        lockers = self.services.lockers
        if not self.selected_locker or staff is None or session is None or lockers is None:
            self.notify("Choose a slot first")
            return
        if op == "unlock" and not self.confirm_open:
            self.confirm_open = True   # the button now reads "Confirm: open door N"
            return
        self.confirm_open = False
        locker_id, slot = self.selected_locker, int(self.selected_slot)
        self.app.run_worker(lambda: staff.slot_command(session, lockers, locker_id, op, slot),
                            lambda result: self._slot_done(locker_id, slot, op, result),
                            self._failed, name="ui-slot")

    def open_label(self, confirm: bool, slot: float, lang: str) -> str:
        if confirm:
            return self.app.t("Confirm: open door {slot}", lang).format(slot=int(slot))
        return self.app.t("Open slot", lang)

    def _slot_done(self, locker_id: str, slot: int, op: str, result: str) -> None:
        self.notify("{action} {slot} of {locker}: {result}", ok=result == "ok", locker=locker_id, slot=slot,
                    action=SLOT_OPS.get(op, op), result=RESULTS.get(result, "failed"))

    def test_page(self) -> None:
        printing, session = self.services.printing, self.app.session.get("staff")
        if printing is None or session is None:
            self.notify("No printer at this station")
            return
        page = StaffTestPage(station_id=self.services.station_id, printer_model=printing.profile.model,
                             printed_at=time.time(), staff_id=session.staff_id)
        self.app.run_worker(lambda: printing.print_receipt(page), self._test_printed, self._failed,
                            name="ui-test-page")

    def _test_printed(self, outcome: Any) -> None:
        if outcome.printed:
            self.notify("Test page printed", ok=True)
            self.refresh()
        else:
            self.notify("Test page not printed: {reason}", reason=outcome.reason or "?")

    def _failed(self, exc: BaseException) -> None:
        log.warning("ui.diagnostics_failed error=%s", type(exc).__name__)
        self.notify("Something went wrong: {code}", code=error_code(exc, type(exc).__name__))

    def sign_out(self) -> None:
        self.app.end_session("staff_sign_out")

    def back(self) -> None:
        self.sign_out()

    def wipe(self) -> None:
        super().wipe()
        self._health = None
        self.selected_locker, self.selected_slot, self.confirm_open = "", 0, False
