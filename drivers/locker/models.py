"""Protocol v1.1 messages (docs/protocol.md) as strict pydantic models, and the parsers that guard every topic.

v1.1 only adds optional fields, one op (`open`), one ack result (`occupied`) and one event (`door_left_open`),
so every v1 message is still valid and a v1 locker still works (it simply never sends the new fields).

Anything that arrives over MQTT goes through a `parse_*` function: oversized payloads are refused before
parsing, and every failure is one `ProtocolError` whose message names the field, never the payload.
"""
from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from drivers.locker.link import LockerError

MAX_PAYLOAD = 64 * 1024
MAX_SLOT = 256
ROOT = "mall/v1"
PROTOCOL = "1.1"  # what this side speaks; a locker says so in its status (`proto`), a v1 locker says nothing
LOCKER_LEAVES = ("status", "state", "event", "cmd", "ack")

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_CMD_ID = r"^[A-Za-z0-9_.:-]{1,64}$"

SlotNo = Annotated[int, Field(ge=1, le=MAX_SLOT)]
ItemId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Battery = Annotated[int, Field(ge=0, le=100)]
CmdId = Annotated[str, Field(pattern=_CMD_ID)]
Seq = Annotated[int, Field(ge=0)]
Ts = Annotated[float, Field(ge=0, allow_inf_nan=False)]  # 1e400 would read as inf
# fault codes are open-ended (a power-bank cabinet reports about fifty): any well-formed code is carried,
# mallcommon.faults has the words for the known ones
FaultCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
ProtoVersion = Annotated[str, Field(pattern=r"^[0-9]{1,3}\.[0-9]{1,3}$")]


class ProtocolError(LockerError):
    """A message that does not follow protocol v1; the message is safe to log (no payload content)."""

    code = "protocol_error"

    def __init__(self, kind: str, problem: str, *, field: str | None = None, cmd_id: str | None = None,
                 locker_id: str | None = None) -> None:
        where = f"{kind}.{field}" if field else kind
        super().__init__(f"{where}: {problem}", locker_id)
        self.kind = kind
        self.field = field
        self.cmd_id = cmd_id  # set when the bad message still carried a usable cmd_id (→ bad_request ack)


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode("utf-8")


class Status(Message):
    """Retained availability of a locker; the Will repeats `session` with online=false."""

    online: bool
    session: Seq
    model: str | None = Field(default=None, max_length=64)
    fw: str | None = Field(default=None, max_length=32)
    ts: Ts | None = None
    proto: ProtoVersion | None = None  # v1.1: the protocol the firmware speaks; absent = "1.0"


class KioskStatus(Message):
    """Retained availability of a station (mall/v1/{site}/kiosk/{id}/status)."""

    online: bool
    session: Seq
    station: str = Field(max_length=64)
    ts: Ts | None = None


class SlotState(Message):
    slot: SlotNo
    state: Literal["occupied", "empty", "open", "fault", "disabled"]
    item: ItemId | None = None
    battery: Battery | None = None
    charging: bool | None = None
    # cmd_id of the unlock under which this slot's last item left: lets a station that lost the
    # item_removed event tell "taken and already put back" from "never taken"
    taken_by: CmdId | None = None
    fault: FaultCode | None = None  # v1.1: why the slot is `fault`/`disabled` (door_jammed, rfid_unreadable …)
    left_open: bool | None = None  # v1.1: the door has stood open longer than the profile's door_open_s


class State(Message):
    seq: Seq
    ts: Ts
    slots: list[SlotState] = Field(max_length=MAX_SLOT)


class Event(Message):
    seq: Seq
    ts: Ts
    type: Literal["door_opened", "door_closed", "item_removed", "item_inserted", "fault", "tamper",
                  "door_left_open"]
    slot: SlotNo | None = None
    item: ItemId | None = None
    cmd_id: CmdId | None = None
    battery: Battery | None = None
    fault: FaultCode | None = None  # v1.1: on `fault` events


SLOT_OPS = ("unlock", "open", "enable", "disable")
V1_OPS = ("unlock", "query", "selftest", "enable", "disable")  # `open` is v1.1


class Cmd(Message):
    cmd_id: CmdId
    op: Literal["unlock", "open", "query", "selftest", "enable", "disable"]
    slot: SlotNo | None = None
    expires_at: Ts

    @model_validator(mode="after")
    def _slot_needed(self) -> Cmd:
        if self.op in SLOT_OPS and self.slot is None:
            raise ValueError(f"op {self.op} needs a slot")
        return self


class Ack(Message):
    cmd_id: CmdId
    ok: bool
    result: Literal["opened", "busy", "empty", "occupied", "fault", "expired", "duplicate", "bad_request", "ok"]
    slot: SlotNo | None = None


class _Control(Message):
    pass


class TakeControl(_Control):
    op: Literal["take"]
    slot: SlotNo


class InsertControl(_Control):
    op: Literal["insert"]
    item: ItemId
    battery: Battery | None = None
    slot: SlotNo | None = None


class SlotControl(_Control):
    op: Literal["jam_door", "repair", "hold_door", "close_door", "force_door"]
    slot: SlotNo


