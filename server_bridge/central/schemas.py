"""Wire models of the centre's API (docs/architecture.md, "The event envelope"): validated at the edge, errors name the field."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mallcommon.vocabulary import ItemType

StationId = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,31}$")]
Short = Annotated[str, Field(min_length=1, max_length=64)]
Epoch = Annotated[float, Field(ge=0, le=4102444800)]  # up to 2100-01-01
MAX_BATCH_EVENTS = 5000
MAX_BODY_BYTES = 4 * 1024 * 1024


class Strict(BaseModel):
    # Strict types too: "seq": "7" is refused (422 naming the field), never quietly read as 7.
    model_config = ConfigDict(extra="forbid", strict=True)


class Envelope(Strict):
    seq: int = Field(ge=1, le=2**62)
    id: Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
    type: Annotated[str, Field(min_length=3, max_length=64, pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")]
    ts: Annotated[str, Field(max_length=40, json_schema_extra={"format": "date-time"})]
    data: dict[str, Any]

    @field_validator("ts")
    @classmethod
    def _rfc3339(cls, value: str) -> str:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError("ts must be an RFC 3339 timestamp") from exc
        if parsed.tzinfo is None:
            raise ValueError("ts must carry a UTC offset")
        return value


class Batch(Strict):
    events: list[Envelope] = Field(min_length=1, max_length=MAX_BATCH_EVENTS)


class RefusedOut(BaseModel):
    """An event of the batch refused for its content and kept in quarantine at the centre."""
    seq: int
    id: str
    code: str
    field: str | None = None
    message: str


class Ack(BaseModel):
    acked_seq: int
    # only with `X-Upload-Refusals: quarantine`, and only when something was refused
    refused: list[RefusedOut] = Field(default_factory=list)


class Health(BaseModel):
    # Heartbeats are forward compatible: fields a newer station adds are dropped, not refused. The fields
    # they know are strictly typed (a number sent as a string is refused).
    model_config = ConfigDict(extra="ignore", strict=True)


class PrinterHealth(Health):
    online: bool
    paper_out: bool = False
    paper_near_end: bool = False
    cover_open: bool = False


class CameraHealth(Health):
    connected: bool
    fps: float = Field(default=0.0, ge=0, le=1000)
    decode_rate: float = Field(default=0.0, ge=0, le=1000)


class SlotHealth(Health):
    slot: int = Field(ge=1, le=1000)
    state: Literal["occupied", "empty", "open", "fault", "disabled", "unknown"]
    item: Annotated[str, Field(max_length=64)] | None = None
    battery: int | None = Field(default=None, ge=0, le=100)
    charging: bool | None = None
    fault: Annotated[str, Field(max_length=40, pattern=r"^[a-z][a-z0-9_]*$")] | None = None  # locker protocol v1.1
    left_open: bool = False


class LockerHealth(Health):
    locker_id: StationId
    item_type: ItemType
    online: bool
    slots: list[SlotHealth] = Field(default_factory=list, max_length=1000)
    faults: list[Annotated[str, Field(max_length=120)]] = Field(default_factory=list, max_length=100)
    fw: Annotated[str, Field(max_length=32)] | None = None  # the locker's firmware version
    proto: Annotated[str, Field(max_length=8)] | None = None

    @field_validator("faults", mode="before")
    @classmethod
    def _fault_count(cls, value: Any) -> Any:
        # Stations may send just a count of faulty slots.
        if isinstance(value, int) and not isinstance(value, bool):
            return [] if value <= 0 else [f"faulty slots: {value}"]
        return value


class OutboxHealth(Health):
    depth: int = Field(ge=0)
    oldest_age_s: float | None = Field(default=None, ge=0)


class Heartbeat(Health):
    ts: Epoch
    version: Annotated[str, Field(max_length=40)]
    uptime_s: float = Field(ge=0)
    printer: PrinterHealth | None = None
    camera: CameraHealth | None = None
    lockers: list[LockerHealth] = Field(default_factory=list, max_length=64)
    outbox: OutboxHealth
    # the configuration bundle version the station runs (issue 15.6); None before its first bundle
    config_version: int | None = Field(default=None, ge=0)


class HeartbeatAnswer(BaseModel):
    """The heartbeat's answer when something waits for the station (otherwise 204, no body). Stations ignore
    fields they do not know, so more can join here."""

    config: dict[str, Any] | None = Field(default=None, description="the bundle {version, etag} to run (15.6)")
    commands: int = Field(default=0, ge=0, description="remote commands waiting: GET …/commands (15.7)")


class Visit(BaseModel):
    station_id: str
    at: float
    kind: str


class MemberView(BaseModel):
    member_id: str
    level: str
    points: int
    name_masked: str
    phone_masked: str | None
    recent_visits: list[Visit]


class ApiError(BaseModel):
    code: str
    message: str
