"""More services (the rest of the desk) and the 公开明示 notice: commitments, services, prices, hotlines."""
from __future__ import annotations

from typing import Any

from kiosk.ui.screens.base import FlowScreen
from kiosk.ui.widgets import ServiceTile

# (pictogram, msgid, screen, params): the desk's flows for shoppers, in the order the menu shows them.
# Staff-only actions (register a found item) live in staff mode, reached from diagnostics.
DESK_ENTRIES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("member", "Member centre", "member", {}),
    ("complaint", "Complaints and suggestions", "complaint", {}),
    ("ticket", "Complaint status", "ticket", {}),
    ("map", "Find a shop", "directory", {}),
    ("lostfound", "Lost and found", "lostfound", {}),
    ("speaker", "Find a person or an item", "request", {}),  # 广播寻人 / 寻物 (issue 17)
    ("storage", "Bag storage", "storage", {}),
    ("first_aid", "First aid and sewing kits", "supplies", {}),  # issue 17: 服务用品
    ("info", "Services and prices", "info", {}),
]


class DeskMenuScreen(FlowScreen):
    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        for icon, msgid, screen, params in DESK_ENTRIES:
            tile = ServiceTile(icon=icon, msgid=msgid, accent=self.app.c_svc.get("desk", self.app.c_accent))
            tile.bind(on_release=lambda _w, s=screen, p=params: self.app.go(s, **p), fit_h=self._size_tiles)
            self.ids.entries.add_widget(tile)
        self.app.bind(low_reach=self._size_tiles, tgt=self._size_tiles, large_text=self._size_tiles)
        self._size_tiles()

    def _size_tiles(self, *_: Any) -> None:
        """Tall tiles with big pictograms; in low reach they shrink so all seven sit in the lower half."""
        app = self.app
        tiles = self.ids.entries.children
        # one height for all (the rows stay even), enough for the longest words and, where the screen has the
        # room (not large text, not low reach), a pictogram a target high above them
        picture = 0 if (app.large_text or app.low_reach) else app.tgt
        fit = max((tile.fit_h for tile in tiles), default=0.0) + picture
        for tile in tiles:
            tile.min_h = max(fit, app.tgt * (1.3 if app.low_reach else 2.6))


class InfoScreen(FlowScreen):
    """公开明示: commitments, services (free or charged), the price table and hotlines."""

    flow = "info"

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        self.app.bind(lang=self._build)

    def enter(self, **_: Any) -> None:
        super().enter()
        self._build()

    def rows(self, lang: str) -> list[tuple[str, str, str]]:
        """("head", title, "") or ("row", left, right) or ("line", text, ""): the notice as a table."""
        directory = self.services.directory
        t = self.app.t
        if directory is None:
            return [("line", t("This service is not available here", lang), "")]
        info = directory.content.info
        en = lang == "en"
        names = {s.id: (s.en if en else s.zh) for s in info.services}
        out: list[tuple[str, str, str]] = [("head", t("Price list", lang), "")]
        out += [("row", names.get(p.service, p.service), p.en if en else p.zh) for p in info.prices]
        out += [("head", t("Services", lang), "")]
        out += [("row", s.en if en else s.zh, t("free", lang) if s.free else t("charged", lang))
                for s in info.services]
        out += [("head", t("Our commitments", lang), "")]
        out += [("line", f"• {c.en if en else c.zh}", "") for c in info.commitments]
        out += [("head", t("Hotlines", lang), "")]
        out += [("row", h.en if en else h.zh, h.number) for h in info.hotlines]
        return out

    def notice_text(self, lang: str) -> str:
        return "\n".join(" — ".join(x for x in (left, right) if x) for _kind, left, right in self.rows(lang))

    def _build(self, *_: Any) -> None:
        from kivy.factory import Factory

        table = self.ids.table
        rows = self.rows(self.app.lang)
        shape = [kind for kind, _l, _r in rows]
        if shape == getattr(self, "_shape", None):   # same table, other language: relabel in place
            for widget, (kind, left, right) in zip(reversed(table.children), rows, strict=True):
                if kind == "row":
                    widget.ids.left.text, widget.ids.right.text = left, right
                else:
                    widget.text = left
            return
        self._shape = shape
        table.clear_widgets()
        for kind, left, right in rows:
            if kind == "head":
                table.add_widget(Factory.KLabel(text=left, font_size=self.app.fs_h2, bold=True, halign="left"))
            elif kind == "line":
                table.add_widget(Factory.KLabel(text=left, halign="left"))
            else:
                row = Factory.PriceRow()
                row.ids.left.text, row.ids.right.text = left, right
                table.add_widget(row)
