"""The station's one health model, and the problems in it a person has to go and fix.

`StationHealth` is what the running station knows about itself (built by `kiosk.lifecycle`); the heartbeat
sends `as_dict()`, the health file holds it for `diag` in another process (`from_dict` reads it back), and
the staff diagnostics screen shows it. `assess` turns it into `Problem`s worded for a technician.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

from kiosk.store import Store
from mallcommon.faults import fault_both

OUTBOX_STALE_S = 3600.0
UPLOAD_STUCK_S = 300.0  # events waiting this long while the centre is reachable: the link is stuck
DISK_MIN_FREE_BYTES = 1 << 30
DISK_MIN_FREE_RATIO = 0.05
HEALTH_FILE_FRESH_S = 60.0
SERVICE_DESK = "the service desk on 1F"


class LinkState(StrEnum):
    """A connection to something outside the process (broker, centre)."""

    UP = "up"
    CONNECTING = "connecting"  # never connected yet: starting, or still trying
    UNREACHABLE = "unreachable"  # nothing answers at the address
    REFUSED = "refused"  # it answers but will not take our credentials (or our requests)
    DISABLED = "disabled"  # not configured on this station


@dataclass(frozen=True)
class Problem:
    code: str
    device: str
    message: str


@dataclass(frozen=True)
class ServiceState:
    """Whether one shopper-facing service can be used now, and if not, why and where else to go."""

    name: str
    available: bool
    reason: str | None = None  # for the technician
    elsewhere: str | None = None  # for the shopper


@dataclass(frozen=True)
class PrinterHealth:
    online: bool
    paper_out: bool = False
    paper_near_end: bool = False
    cover_open: bool = False


@dataclass(frozen=True)
class CameraHealth:
    connected: bool
    fps: float = 0.0
    decode_rate: float = 0.0
    last_frame_age_s: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class SlotHealth:
    slot: int
    state: str
    item: str | None = None
    battery: int | None = None
    fault: str | None = None  # locker protocol v1.1 fault code (words: mallcommon.faults)
    left_open: bool = False  # the door has stood open past the profile's door_open_s


@dataclass(frozen=True)
class LockerHealth:
    locker_id: str
    item_type: str
    online: bool
    slots: tuple[SlotHealth, ...] = ()
    fw: str | None = None  # firmware version from the locker's status
    proto: str | None = None  # protocol it announced (None: a v1 locker)

    @property
    def faults(self) -> int:
        return sum(1 for s in self.slots if s.state == "fault")


@dataclass(frozen=True)
class OutboxHealth:
    depth: int = 0  # waiting to be sent (parked events not counted)
    oldest_age_s: float | None = None
    refused: int = 0  # parked: the centre refused them for their content (kept, see `outbox refused`)
    refused_first_seq: int | None = None
    refused_reason: str | None = None  # the centre's reason for the first of them


def outbox_health(store: Store) -> OutboxHealth:
    """The outbox as the station's health reports it, parked events (refused by the centre) apart."""
    depth, oldest = store.outbox_depth()
    refused = store.outbox_refused()
    if not refused:
        return OutboxHealth(depth, oldest)
    return OutboxHealth(depth, oldest, len(refused), refused[0].event.seq, refused[0].reason)


@dataclass(frozen=True)
class BrokerHealth:
    address: str
    state: LinkState
    detail: str | None = None
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def reachable(self) -> bool:
        return self.state is LinkState.UP


@dataclass(frozen=True)
class UploadLink:
    """The uploader's view of its link to the centre (`server_bridge.uploader.Uploader.status`)."""

    url: str
    state: LinkState
    last_error: str | None = None
    http_status: int | None = None
    failures: int = 0
    backoff_s: float = 0.0
    next_attempt_in_s: float = 0.0
    last_success_at: float | None = None
    acked_seq: int = 0
    sent_total: int = 0
    last_heartbeat_at: float | None = None
    heartbeat_error: str | None = None
    recovery: str | None = None  # what the uploader did when the centre lost or refused its events (a day)


@dataclass(frozen=True)
class CentralProbe:
    """`diag`'s own look at the centre from outside the station process."""

    url: str
    reachable: bool
    status: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class DiskHealth:
    free_bytes: int
    total_bytes: int
    path: str | None = None
    full: str | None = None  # the store has no room for new work (SQLITE_FULL or no free space), in words


