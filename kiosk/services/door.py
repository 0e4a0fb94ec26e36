"""The door use case, once: command a slot's door with a cmd_id, wait for the item to leave or arrive, and
settle from the locker's retained state when the wait proved nothing.

Lending (borrow), bag storage (deposit, pickup) and anything later that opens a door (a paid borrow, a staff
"open slot") go through `Door`; what each does with the outcome (an intent, a deposit, a refund) stays with
it. The rules of the locker protocol are kept here: only an ack or an event is proof; no ack is `unknown`,
never success; the event stream is open before the command leaves, so nothing the door does is missed.

    with door.watch() as watch:                 # events from now on
        outcome = watch.open(job, on_waiting)   # command (if any) -> wait for the item
    verdict = door.settle(locker_id, judge)     # only when the wait was not conclusive

`Door.run(job, judge)` is the three steps in a row for callers with nothing to do in between.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Literal

from device_profiles.locker_schema import LockerProfile
from drivers.locker.link import (
    CommandOp,
    EventStream,
    LockerAck,
    LockerError,
    LockerEvent,
    LockerLink,
    LockerOffline,
    LockerView,
    OutcomeUnknown,
)

log = logging.getLogger(__name__)

Expect = Literal["leave", "arrive"]  # the item leaves the slot (borrow, pickup) or arrives in it (deposit)
AckStatus = Literal["opened", "refused", "offline", "unknown", "none"]  # none: no command was sent
Seen = Literal["moved", "closed", "timeout", "skipped"]  # what the wait saw; skipped: no wait (refused/offline)
Verdict = Literal["moved", "stayed", "unknown"]  # the item moved as expected, did not, or nobody can tell yet
Judge = Callable[[LockerView | None], Verdict]

TAKE_MARGIN_S = 2.0  # the station waits this much longer than the locker's own take timeout
SETTLE_POLL_S = 0.25
MOVED = {"leave": "item_removed", "arrive": "item_inserted"}


@dataclass(frozen=True)
class DoorJob:
    """One door to move. `cmd_id=None` sends nothing and only waits (a shopper's own door)."""

    locker_id: str
    slot: int
    expect: Expect
    wait_s: float  # how long the item may take once the door is open
    cmd_id: str | None = None
    op: CommandOp = "unlock"
    ack_timeout: float = 2.0
    ttl: float = 8.0
    retries: int = 2
    wait_unanswered: bool = True  # False: a lost ack goes straight to the state (a pickup's shopper is waiting)

    @classmethod
    def for_profile(cls, profile: LockerProfile, locker_id: str, slot: int, expect: Expect, *,
                    cmd_id: str | None, op: CommandOp = "unlock", wait_s: float | None = None) -> DoorJob:
        """A job timed by the locker's profile: ack timeout, command ttl (4 acks), take timeout + margin."""
        t = profile.timeouts
        return cls(locker_id, slot, expect, t.take_s + TAKE_MARGIN_S if wait_s is None else wait_s, cmd_id, op,
                   t.ack_s, command_ttl(profile))


def command_ttl(profile: LockerProfile) -> float:
    """How long a door command stays valid at the locker (its expires_at)."""
    return profile.timeouts.ack_s * 4


@dataclass(frozen=True)
class DoorOutcome:
    ack_status: AckStatus
    ack: LockerAck | None = None
    seen: Seen = "skipped"
    event: LockerEvent | None = None  # the item_removed / item_inserted that ended the wait
    door_opened: bool = False  # a door_opened event carried our cmd_id (proof of opening when the ack was lost)
    verdict: Verdict = "unknown"

    @property
    def moved(self) -> bool:
        return self.verdict == "moved"


def happened_at(ev: LockerEvent | None, clock: Callable[[], float], monotonic: Callable[[], float]) -> float:
    """When an event happened on the station's clock: now, less how long it waited in our queue (a slow ack
    holds a borrow while item_removed is already here; the lending starts when the item left)."""
    now = clock()
    if ev is None or ev.received_mono is None:
        return now
    return now - max(0.0, monotonic() - ev.received_mono)


class DoorWatch:
    """A door use case with its event stream open (see `Door.watch`)."""

    def __init__(self, door: Door, events: EventStream) -> None:
        self.door = door
        self.events = events

    def open(self, job: DoorJob, on_waiting: Callable[[AckStatus, float], None] | None = None) -> DoorOutcome:
        """Send the command (resent with the same cmd_id on silence), then wait for the item.

        A refused or offline command returns at once (nothing moved); an opened or unanswered one waits
        `job.wait_s`, calling `on_waiting(ack_status, deadline_monotonic)` first."""
        link = self.door.link
        ack: LockerAck | None = None
        status: AckStatus = "none"
        if job.cmd_id is not None:
            try:
                ack = link.command(job.locker_id, job.op, job.slot, cmd_id=job.cmd_id, ack_timeout=job.ack_timeout,
                                   retries=job.retries, ttl=job.ttl)
            except LockerOffline:
                return DoorOutcome("offline", verdict="stayed")
            except OutcomeUnknown:
                log.warning("door.no_ack locker=%s slot=%d cmd=%s op=%s", job.locker_id, job.slot, job.cmd_id,
                            job.op)
                status = "unknown"
            else:
                if not (ack.ok and ack.result == "opened"):
                    return DoorOutcome("refused", ack, verdict="stayed")
                status = "opened"
        if status == "unknown" and not job.wait_unanswered:
            return DoorOutcome(status, ack)
        deadline = self.door.monotonic() + job.wait_s
        if on_waiting is not None:
            on_waiting(status, deadline)
        seen, event, door_opened = self._await(job, deadline)
        return DoorOutcome(status, ack, seen, event, door_opened, "moved" if seen == "moved" else "unknown")

    def _await(self, job: DoorJob, deadline: float) -> tuple[Seen, LockerEvent | None, bool]:
        """('moved', event) for our slot, 'closed' when the door shut first, 'timeout' otherwise."""
        door_opened = False
        while True:
            left = deadline - self.door.monotonic()
            if left <= 0:
                return "timeout", None, door_opened
            ev = self.events.get(timeout=min(left, 0.5))
            if ev is None or ev.locker_id != job.locker_id or ev.slot != job.slot:
                continue
            if ev.type == MOVED[job.expect]:
                if job.expect == "leave" and job.cmd_id is not None and ev.cmd_id != job.cmd_id:
                    # left under no command of ours (a forced door, `tamper`): not this shopper's item
                    log.warning("door.removed_not_ours locker=%s slot=%d cmd=%s", job.locker_id, job.slot, ev.cmd_id)
                    continue
                return "moved", ev, door_opened
            if ev.type == "door_opened" and job.cmd_id is not None and ev.cmd_id == job.cmd_id:
                door_opened = True
            elif ev.type == "door_closed":
                return "closed", None, door_opened


class Door:
    """The door use case over a `LockerLink`. Thread-safe as the link is; holds no state of its own."""

    def __init__(self, link: LockerLink, monotonic: Callable[[], float] = time.monotonic,
                 pause: Callable[[float], object] | None = None) -> None:
        self.link = link
        self.monotonic = monotonic
        self.pause = pause or threading.Event().wait

    @contextmanager
    def watch(self) -> Iterator[DoorWatch]:
        """Events from now on: open this before reserving a slot or sending anything."""
        with self.link.events() as events:
            yield DoorWatch(self, events)

    def settle(self, locker_id: str, judge: Judge, wait_s: float = 0.0, refresh_s: float = 2.0) -> Verdict:
        """Ask the locker for fresh state and judge it, until it decides, the locker is offline or `wait_s`
        has passed. When the query fails the last known state is judged (a judge decides what it proves)."""
        deadline = self.monotonic() + wait_s
        while True:
            try:
                view: LockerView | None = self.link.refresh(locker_id, timeout=refresh_s)
            except LockerError:
                view = self.link.view(locker_id)
            verdict = judge(view)
            if verdict != "unknown" or view is None or not view.online or self.monotonic() >= deadline:
                return verdict
            self.pause(SETTLE_POLL_S)

    def run(self, job: DoorJob, judge: Judge, settle_wait_s: float = 0.0, refresh_s: float | None = None,
            on_waiting: Callable[[AckStatus, float], None] | None = None) -> DoorOutcome:
        """Command, wait, and settle from state when the wait did not see the item move."""
        with self.watch() as watch:
            outcome = watch.open(job, on_waiting)
        if outcome.ack_status in ("offline", "refused") or outcome.moved:
            return outcome
        verdict = self.settle(job.locker_id, judge, settle_wait_s,
                              job.ack_timeout if refresh_s is None else refresh_s)
        return replace(outcome, verdict=verdict)


__all__ = ["AckStatus", "Door", "DoorJob", "DoorOutcome", "DoorWatch", "Expect", "Judge", "TAKE_MARGIN_S",
           "Verdict", "command_ttl", "happened_at"]
