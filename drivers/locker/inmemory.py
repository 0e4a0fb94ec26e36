"""An in-memory `LockerLink` on the real firmware state machine: lockers without a broker, on virtual time.

The way python-escpos ships `Dummy` beside its network printer: `InMemoryLockerLink` keeps every promise
of `drivers.locker.link.LockerLink` (an ack or event is the only proof, silence is `OutcomeUnknown`, an
offline locker refuses up front), but each locker is a `LockerFirmware` in this process and every message
crosses the same protocol v1 bytes and parsers as over MQTT. Time is a `ManualClock`: it moves only when
something waits on the link (an ack, an event, `Door.settle`'s pause) or a test advances it, so a borrow
whose shopper never takes the item finishes in microseconds, not in its take timeout.

    clock = ManualClock()
    link = InMemoryLockerLink({"U1": profile}, clock=clock, auto_take=0.2)
    link.control("U1", {"op": "insert", "item": "U-X", "slot": 3})   # the simulator's control vocabulary

Not thread-safe in the sense of time: one thread drives the clock (the test's). Services run on it with
`clock=clock.wall`, `monotonic=clock.monotonic` and `Door(link, clock.monotonic, clock.sleep)`.
"""
from __future__ import annotations

import json
import threading
import uuid
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from device_profiles.locker_schema import LockerProfile
from drivers.locker.firmware import Fill, LockerFirmware, Outgoing
from drivers.locker.link import (
    CommandOp,
    LockerAck,
    LockerError,
    LockerEvent,
    LockerOffline,
    LockerView,
    OutcomeUnknown,
    SlotView,
)
from drivers.locker.models import (
    Cmd,
    OfflineControl,
    OnlineControl,
    ProtocolError,
    parse_ack,
    parse_control,
    parse_event,
    parse_state,
)

WALL_EPOCH = 1_800_000_000.0  # 2027-01-15: any fixed wall time works; tokens and fees only see differences


class ManualClock:
    """Virtual time: `monotonic()` starts at 0, `wall()` at `epoch`. `advance` runs every timer that falls due
    on the way, in order; `sleep` is `advance`."""

    def __init__(self, epoch: float = WALL_EPOCH) -> None:
        self.now = 0.0
        self.epoch = epoch
        self._schedulers: list[tuple[Callable[[float], float | None], Callable[[float], None]]] = []
        self._lock = threading.RLock()

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.epoch + self.now

    def attach(self, next_due: Callable[[float], float | None], run_due: Callable[[float], None]) -> None:
        """`next_due(now)`: absolute time of the next timer or None; `run_due(now)`: run what fell due."""
        self._schedulers.append((next_due, run_due))

    def advance(self, seconds: float, until: Callable[[], bool] | None = None) -> bool:
        """Move time forward by `seconds`, or less if `until()` becomes true on the way (returns it)."""
        with self._lock:
            target = self.now + max(0.0, seconds)
            while True:
                if until is not None and until():
                    return True
                dues = [d for d in (nd(self.now) for nd, _ in self._schedulers) if d is not None and d <= target]
                if not dues:
                    break
                self.now = max(self.now, min(dues))
                for _, run in self._schedulers:
                    run(self.now)
            self.now = target
            for _, run in self._schedulers:
                run(self.now)
            return until() if until is not None else False

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)


class _Stream:
    def __init__(self, link: InMemoryLockerLink) -> None:
        self._link = link
        self._queue: deque[LockerEvent] = deque()

    def put(self, event: LockerEvent) -> None:
        self._queue.append(event)

    def get(self, timeout: float) -> LockerEvent | None:
        if not self._queue:
            self._link.clock.advance(timeout, until=lambda: bool(self._queue))
        return self._queue.popleft() if self._queue else None

    def close(self) -> None:
        self._link._streams.discard(self)

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _per_locker(value: Any, locker_id: str, default: Any) -> Any:
    return value.get(locker_id, default) if isinstance(value, Mapping) else value