@dataclass(frozen=True)
class StationHealth:
    ts: float
    version: str
    uptime_s: float
    outbox: OutboxHealth
    lockers: tuple[LockerHealth, ...] = ()
    printer: PrinterHealth | None = None
    camera: CameraHealth | None = None
    broker: BrokerHealth | None = None
    central: UploadLink | None = None
    disk: DiskHealth | None = None
    services: tuple[ServiceState, ...] = ()
    faults: tuple[Problem, ...] = ()  # what the station found while starting (a bad content file, a missing token)
    config_version: int | None = None  # the configuration bundle it runs (issue 15.6), sent on the heartbeat
    station_process: bool | None = None  # diag only: is the station itself running beside it
    central_probe: CentralProbe | None = None  # diag only

    def service(self, name: str) -> ServiceState | None:
        return next((s for s in self.services if s.name == name), None)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the heartbeat body, the health file, `diag`'s report (field names as the centre reads them)."""
        out = asdict(self)
        out["lockers"] = [{**asdict(lk), "faults": lk.faults} for lk in self.lockers]
        if self.broker is not None:
            out["broker"]["reachable"] = self.broker.reachable
            out["mqtt"] = {"stats": dict(self.broker.stats)}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StationHealth:
        """Read back what `as_dict` wrote (the running station's health file); unknown keys are ignored."""
        def make(kind: Any, value: Any) -> Any:
            if value is None:
                return None
            names = {f.name for f in fields(kind)}
            return kind(**{k: v for k, v in value.items() if k in names})

        lockers = tuple(LockerHealth(locker_id=lk["locker_id"], item_type=lk.get("item_type", ""),
                                     online=bool(lk.get("online")),
                                     slots=tuple(make(SlotHealth, s) for s in lk.get("slots", ())),
                                     fw=lk.get("fw"), proto=lk.get("proto"))
                        for lk in data.get("lockers", ()))
        broker = data.get("broker")
        central = data.get("central")
        return cls(
            ts=float(data.get("ts", 0.0)), version=str(data.get("version", "unknown")),
            uptime_s=float(data.get("uptime_s", 0.0)), outbox=make(OutboxHealth, data.get("outbox") or {}),
            lockers=lockers, printer=make(PrinterHealth, data.get("printer")),
            camera=make(CameraHealth, data.get("camera")),
            broker=None if broker is None else BrokerHealth(
                address=broker.get("address", ""), state=LinkState(broker.get("state", "connecting")),
                detail=broker.get("detail"), stats=dict(broker.get("stats") or {})),
            central=None if central is None else make(UploadLink, {**central, "state": LinkState(central["state"])}),
            disk=make(DiskHealth, data.get("disk")),
            services=tuple(make(ServiceState, s) for s in data.get("services", ())),
            faults=tuple(make(Problem, p) for p in data.get("faults", ())))


def assess(health: StationHealth) -> list[Problem]:
    """Everything in the report that needs a person (empty list: the station is fine)."""
    problems: list[Problem] = list(health.faults)
    if health.broker is not None and not health.broker.reachable:
        problems.append(_broker_problem(health.broker))
    for lk in health.lockers:
        problems.extend(_locker_problems(lk, broker_up=health.broker is None or health.broker.reachable))
    if health.printer is not None:
        problems.extend(_printer_problems(health.printer))
    if health.camera is not None and not health.camera.connected:
        why = f" ({health.camera.error})" if health.camera.error else ""
        problems.append(Problem("camera_lost", "camera",
                                f"the camera sends no frames{why}: check its USB cable, then `sim camera plug` "
                                "for the simulated one"))
    if health.central is not None:
        problems.extend(_upload_problems(health.central, health.outbox))
    probe = health.central_probe
    if probe is not None and not probe.reachable:
        problems.append(Problem("central_unreachable", "central",
                                f"the central service does not answer at {probe.url}: check the network and "
                                "that the centre is running"))
    if health.outbox.refused:
        problems.append(_refused_problem(health.outbox))
    if (health.outbox.oldest_age_s or 0) > OUTBOX_STALE_S:
        problems.append(Problem("outbox_stale", "uploader",
                                f"{health.outbox.depth} events not uploaded for over an hour"))
    disk = health.disk
    if disk and disk.full:
        problems.append(Problem("disk_full", "disk",
                                f"{disk.full}: the station refuses borrows and bag storage until there is room; "
                                "delete old files there (logs, var/screenshots) or replace the disk"))
    elif disk and (disk.free_bytes < DISK_MIN_FREE_BYTES or disk.free_bytes < disk.total_bytes * DISK_MIN_FREE_RATIO):
        problems.append(Problem("disk_low", "disk", "less than 1 GiB or 5 % of the disk is free"))
    return problems


