"""What a locker's firmware decides, without the network: slots, doors, items, batteries, timers.

`LockerFirmware` turns commands, shopper actions and the passing of time into the protocol v1.1 messages a
real locker would publish; `drivers.locker.simulator` carries them over MQTT. Time is always passed in.
With `proto="1.0"` it behaves as an old v1 locker: no `open`, no fault codes, no door-left-open or tamper.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import random
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from device_profiles.locker_schema import LockerProfile
from drivers.locker.link import SlotStateName
from drivers.locker.models import (
    Ack,
    Cmd,
    Control,
    CountControl,
    DelayControl,
    Event,
    FaultControl,
    InsertControl,
    Message,
    ProtocolError,
    SlotControl,
    SlotState,
    State,
    TakeControl,
    parse_cmd,
)

log = logging.getLogger(__name__)

Leaf = Literal["ack", "event", "state"]
Fill = int | Literal["all"] | None
Proto = Literal["1.0", "1.1"]
ANSWERS_KEPT = 4096  # cmd_ids remembered for idempotence; far more than a station sends within a ttl


@dataclass(frozen=True)
class Outgoing:
    leaf: Leaf
    message: Message | None  # None only inside the firmware: "state changed", built once by settle()

    @property
    def retain(self) -> bool:
        return self.leaf == "state"


STATE_CHANGED = Outgoing("state", None)


@dataclass
class _Slot:
    number: int
    item: str | None = None
    battery: int | None = None
    door_open: bool = False
    jammed: bool = False
    fault: bool = False
    disabled: bool = False
    opened_by: str | None = None  # cmd_id of the unlock that opened the door
    taken_by: str | None = None  # cmd_id under which the last item left this slot
    opening: int = 0  # counts door openings, so a stale take timer is recognised
    fault_code: str | None = None  # v1.1: why the slot is in fault (a jammed lock is door_jammed)
    held: bool = False  # something keeps the door from closing (a shopper, a bag strap): take/timeout leave it open
    left_open: bool = False  # open longer than the profile's door_open_s (v1.1 reports it)
    # the last view and what it was built from: most slots do not change between two states, and building 24
    # validated SlotStates was most of a command's cost (bench/locker_rtt.py)
    _view_cache: tuple[tuple[object, ...], SlotState] | None = field(default=None, repr=False, compare=False)

    def code(self) -> str | None:
        if self.disabled:
            return "slot_disabled"
        if self.fault:
            return self.fault_code or ("door_jammed" if self.jammed else "unknown")
        return None

    def view(self, has_battery: bool, v11: bool = True) -> SlotState:
        key = (has_battery, v11, self.item, self.battery, self.door_open, self.jammed, self.fault, self.disabled,
               self.taken_by, self.fault_code, self.left_open)
        if self._view_cache is not None and self._view_cache[0] == key:
            return self._view_cache[1]
        view = self._build_view(has_battery, v11)
        self._view_cache = (key, view)
        return view

    def _build_view(self, has_battery: bool, v11: bool) -> SlotState:
        name: SlotStateName
        if self.disabled:
            name = "disabled"
        elif self.fault:
            name = "fault"
        elif self.door_open:
            name = "open"
        else:
            name = "occupied" if self.item else "empty"
        battery = self.battery if has_battery and self.item else None
        charging = (battery < 100) if battery is not None else None
        if not v11:
            return SlotState(slot=self.number, state=name, item=self.item, battery=battery, charging=charging,
                             taken_by=self.taken_by)
        return SlotState(slot=self.number, state=name, item=self.item, battery=battery, charging=charging,
                         taken_by=self.taken_by, fault=self.code(), left_open=(self.door_open and self.left_open) or None)


def item_id(profile: LockerProfile, locker_id: str, slot: int) -> str:
    """Ids given to items by --fill: `{item_prefix}-{locker_id}-{slot:02d}`, e.g. U-U1-07."""
    return f"{profile.item_prefix}-{locker_id}-{slot:02d}"


class LockerFirmware:
    """One locker's decisions. Not thread-safe: the simulator calls it from one worker thread."""

    def __init__(self, profile: LockerProfile, locker_id: str, *, fill: Fill = "all",
                 auto_take: float | None = None, seed: int = 0, wall: Callable[[], float],
                 charge_step_s: float = 30.0, proto: Proto = "1.1") -> None:
        self.profile = profile
        self.proto = proto
        self.v11 = proto != "1.0"
        self.locker_id = locker_id
        self.auto_take = auto_take
        self.wall = wall
        self.charge_step_s = charge_step_s
        self.seq = 0
        self.drop_acks = 0
        self.delay_acks_s = 0.0
        self.counters: dict[str, int] = {}
        self._has_battery = profile.sensors.battery
        self._rng = random.Random(seed)
        self._answers: OrderedDict[str, Ack] = OrderedDict()
        self._timers: list[tuple[float, int, str, int, int, Ack | None]] = []
        self._tick = itertools.count()
        self._charge_armed = False
        self.slots = [_Slot(n) for n in range(1, profile.slots + 1)]
        count = profile.slots if fill == "all" else min(int(fill or 0), profile.slots)
        for s in self.slots[:count]:
            s.item = item_id(profile, locker_id, s.number)
            s.battery = self._rng.randint(30, 100) if self._has_battery else None

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def state(self) -> Outgoing:
        """The retained state, numbered with the next seq (every publication has its own seq)."""
        slots = [s.view(self._has_battery, self.v11) for s in self.slots]
        return Outgoing("state", State(seq=self._next_seq(), ts=self.wall(), slots=slots))

    def slot_views(self) -> list[SlotState]:
        return [s.view(self._has_battery, self.v11) for s in self.slots]

    def _event(self, type_: str, slot: _Slot, *, item: str | None = None, cmd_id: str | None = None,
               battery: int | None = None, fault: str | None = None) -> Outgoing:
        ev = Event(seq=self._next_seq(), ts=self.wall(), type=type_, slot=slot.number,  # type: ignore[arg-type]
                   item=item, cmd_id=cmd_id, battery=battery, fault=fault if self.v11 else None)
        return Outgoing("event", ev)

    def _v11_event(self, type_: str, slot: _Slot, **kw: str | None) -> list[Outgoing]:
        """Events a v1 locker never sends (door_left_open, tamper): none at all in v1 mode."""
        return [self._event(type_, slot, **kw)] if self.v11 else []  # type: ignore[arg-type]

    def _at(self, when: float, kind: str, slot: int = 0, token: int = 0, ack: Ack | None = None) -> None:
        heapq.heappush(self._timers, (when, next(self._tick), kind, slot, token, ack))

    def next_due(self, now: float) -> float | None:
        """Seconds until the next timer, arming battery charging when there is something to charge."""
        if self._has_battery and not self._charge_armed:
            self._charge_armed = True
            self._at(now + self.charge_step_s, "charge")
        return max(0.0, self._timers[0][0] - now) if self._timers else None

    def settle(self, out: list[Outgoing]) -> list[Outgoing]:
        """Replace the state-changed markers of one batch by a single state after its events."""
        kept = [o for o in out if o.message is not None]
        return [*kept, self.state()] if len(kept) < len(out) else kept

    def due(self, now: float) -> list[Outgoing]:
        """Timers that fell due: takes, take timeouts, delayed acks, charging."""
        return self.settle(self._due(now))

    def _due(self, now: float) -> list[Outgoing]:
        out: list[Outgoing] = []
        while self._timers and self._timers[0][0] <= now:
            _, _, kind, number, token, ack = heapq.heappop(self._timers)
            slot = self.slots[number - 1] if number else None
            if kind == "ack" and ack is not None:
                out.append(Outgoing("ack", ack))
            elif kind == "take" and slot and slot.door_open and slot.opening == token:
                out += self._take(slot)
            elif kind == "take_timeout" and slot and slot.door_open and slot.opening == token:
                if not slot.jammed and not slot.held:
                    out += self._close(slot)
            elif kind == "left_open" and slot and slot.door_open and slot.opening == token and not slot.left_open:
                slot.left_open = True
                log.info("sim.door_left_open locker=%s slot=%d", self.locker_id, slot.number)
                out += [*self._v11_event("door_left_open", slot, cmd_id=slot.opened_by), STATE_CHANGED]
            elif kind == "charge":
                self._charge_armed = False
                out += self._charge()
        return out

    def _charge(self) -> list[Outgoing]:
        changed = False
        for s in self.slots:
            if s.item and s.battery is not None and s.battery < 100 and not s.door_open:
                s.battery += 1
                changed = True
        return [STATE_CHANGED] if changed else []

    def handle_cmd(self, payload: bytes, now: float, run_due: bool = False) -> list[Outgoing]:
        """Answer one command; a repeated cmd_id gets its first answer again and moves nothing.

        With run_due, timers already due afterwards (an immediate auto-take) join the same batch."""
        out = self._handle_cmd(payload, now)
        return self.settle(out + self._due(now) if run_due else out)

    def _handle_cmd(self, payload: bytes, now: float) -> list[Outgoing]:
        self._count("commands")
        try:
            cmd = parse_cmd(payload, slots=self.profile.slots)
        except ProtocolError as exc:
            log.warning("locker.bad_command locker=%s problem=%s bytes=%d", self.locker_id, exc, len(payload))
            if exc.cmd_id is None:
                self._count("malformed")
                return []
            self._count("bad_request")
            return self._answer(Ack(cmd_id=exc.cmd_id, ok=False, result="bad_request"), now, [])
        first = self._answers.get(cmd.cmd_id)
        if first is not None:
            self._count("duplicates")
            return self._answer(first, now, [], remember=False)
        if cmd.op == "open" and not self.v11:  # what a v1 parser says of an op it does not know
            self._count("bad_request")
            return self._answer(Ack(cmd_id=cmd.cmd_id, ok=False, result="bad_request"), now, [])
        if cmd.expires_at < self.wall():
            self._count("expired")
            return self._answer(Ack(cmd_id=cmd.cmd_id, ok=False, result="expired", slot=cmd.slot), now, [])
        ack, effects = self._execute(cmd, now)
        return self._answer(ack, now, effects)

    def _answer(self, ack: Ack, now: float, effects: list[Outgoing], remember: bool = True) -> list[Outgoing]:
        if remember:
            self._answers[ack.cmd_id] = ack
            while len(self._answers) > ANSWERS_KEPT:
                self._answers.popitem(last=False)
        if self.drop_acks > 0:
            self.drop_acks -= 1
            self._count("acks_dropped")
            return effects
        if self.delay_acks_s > 0:
            self._at(now + self.delay_acks_s, "ack", ack=ack)
            return effects
        # the ack goes first: a station waiting on it should not wait behind the state publication
        return [Outgoing("ack", ack), *effects]

    def _execute(self, cmd: Cmd, now: float) -> tuple[Ack, list[Outgoing]]:
        def ack(result: str) -> Ack:
            ok = result in ("opened", "ok")
            return Ack(cmd_id=cmd.cmd_id, ok=ok, result=result, slot=cmd.slot)  # type: ignore[arg-type]

        if cmd.op == "query":
            return ack("ok"), [STATE_CHANGED]
        slot = self.slots[cmd.slot - 1] if cmd.slot else None
        if cmd.op == "selftest":
            faulty = slot is not None and (slot.fault or slot.jammed)
            return ack("fault" if faulty else "ok"), []
        assert slot is not None  # enable/disable/unlock need a slot (validated by the model)
        if cmd.op in ("enable", "disable"):
            slot.disabled = cmd.op == "disable"
            return ack("ok"), [STATE_CHANGED]
        if slot.disabled or slot.fault:
            return ack("fault"), []
        if slot.door_open:
            return ack("busy"), []
        if cmd.op == "unlock" and not slot.item:
            return ack("empty"), []
        if cmd.op == "open" and slot.item:
            return ack("occupied"), []  # `open` is for putting something in: never expose what is inside
        if slot.jammed:
            slot.fault, slot.fault_code = True, "door_jammed"
            return ack("fault"), [self._event("fault", slot, cmd_id=cmd.cmd_id, fault="door_jammed"), STATE_CHANGED]
        self._open_door(slot, cmd.cmd_id, now)
        # an `open` door waits return_s for something to be put in, an `unlock` door take_s for the item to leave
        wait_s = self.profile.timeouts.take_s if cmd.op == "unlock" else self.profile.timeouts.return_s
        self._at(now + wait_s, "take_timeout", slot.number, slot.opening)
        if self.auto_take is not None and cmd.op == "unlock":
            self._at(now + self.auto_take, "take", slot.number, slot.opening)
        return ack("opened"), [self._event("door_opened", slot, cmd_id=cmd.cmd_id), STATE_CHANGED]

    def _open_door(self, slot: _Slot, cmd_id: str | None, now: float) -> None:
        slot.door_open = True
        slot.opened_by = cmd_id
        slot.opening += 1
        slot.left_open = False
        self._at(now + self.profile.timeouts.door_open_s, "left_open", slot.number, slot.opening)

    def _close(self, slot: _Slot) -> list[Outgoing]:
        slot.door_open = slot.held = slot.left_open = False
        return [self._event("door_closed", slot, cmd_id=slot.opened_by), STATE_CHANGED]

    def _take(self, slot: _Slot) -> list[Outgoing]:
        item, slot.item, slot.battery = slot.item, None, None
        slot.taken_by = slot.opened_by
        removed = self._event("item_removed", slot, item=item, cmd_id=slot.opened_by)
        if slot.held:  # the item left, the door stays open (and may be reported left open later)
            return [removed, STATE_CHANGED]
        return [removed, *self._close(slot)]

    def handle_control(self, ctl: Control, now: float) -> list[Outgoing]:
        """Act out a shopper or a broken locker; refusals are counted and logged, never raised."""
        return self.settle(self._handle_control(ctl, now))

    def _handle_control(self, ctl: Control, now: float) -> list[Outgoing]:
        if isinstance(ctl, TakeControl):
            slot = self.slots[ctl.slot - 1] if ctl.slot <= len(self.slots) else None
            if slot and slot.door_open and slot.item:
                return self._take(slot)
            return self._refuse(ctl.op, "door not open with an item in it")
        if isinstance(ctl, InsertControl):
            return self._insert(ctl)
        if isinstance(ctl, SlotControl):
            if ctl.slot > len(self.slots):
                return self._refuse(ctl.op, "no such slot")
            slot = self.slots[ctl.slot - 1]
            if ctl.op == "jam_door":
                slot.jammed = True
                return []
            if ctl.op == "hold_door":
                slot.held = True
                return []
            if ctl.op == "close_door":
                if not slot.door_open:
                    return self._refuse(ctl.op, "door not open")
                return self._close(slot)
            if ctl.op == "force_door":
                if slot.door_open:
                    return self._refuse(ctl.op, "door already open")
                self._open_door(slot, None, now)
                slot.held = True  # nobody's latch will close it: it stays open until someone closes it
                log.warning("sim.tamper locker=%s slot=%d", self.locker_id, slot.number)
                return [*self._v11_event("tamper", slot), STATE_CHANGED]
            slot.fault = slot.jammed = False
            slot.fault_code = None
            return [STATE_CHANGED]
        if isinstance(ctl, FaultControl):
            if ctl.slot > len(self.slots):
                return self._refuse(ctl.op, "no such slot")
            slot = self.slots[ctl.slot - 1]
            slot.fault, slot.fault_code = True, ctl.code or "unknown"
            return [self._event("fault", slot, fault=slot.fault_code), STATE_CHANGED]
        if isinstance(ctl, CountControl):
            if ctl.op == "drop_acks":
                self.drop_acks = ctl.n
            else:
                self.seq += ctl.n  # as if n messages were lost on the way
            return []
        if isinstance(ctl, DelayControl):
            self.delay_acks_s = ctl.ms / 1000.0
            return []
        return self._refuse(ctl.op, "not a firmware control")

    def _insert(self, ctl: InsertControl) -> list[Outgoing]:
        if any(s.item == ctl.item for s in self.slots):
            return self._refuse("insert", "item already in this locker")
        if ctl.slot is not None:
            candidates = [s for s in self.slots if s.number == ctl.slot]
            # an item goes into an open empty door too: one opened by `open` (a deposit) or left open
            free = [s for s in candidates if not s.item and not s.fault and not s.disabled]
        else:
            candidates = self.slots
            free = [s for s in candidates if not s.item and not s.door_open and not s.fault and not s.disabled]
        if not free:
            return self._refuse("insert", "no empty slot")
        slot = free[0]
        slot.item = ctl.item
        battery = None
        if self._has_battery:
            battery = ctl.battery if ctl.battery is not None else 50
        slot.battery = battery
        if slot.door_open:  # put in through an opened door, under that door's cmd_id; then the door shuts
            inserted = self._event("item_inserted", slot, item=ctl.item, battery=battery, cmd_id=slot.opened_by)
            return [inserted, STATE_CHANGED] if slot.held else [inserted, *self._close(slot)]
        return [self._event("item_inserted", slot, item=ctl.item, battery=battery), STATE_CHANGED]

    def _refuse(self, op: str, why: str) -> list[Outgoing]:
        self._count("control_refused")
        log.info("sim.control_refused locker=%s op=%s why=%s", self.locker_id, op, why)
        return []
