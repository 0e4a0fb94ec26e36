"""Attract loop: the station's services and the mall's current events cycle until someone touches the screen."""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from kivy.clock import Clock
from kivy.properties import ListProperty, NumericProperty

from kiosk.ui.screens.base import FlowScreen
from kiosk.ui.widgets import fade_in

log = logging.getLogger(__name__)

# (pictogram, headline msgid, line msgid): what this station offers
SLIDES = [
    ("umbrella", "Rainy day? Borrow an umbrella with your member code", "Free for the first 30 minutes"),
    ("power_bank", "Phone running low? Take a charged power bank", "Return it at any station in the mall"),
    ("member", "Member day every Wednesday", "Double points at the service desk"),
]


class AttractScreen(FlowScreen):
    persistent = True
    slide = NumericProperty(0)
    events = ListProperty([])   # the directory's current events: [{"zh": (title, text), "en": (title, text)}]

    home_button = False
    keep_in_history = False

    def on_enter(self, *_: Any) -> None:
        self.events = self._current_events()
        Clock.schedule_interval(self._next, self.app.settings.attract_slide_s)

    def on_leave(self, *_: Any) -> None:
        Clock.unschedule(self._next)

    def _current_events(self) -> list[dict[str, tuple[str, str]]]:
        directory = self.services.directory
        if directory is None:
            return []
        try:
            events = directory.events(dt.date.today())
        except Exception as exc:  # promotions are optional: the loop goes on with the station's own slides
            log.warning("ui.events_failed error=%s", type(exc).__name__)
            return []
        return [{"zh": (e.zh.title, e.zh.text), "en": (e.en.title, e.en.text)} for e in events]

    def _next(self, _dt: float) -> None:
        self.slide = (self.slide + 1) % (len(SLIDES) + len(self.events))
        fade_in(self.ids.slide)

    def slide_part(self, index: int, part: int, lang: str, events: list[Any] | None = None) -> str:
        events = self.events if events is None else events
        index %= len(SLIDES) + len(events)
        if index >= len(SLIDES):
            if part == 0:
                return "info"
            texts = events[index - len(SLIDES)]["zh" if lang.startswith("zh") else "en"]
            return texts[part - 1]
        text = SLIDES[index][part]
        return text if part == 0 else self.app.t(text, lang)

    def on_touch_down(self, touch: Any) -> bool:
        if super().on_touch_down(touch):  # the language and accessibility buttons
            return True
        self.app.go("home")
        return True