class InMemoryLockerLink:
    """Protocol v1 lockers in this process (see the module doc)."""

    def __init__(self, profiles: Mapping[str, LockerProfile], *, clock: ManualClock | None = None,
                 fill: Fill | Mapping[str, Fill] = "all", auto_take: float | None | Mapping[str, float | None] = None,
                 seed: int = 0) -> None:
        self.clock = clock or ManualClock()
        self.profiles = dict(profiles)
        self.firmware = {lid: LockerFirmware(p, lid, fill=_per_locker(fill, lid, "all"),
                                             auto_take=_per_locker(auto_take, lid, None), seed=seed,
                                             wall=self.clock.wall) for lid, p in self.profiles.items()}
        self.counters: Counter[str] = Counter()
        self._lock = threading.RLock()
        self._connected = True
        self._online = dict.fromkeys(self.profiles, True)
        self._back_at: dict[str, float] = {}
        self._session = dict.fromkeys(self.profiles, 1)
        self._views: dict[str, LockerView] = {}
        self._acks: dict[str, LockerAck] = {}
        self._pending: set[str] = set()
        self._streams: set[_Stream] = set()
        self._reactions: list[tuple[Callable[[LockerEvent], bool], Callable[[], None]]] = []
        self.clock.attach(self._next_due, self._run_due)
        for lid in self.profiles:
            self._come_online(lid)

    # -- LockerLink -----------------------------------------------------------------------------------
    def start(self) -> None:
        self._connected = True

    def close(self) -> None:
        self._connected = False

    def view(self, locker_id: str) -> LockerView | None:
        with self._lock:
            v = self._views.get(locker_id)
        return replace(v, online=False) if v is not None and not self._connected else v

    def wait_for_state(self, locker_id: str, timeout: float) -> LockerView | None:
        if locker_id not in self._views:
            self.clock.advance(timeout, until=lambda: locker_id in self._views)
        return self.view(locker_id)

    def stats(self) -> dict[str, int]:
        return dict(self.counters)

    def events(self) -> _Stream:
        stream = _Stream(self)
        self._streams.add(stream)
        return stream

    def command(self, locker_id: str, op: CommandOp, slot: int | None = None, *, cmd_id: str,
                ack_timeout: float, retries: int = 2, ttl: float = 10.0) -> LockerAck:
        if locker_id not in self.firmware:
            raise LockerError(f"locker {locker_id} is not one of this station's lockers", locker_id)
        try:
            payload = Cmd(cmd_id=cmd_id, op=op, slot=slot, expires_at=self.clock.wall() + ttl).to_bytes()
        except ValidationError as exc:
            raise ProtocolError("cmd", exc.errors()[0]["msg"], field=str(exc.errors()[0]["loc"])) from None
        if not self._connected:
            raise LockerOffline("the station is not connected to the locker broker", locker_id)
        if not self._online[locker_id]:
            raise LockerOffline(f"locker {locker_id} is offline", locker_id)
        self._pending.add(cmd_id)
        try:
            for attempt in range(1 + retries):
                if attempt:
                    self.counters["resends"] += 1
                with self._lock:
                    self._publish(locker_id, self.firmware[locker_id].handle_cmd(payload, self.clock.now,
                                                                                  run_due=True))
                self.clock.advance(ack_timeout, until=lambda: cmd_id in self._acks or not self._online[locker_id])
                if cmd_id in self._acks:
                    return self._acks.pop(cmd_id)
                if not self._online[locker_id]:
                    raise OutcomeUnknown(f"locker {locker_id} went offline before answering; the outcome is unknown",
                                         locker_id)
            raise OutcomeUnknown(f"locker {locker_id} did not answer; the outcome is unknown", locker_id)
        finally:
            self._pending.discard(cmd_id)
            self._acks.pop(cmd_id, None)

    def refresh(self, locker_id: str, timeout: float) -> LockerView:
        self.command(locker_id, "query", cmd_id=str(uuid.uuid4()), ack_timeout=timeout / 2, retries=1)
        view = self.view(locker_id)
        assert view is not None
        return view

    # -- what shoppers, staff and faults do -----------------------------------------------------------
    def control(self, locker_id: str, message: dict[str, Any]) -> None:
        """The simulator's control vocabulary (take, insert, fault, repair, jam_door, drop_acks, delay_acks,
        skip_seq, offline [seconds], online), acted on at once."""
        ctl = parse_control(json.dumps(message).encode())
        with self._lock:
            if isinstance(ctl, OfflineControl):
                self._go_offline(locker_id)
                if ctl.seconds:
                    self._back_at[locker_id] = self.clock.now + ctl.seconds
            elif isinstance(ctl, OnlineControl):
                self._back_at.pop(locker_id, None)
                self._come_online(locker_id)
            else:
                self._publish(locker_id, self.firmware[locker_id].handle_control(ctl, self.clock.now))

    def when(self, happened: Callable[[LockerEvent], bool], then: Callable[[], None]) -> None:
        """Once, right after an event matching `happened` is delivered, do `then` (e.g. a locker that
        drops the moment its door opens)."""
        self._reactions.append((happened, then))

    def slots(self, locker_id: str) -> list[SlotView]:
        """What the locker's sensors see right now (not what the station was told)."""
        return [SlotView(s.slot, s.state, s.item, s.battery, s.charging, s.taken_by)
                for s in self.firmware[locker_id].slot_views()]

    # -- inside ---------------------------------------------------------------------------------------
    def _go_offline(self, locker_id: str) -> None:
        self._online[locker_id] = False
        v = self._views.get(locker_id)
        if v is not None:
            self._views[locker_id] = replace(v, online=False)  # the broker published the locker's Will

    def _come_online(self, locker_id: str) -> None:
        self._online[locker_id] = True
        self._session[locker_id] += 1
        v = self._views.get(locker_id) or LockerView(locker_id=locker_id, online=True)
        prof = self.profiles[locker_id]
        self._views[locker_id] = replace(v, online=True, session=self._session[locker_id], model=prof.model,
                                         fw=prof.fw)
        self._publish(locker_id, [self.firmware[locker_id].state()])

    def _next_due(self, now: float) -> float | None:
        dues = [at for at in self._back_at.values()]
        for fw in self.firmware.values():
            left = fw.next_due(now)
            if left is not None:
                dues.append(now + left)
        return min(dues, default=None)

    def _run_due(self, now: float) -> None:
        with self._lock:
            for locker_id, at in list(self._back_at.items()):
                if at <= now:
                    del self._back_at[locker_id]
                    self._come_online(locker_id)
            for locker_id, fw in self.firmware.items():
                self._publish(locker_id, fw.due(now))

    def _publish(self, locker_id: str, batch: list[Outgoing]) -> None:
        """Deliver a batch as the broker would: over the wire format, nothing while the locker is offline."""
        if not batch:
            return
        if not (self._online[locker_id] and self._connected):
            self.counters["lost_offline"] += len(batch)
            return
        delivered: list[LockerEvent] = []
        for out in batch:
            assert out.message is not None
            raw = out.message.to_bytes()
            if out.leaf == "ack":
                ack = parse_ack(raw)
                self.counters["acks"] += 1
                if ack.cmd_id in self._pending:
                    self._acks[ack.cmd_id] = LockerAck(locker_id, ack.cmd_id, ack.ok, ack.result, ack.slot)
                else:
                    self.counters["late_acks"] += 1
            elif out.leaf == "state":
                st = parse_state(raw)
                v = self._views[locker_id]
                slots = tuple(SlotView(s.slot, s.state, s.item, s.battery, s.charging, s.taken_by) for s in st.slots)
                self._views[locker_id] = replace(v, seq=st.seq, slots=slots, state_ts=st.ts)
            else:
                ev = parse_event(raw)
                self.counters["events"] += 1
                event = LockerEvent(locker_id, ev.seq, ev.ts, ev.type, ev.slot, ev.item, ev.cmd_id, ev.battery,
                                    received_mono=self.clock.now)
                for stream in list(self._streams):
                    stream.put(event)
                delivered.append(event)
        for event in delivered:
            for reaction in list(self._reactions):
                if reaction[0](event):
                    self._reactions.remove(reaction)
                    reaction[1]()


__all__ = ["InMemoryLockerLink", "ManualClock"]
