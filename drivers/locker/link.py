"""The station's view of its lockers: the small protocol services type against, and its value types.

`drivers.locker.client.MqttLockerLink` is the real adapter (protocol v1 over MQTT); any simulated
adapter must keep the same promises: an `ack` or `event` from the locker is the only proof that a
command happened; no answer is `OutcomeUnknown`, never success.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

SlotStateName = Literal["occupied", "empty", "open", "fault", "disabled"]
CommandOp = Literal["unlock", "open", "query", "selftest", "enable", "disable"]
AckResult = Literal["opened", "busy", "empty", "occupied", "fault", "expired", "duplicate", "bad_request", "ok"]
EventType = Literal["door_opened", "door_closed", "item_removed", "item_inserted", "fault", "tamper",
                    "door_left_open"]


@dataclass(frozen=True)
class SlotView:
    slot: int
    state: SlotStateName
    item: str | None = None
    battery: int | None = None
    charging: bool | None = None
    taken_by: str | None = None  # cmd_id under which the slot's last item left
    fault: str | None = None  # v1.1 fault code (mallcommon.faults has the words)
    left_open: bool = False  # v1.1: the door has stood open longer than the profile's door_open_s


@dataclass(frozen=True)
class LockerView:
    """Last known state of one locker, from its retained `status` and `state`."""

    locker_id: str
    online: bool
    model: str | None = None
    fw: str | None = None
    session: int | None = None
    seq: int | None = None
    slots: tuple[SlotView, ...] = ()
    state_ts: float | None = None  # the locker's ts of the last state
    proto: str | None = None  # protocol the firmware announced in its status; None = a v1 locker

    def slot(self, number: int) -> SlotView | None:
        for s in self.slots:
            if s.slot == number:
                return s
        return None

    @property
    def speaks_v11(self) -> bool:
        """Whether the locker announced protocol 1.1 or later (and so understands `open`)."""
        return self.proto is not None and tuple(int(p) for p in self.proto.split(".")) >= (1, 1)

    def doors_left_open(self) -> list[int]:
        """Slots whose door has stood open too long: what the screen asks to close ("please close door 7")."""
        return [s.slot for s in self.slots if s.left_open]

    def faults(self) -> dict[int, str]:
        """Slot number → fault code of every slot in `fault` (code `unknown` when a v1 locker gives none)."""
        return {s.slot: s.fault or "unknown" for s in self.slots if s.state == "fault"}


@dataclass(frozen=True)
class LockerAck:
    locker_id: str
    cmd_id: str
    ok: bool
    result: AckResult
    slot: int | None = None


@dataclass(frozen=True)
class LockerEvent:
    locker_id: str
    seq: int
    ts: float
    type: EventType
    slot: int | None = None
    item: str | None = None
    cmd_id: str | None = None
    battery: int | None = None
    received_mono: float | None = None  # time.monotonic() when the station received it
    fault: str | None = None  # v1.1 fault code on `fault` events


class LockerError(Exception):
    """Base of locker failures; `code` is what the UI maps to words."""

    code = "locker_error"

    def __init__(self, message: str, locker_id: str | None = None) -> None:
        super().__init__(message)
        self.locker_id = locker_id


class LockerOffline(LockerError):
    code = "locker_offline"


class Unsupported(LockerError):
    """The locker's firmware does not speak the protocol version this command needs (e.g. `open` on v1)."""

    code = "locker_unsupported"


class OutcomeUnknown(LockerError):
    """The command was sent but no ack came back: reconcile from state, never assume success."""

    code = "locker_no_answer"


class EventStream(Protocol):
    """Events from all lockers, from the moment the stream was opened. Use as a context manager."""

    def get(self, timeout: float) -> LockerEvent | None: ...
    def close(self) -> None: ...
    def __enter__(self) -> EventStream: ...
    def __exit__(self, *exc: object) -> None: ...


class LockerLink(Protocol):
    def start(self) -> None:
        """Connect and subscribe; returns once connected (raises LockerError if the broker refuses)."""

    def close(self) -> None: ...

    def view(self, locker_id: str) -> LockerView | None:
        """Cached state from retained messages, or None before anything arrived."""

    def wait_for_state(self, locker_id: str, timeout: float) -> LockerView | None:
        """Block until the locker's status and state are known (retained messages arrive after subscribe)."""

    def refresh(self, locker_id: str, timeout: float) -> LockerView:
        """Send `query` and wait for a state newer than the cached one; raises LockerOffline/OutcomeUnknown."""

    def command(
        self,
        locker_id: str,
        op: CommandOp,
        slot: int | None = None,
        *,
        cmd_id: str,
        ack_timeout: float,
        retries: int = 2,
        ttl: float = 10.0,
    ) -> LockerAck:
        """Send a command and wait for its ack, resending the same cmd_id on silence.

        Raises LockerOffline when the locker is known offline before sending, OutcomeUnknown when no
        ack arrives after the retries."""

    def events(self) -> EventStream:
        """Open a stream of events (all lockers) starting now."""

    def stats(self) -> dict[str, int]:
        """Counters for diagnostics: malformed messages dropped, seq gaps, reconnects …"""


@dataclass
class LinkStats:
    malformed: int = 0
    seq_gaps: int = 0
    reconnects: int = 0
    acks: int = 0
    events: int = 0
    by_topic: dict[str, int] = field(default_factory=dict)
