"""Stock rebalancing suggestions for the fleet page: where charged power banks or umbrellas are short, and
which station has enough to spare to send some (issue 15 item 8).

From each online station's last heartbeat: ready-to-lend items per item type (the `low_stock` rule's count)
and doors that could take one (empty, or holding a flat power bank to swap). A station is short below the low-stock line; a station may give
what it holds above twice that line (so giving never makes it short). Each shortage is filled from the
stations with the most to spare first, never more than the receiver has free doors for.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from server_bridge.central.fleet import stock


@dataclass(frozen=True)
class Move:
    item_type: str
    source: str
    target: str
    count: int


def _levels(stations: Iterable[Any], min_battery: int) -> dict[str, dict[str, tuple[int, int]]]:
    """item type -> station -> (ready to lend, free doors)."""
    levels: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for st in stations:
        for lk in (st.health or {}).get("lockers", []):
            item_type = lk.get("item_type")
            if item_type not in ("umbrella", "power_bank") or not lk.get("online", True):
                continue
            cell = levels[item_type][st.station_id]
            ready = stock(lk, min_battery)
            cell[0] += ready
            cell[1] += len(lk.get("slots", [])) - ready  # empty doors, or a flat bank swapped for a charged one
    return {t: {s: (v[0], v[1]) for s, v in by.items()} for t, by in levels.items()}


def suggestions(stations: Iterable[Any], online: set[str], low: int, min_battery: int) -> list[Move]:
    moves: list[Move] = []
    for item_type, by_station in sorted(_levels([s for s in stations if s.station_id in online],
                                                min_battery).items()):
        spare = {sid: ready - 2 * low for sid, (ready, _free) in by_station.items() if ready > 2 * low}
        for target, (ready, free) in sorted(by_station.items(), key=lambda kv: kv[1][0]):
            need = min(2 * low - ready, free) if ready < low else 0
            for source in sorted(spare, key=lambda s: (-spare[s], s)):
                if need <= 0:
                    break
                give = min(need, spare[source])
                if give > 0:
                    moves.append(Move(item_type, source, target, give))
                    spare[source] -= give
                    need -= give
    return moves
