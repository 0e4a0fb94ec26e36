"""Service supplies (服务用品: 医药箱、针线包 …): handed out at the desk or from a locker door, stock counted, and the
"充足与完好" check (count and condition) as a maintenance record with its own schedule.

What exists, what kind each item is (free / returnable / consumable), where it is handed out and its low-stock
line come from the supplies profile (device_profiles/supplies/*.yaml). Every change of stock is one
`supplies.moved` event carrying the stock after it and the profile's line, so the centre raises ONE
`supplies_low` alert per station and item while it is low (its alert key), whatever the number of hand-outs.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from device_profiles.supplies_schema import SuppliesProfile, SupplyItem
from kiosk.services.errors import ServiceRefused
from kiosk.store import Store

log = logging.getLogger(__name__)
CHECK_DUE_KEY = "supplies.check_due_at"
Condition = Literal["ok", "damaged", "expired"]


class SuppliesRefused(ServiceRefused):
    """A hand-out, return or check that did not happen; nothing was counted."""


@dataclass(frozen=True)
class Supply:
    item: str
    zh: str
    en: str
    kind: str
    where: str
    stock: int
    out: int          # returnable items handed out and not back yet
    low_at: int
    full: int

    @property
    def low(self) -> bool:
        return self.stock <= self.low_at

    def name(self, lang: str) -> str:
        return self.zh if lang.startswith("zh") else self.en


@dataclass(frozen=True)
class CheckLine:
    item: str
    count: int
    condition: Condition = "ok"


class SuppliesDesk:
    """`lockers` (a LockerLink) is needed only for items the profile keeps behind a locker door."""

    def __init__(self, *, store: Store, profile: SuppliesProfile, station_id: str, lockers: Any = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.profile = profile
        self.station_id = station_id
        self.lockers = lockers
        self.clock = clock

    def _spec(self, item: str) -> SupplyItem:
        spec = self.profile.items.get(item)
        if spec is None:
            raise SuppliesRefused("unknown_item", "this station does not keep that item")
        return spec

    def stock(self) -> list[Supply]:
        """Every item of the profile with its count (an item never counted yet stands at 0)."""
        rows = {r["item"]: r for r in self.store.query("SELECT item, stock, out FROM desk_supplies")}
        return [Supply(name, s.zh, s.en, s.kind, s.where, int(rows[name]["stock"]) if name in rows else 0,
                       int(rows[name]["out"]) if name in rows else 0, s.low_at, s.full)
                for name, s in self.profile.items.items()]

    def supply(self, item: str) -> Supply:
        self._spec(item)
        return next(s for s in self.stock() if s.item == item)

    def _move(self, item: str, delta: int, reason: str, staff_id: str | None, *, out_delta: int = 0,
              set_to: int | None = None, extra: dict[str, Any] | None = None) -> Supply:
        """One counted change of stock and its event, in one transaction; refused if it would go below 0."""
        with self.store.transaction() as conn:
            self._move_in(conn, item, delta, reason, staff_id, out_delta=out_delta, set_to=set_to, extra=extra)
        return self.supply(item)

    def _move_in(self, conn: sqlite3.Connection, item: str, delta: int, reason: str, staff_id: str | None, *,
                 out_delta: int = 0, set_to: int | None = None, extra: dict[str, Any] | None = None) -> None:
        spec = self._spec(item)
        now = self.clock()
        move_id = uuid.uuid4().hex[:12].upper()
        row = conn.execute("SELECT stock, out FROM desk_supplies WHERE item=?", (item,)).fetchone()
        stock, out = (int(row["stock"]), int(row["out"])) if row else (0, 0)
        new = set_to if set_to is not None else stock + delta
        new_out = max(0, out + out_delta)
        if new < 0:
            raise SuppliesRefused("out_of_stock", "none left: please restock")
        if out_delta < 0 and out == 0:
            raise SuppliesRefused("none_out", "no such item is out on loan")
        conn.execute("INSERT INTO desk_supplies(item, stock, out, updated_at) VALUES (?,?,?,?) "
                     "ON CONFLICT(item) DO UPDATE SET stock=excluded.stock, out=excluded.out, "
                     "updated_at=excluded.updated_at", (item, new, new_out, now))
        conn.execute("INSERT INTO desk_supply_moves(move_id, item, delta, reason, staff_id, at) "
                     "VALUES (?,?,?,?,?,?)", (move_id, item, new - stock, reason, staff_id, now))
        self.store.append_event(conn, "supplies.moved", {
            "move_id": move_id, "item": item, "kind": spec.kind, "where": spec.where, "delta": new - stock,
            "reason": reason, "stock": new, "out": new_out, "low_at": spec.low_at, "full": spec.full,
            "by": staff_id, "at": now, **(extra or {})}, at=now)
        log.info("supplies.moved item=%s reason=%s delta=%d stock=%d", item, reason, new - stock, new)

    def hand_out(self, item: str, staff_id: str | None = None) -> Supply:
        """One item to a shopper. At the desk staff hand it over (`staff_id`); a locker item opens its door first
        (BLOCKING) and is counted only when the locker acknowledged the open."""
        spec = self._spec(item)
        if self.supply(item).stock <= 0:
            raise SuppliesRefused("out_of_stock", "none left: please ask at the desk")
        extra: dict[str, Any] = {}
        if spec.where == "locker":
            extra = self._open_door(spec)
        elif staff_id is None:
            raise SuppliesRefused("ask_desk", "staff at the service desk hand this out")
        returnable = spec.kind == "returnable"
        return self._move(item, -1, "handout", staff_id, out_delta=1 if returnable else 0, extra=extra)

    def _open_door(self, spec: SupplyItem) -> dict[str, Any]:
        if self.lockers is None or spec.locker_id is None:
            raise SuppliesRefused("locker_offline", "the supplies locker is not reachable, please ask staff")
        view = self.lockers.view(spec.locker_id)
        full = [s for s in spec.slots if view is not None and (sv := view.slot(s)) is not None
                and sv.state == "occupied"]
        if view is None or not view.online or not full:
            raise SuppliesRefused("locker_offline" if view is None or not view.online else "out_of_stock",
                                  "the supplies locker cannot hand one out now, please ask staff")
        cmd_id = str(uuid.uuid4())
        try:
            ack = self.lockers.command(spec.locker_id, "unlock", full[0], cmd_id=cmd_id, ack_timeout=3.0)
        except Exception as exc:  # LockerError: nothing opened, nothing counted
            raise SuppliesRefused(str(getattr(exc, "code", "locker_error")), "the locker did not open") from exc
        if not ack.ok:  # an unlock answers `opened`; anything else opened nothing
            raise SuppliesRefused("locker_" + str(ack.result), "the locker did not open, please ask staff")
        return {"locker_id": spec.locker_id, "slot": full[0], "cmd_id": cmd_id}

    def take_back(self, item: str, staff_id: str) -> Supply:
        """A returnable item came back to the desk."""
        if self._spec(item).kind != "returnable":
            raise SuppliesRefused("not_returnable", "this item is not lent, it is given away")
        return self._move(item, +1, "returned", staff_id, out_delta=-1)

    def restock(self, item: str, count: int, staff_id: str) -> Supply:
        if not 1 <= count <= 1000:
            raise SuppliesRefused("invalid_count", "restock between 1 and 1000")
        return self._move(item, count, "restock", staff_id)

    # the 充足与完好 check ---------------------------------------------------------------------
    def check_due_at(self) -> float | None:
        raw = self.store.get_kv(CHECK_DUE_KEY)
        return float(raw) if raw else None

    def check_overdue(self) -> bool:
        due = self.check_due_at()
        return due is None or self.clock() > due

    def check(self, staff_id: str, lines: list[CheckLine]) -> float:
        """Staff counted every item and looked at its condition: the counts become the stock, damaged or expired
        ones are taken out of it, and the check is a maintenance record (action `supplies`) due again after the
        profile's `check_every_h`. Returns the next due time."""
        seen = {line.item for line in lines}
        missing = sorted(set(self.profile.items) - seen)
        if missing:
            raise SuppliesRefused("check_incomplete", f"count every item: {', '.join(missing)}")
        for line in lines:
            self._spec(line.item)
            if not 0 <= line.count <= 1000 or line.condition not in ("ok", "damaged", "expired"):
                raise SuppliesRefused("invalid_count", f"{line.item}: count 0..1000, condition ok/damaged/expired")
        now = self.clock()
        due = now + self.profile.check_every_h * 3600
        summary = [{"item": x.item, "count": x.count, "condition": x.condition,
                    "sufficient": x.condition == "ok" and x.count > self.profile.items[x.item].low_at}
                   for x in lines]
        note = "; ".join(f"{x['item']} {x['count']} {x['condition']}" for x in summary)
        with self.store.transaction() as conn:  # the counts, the record and its schedule: all or nothing
            for line in lines:
                self._move_in(conn, line.item, 0, "check", staff_id, set_to=line.count if line.condition == "ok" else 0)
            self.store.append_event(conn, "maintenance.logged", {"staff_id": staff_id, "action": "supplies",
                                                                 "device": "supplies", "note": note[:500]}, at=now)
            self.store.append_event(conn, "supplies.checked", {"staff_id": staff_id, "items": summary, "at": now,
                                                               "next_due_at": due}, at=now)
            conn.execute("INSERT INTO kv(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET "
                         "value=excluded.value", (CHECK_DUE_KEY, json.dumps(due)))
        log.info("supplies.checked staff=%s items=%d next_due_at=%.0f", staff_id, len(lines), due)
        return due

    def used_since(self, since: float) -> dict[str, int]:
        """Items handed out since `since` (the handover and the staff screen show it)."""
        rows = self.store.query("SELECT item, -SUM(delta) AS n FROM desk_supply_moves WHERE reason='handout' AND at>=? "
                                "GROUP BY item", (since,))
        return {r["item"]: int(r["n"]) for r in rows}


__all__ = ["CheckLine", "Supply", "SuppliesDesk", "SuppliesRefused"]
