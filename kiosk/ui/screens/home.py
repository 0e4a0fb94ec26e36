"""Home: service tiles (kiosk.ui.screens.HOME_TILES) with live availability counts and out-of-service states.

A tile whose service the station reports down (`Station.service_states()`: broker gone, its lockers offline)
is greyed out but still tappable (its own screen then says why in full), and a line says what is out of
service and to ask the service desk.
Lending tiles also show how many items are there now ("12 可借"), refreshed on a worker.
"""
from __future__ import annotations

import logging
from typing import Any

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import ListProperty, StringProperty

from kiosk.services.lending import Availability
from kiosk.ui.screens import HOME_TILES, HomeTile
from kiosk.ui.screens.base import FlowScreen

log = logging.getLogger(__name__)
POLL_S = 2.0          # the station's cheap service states
COUNTS_S = 10.0       # availability counts (asks the lending service on a worker)


def tile_service(tile: HomeTile) -> str | None:
    """The station service (kiosk.lifecycle) a tile needs; None when it needs only the screen and the store."""
    item_type = tile.params.get("item_type")
    if item_type is not None:
        return f"borrow.{item_type}"
    return "return" if tile.id == "return" else None


class HomeScreen(FlowScreen):
    persistent = True
    home_button = False
    out_of_service = ListProperty([])  # names of the station's services that are down now
    notice = StringProperty("")

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        self._availability: dict[str, Availability | None] = {}
        grid = self.ids.tiles
        for tile in HOME_TILES:
            if not self.offered(tile):
                continue
            widget = Factory.ServiceTile(icon=tile.icon, msgid=tile.label)
            widget.tile_id = tile.id
            widget.bind(on_release=lambda _w, t=tile: self.open(t), fit_h=lambda *_: self._size_tiles())
            grid.add_widget(widget)
        self.app.bind(lang=self._show_services, high_contrast=self._show_services, low_reach=self._size_tiles,
                      tgt=self._size_tiles)
        self.ids.tiles.bind(width=self._size_tiles)
        self._size_tiles()
        self.poll_services()
        self._show_services()

    def _tiles(self) -> list[tuple[Any, HomeTile]]:
        by_id = {t.id: t for t in HOME_TILES}
        return [(w, by_id[w.tile_id]) for w in reversed(self.ids.tiles.children)]

    def _size_tiles(self, *_: Any) -> None:
        """Lending tiles three to a row, the others two; tall with big pictograms, shorter in low reach."""
        low, tgt, pad = self.app.low_reach, self.app.tgt, self.app.pad
        tiles = self._tiles()
        lend = sum(1 for _w, t in tiles if "item_type" in t.params)
        # tiles of a row are as tall as the tallest one's words need (ServiceTile.fit_h); a chip ("⚠ Out of
        # service") adds its line to the row, so the pictograms keep their size (out of low reach)
        fit = {lending: max((w.fit_h for w, t in tiles if ("item_type" in t.params) == lending), default=0.0)
               for lending in (True, False)}
        words = {lending: max((w.words_h for w, t in tiles if ("item_type" in t.params) == lending), default=0.0)
                 for lending in (True, False)}
        chip = {lending: 0.0 if low else max((w.font_size * 1.35 for w, t in tiles
                                              if ("item_type" in t.params) == lending and w.chip), default=0.0)
                for lending in (True, False)}
        for widget, tile in tiles:
            lending = "item_type" in tile.params
            per_row = max(1, lend) if lending else max(1, len(tiles) - lend)
            widget.size_hint_x = None   # StackLayout's hints ignore spacing: the width is worked out here
            widget.width = (self.ids.tiles.width - pad * (per_row - 1)) / per_row
            base = tgt * ((2.6 if lending else 1.6) if low else (5.0 if lending else 3.0))
            widget.min_h = max(fit[lending], base + chip[lending])
            widget.row_words_h = words[lending]

    def on_enter(self, *_: Any) -> None:
        self.poll_services()
        self.refresh_counts()
        Clock.schedule_interval(self.poll_services, POLL_S)
        Clock.schedule_interval(self._auto_counts, COUNTS_S)

    def on_leave(self, *_: Any) -> None:
        Clock.unschedule(self.poll_services)
        Clock.unschedule(self._auto_counts)

    def poll_services(self, *_: Any) -> None:
        states = getattr(self.app.station, "service_states", None)
        if states is not None:
            self.out_of_service = sorted(s.name for s in states() if not s.available)

    def on_out_of_service(self, *_: Any) -> None:
        self._show_services()
        self.refresh_counts()

    def _auto_counts(self, _dt: float) -> None:
        self.refresh_counts()

    def refresh_counts(self) -> None:
        lending = self.services.lending
        if lending is None:
            return
        types = [t.params["item_type"] for _w, t in self._tiles() if "item_type" in t.params]

        def job() -> dict[str, Availability | None]:
            out: dict[str, Availability | None] = {}
            for item_type in types:
                try:
                    out[item_type] = lending.availability(item_type)
                except Exception as exc:  # one locker's trouble never hides the other tiles
                    log.warning("ui.home_availability_failed item_type=%s error=%s", item_type, type(exc).__name__)
                    out[item_type] = None
            return out

        self.app.run_worker(job, self._counts, lambda _exc: None, name="ui-home-counts")

    def _counts(self, availability: dict[str, Availability | None]) -> None:
        self._availability = availability
        self._show_services()

    def _show_services(self, *_: Any) -> None:
        down = set(self.out_of_service)
        names = []
        t, lang = self.app.t, self.app.lang
        for widget, tile in self._tiles():
            # greyed but still tappable: its own screen then says why in full (e.g. "the locker is offline")
            off = tile_service(tile) in down
            # faded, but its words still readable (0.45 left "Out of service" at about 1.8:1 on the tile)
            widget.out_of_service, widget.opacity = off, (0.85 if off else 1.0)
            widget.accent = self.app.c_svc.get(tile.params.get("item_type", "desk"), self.app.c_accent)
            item_type = tile.params.get("item_type")
            avail = self._availability.get(item_type) if item_type else None
            if off:
                names.append(t(tile.label))
                widget.chip = "⚠ " + t("Out of service", lang)
            elif item_type is not None and item_type in self._availability:
                if avail is None or not avail.lockers_online:
                    widget.chip = "⚠ " + t("Out of service", lang)
                elif avail.count <= 0:
                    widget.chip = "⚠ " + t("None left", lang)
                else:
                    widget.chip = t("{count} available", lang).format(count=avail.count)
            else:
                widget.chip = ""
        self._size_tiles()
        zh = lang.startswith("zh")
        listed = ("、" if zh else ", ").join(names)
        colon, stop = ("：", "。") if zh else (": ", ". ")
        self.notice = f"⚠ {t('Out of service')}{colon}{listed}{stop}{t('Please ask the service desk.')}" if names else ""

    def offered(self, tile: HomeTile) -> bool:
        """A lending tile shows only where the station has lockers of that item type."""
        item_type = tile.params.get("item_type")
        lending = self.services.lending
        if item_type is None or lending is None:
            return True
        return any(p.item_type == item_type for p in lending.profiles.values())

    def open(self, tile: HomeTile) -> None:
        self.app.go(tile.screen, **tile.params)

    def back(self) -> None:
        self.app.end_session("home_back")