def _broker_problem(broker: BrokerHealth) -> Problem:
    if broker.state is LinkState.REFUSED:
        return Problem("broker_refused", "broker",
                       f"locker broker at {broker.address} refused the station's password ({broker.detail}): "
                       "check var/mqtt/creds and the broker's password file (`mqtt-auth`)")
    return Problem("broker_unreachable", "broker",
                   f"the MQTT broker at {broker.address} does not answer: is mosquitto running, "
                   "and is [broker] host/port in the station config right?")


def _locker_problems(lk: LockerHealth, *, broker_up: bool) -> list[Problem]:
    lid = lk.locker_id
    problems: list[Problem] = []
    if not lk.online:
        where = "" if broker_up else " (the station is not connected to the broker, so it cannot see any locker)"
        problems.append(Problem("locker_offline", lid,
                                f"locker {lid} is offline{where}: check its power and network"))
    faults = [s for s in lk.slots if s.state == "fault"]
    if faults:
        which = ", ".join(f"{s.slot} ({fault_both(s.fault or 'unknown')})" for s in faults)
        problems.append(Problem("slot_fault", lid, f"locker {lid} slots in fault: {which}"))
    for s in lk.slots:
        if s.left_open:
            problems.append(Problem("door_left_open", lid,
                                    f"locker {lid} door {s.slot} has been left open: close it "
                                    f"(请关闭 {s.slot} 号柜门)"))
    if lk.online and lk.slots:
        if lk.item_type == "storage":  # bag storage fills up; lending lockers run dry
            if all(s.item for s in lk.slots):
                problems.append(Problem("locker_full", lid, f"storage locker {lid} has no free door"))
        elif not any(s.item for s in lk.slots):
            problems.append(Problem("locker_empty", lid, f"locker {lid} has no items left"))
    return problems


def _printer_problems(printer: PrinterHealth) -> list[Problem]:
    if not printer.online:
        return [Problem("printer_offline", "printer",
                        "the receipt printer does not answer: check its power and cable")]
    if printer.paper_out:
        return [Problem("paper_out", "printer", "the receipt printer is out of paper")]
    if printer.cover_open:
        return [Problem("cover_open", "printer", "the receipt printer's cover is open")]
    if printer.paper_near_end:
        return [Problem("paper_near_end", "printer", "the paper roll is nearly finished")]
    return []


def _refused_problem(outbox: OutboxHealth) -> Problem:
    n = outbox.refused
    what = "1 event" if n == 1 else f"{n} events"
    first = "" if n == 1 else " (the first)"
    return Problem("upload_event_refused", "central",
                   f"{what} refused by the centre: {outbox.refused_reason} (seq {outbox.refused_first_seq}{first}); "
                   "kept in the store, the events after it are uploaded; see `python -m kiosk --config <station "
                   "config> outbox refused`, and once the centre is fixed `outbox resend --all --by <your id>`")


def _upload_problems(link: UploadLink, outbox: OutboxHealth) -> list[Problem]:
    if link.state is LinkState.REFUSED:
        return [Problem("upload_refused", "central",
                        f"the centre refused the station's uploads (HTTP {link.http_status}): check "
                        "[central] token_file and the station's token at the centre (add-station --rotate)"
                        + (f"; {link.last_error}" if link.last_error else ""))]
    if link.state is LinkState.UNREACHABLE:
        return [Problem("upload_down", "central",
                        f"the centre at {link.url} does not answer ({link.last_error}): check the network; "
                        "events wait in the outbox")]
    if link.heartbeat_error:
        return [Problem("heartbeat_refused", "central", f"the centre refuses heartbeats: {link.heartbeat_error}")]
    if link.recovery:
        return [Problem("upload_recovered", "central", link.recovery)]
    if link.state is LinkState.UP and (outbox.oldest_age_s or 0) > UPLOAD_STUCK_S:
        return [Problem("upload_stuck", "central",
                        f"{outbox.depth} events waiting for over {UPLOAD_STUCK_S:.0f} s although the centre "
                        "answers: look at the uploader's log")]
    return []


def report(health: StationHealth) -> dict[str, Any]:
    problems = assess(health)
    return {"ok": not problems, "problems": [asdict(p) for p in problems], **health.as_dict()}
