"""The door is open: a countdown ring as the hero, the cabinet drawn with the door to use lit and pulsing."""
from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.properties import ListProperty, NumericProperty, StringProperty

from kiosk.services.lending import BorrowProgress
from kiosk.ui.screens.base import FlowScreen

TAKE = {"umbrella": "Please take your umbrella — {seconds} s",
        "power_bank": "Please take your power bank — {seconds} s",
        "stroller": "Please take the stroller — {seconds} s"}
TITLES = {"door_open": "The door is open", "taken": "Got it", "done": "Got it"}
SAY_AT = (10, 5)   # the countdown is read aloud at these seconds (and when the door opens)


class WaitScreen(FlowScreen):
    idle_exempt = True
    keep_in_history = False
    home_button = False
    item_type = StringProperty("umbrella")
    stage = StringProperty("reserved")
    title_msgid = StringProperty("Opening the door…")
    locker_id = StringProperty("")
    slot = NumericProperty(0)
    battery = NumericProperty(-1)
    seconds = NumericProperty(-1)
    total = NumericProperty(1)
    rows = NumericProperty(1)
    cols = NumericProperty(1)
    doors = ListProperty([])
    _deadline: float | None = None

    def enter(self, item_type: str = "umbrella", **_: Any) -> None:
        super().enter()
        self.item_type = item_type
        self.stage, self.locker_id, self.slot, self.battery, self.seconds = "reserved", "", 0, -1, -1
        self.title_msgid, self.total, self.doors = "Opening the door…", 1, []
        self._deadline = None
        Clock.unschedule(self._tick)
        Clock.schedule_interval(self._tick, 0.2)

    def on_leave(self, *_: Any) -> None:
        Clock.unschedule(self._tick)

    def progress_from_worker(self, progress: BorrowProgress) -> None:
        """The lending service reports from its worker thread; hop to the UI thread."""
        Clock.schedule_once(lambda _dt: self.show(progress))

    def show(self, progress: BorrowProgress) -> None:
        first_open = progress.stage == "door_open" and self.stage != "door_open"
        self.stage = progress.stage
        self.title_msgid = TITLES.get(progress.stage, "Opening the door…")
        self.locker_id = progress.locker_id or ""
        self.slot = progress.slot or 0
        self.battery = -1 if progress.battery is None else progress.battery
        self._deadline = progress.deadline_monotonic
        layout = self.services.layout(self.locker_id)
        if layout is not None:
            self.rows, self.cols = layout.rows, layout.cols
            view = self.services.view(self.locker_id)
            self.doors = [{"slot": s.slot, "state": s.state} for s in view.slots] if view is not None else []
        else:
            self.rows, self.cols = 1, 1
        self._tick(0)
        if first_open:
            self.total = max(1, self.seconds)
            self.app.say(self.spoken(), urgent=True)

    def _tick(self, _dt: float) -> None:
        if self._deadline is None:
            return
        seconds = max(0, int(self._deadline - self.app.deadline_clock() + 0.999))
        if seconds != self.seconds and seconds in SAY_AT and self.stage == "door_open":
            self.app.say(self.app.t("{seconds} seconds left").format(seconds=seconds), urgent=True)
        self.seconds = seconds

    def spoken(self) -> str:
        t = self.app.t
        if self.stage != "door_open":
            return t(self.title_msgid)
        zh = self.app.lang.startswith("zh")
        stop, gap = ("。", "") if zh else (".", " ")
        parts = (t(self.title_msgid), self.headline(self.stage, self.seconds, self.app.lang),
                 self.where(self.locker_id, self.slot, -1, self.app.lang))
        return gap.join(p + stop for p in parts)

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
        text = self.app.t("Door {slot} of locker {locker}", lang).format(locker=locker_id, slot=int(slot))
        if battery >= 0:
            text += " · " + self.app.t("battery {battery}%", lang).format(battery=int(battery))
        return text

    def back(self) -> None:
        """No cancel while a door is open: the lending service closes the door on its own timeout."""
