"""1–5 satisfaction rating at the end of every flow (SurveyService): one row in the thumb zone; it goes home
by itself after a while."""
from __future__ import annotations

import logging
from typing import Any

from kivy.clock import Clock
from kivy.properties import StringProperty

from kiosk.ui.screens.base import FlowScreen

log = logging.getLogger(__name__)

WORDS = {1: "Very unhappy", 2: "Unhappy", 3: "Neutral", 4: "Happy", 5: "Very happy"}
AUTO_DISMISS_S = 20.0


class RatingScreen(FlowScreen):
    keep_in_history = False
    home_button = False       # Skip is the way home
    back_button = False
    rated_flow = StringProperty("other")

    def enter(self, flow: str = "other", **_: Any) -> None:
        super().enter()
        self.rated_flow = flow

    def on_enter(self, *_: Any) -> None:
        Clock.schedule_once(self._dismiss, AUTO_DISMISS_S)

    def on_leave(self, *_: Any) -> None:
        Clock.unschedule(self._dismiss)

    def _dismiss(self, _dt: float) -> None:
        if self.manager is not None and self.manager.current == self.name:
            self.finish()

    def label(self, score: int, lang: str) -> str:
        return f"{score} ★\n{self.app.t(WORDS[score], lang)}"   # "★★★★★" wraps mid-row in large text

    def rate(self, score: int) -> None:
        survey = self.services.survey
        if survey is not None:
            try:
                survey.rate(self.rated_flow, score, self.app.lang)
            except Exception as exc:  # a lost rating must never block the shopper
                log.warning("ui.rating_failed flow=%s error=%s", self.rated_flow, type(exc).__name__)
        self.finish(thanks=True)

    def finish(self, thanks: bool = False) -> None:
        home = self.app.go("home")
        if thanks:
            home.notify("Thank you for your feedback!", ok=True)

    def back(self) -> None:
        self.finish()

    def go_home(self) -> None:
        self.finish()
