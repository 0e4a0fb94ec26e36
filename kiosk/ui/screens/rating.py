"""1–5 satisfaction rating at the end of every flow (SurveyService), then back home."""
from __future__ import annotations

import logging
from typing import Any

from kivy.properties import StringProperty

from kiosk.ui.screens.base import FlowScreen

log = logging.getLogger(__name__)

WORDS = {1: "Very unhappy", 2: "Unhappy", 3: "Neutral", 4: "Happy", 5: "Very happy"}


class RatingScreen(FlowScreen):
    rated_flow = StringProperty("other")

    def enter(self, flow: str = "other", **_: Any) -> None:
        super().enter()
        self.rated_flow = flow

    def label(self, score: int, lang: str) -> str:
        return f"{score} {'★' * score}{'☆' * (5 - score)}  {self.app.t(WORDS[score], lang)}"

    def rate(self, score: int) -> None:
        survey = self.app.service("survey")
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
