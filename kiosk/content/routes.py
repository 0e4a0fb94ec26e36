"""Walking routes on the floor plans: from where the station stands to a shop, across floors by lift or escalator.

Plans are the 100 x 60 grids of floors.yaml. Shops are solid; the corridors are every cell outside them. A route
is a breadth-first shortest path over those cells (4-neighbour, then straightened), so it never crosses a shop
and is the same every time for the same plan. A shop on another floor is reached in two legs: to the nearest
escalator (or lift) on this floor, then from the same one on the shop's floor. docs/ui.md "Directory and map".
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from kiosk.content import FloorPlan, MallContent

Point = tuple[int, int]
WIDTH, HEIGHT = 100, 60
# Which vertical link a shopper is sent to, in order of preference (escalators are easier to find and to use
# with a stroller on most malls' signage; a lift is used when a floor has no escalator).
LINKS = ("escalator", "elevator")


class NoRoute(LookupError):
    """No walkable path between two places (a plan error: a shop walled in, or a place inside a shop)."""


@dataclass(frozen=True)
class Place:
    floor: str
    x: int
    y: int


@dataclass(frozen=True)
class Leg:
    floor: str
    points: tuple[Point, ...]   # first point is where the leg starts, last is where it ends
    ends_at: str                # "shop" or the link kind ("escalator" / "elevator") taken at the end


@dataclass(frozen=True)
class Route:
    start: Place
    unit: str
    legs: tuple[Leg, ...]

    @property
    def floors(self) -> tuple[str, ...]:
        return tuple(leg.floor for leg in self.legs)

    def steps(self, lang: str = "zh") -> list[str]:
        """The route in words, one line per leg: what a shopper reads beside the map."""
        zh = lang.startswith("zh")
        out = []
        for leg in self.legs:
            if leg.ends_at == "shop":
                out.append(f"步行至 {self.unit}" if zh else f"Walk to {self.unit}")
            else:
                nxt = self.legs[self.legs.index(leg) + 1].floor
                link = {"escalator": ("扶梯", "escalator"), "elevator": ("电梯", "lift")}[leg.ends_at]
                out.append(f"乘{link[0]}到 {nxt}" if zh else f"Take the {link[1]} to {nxt}")
        return out


def _blocked(plan: FloorPlan, open_unit: str | None = None) -> set[Point]:
    cells: set[Point] = set()
    for unit, x, y, w, h in plan.units:
        if unit == open_unit:
            continue
        for cx in range(x, x + w):
            for cy in range(y, y + h):
                cells.add((cx, cy))
    return cells


def _unit_box(plan: FloorPlan, unit: str) -> tuple[int, int, int, int]:
    for u, x, y, w, h in plan.units:
        if u == unit:
            return x, y, w, h
    raise NoRoute(f"no unit {unit} on {plan.floor}")


def _nearest_free(point: Point, blocked: set[Point]) -> Point:
    """A facility or station marker may sit on a shop's edge; walk from the nearest corridor cell instead."""
    if point not in blocked:
        return point
    px, py = point
    best = min(((abs(x - px) + abs(y - py), (x, y)) for x in range(WIDTH) for y in range(HEIGHT)
                if (x, y) not in blocked), default=None)
    if best is None:
        raise NoRoute("no corridor on this floor")
    return best[1]


def _bfs(start: Point, goals: set[Point], blocked: set[Point]) -> list[Point]:
    prev: dict[Point, Point | None] = {start: None}
    queue = deque([start])
    while queue:
        cur = queue.popleft()
        if cur in goals:
            path = [cur]
            while (p := prev[path[-1]]) is not None:
                path.append(p)
            return path[::-1]
        x, y = cur
        for nxt in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
            nx, ny = nxt
            if 0 <= nx < WIDTH and 0 <= ny < HEIGHT and nxt not in blocked and nxt not in prev:
                prev[nxt] = cur
                queue.append(nxt)
    raise NoRoute(f"no path from {start}")


def _corners(path: list[Point]) -> tuple[Point, ...]:
    """Keep only the turns: a drawn route of a few straight segments, not 100 one-cell steps."""
    if len(path) <= 2:
        return tuple(path)
    keep = [path[0]]
    for a, b, c in zip(path, path[1:], path[2:], strict=False):
        if (b[0] - a[0], b[1] - a[1]) != (c[0] - b[0], c[1] - b[1]):
            keep.append(b)
    keep.append(path[-1])
    return tuple(keep)


