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
            if not self.offered(tile):
                continue
            widget = Factory.Tile(icon=tile.icon, msgid=tile.label)
            widget.tile_id = tile.id
            widget.bind(on_release=lambda _w, t=tile: self.open(t))
            grid.add_widget(widget)

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
