"""The wait while a door opens: what is happening and a visible countdown ("请取伞 — 12 s")."""
from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.properties import NumericProperty, StringProperty

from kiosk.ui.screens.base import FlowScreen

TAKE = {"umbrella": "Please take your umbrella — {seconds} s",
        "power_bank": "Please take your power bank — {seconds} s",
        "stroller": "Please take the stroller — {seconds} s"}


class WaitScreen(FlowScreen):
    idle_exempt = True
    item_type = StringProperty("umbrella")
    stage = StringProperty("reserved")
    locker_id = StringProperty("")
    slot = NumericProperty(0)
    battery = NumericProperty(-1)
    seconds = NumericProperty(-1)
    _deadline: float | None = None

    def enter(self, item_type: str = "umbrella", **_: Any) -> None:
        super().enter()
        self.item_type = item_type
        self.stage, self.locker_id, self.slot, self.battery, self.seconds = "reserved", "", 0, -1, -1
        self._deadline = None
        Clock.unschedule(self._tick)
        Clock.schedule_interval(self._tick, 0.2)

    def on_leave(self, *_: Any) -> None:
        Clock.unschedule(self._tick)

    def progress_from_worker(self, progress: Any) -> None:
        """The lending service reports from its worker thread; hop to the UI thread."""
        Clock.schedule_once(lambda _dt: self.show(progress))

    def show(self, progress: Any) -> None:
        self.stage = progress.stage
        self.locker_id = progress.locker_id or ""
        self.slot = progress.slot or 0
        self.battery = -1 if getattr(progress, "battery", None) is None else progress.battery
        self._deadline = getattr(progress, "deadline_monotonic", None)
        self._tick(0)

    def _tick(self, _dt: float) -> None:
        if self._deadline is not None:
            self.seconds = max(0, int(self._deadline - self.app.deadline_clock() + 0.999))

    def headline(self, stage: str, seconds: float, lang: str) -> str:
        t = self.app.t
        if stage == "door_open":
            return t(TAKE.get(self.item_type, TAKE["umbrella"]), lang).format(seconds=max(0, int(seconds)))
        if stage in ("taken", "done"):
            return "✓ " + t("Got it! Printing your receipt…", lang)
        return t("Opening the door…", lang)

    def where(self, locker_id: str, slot: float, battery: float, lang: str) -> str:
        if not locker_id:
            return ""
        text = self.app.t("Locker {locker} · slot {slot}", lang).format(locker=locker_id, slot=int(slot))
        if battery >= 0:
            text += " · " + self.app.t("battery {battery}%", lang).format(battery=int(battery))
        return text

    def back(self) -> None:
        """No cancel while a door is open: the lending service closes the door on its own timeout."""
