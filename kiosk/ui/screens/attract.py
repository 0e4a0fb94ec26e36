"""Attract loop: promotions and events cycle until someone touches the screen."""
from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.properties import NumericProperty

from kiosk.ui.screens.base import FlowScreen

SLIDES = [
    ("☂", "Rainy day? Borrow an umbrella with your member code", "Free for the first 30 minutes"),
    ("◉", "Phone running low? Take a charged power bank", "Return it at any station in the mall"),
    ("★", "Member day every Wednesday", "Double points at the service desk"),
]


class AttractScreen(FlowScreen):
    persistent = True
    slide = NumericProperty(0)

    def on_enter(self, *_: Any) -> None:
        Clock.schedule_interval(self._next, self.app.settings.attract_slide_s)

    def on_leave(self, *_: Any) -> None:
        Clock.unschedule(self._next)

    def _next(self, _dt: float) -> None:
        self.slide = (self.slide + 1) % len(SLIDES)

    def slide_part(self, index: int, part: int, lang: str) -> str:
        text = SLIDES[index % len(SLIDES)][part]
        return text if part == 0 else self.app.t(text, lang)

    def on_touch_down(self, touch: Any) -> bool:
        if super().on_touch_down(touch):  # the language and accessibility buttons
            return True
        self.app.go("home")
        return True
