"""What the locker services decide, as plain functions over values: who may borrow, which slot, what an
outcome means, when to try another slot, what a locker's state proves. No store, no link, no clock here:
callers read those and pass the values in, so every rule is testable in microseconds.

Fees are in `kiosk.services.fees` (also plain functions).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from device_profiles.locker_schema import LockerProfile
from drivers.locker.link import LockerView
from kiosk.config import Policy
from kiosk.services.door import DoorOutcome, Verdict
from kiosk.services.errors import LendingRefused
from mallcommon.vocabulary import ItemType


@dataclass(frozen=True)
class Lending:
    lending_id: str
    member_id: str
    item_type: ItemType
    item_id: str
    station_id: str
    locker_id: str
    slot: int
    started_at: float
    due_at: float
    status: str
    returned_at: float | None = None
    return_locker_id: str | None = None
    return_slot: int | None = None
    fee_cents: int | None = None


@dataclass(frozen=True)
class SlotCandidate:
    locker_id: str
    slot: int
    item_id: str
    battery: int | None


# who may borrow ---------------------------------------------------------------------------------------
def borrow_refusal(open_now: Sequence[Lending], item_type: str, now: float,
                   max_open_per_type: int, unpaid_fee_fen: int = 0) -> LendingRefused | None:
    """Why this member may not borrow `item_type` now, or None: an unpaid fee first (paid by QR at the screen),
    then an overdue item, then the limit."""
    if unpaid_fee_fen > 0:
        return LendingRefused("unpaid_fee", f"please pay the fee of {unpaid_fee_fen} fen first")
    if any(lending.due_at < now for lending in open_now):
        return LendingRefused("overdue", "please return the overdue item first")
    same = [lending for lending in open_now if lending.item_type == item_type]
    if len(same) >= max_open_per_type:
        return LendingRefused("limit_reached", f"you already have a {item_type} on loan")
    return None


# which slot -------------------------------------------------------------------------------------------
def min_battery(profile: LockerProfile, policy: Policy) -> int:
    """The lowest charge a power bank may leave with (the stricter of station policy and locker profile)."""
    if profile.item_type != "power_bank":
        return 0
    return max(policy.min_dispense_battery, profile.min_dispense_battery or 0)


def pick_slots(item_type: str, profiles: Mapping[str, LockerProfile], views: Mapping[str, LockerView | None],
               busy: set[tuple[str, int]], not_in_locker: set[str], floor: Callable[[str], int],
               exclude: Iterable[tuple[str, int]] = ()) -> tuple[list[SlotCandidate], bool]:
    """Slots that hold a dispensable item, best battery first; and whether any locker of the type is online.

    `busy`: slots an open intent holds; `not_in_locker`: items the store knows are out (a stale state may
    still show them) or whose borrow is still an open intent; `floor(locker_id)`: minimum battery there."""
    skip = set(exclude)
    found: list[SlotCandidate] = []
    any_online = False
    for locker_id, prof in profiles.items():
        if prof.item_type != item_type:
            continue
        view = views.get(locker_id)
        if view is None or not view.online:
            continue
        any_online = True
        lowest = floor(locker_id)
        for s in view.slots:
            if s.state != "occupied" or not s.item or s.item in not_in_locker:
                continue
            if (locker_id, s.slot) in busy or (locker_id, s.slot) in skip:
                continue
            if prof.sensors.battery and (s.battery is None or s.battery < lowest):
                continue
            found.append(SlotCandidate(locker_id, s.slot, s.item, s.battery))
    found.sort(key=lambda c: (-(c.battery or 0), c.locker_id, c.slot))
    return found, any_online


# what a door outcome means for a borrow ---------------------------------------------------------------
def door_refusal(outcome: DoorOutcome) -> tuple[str, LendingRefused] | None:
    """(intent cancel reason, refusal) when the door certainly did not open; nothing moved, so the shopper
    may be offered another slot (`retry_elsewhere`)."""
    if outcome.ack_status == "offline":
        return "locker_offline", LendingRefused("locker_offline", "this locker is offline", retry_elsewhere=True)
    if outcome.ack_status == "refused":
        result = outcome.ack.result if outcome.ack is not None else "refused"
        return f"ack_{result}", LendingRefused("slot_unusable", f"slot answered {result}", retry_elsewhere=True)
    return None


def unsettled_refusal(ack_known: bool, intent_resolved: bool) -> LendingRefused:
    """A borrow whose item was not seen leaving: what the shopper is told (never a charge)."""
    if not intent_resolved:
        return LendingRefused("no_answer" if not ack_known else "locker_offline",
                              "the locker stopped answering; nothing is charged unless the item left")
    if not ack_known:
        return LendingRefused("no_answer", "the locker did not answer; nothing was charged")
    return LendingRefused("not_taken", "the door closed before the item was taken; nothing was charged")


def may_retry_elsewhere(refusal: LendingRefused) -> bool:
    """Another slot is tried only when nothing moved: a door that may have opened is never followed by a
    second one for the same shopper."""
    return refusal.retry_elsewhere


def final_refusal(last: LendingRefused | None, any_online: Callable[[], bool], item_type: str) -> LendingRefused:
    """What a borrow says when the slots ran out: the last real reason, else offline, else none left."""
    if last is not None and last.code != "slot_unusable":
        return last
    if not any_online():
        return LendingRefused("locker_offline", "the lockers are offline, please ask the service desk")
    return LendingRefused("none_available", f"no {item_type} available right now")


def lending_start(intent_created_at: float, now: float, taken_at: float | None) -> float:
    """A lending starts when its item left, never before its intent was written nor after now. When that moment
    is unknown (settled later from the locker's state) it starts at its intent: the item was in the slot then,
    so the centre's timeline never puts this start after the item's next return elsewhere."""
    return min(now, max(intent_created_at, intent_created_at if taken_at is None else taken_at))


# what a locker's retained state proves ----------------------------------------------------------------
def intent_verdict(view: LockerView | None, slot: int, cmd_id: str, item_id: str | None,
                   command_expired: bool) -> Verdict:
    """For a borrow intent: the item left under our cmd_id (`moved`), is still there after the command
    expired (`stayed`), or the state cannot tell yet."""
    if view is None or not view.online:
        return "unknown"
    s = view.slot(slot)
    if s is not None and s.taken_by == cmd_id:
        return "moved"  # whatever is in the slot now came back later
    if s is None or s.state == "open":
        return "unknown"
    if s.item == item_id and s.state in ("occupied", "fault", "disabled"):
        return "stayed" if command_expired else "unknown"
    return "moved"


def pickup_verdict(view: LockerView | None, slot: int) -> Verdict:
    """For a storage pickup whose ack was lost: an open or emptied door proves it opened."""
    s = view.slot(slot) if view is not None else None
    return "moved" if s is not None and s.state in ("empty", "open") else "unknown"


def deposit_verdict(view: LockerView | None, slot: int) -> Verdict:
    """For a deposit whose item_inserted was missed: the reserved (empty) slot now holds something."""
    s = view.slot(slot) if view is not None else None
    return "moved" if s is not None and s.state == "occupied" else "stayed"


def free_storage_slots(views: Mapping[str, LockerView | None], held: set[tuple[str, int]]) -> list[tuple[str, int]]:
    """Empty, closed, working slots of online storage lockers that no deposit holds."""
    free: list[tuple[str, int]] = []
    for locker_id, view in views.items():
        if view is None or not view.online:
            continue
        free += [(locker_id, s.slot) for s in view.slots if s.state == "empty" and (locker_id, s.slot) not in held]
    return free


Sighting = tuple[str, int, int | None, int]  # (locker_id, slot, battery, seq) of an item seen in a slot


def out_items_seen(views: Mapping[str, LockerView | None], out: set[str]) -> dict[str, Sighting]:
    """Items the store thinks are out that an online locker holds in a closed slot."""
    seen: dict[str, Sighting] = {}
    for locker_id, view in views.items():
        if view is None or not view.online:
            continue
        for s in view.slots:
            if s.item is not None and s.item in out and s.state != "open":
                seen[s.item] = (locker_id, s.slot, s.battery, view.seq or 0)
    return seen


def unknown_items_seen(views: Mapping[str, LockerView | None], known: set[str],
                       lockers: set[str]) -> dict[str, Sighting]:
    """Items in a closed slot of one of `lockers` (those whose stock the station has taken) that the station has
    never recorded: another station's items, put back here while this station was down."""
    seen: dict[str, Sighting] = {}
    for locker_id in lockers:
        view = views.get(locker_id)
        if view is None or not view.online:
            continue
        for s in view.slots:
            if s.item is not None and s.item not in known and s.state != "open":
                seen[s.item] = (locker_id, s.slot, s.battery, view.seq or 0)
    return seen


def confirmed_returns(previous: Mapping[str, Sighting], now: Mapping[str, Sighting]) -> list[tuple[str, Sighting]]:
    """A return whose item_inserted never arrived: the same item in the same slot on two passes in a row."""
    return [(item, where) for item, where in now.items() if previous.get(item, ("", -1))[:2] == where[:2]]
