"""Find a shop: letters for pinyin initials or English ("XBK" → 星巴克), results, the floor map highlighted."""
from __future__ import annotations

import io
import logging
from typing import Any

from kivy.core.image import Image as CoreImage
from kivy.properties import ListProperty, StringProperty

from kiosk.ui.screens.base import FlowScreen

log = logging.getLogger(__name__)
MAX_RESULTS = 4


class DirectoryScreen(FlowScreen):
    flow = "directory"
    query = StringProperty("")
    results = ListProperty([])  # (unit, label)

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        from kivy.factory import Factory

        for key in [*"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "←", "×"]:
            button = Factory.KButton(text=key)
            button.bind(on_release=lambda _w, k=key: self.press(k))
            self.ids.letters.add_widget(button)
        # a bound method, which Kivy holds weakly: a lambda kept every dropped directory screen alive (one per session)
        self.app.bind(lang=self._relang)

    def _relang(self, *_: Any) -> None:
        self.search()

    def enter(self, **_: Any) -> None:
        super().enter()
        self.query = ""
        self.search()

    def press(self, key: str) -> None:
        if key == "←":
            self.query = self.query[:-1]
        elif key == "×":
            self.query = ""
        elif len(self.query) < 12:
            self.query += key
        self.search()

    def search(self) -> None:
        directory = self.services.directory
        if directory is None:
            self.notify("This service is not available here")
            self.results = []
        elif not self.query:
            self.results = []
        else:
            en = self.app.lang == "en"
            hits = directory.search(self.query, limit=MAX_RESULTS)
            self.results = [(h.shop.unit, f"{h.shop.en if en else h.shop.zh} · {h.shop.unit}") for h in hits]
            if not hits:
                self.notify("No shop matches that")
            else:
                self.notify("")
        self._show_results()

    def _show_results(self) -> None:
        from kivy.factory import Factory

        box = self.ids.results
        box.clear_widgets()
        for i, (_unit, label) in enumerate(self.results):
            button = Factory.KButton(text=label)
            button.bind(on_release=lambda _w, n=i: self.open(n))
            box.add_widget(button)

    def open(self, index: int) -> None:
        if index < len(self.results):
            self.app.go("shop", unit=self.results[index][0])

    def wipe(self) -> None:
        super().wipe()
        self.query, self.results = "", []


class ShopScreen(FlowScreen):
    flow = "directory"
    unit = StringProperty("")
    details = StringProperty("")

    def enter(self, unit: str = "", **_: Any) -> None:
        super().enter()
        self.unit = unit
        self.draw()

    def draw(self, *_: Any) -> None:
        directory = self.services.directory
        shop = directory.content.shop(self.unit) if directory is not None else None
        if directory is None or shop is None:
            self.details, self.ids.map.texture = "", None
            self.notify("This service is not available here")
            return
        lang = self.app.service_lang()
        png = directory.route_map_png(shop.unit, lang=lang)
        self.ids.map.texture = CoreImage(io.BytesIO(png), ext="png").texture
        name = f"{shop.zh}  {shop.en}"
        route = directory.route(shop.unit)
        steps = "  →  ".join(route.steps(lang)) if route is not None else ""
        self.details = f"{name}\n{shop.unit} · {shop.hours}" + (f"\n{steps}" if steps else "")

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        self.app.bind(lang=self.draw)

    def back(self) -> None:
        self.app.go("directory")

    def wipe(self) -> None:
        super().wipe()
        self.unit, self.details = "", ""
