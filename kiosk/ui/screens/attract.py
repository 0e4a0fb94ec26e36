"""Attract loop: the station's services, the mall's current events (with the map of where they are) and its
published service promises (公开明示) cycle until someone touches the screen."""
from __future__ import annotations

import datetime as dt
import io
import logging
from typing import Any

from kivy.clock import Clock
from kivy.core.image import Image as CoreImage
from kivy.properties import ListProperty, NumericProperty
from kivy.uix.image import Image

from kiosk.ui.screens.base import FlowScreen
from kiosk.ui.widgets import fade_in

log = logging.getLogger(__name__)

# (pictogram, headline msgid, line msgid): what this station offers
SLIDES = [
    ("umbrella", "Rainy day? Borrow an umbrella with your member code", "Free for the first 30 minutes"),
    ("power_bank", "Phone running low? Take a charged power bank", "Return it at any station in the mall"),
    ("member", "Member day every Wednesday", "Double points at the service desk"),
]


PROMISE_TITLE = {"zh": "我们的服务承诺", "en": "Our service promise"}


class AttractScreen(FlowScreen):
    persistent = True
    slide = NumericProperty(0)
    # the directory's current events: [{"zh": (title, text), "en": (title, text), "unit": "3F-01" | None}]
    events = ListProperty([])
    promises = ListProperty([])  # 公开明示 commitments, one slide each: [{"zh": (title, text), "en": (...)}]

    home_button = False
    keep_in_history = False

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        self._maps: dict[tuple[str, str], Any] = {}   # (unit, lang) -> texture: maps are drawn once per loop
        self.app.bind(lang=self._show_picture)

    def on_enter(self, *_: Any) -> None:
        self.events = self._current_events()
        self.promises = self._promises()
        self._show_picture()
        Clock.unschedule(self._next)   # entered twice without leaving (start-up) must not double the pace
        Clock.schedule_interval(self._next, self.app.settings.attract_slide_s)

    def on_leave(self, *_: Any) -> None:
        Clock.unschedule(self._next)

    def _current_events(self) -> list[dict[str, Any]]:
        directory = self.services.directory
        if directory is None:
            return []
        try:
            events = directory.events(dt.date.today())
        except Exception as exc:  # promotions are optional: the loop goes on with the station's own slides
            log.warning("ui.events_failed error=%s", type(exc).__name__)
            return []
        return [{"zh": (e.zh.title, e.zh.text), "en": (e.en.title, e.en.text), "unit": e.unit} for e in events]

    def _promises(self) -> list[dict[str, tuple[str, str]]]:
        directory = self.services.directory
        if directory is None:
            return []
        return [{"zh": (PROMISE_TITLE["zh"], c.zh), "en": (PROMISE_TITLE["en"], c.en)}
                for c in directory.content.info.commitments]

    def _count(self) -> int:
        return len(SLIDES) + len(self.events) + len(self.promises)

    def _next(self, _dt: float) -> None:
        self.slide = (self.slide + 1) % self._count()
        fade_in(self.ids.slide)

    def on_slide(self, *_: Any) -> None:
        self._show_picture()

    def slide_unit(self, index: int) -> str | None:
        """The shop unit an event slide points at (its map is shown), else None."""
        index %= self._count()
        at = index - len(SLIDES)
        if 0 <= at < len(self.events):
            unit = self.events[at].get("unit")
            return str(unit) if unit else None
        return None

    def _show_picture(self, *_: Any) -> None:
        """An event held at a shop shows that shop's floor, the shop lit: a picture, not just a unit number.
        The Image is added only while there is a picture, so it never holds empty space on the other slides."""
        if "slide" not in self.ids or not hasattr(self, "_maps"):
            return
        box = self.ids.slide
        for child in [c for c in box.children if getattr(c, "attract_picture", False)]:
            box.remove_widget(child)
        unit, directory = self.slide_unit(self.slide), self.services.directory
        if unit is None or directory is None:
            return
        lang = "zh" if self.app.lang.startswith("zh") else "en"
        texture = self._maps.get((unit, lang))
        if texture is None:
            try:
                png = directory.shop_map_png(unit, lang)
            except Exception as exc:   # a picture is optional: the slide's words stay
                log.warning("ui.attract_map_failed unit=%s error=%s", unit, type(exc).__name__)
                return
            texture = CoreImage(io.BytesIO(png), ext="png").texture
            self._maps[(unit, lang)] = texture
        picture = Image(texture=texture, allow_stretch=True, keep_ratio=True)
        picture.attract_picture = True
        box.add_widget(picture)

    def slide_part(self, index: int, part: int, lang: str, events: list[Any] | None = None,
                   promises: list[Any] | None = None) -> str:
        events = self.events if events is None else events
        promises = self.promises if promises is None else promises
        index %= len(SLIDES) + len(events) + len(promises)
        if index >= len(SLIDES):
            at = index - len(SLIDES)
            if part == 0:
                return "map" if at < len(events) and events[at].get("unit") else "info"
            entry = events[at] if at < len(events) else promises[at - len(events)]
            return entry["zh" if lang.startswith("zh") else "en"][part - 1]
        text = SLIDES[index][part]
        return text if part == 0 else self.app.t(text, lang)

    def on_touch_down(self, touch: Any) -> bool:
        if super().on_touch_down(touch):  # the language and accessibility buttons
            return True
        self.app.go("home")
        return True