class FaultControl(_Control):
    op: Literal["fault"]
    slot: SlotNo
    code: FaultCode | None = None  # v1.1 fault code; default `unknown`


class OfflineControl(_Control):
    op: Literal["offline"]
    seconds: Annotated[float, Field(gt=0, le=3600)] | None = None


class OnlineControl(_Control):
    op: Literal["online"]


class CountControl(_Control):
    op: Literal["drop_acks", "skip_seq"]
    n: Annotated[int, Field(ge=0, le=10_000)]


class DelayControl(_Control):
    op: Literal["delay_acks"]
    ms: Annotated[int, Field(ge=0, le=60_000)]


Control = Annotated[
    TakeControl | InsertControl | SlotControl | FaultControl | OfflineControl | OnlineControl | CountControl | DelayControl,
    Field(discriminator="op"),
]
_CONTROL = TypeAdapter(Control)

M = TypeVar("M", bound=BaseModel)


def _decode(kind: str, payload: bytes) -> Any:
    if not isinstance(payload, bytes | bytearray):
        raise ProtocolError(kind, "payload is not bytes")
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(kind, f"payload of {len(payload)} bytes is over the {MAX_PAYLOAD} byte limit")
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(kind, "not UTF-8 JSON") from exc
    if not isinstance(data, dict):
        raise ProtocolError(kind, "expected a JSON object")
    return data


def _validation_error(kind: str, exc: ValidationError, data: dict[str, Any]) -> ProtocolError:
    err = exc.errors(include_input=False, include_url=False)[0]
    field = ".".join(str(p) for p in err["loc"]) or None
    problem = err["msg"]
    if err["type"] == "extra_forbidden":
        problem = "unknown field"
    elif err["type"] == "union_tag_invalid":
        problem = "unknown op"  # pydantic's message would quote the sender's tag; logs carry no payload text
    cmd_id = data.get("cmd_id")
    usable = isinstance(cmd_id, str) and re.match(_CMD_ID, cmd_id) is not None
    return ProtocolError(kind, problem, field=field, cmd_id=cmd_id if usable else None)


def _parse(kind: str, model: type[M], payload: bytes) -> M:
    # The common case, a good message, is parsed and validated in one pass by pydantic's own JSON reader (about
    # twice as fast as json.loads + validate: a 24-slot state is parsed on the link's network thread while a
    # command waits for the GIL). Anything it refuses is decoded again the slow way, for a precise error.
    if isinstance(payload, bytes | bytearray) and len(payload) <= MAX_PAYLOAD:
        try:
            return model.model_validate_json(payload)
        except ValidationError:
            pass
    data = _decode(kind, payload)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(kind, exc, data) from None


def parse_status(payload: bytes) -> Status:
    return _parse("status", Status, payload)


def parse_kiosk_status(payload: bytes) -> KioskStatus:
    return _parse("kiosk_status", KioskStatus, payload)


def parse_state(payload: bytes) -> State:
    return _parse("state", State, payload)


def parse_event(payload: bytes) -> Event:
    return _parse("event", Event, payload)


def parse_cmd(payload: bytes, slots: int | None = None) -> Cmd:
    """Parse a command; with `slots` (the locker's slot count) a slot beyond it is refused too."""
    cmd = _parse("cmd", Cmd, payload)
    if slots is not None and cmd.slot is not None and cmd.slot > slots:
        raise ProtocolError("cmd", f"slot beyond this locker's {slots} slots", field="slot", cmd_id=cmd.cmd_id)
    return cmd


def parse_ack(payload: bytes) -> Ack:
    return _parse("ack", Ack, payload)


def parse_control(payload: bytes) -> Control:
    data = _decode("control", payload)
    try:
        return _CONTROL.validate_python(data)
    except ValidationError as exc:
        raise _validation_error("control", exc, data) from None


def check_id(value: str, what: str = "id") -> str:
    """Site, locker and station ids end up in topics: no wildcards, no separators."""
    if not _ID.match(value):
        raise ValueError(f"{what} {value!r} must match {_ID.pattern}")
    return value


def topic(site: str, locker_id: str, leaf: str) -> str:
    """`mall/v1/{site}/locker/{locker_id}/{leaf}` for leaf in status|state|event|cmd|ack."""
    if leaf not in LOCKER_LEAVES:
        raise ValueError(f"unknown locker topic leaf {leaf!r}")
    return f"{ROOT}/{check_id(site, 'site')}/locker/{check_id(locker_id, 'locker_id')}/{leaf}"


def kiosk_topic(site: str, station_id: str) -> str:
    return f"{ROOT}/{check_id(site, 'site')}/kiosk/{check_id(station_id, 'station_id')}/status"


def control_topic(site: str, locker_id: str) -> str:
    return f"{ROOT}/{check_id(site, 'site')}/sim/{check_id(locker_id, 'locker_id')}/control"


def split_topic(name: str) -> tuple[str, str, str] | None:
    """(site, locker_id, leaf) of a locker topic, or None for anything else."""
    parts = name.split("/")
    if len(parts) != 6 or "/".join(parts[:2]) != ROOT or parts[3] != "locker" or parts[5] not in LOCKER_LEAVES:
        return None
    return parts[2], parts[4], parts[5]
