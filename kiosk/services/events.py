"""Outbox events of the locker services as typed values. The centre reads their JSON (`data` of the event
envelope): field names, order and values are the wire format and must not change without the centre.

`UnitOfWork.emit(event, at)` writes one into the outbox inside the unit's transaction.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class OutboxRecord:
    """Base of every event the station sends the centre: a `TYPE` and a flat JSON object."""

    TYPE: ClassVar[str]

    def data(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LendingStarted(OutboxRecord):
    TYPE: ClassVar[str] = "lending.started"
    lending_id: str
    member_id: str
    item_type: str
    item_id: str
    station_id: str
    locker_id: str
    slot: int
    started_at: float
    due_at: float
    cmd_id: str | None = None  # the unlock the item left under (the locker's journal has it too)


@dataclass(frozen=True)
class LendingReturned(OutboxRecord):
    """`lending_id` None: the item was lent elsewhere; the centre closes its open lending of `item_id`."""

    TYPE: ClassVar[str] = "lending.returned"
    lending_id: str | None
    item_id: str
    item_type: str
    member_id: str | None
    station_id: str
    locker_id: str
    slot: int
    returned_at: float
    fee_cents: int
    duration_s: float


@dataclass(frozen=True)
class LendingBought(OutboxRecord):
    TYPE: ClassVar[str] = "lending.bought"
    lending_id: str
    item_id: str
    member_id: str
    price_cents: int | None


@dataclass(frozen=True)
class StorageDeposited(OutboxRecord):
    TYPE: ClassVar[str] = "storage.deposited"
    deposit_id: str
    station_id: str
    locker_id: str
    slot: int
    started_at: float
    due_at: int


@dataclass(frozen=True)
class StoragePickedUp(OutboxRecord):
    TYPE: ClassVar[str] = "storage.picked_up"
    deposit_id: str
    station_id: str
    locker_id: str
    slot: int
    picked_up_at: float
    duration_s: float
    fee_cents: int
    overtime: bool


@dataclass(frozen=True)
class LockerTampered(OutboxRecord):
    """A door opened that no command opened (locker protocol v1.1 `tamper`): the centre raises `locker_tamper`."""

    TYPE: ClassVar[str] = "locker.tamper"
    station_id: str
    locker_id: str
    slot: int
    at: float
    item_id: str | None  # what the slot held when it was forced, as far as the station knew


@dataclass(frozen=True)
class ItemTakenUnlent(OutboxRecord):
    """An item left its slot under no command (a forced door): recorded as lost, never as anyone's lending."""

    TYPE: ClassVar[str] = "locker.item_lost"
    item_id: str
    item_type: str
    station_id: str
    locker_id: str
    slot: int
    at: float
    reason: str


@dataclass(frozen=True)
class CommandResult(OutboxRecord):
    """How a remote command ended (the centre's `commands.CommandResultData`): exactly once per command."""

    TYPE: ClassVar[str] = "command.result"
    command_id: str
    kind: str
    outcome: str  # done | failed | refused | expired | unknown
    code: str | None
    detail: dict[str, Any]
    at: float


__all__ = ["CommandResult", "ItemTakenUnlent", "LendingBought", "LendingReturned", "LendingStarted", "LockerTampered", "OutboxRecord",
           "StorageDeposited", "StoragePickedUp"]
