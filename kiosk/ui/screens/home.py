"""Home: a grid of large tiles (kiosk.ui.screens.HOME_TILES) leading into the flows.

A tile whose service the station reports down (`Station.service_states()`: broker gone, its lockers offline)
is greyed out, and a line says what is out of service and to ask the service desk.
"""
from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import ListProperty, StringProperty

from kiosk.ui.screens import HOME_TILES, HomeTile
from kiosk.ui.screens.base import FlowScreen

POLL_S = 2.0


def tile_service(tile: HomeTile) -> str | None:
    """The station service (kiosk.lifecycle) a tile needs; None when it needs only the screen and the store."""
    item_type = tile.params.get("item_type")
    if item_type is not None:
        return f"borrow.{item_type}"
    return "return" if tile.id == "return" else None


class HomeScreen(FlowScreen):
    persistent = True
    out_of_service = ListProperty([])  # names of the station's services that are down now
    notice = StringProperty("")

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        grid = self.ids.tiles
        for tile in HOME_TILES:
            if not self.offered(tile):
                continue
            widget = Factory.Tile(icon=tile.icon, msgid=tile.label)
            widget.tile_id, widget.out_of_service = tile.id, False
            widget.bind(on_release=lambda _w, t=tile: self.open(t))
            grid.add_widget(widget)
        self.app.bind(lang=self._show_services)
        self.poll_services()

    def on_enter(self, *_: Any) -> None:
        self.poll_services()
        Clock.schedule_interval(self.poll_services, POLL_S)

    def on_leave(self, *_: Any) -> None:
        Clock.unschedule(self.poll_services)

    def poll_services(self, *_: Any) -> None:
        states = getattr(self.app.station, "service_states", None)
        if states is not None:
            self.out_of_service = sorted(s.name for s in states() if not s.available)

    def on_out_of_service(self, *_: Any) -> None:
        self._show_services()

    def _show_services(self, *_: Any) -> None:
        down = set(self.out_of_service)
        names = []
        for widget in self.ids.tiles.children:
            tile = next(t for t in HOME_TILES if t.id == widget.tile_id)
            off = tile_service(tile) in down
            # greyed but still tappable: its own screen then says why in full (e.g. "the locker is offline")
            widget.out_of_service, widget.opacity = off, (0.45 if off else 1.0)
            if off:
                names.append(self.app.t(tile.label))
        t = self.app.t
        zh = self.app.lang.startswith("zh")
        listed = ("、" if zh else ", ").join(reversed(names))
        colon, stop = ("：", "。") if zh else (": ", ". ")
        self.notice = f"⚠ {t('Out of service')}{colon}{listed}{stop}{t('Please ask the service desk.')}" if names else ""

    def offered(self, tile: HomeTile) -> bool:
        """A lending tile shows only where the station has lockers of that item type."""
        item_type = tile.params.get("item_type")
        if item_type is None:
            return True
        lending = getattr(self.app.station, "lending", None)
        profiles = getattr(lending, "profiles", None)
        return profiles is None or any(p.item_type == item_type for p in profiles.values())

    def open(self, tile: HomeTile) -> None:
        self.app.go(tile.screen, **tile.params)

    def back(self) -> None:
        self.app.end_session("home_back")
