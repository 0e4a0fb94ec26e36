"""Shop directory: search by Chinese, pinyin (full or initials, "xbk" → 星巴克) and English; floor maps."""
from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass

from kiosk.content import MallContent, MallEvent, Shop
from kiosk.content.maps import floor_png, floor_svg, route_png
from kiosk.content.routes import NoRoute, Place, Route, route_to, station_place

log = logging.getLogger(__name__)

MAX_QUERY = 40


class DirectoryError(Exception):
    code = "directory_error"


class UnknownPlace(DirectoryError):
    code = "unknown_place"


@dataclass(frozen=True)
class ShopHit:
    shop: Shop
    score: int  # lower is better: 0 exact, 1 prefix, 2 contained
    matched: str  # "zh" | "pinyin" | "initials" | "en" | "unit"


def _fold(text: str) -> str:
    """Lower case, letters and digits only, so "McDonald's" is found by "mcdonalds"."""
    return re.sub(r"[^0-9a-z\u4e00-\u9fff]", "", text.lower())


@dataclass(frozen=True)
class _Keys:
    shop: Shop
    zh: str
    pinyin: str
    initials: str
    en: str
    unit: str


class Directory:
    """Answers the 咨询导购 questions from the mall's content files."""

    def __init__(self, content: MallContent, here: Place | None = None) -> None:
        self.content = content
        # where the station stands, for "您在这里" and the route (default: beside the service desk)
        self.here = here if here is not None else station_place(content)
        self._routes: dict[str, Route | None] = {}
        self._keys = [self._index(s) for s in content.shops]

    @staticmethod
    def _index(shop: Shop) -> _Keys:
        # imported here: its phrase tables take ~0.5 s to load, which every other CLI verb would pay at start
        from pypinyin import Style, lazy_pinyin

        syllables = [p for p in lazy_pinyin(shop.zh) if p.strip()]
        full = shop.pinyin or "".join(syllables)
        initials = "".join(p[0] for p in lazy_pinyin(shop.zh, style=Style.FIRST_LETTER) if p.strip())
        return _Keys(shop, _fold(shop.zh), _fold(full), _fold(initials), _fold(shop.en), _fold(shop.unit))

    def search(self, query: str, category: str | None = None, floor: str | None = None,
               limit: int = 20) -> list[ShopHit]:
        """Best matches first; an empty query lists the shops filtered by category/floor."""
        q = _fold(query[:MAX_QUERY])
        hits: list[ShopHit] = []
        for k in self._keys:
            if category and k.shop.category != category:
                continue
            if floor and k.shop.floor != floor:
                continue
            if not q:
                hits.append(ShopHit(k.shop, 3, "all"))
                continue
            best: tuple[int, str] | None = None
            for field, value in (("zh", k.zh), ("initials", k.initials), ("pinyin", k.pinyin),
                                 ("en", k.en), ("unit", k.unit)):
                if not value:
                    continue
                score = 0 if value == q else 1 if value.startswith(q) else 2 if q in value else None
                if score is not None and (best is None or score < best[0]):
                    best = (score, field)
            if best is not None:
                hits.append(ShopHit(k.shop, best[0], best[1]))
        hits.sort(key=lambda h: (h.score, h.shop.unit))
        log.info("directory.search qlen=%d hits=%d", len(q), len(hits))
        return hits[:limit]

    def floors(self) -> list[str]:
        return [f.floor for f in self.content.floors]

    def map_png(self, floor: str, highlight: str | None = None, lang: str = "zh") -> bytes:
        plan = self.content.floor(floor)
        if plan is None:
            raise UnknownPlace(f"no floor {floor!r}")
        return floor_png(self.content, plan, highlight, lang)

    def map_svg(self, floor: str, highlight: str | None = None, lang: str = "zh") -> str:
        plan = self.content.floor(floor)
        if plan is None:
            raise UnknownPlace(f"no floor {floor!r}")
        return floor_svg(self.content, plan, highlight, lang)

    def shop_map_png(self, unit: str, lang: str = "zh") -> bytes:
        """The floor of a shop with that shop highlighted."""
        shop = self.content.shop(unit)
        if shop is None:
            raise UnknownPlace(f"no shop at {unit!r}")
        return self.map_png(shop.floor, shop.unit, lang)

    def route(self, unit: str) -> Route | None:
        """The walking route from this station to the shop, or None when the station's place is unknown or the
        plan has no way there (the map then shows the shop alone, as before)."""
        if self.here is None:
            return None
        if unit not in self._routes:   # content and place are fixed for this instance: route each shop once
            try:
                self._routes[unit] = route_to(self.content, self.here, unit)
            except NoRoute as exc:
                log.warning("directory.no_route unit=%s why=%s", unit, exc)
                self._routes[unit] = None
        return self._routes[unit]

    def route_map_png(self, unit: str, lang: str = "zh") -> bytes:
        """The shop's map with "you are here" and the route; the plain shop map when there is no route."""
        if self.content.shop(unit) is None:
            raise UnknownPlace(f"no shop at {unit!r}")
        route = self.route(unit)
        if route is None:
            return self.shop_map_png(unit, lang)
        return route_png(self.content, route, lang)

    def events(self, today: dt.date) -> list[MallEvent]:
        """Events and promotions running today (the attract loop shows these)."""
        return self.content.current_events(today)
