"""Composition root: read nothing but the config, open the store, pick real or given adapters, wire the services.

`bootstrap(config)` builds a whole station on its real adapters; tests and tools hand in their own (`link=`,
`printer=`, `camera=`, `clock=`) and say which optional parts they need (`parts=`), so a one-shot verb builds
only what it uses. Nothing here starts a thread or touches the network: that is `kiosk.lifecycle`.

What can be wrong without the configuration being wrong (a missing token or broker password file, a bad
content file, a printer the driver cannot open) never stops the build: the part is left out or runs without
credentials, and the problem is recorded in `Station.faults` for `diag` and the health model. Only a config
that can never work raises (ConfigError from `load_config`, a bad device profile).
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from enum import Flag, auto
from pathlib import Path

from device_profiles import load_profile_as
from device_profiles.camera_schema import CameraProfile
from device_profiles.locker_schema import LockerProfile
from device_profiles.printer_schema import PrinterProfile
from device_profiles.supplies_schema import SuppliesProfile
from drivers.locker.client import MqttLockerLink
from drivers.locker.link import LockerLink
from drivers.printer import Printer, PrinterError, open_printer
from drivers.scanner import CameraCapture, SimulatedCamera
from drivers.scanner.frames import FrameSource
from kiosk import __version__
from kiosk.bundles import Applier, build_directory, start_with
from kiosk.config import StationConfig, read_secret
from kiosk.content import CONTENT_ROOT, ContentError
from kiosk.services.broadcast import STATUS_PATH, BroadcastDesk
from kiosk.services.complaints import ComplaintDesk, HttpTicketStatusApi
from kiosk.services.diagnostics import Problem, assess
from kiosk.services.handover import ShiftHandover
from kiosk.services.lending import LendingService
from kiosk.services.lostfound import LostFound
from kiosk.services.members import HttpMemberApi, MemberCentre
from kiosk.services.payments import CentrePayments, PaymentsService
from kiosk.services.printing import PrintService
from kiosk.services.remote import HttpCommandApi, RemoteCommands
from kiosk.services.retention import Purger, RetentionDays, desk_rules
from kiosk.services.scanning import ScanService
from kiosk.services.staff import StaffService
from kiosk.services.storage import StorageService
from kiosk.services.storage_desk import StorageProcedures
from kiosk.services.supplies import SuppliesDesk
from kiosk.services.survey import SurveyService
from kiosk.station import PrintedReceipts, Station
from kiosk.store import Store, StoreFull, StoreReplayGuard
from kiosk.tokens import TokenBook, TokenKeys
from mallcommon.clock import SteadyWall, boot_clock, boot_id
from server_bridge.uploader import Uploader

log = logging.getLogger(__name__)
NO_CENTRE = "http://127.0.0.1:9"  # discard port: a station without [central] gets quick, clear failures


class Part(Flag):
    """The optional parts of a station; the locker link, lending, staff and survey are always built."""

    NONE = 0
    PRINTER = auto()
    CAMERA = auto()
    UPLOADER = auto()
    DESK = auto()  # member centre, complaints, lost & found, directory, bag storage
    ALL = PRINTER | CAMERA | UPLOADER | DESK


def secret_or_fault(path: Path | None, code: str, device: str, what: str, faults: list[Problem]) -> str | None:
    """The secret in `path`, or None with a Problem saying which file is missing (the part runs without it)."""
    try:
        return read_secret(path)
    except OSError as exc:
        faults.append(Problem(code, device, f"{what} {path} cannot be read ({exc.strerror}): "
                                            "restore it from the installation's secrets"))
        log.warning("station.secret_missing file=%s error=%s", path, exc.strerror)
        return None


STEADY_WALL_KEY = "steady_wall"  # kv: {"boot": id, "offset": s}, the record clock's believed offset this boot


def keep_steady_wall(clock: SteadyWall, store: Store) -> None:
    """A station restarted within one boot goes on from the offset its record clock believed: a process that
    starts during a wall-clock glitch must not take the glitch as the time (docs/architecture.md, "Which clock")."""
    this_boot = boot_id()
    try:
        kept = json.loads(store.get_kv(STEADY_WALL_KEY) or "{}")
        if kept.get("boot") == this_boot:
            clock.restore(float(kept["offset"]))
    except (ValueError, TypeError, KeyError):
        pass

    def save(offset: float) -> None:
        try:
            store.set_kv(STEADY_WALL_KEY, json.dumps({"boot": this_boot, "offset": offset}))
        except StoreFull:
            pass  # kept at the next believed offset

    clock.on_believed = save


def bootstrap(config: StationConfig, *, link: LockerLink | None = None, printer: Printer | None = None,
              camera: FrameSource | None = None, clock: Callable[[], float] = time.time, parts: Part = Part.ALL,
              announce: bool = True, content_root: Path = CONTENT_ROOT,
              boottime: Callable[[], float] | None = None) -> Station:
    """The station for `config`; `link`/`printer`/`camera` replace the configured adapters when given.

    `clock` is the wall clock; `boottime` times durations (fees) and defaults to CLOCK_BOOTTIME, or to `clock`
    itself when a clock is handed in without one (a test moving time moves both)."""
    if boottime is None:
        boottime = boot_clock if clock is time.time else clock
    if clock is time.time:
        clock = SteadyWall()  # records never take a wall-clock glitch (docs/architecture.md, "Which clock")
    codes_clock = clock.wall if isinstance(clock, SteadyWall) else clock  # member codes: the phone's time
    faults: list[Problem] = []
    store = Store(config.db_path, clock=clock)
    as_read, content_as_read = config, content_root
    boot = start_with(config, store.record_event, content_root)  # the configuration bundle it runs, if any
    if boot is not None:
        config, content_root = boot.effective.config, boot.effective.content_root
    if isinstance(clock, SteadyWall):
        keep_steady_wall(clock, store)
    tokens = TokenBook(TokenKeys(config.site_key()), clock=codes_clock, replay=StoreReplayGuard(store))
    profiles = {lk.id: load_profile_as(lk.profile, LockerProfile) for lk in config.lockers}
    if link is None:
        password = secret_or_fault(config.broker.password_file, "broker_password_missing", "broker",
                                   "the station's broker password file", faults)
        link = MqttLockerLink(
            site=config.site, station_id=config.station_id, locker_ids=list(profiles), host=config.broker.host,
            port=config.broker.port, username=config.broker.username, password=password,
            keepalive=config.broker.keepalive_s, announce=announce, wall=clock)
    printing = build_printing(config, store, clock, printer, faults) if Part.PRINTER in parts else None
    receipts = PrintedReceipts(printing, config.station_id) if printing is not None else None
    lent = {lid: p for lid, p in profiles.items() if p.lendable}  # the profile says so
    lending = LendingService(store=store, lockers=link, profiles=lent, policy=config.policy,
                             station_id=config.station_id, tokens=tokens, receipts=receipts, clock=clock,
                             boottime=boottime)
    staff_file = config.data_dir / "staff.toml"
    station = Station(config=config, store=store, tokens=tokens, lockers=link, profiles=profiles, lending=lending,
                      staff=StaffService(store, tokens, staff_file=staff_file if staff_file.exists() else None),
                      survey=SurveyService(store), printing=printing, faults=faults, bundle_parts=boot,
                      content_root=content_root)
    if Part.CAMERA in parts:
        station.scanning = build_scanning(config, tokens, camera)
    token = ""
    if config.central is not None and parts & (Part.DESK | Part.UPLOADER):
        token = secret_or_fault(config.central.token_file, "central_token_missing", "central",
                                "the station's token file for the centre", faults) or ""
    if Part.DESK in parts:
        build_desk(station, clock, token, content_root)
    if Part.UPLOADER in parts and config.central is not None and token:
        station.payments = build_payments(station, config.central.url, token, clock)
    if Part.UPLOADER in parts and config.central is not None:
        station.uploader = Uploader(store, config.station_id, config.central.url, token,
                                    lambda: station.health().as_dict(), batch_max=config.central.batch_max,
                                    batch_max_age_s=config.central.batch_max_age_s,
                                    heartbeat_s=config.central.heartbeat_s)
        station.applier = Applier(station, as_read, station.uploader.get, content_as_read)
        station.uploader.on_answer = station.applier.offer
        if token:
            station.remote = build_remote(station, config.central.url, token, clock)
            station.uploader.on_heartbeat_answer(station.remote.on_heartbeat_answer)
    return station


def build_remote(station: Station, central_url: str, token: str, clock: Callable[[], float] = time.time) -> RemoteCommands:
    """Remote commands (issue 15.7): fetched when the heartbeat answer says some wait; a restart leaves
    through the life cycle (`Lifecycle.restart_requested`), the `run` verb exits 75 and systemd starts it."""
    return RemoteCommands(store=station.store, api=HttpCommandApi(central_url, station.config.station_id, token),
                          station_id=station.config.station_id, lockers=station.lockers, profiles=station.profiles,
                          printing=station.printing, version=__version__, spool_dir=station.config.data_dir / "remote",
                          clock=clock, request_restart=station.lifecycle.request_restart)


def build_payments(station: Station, central_url: str, token: str,
                   clock: Callable[[], float] = time.time) -> PaymentsService:
    """Paid borrows and deposit refunds through the centre (issue 14); returns settle their deposit."""
    payments = PaymentsService(store=station.store, centre=CentrePayments(central_url, station.config.station_id,
                                                                          token),
                               lending=station.lending, station_id=station.config.station_id, clock=clock)
    payments.attach(station.lending)
    if station.storage is not None:  # a bag's fee is paid by QR before its door opens
        station.storage.fee_gate = payments
    return payments


def build_printing(config: StationConfig, store: Store, clock: Callable[[], float], printer: Printer | None = None,
                   faults: list[Problem] | None = None) -> PrintService | None:
    """The print service on the configured printer (or `printer`); None when the station has no [printer]."""
    if config.printer is None:
        return None
    profile = load_profile_as(config.printer.profile, PrinterProfile)
    if printer is None:
        c = config.printer.connection
        try:
            printer = open_printer(profile, c.type, host=c.host, port=c.port, device=c.device, baudrate=c.baudrate,
                                   vid=c.vid, pid=c.pid, timeout_s=c.timeout_s)
        except (PrinterError, OSError, ValueError) as exc:
            if faults is None:
                raise
            faults.append(Problem("printer_unavailable", "printer",
                                  f"the receipt printer cannot be opened ({exc}): check [printer] connection "
                                  "and that the printer is plugged in; the station runs without receipts"))
            log.warning("station.printer_unavailable error=%s", exc)
            return None
    return PrintService(printer, profile, store, clock=clock)


def build_scanning(config: StationConfig, tokens: TokenBook, camera: FrameSource | None = None) -> ScanService | None:
    if camera is None:
        if config.camera is None:
            return None
        profile = load_profile_as(config.camera.profile, CameraProfile)
        if config.camera.source == "sim":
            camera = SimulatedCamera.for_station(profile, config.data_dir / "simcam")
        else:
            camera = CameraCapture(profile, config.camera.source)
    return ScanService(camera, tokens)


def build_desk(station: Station, clock: Callable[[], float], token: str, content_root: Path = CONTENT_ROOT) -> None:
    """Member centre, complaints, lost & found, directory and bag storage (`token`: the station's for the centre)."""
    config, store, tokens = station.config, station.store, station.tokens
    url = config.central.url if config.central else NO_CENTRE
    try:
        station.directory = build_directory(config, content_root)
    except ContentError as exc:
        station.faults.append(Problem("content_invalid", "content",
                                      f"the mall's content files cannot be shown: {exc}; the directory is "
                                      "out of service until they are fixed (check with `content`)"))
        log.warning("station.content_invalid error=%s", exc)
    station.members = MemberCentre(store=store, tokens=tokens, api=HttpMemberApi(url, token),
                                   station_id=config.station_id, open_lendings=station.lending.open_lendings,
                                   parking=config.policy.parking, clock=clock)
    public_url = (config.central.public_url if config.central else None) or url
    station.complaints = ComplaintDesk(store=store, tokens=tokens, station_id=config.station_id, public_url=public_url,
                                       status_api=HttpTicketStatusApi(url, token), clock=clock)
    station.lostfound = LostFound(store=store, tokens=tokens, photo_dir=config.data_dir / "lostfound",
                                  station_id=config.station_id, clock=clock)
    station.broadcast = BroadcastDesk(store=store, tokens=tokens, station_id=config.station_id,
                                      public_url=public_url, clock=clock,
                                      status_api=HttpTicketStatusApi(url, token, path=STATUS_PATH))
    station.retention = Purger(store, desk_rules(RetentionDays(storage_incident=config.policy.retention_days)), clock)
    stored = {lid: p for lid, p in station.profiles.items() if p.item_type == "storage"}
    if stored and "storage" in config.policy.items:
        station.storage = StorageService(store=store, lockers=station.lockers, profiles=stored,
                                         policy=config.policy.items["storage"], tokens=tokens,
                                         station_id=config.station_id, clock=clock)
    build_duties(station, clock)


def build_duties(station: Station, clock: Callable[[], float]) -> None:
    """The desk's written duties (issue 17): supplies (when a supplies profile is configured), bag-storage
    procedures (with bag storage) and the shift handover."""
    config, store = station.config, station.store
    desk = config.desk
    if desk.supplies_profile is not None:
        station.supplies = SuppliesDesk(store=store, profile=load_profile_as(desk.supplies_profile, SuppliesProfile),
                                        station_id=config.station_id, lockers=station.lockers, clock=clock)
    if station.storage is not None:
        station.procedures = StorageProcedures(store=store, storage=station.storage, lostfound=station.lostfound,
                                               photo_dir=config.data_dir / "storage-incidents",
                                               closing_time=desk.closing_time, tz=desk.timezone,
                                               clock=clock)
    open_counts = {}
    if station.broadcast is not None:  # 广播寻人/寻物 requests the centre has not closed yet
        open_counts["requests"] = lambda: int(store.query(
            "SELECT COUNT(*) FROM desk_requests WHERE status != 'closed'")[0][0])
    station.handover = ShiftHandover(store=store, lockers=station.lockers, locker_ids=list(station.profiles),
                                     station_id=config.station_id, supplies=station.supplies,
                                     problems=lambda: assess(station.health()), open_counts=open_counts,
                                     clock=clock)
