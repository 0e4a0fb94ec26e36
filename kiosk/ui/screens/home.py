"""Home: a grid of large tiles (kiosk.ui.screens.HOME_TILES) leading into the flows."""
from __future__ import annotations

from typing import Any

from kivy.factory import Factory

from kiosk.ui.screens import HOME_TILES, HomeTile
from kiosk.ui.screens.base import FlowScreen


class HomeScreen(FlowScreen):
    persistent = True

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        grid = self.ids.tiles
        for tile in HOME_TILES:
            widget = Factory.Tile(icon=tile.icon, msgid=tile.label)
            widget.tile_id = tile.id
            widget.bind(on_release=lambda _w, t=tile: self.open(t))
            grid.add_widget(widget)

    def open(self, tile: HomeTile) -> None:
        self.app.go(tile.screen, **tile.params)

    def back(self) -> None:
        self.app.end_session("home_back")