def _shop_front(plan: FloorPlan, unit: str) -> set[Point]:
    """Corridor cells along the middle half of the shop's most open side: the plans draw no doors, a route that
    ends mid-front on the main corridor reads as "the entrance is here", one ending in a service alley or at a
    corner reads as "somewhere round here"."""
    x, y, w, h = _unit_box(plan, unit)
    blocked = _blocked(plan)
    xs, ys = range(x + w // 4, x + w - w // 4), range(y + h // 4, y + h - h // 4)
    depth = 6
    sides = {  # side -> (its ring of cells, the band of cells in front of it)
        "top": ([(cx, y - 1) for cx in xs], [(cx, y - d) for cx in xs for d in range(1, depth + 1)]),
        "bottom": ([(cx, y + h) for cx in xs], [(cx, y + h - 1 + d) for cx in xs for d in range(1, depth + 1)]),
        "left": ([(x - 1, cy) for cy in ys], [(x - d, cy) for cy in ys for d in range(1, depth + 1)]),
        "right": ([(x + w, cy) for cy in ys], [(x + w - 1 + d, cy) for cy in ys for d in range(1, depth + 1)]),
    }

    def free(cells: list[Point]) -> list[Point]:
        return [p for p in cells if 0 <= p[0] < WIDTH and 0 <= p[1] < HEIGHT and p not in blocked]

    scored = [(len(free(band)), set(free(ring))) for ring, band in sides.values() if free(ring)]
    if not scored:
        return set()
    best = max(score for score, _ in scored)
    return set().union(*(ring for score, ring in scored if score == best))


def _walk(plan: FloorPlan, start: Point, goals: set[Point]) -> list[Point]:
    blocked = _blocked(plan)
    return _bfs(_nearest_free(start, blocked), goals, blocked)


def _links(plan: FloorPlan) -> list[tuple[str, Point]]:
    for kind in LINKS:
        found: list[tuple[str, Point]] = [(kind, (x, y)) for k, x, y in plan.facilities if k == kind]
        if found:
            return found
    return []


def route_to(content: MallContent, start: Place, unit: str) -> Route:
    """The walking route from `start` to the shop in `unit` (raises NoRoute / LookupError when there is none)."""
    shop = content.shop(unit)
    if shop is None:
        raise NoRoute(f"no shop at {unit}")
    here_plan, there_plan = content.floor(start.floor), content.floor(shop.floor)
    if here_plan is None or there_plan is None:
        raise NoRoute(f"no plan for {start.floor if here_plan is None else shop.floor}")
    front = _shop_front(there_plan, unit)
    if not front:
        raise NoRoute(f"{unit} has no corridor beside it")
    if start.floor == shop.floor:
        path = _walk(here_plan, (start.x, start.y), front)
        return Route(start, unit, (Leg(start.floor, _corners(path), "shop"),))
    # the same link (kind and position) on both floors: escalators and lifts stack in these plans
    there_links = {(k, p) for k, p in _links(there_plan)}
    choices = [(k, p) for k, p in _links(here_plan) if (k, p) in there_links]
    if not choices:
        raise NoRoute(f"no escalator or lift joins {start.floor} and {shop.floor}")
    best: tuple[int, str, list[Point], list[Point]] | None = None
    for kind, point in choices:
        first = _walk(here_plan, (start.x, start.y), {_nearest_free(point, _blocked(here_plan))})
        second = _walk(there_plan, point, front)
        cost = len(first) + len(second)
        if best is None or cost < best[0]:
            best = (cost, kind, first, second)
    assert best is not None
    _, kind, first, second = best
    return Route(start, unit, (Leg(start.floor, _corners(first), kind), Leg(shop.floor, _corners(second), "shop")))


def station_place(content: MallContent, floor: str | None = None, x: int | None = None,
                  y: int | None = None) -> Place | None:
    """Where the station stands: configured, or else beside the service desk (the first floor that has one)."""
    if floor is not None and x is not None and y is not None:
        return Place(floor, x, y)
    for plan in content.floors:
        for kind, fx, fy in plan.facilities:
            if kind == "desk":
                return Place(plan.floor, fx, fy)
    return None
