"""Routes on the floor plans ("您在这里" and the way to a shop): never through a shop, across floors by a link that
exists on both, and drawn on the map in the Simplified Chinese face."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from kiosk.content import CONTENT_ROOT, load_content
from kiosk.content.maps import CJK_FONT, HERE, ROUTE, SC_FACE_NAME, _font, sc_face_index
from kiosk.content.routes import NoRoute, Place, route_to, station_place
from kiosk.services.directory import Directory, UnknownPlace

CONTENT = load_content(CONTENT_ROOT)


def _cells(points: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    """Every grid cell a route's straight segments pass through."""
    out = []
    for (ax, ay), (bx, by) in zip(points, points[1:], strict=False):
        assert ax == bx or ay == by, "segments are straight"
        steps = max(abs(bx - ax), abs(by - ay))
        for i in range(steps + 1):
            out.append((ax + (bx - ax) * i // steps, ay + (by - ay) * i // steps))
    return out


def _inside(plan_units, cell: tuple[int, int]) -> str | None:
    for unit, x, y, w, h in plan_units:
        if x <= cell[0] < x + w and y <= cell[1] < y + h:
            return unit
    return None


def test_the_station_stands_at_the_service_desk_unless_configured() -> None:
    assert station_place(CONTENT) == Place("1F", 85, 30)
    assert station_place(CONTENT, "2F", 10, 30) == Place("2F", 10, 30)


@pytest.mark.parametrize("unit", [u for plan in CONTENT.floors for u, *_ in plan.units])
def test_every_shop_is_reached_without_walking_through_another(unit: str) -> None:
    route = route_to(CONTENT, Place("1F", 85, 30), unit)
    shop = CONTENT.shop(unit)
    assert shop is not None and route.legs[-1].floor == shop.floor and route.legs[-1].ends_at == "shop"
    for leg in route.legs:
        plan = CONTENT.floor(leg.floor)
        assert plan is not None
        crossed = {_inside(plan.units, c) for c in _cells(leg.points)} - {None}
        assert not crossed, f"{unit}: the route on {leg.floor} crosses {crossed}"
    # the last cell is beside the shop: one step from its box
    x, y, w, h = next((bx, by, bw, bh) for u, bx, by, bw, bh in CONTENT.floor(shop.floor).units if u == unit)
    ex, ey = route.legs[-1].points[-1]
    assert (x - 1 <= ex <= x + w) and (y - 1 <= ey <= y + h) and _inside([(unit, x, y, w, h)], (ex, ey)) is None


def test_another_floor_goes_by_the_escalator_found_on_both_floors() -> None:
    route = route_to(CONTENT, Place("1F", 85, 30), "3F-02")
    assert route.floors == ("1F", "3F")
    first, second = route.legs
    assert first.ends_at == "escalator" and first.points[-1] == second.points[0] == (70, 30)
    assert route.steps("zh") == ["乘扶梯到 3F", "步行至 3F-02"]
    assert route.steps("en") == ["Take the escalator to 3F", "Walk to 3F-02"]


def test_same_floor_is_one_leg_and_unknown_shop_has_no_route() -> None:
    route = route_to(CONTENT, Place("1F", 85, 30), "1F-02")
    assert route.floors == ("1F",) and route.steps("zh") == ["步行至 1F-02"]
    with pytest.raises(NoRoute):
        route_to(CONTENT, Place("1F", 85, 30), "1F-99")


def test_a_walled_in_shop_has_no_route_and_the_map_falls_back_to_the_shop_alone(tmp_path: Path) -> None:
    plan = CONTENT.floor("1F")
    assert plan is not None
    # a wall of units all round 1F-02's middle: build a plan where nothing reaches its sides
    walled = plan.model_copy(update={"units": [("1F-02", 40, 20, 10, 10), ("1F-01", 30, 10, 30, 10),
                                               ("1F-03", 30, 30, 30, 10), ("1F-04", 30, 20, 10, 10),
                                               ("1F-05", 50, 20, 10, 10)]})
    content = CONTENT.model_copy(update={"floors": [walled if f.floor == "1F" else f for f in CONTENT.floors]})
    directory = Directory(content)
    assert directory.route("1F-02") is None
    png = directory.route_map_png("1F-02")
    assert Image.open(io.BytesIO(png)).size == (1000, 600)   # the plain one-floor shop map
    with pytest.raises(UnknownPlace):
        directory.route_map_png("1F-77")


def _colour_count(png: bytes, colour: str) -> int:
    rgb = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    img = Image.open(io.BytesIO(png)).convert("RGB")
    return sum(1 for px in img.getdata() if px == rgb)


def test_route_map_marks_you_are_here_and_stacks_the_floors() -> None:
    directory = Directory(CONTENT)
    same = directory.route_map_png("1F-02")
    other = directory.route_map_png("3F-02")
    plain = directory.shop_map_png("1F-02")
    assert Image.open(io.BytesIO(other)).height > 2 * Image.open(io.BytesIO(same)).height * 0.9
    assert ROUTE == HERE
    assert _colour_count(same, HERE) > 2_000 and _colour_count(plain, HERE) == 0


def test_map_labels_use_the_simplified_chinese_face() -> None:
    assert CJK_FONT.exists()
    index = sc_face_index()
    font = _font(20)
    assert font.getname()[0] == SC_FACE_NAME, (index, font.getname())


def test_station_config_places_the_station_and_refuses_a_place_off_the_grid(tmp_path: Path) -> None:
    from kiosk.config import ConfigError, load_config
    root = Path(__file__).resolve().parents[3]
    text = (root / "station.example.toml").read_text()
    assert 'map_place = { floor = "1F", x = 85, y = 30 }' in text
    good = tmp_path / "good.toml"
    good.write_text(text.replace('x = 85, y = 30', 'x = 10, y = 30'))
    config = load_config(good)
    assert config.map_place is not None and (config.map_place.floor, config.map_place.x) == ("1F", 10)
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('x = 85, y = 30', 'x = 185, y = 30'))
    with pytest.raises(ConfigError, match="map_place"):
        load_config(bad)
