"""Composition root: the one place that reads config, opens the store and picks real or simulated adapters."""
from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from device_profiles import load_profile_as
from device_profiles.locker_schema import LockerProfile
from drivers.locker.link import LockerLink
from kiosk import __version__
from kiosk.config import StationConfig
from kiosk.services.lending import Lending, LendingService, ReturnResult
from kiosk.store import Store, StoreReplayGuard
from kiosk.tokens import TokenBook, TokenKeys

log = logging.getLogger(__name__)
LENT_TYPES = ("umbrella", "power_bank", "stroller")


def read_secret(path: Path | None) -> str | None:
    return path.read_text(encoding="utf-8").strip() if path else None


class PrintedReceipts:
    """Adapts the printing service to what the lending service needs to say on paper."""

    def __init__(self, printing: Any, station_id: str) -> None:
        self.printing = printing
        self.station_id = station_id

    def lending_started(self, lending: Lending, return_token: str, fee_rule: str) -> Any:
        from kiosk.services.receipts import LendingReceipt

        return self.printing.print_receipt(LendingReceipt(
            station_id=self.station_id, lending_id=lending.lending_id, item_type=lending.item_type,
            item_id=lending.item_id, locker_id=lending.locker_id, slot=lending.slot,
            member_id=lending.member_id, started_at=lending.started_at, due_at=lending.due_at,
            fee_rule=fee_rule, return_token=return_token))

    def lending_returned(self, result: ReturnResult) -> Any:
        from kiosk.services.receipts import ReturnReceipt

        lending = result.lending
        assert lending is not None
        return self.printing.print_receipt(ReturnReceipt(
            station_id=self.station_id, lending_id=lending.lending_id, item_type=lending.item_type,
            item_id=lending.item_id, locker_id=result.locker_id, slot=result.slot,
            member_id=lending.member_id, started_at=lending.started_at, returned_at=lending.returned_at or 0.0,
            fee_cents=result.fee_cents, duration_s=result.duration_s, bought=result.bought))


@dataclass
class Station:
    config: StationConfig
    store: Store
    tokens: TokenBook
    lockers: LockerLink
    profiles: dict[str, LockerProfile]
    lending: LendingService
    printing: Any = None
    scanning: Any = None
    uploader: Any = None
    staff: Any = None
    survey: Any = None
    directory: Any = None
    members: Any = None
    complaints: Any = None
    lostfound: Any = None
    storage: Any = None
    started_at: float = field(default_factory=time.time)
    _stop: threading.Event = field(default_factory=threading.Event)
    _loop: threading.Thread | None = None

    @classmethod
    def build(cls, config: StationConfig, *, clock: Any = time.time, camera_source: Any = None,
              with_uploader: bool = True, with_camera: bool = True, announce: bool = True) -> Station:
        from drivers.locker.client import MqttLockerLink

        store = Store(config.db_path, clock=clock)
        tokens = TokenBook(TokenKeys(config.site_key()), clock=clock, replay=StoreReplayGuard(store))
        profiles = {lk.id: load_profile_as(lk.profile, LockerProfile) for lk in config.lockers}
        link = MqttLockerLink(
            site=config.site, station_id=config.station_id, locker_ids=list(profiles),
            host=config.broker.host, port=config.broker.port, username=config.broker.username,
            password=read_secret(config.broker.password_file), keepalive=config.broker.keepalive_s,
            announce=announce)
        printing = cls._build_printing(config, store, clock)
        receipts = PrintedReceipts(printing, config.station_id) if printing is not None else None
        lent = {lid: p for lid, p in profiles.items() if p.item_type in LENT_TYPES}
        lending = LendingService(store=store, lockers=link, profiles=lent, policy=config.policy,
                                 station_id=config.station_id, tokens=tokens, receipts=receipts, clock=clock)
        station = cls(config=config, store=store, tokens=tokens, lockers=link, profiles=profiles,
                      lending=lending, printing=printing)
        if with_camera:
            station.scanning = cls._build_scanning(config, tokens, camera_source)
        station.staff, station.survey = cls._build_staff_services(config, store, tokens, clock)
        station._build_desk(clock)
        if with_uploader and config.central is not None:
            station.uploader = cls._build_uploader(config, store, station.health)
        return station

    @staticmethod
    def _build_printing(config: StationConfig, store: Store, clock: Any) -> Any:
        if config.printer is None:
            return None
        from device_profiles.printer_schema import PrinterProfile
        from drivers.printer import open_printer
        from kiosk.services.printing import PrintService

        profile = load_profile_as(config.printer.profile, PrinterProfile)
        c = config.printer.connection
        printer = open_printer(profile, c.type, host=c.host, port=c.port, device=c.device, baudrate=c.baudrate,
                               vid=c.vid, pid=c.pid, timeout_s=c.timeout_s)
        return PrintService(printer, profile, store, clock=clock)

    @staticmethod
    def _build_scanning(config: StationConfig, tokens: TokenBook, camera_source: Any) -> Any:
        if config.camera is None and camera_source is None:
            return None
        from kiosk.services.scanning import ScanService

        source = camera_source
        if source is None:
            assert config.camera is not None
            from device_profiles.camera_schema import CameraProfile
            from drivers.scanner import CameraCapture, SimulatedCamera

            profile = load_profile_as(config.camera.profile, CameraProfile)
            if config.camera.source == "sim":
                source = SimulatedCamera.for_station(profile, config.data_dir / "simcam")
            else:
                source = CameraCapture(profile, config.camera.source)
        return ScanService(source, tokens)

    @staticmethod
    def _build_staff_services(config: StationConfig, store: Store, tokens: TokenBook, clock: Any) -> tuple[Any, Any]:
        from kiosk.services.staff import StaffService
        from kiosk.services.survey import SurveyService

        staff_file = config.data_dir / "staff.toml"
        return StaffService(store, tokens, clock, staff_file if staff_file.exists() else None), SurveyService(store)

    def _build_desk(self, clock: Any) -> None:
        """Member centre, complaints, lost & found, directory and bag storage."""
        from kiosk.content import load_content
        from kiosk.services.complaints import ComplaintDesk, HttpTicketStatusApi
        from kiosk.services.directory import Directory
        from kiosk.services.lostfound import LostFound
        from kiosk.services.members import HttpMemberApi, MemberCentre
        from kiosk.services.storage import StorageService

        config, store, tokens = self.config, self.store, self.tokens
        url = config.central.url if config.central else "http://127.0.0.1:9"
        token = (read_secret(config.central.token_file) if config.central else None) or ""
        self.directory = Directory(load_content())
        self.members = MemberCentre(store=store, tokens=tokens, api=HttpMemberApi(url, token),
                                    station_id=config.station_id, open_lendings=self.lending.open_lendings,
                                    parking=config.policy.parking, clock=clock)
        public_url = (config.central.public_url if config.central else None) or url
        self.complaints = ComplaintDesk(store=store, tokens=tokens, station_id=config.station_id, public_url=public_url,
                                        status_api=HttpTicketStatusApi(url, token), clock=clock)
        self.lostfound = LostFound(store=store, tokens=tokens, photo_dir=config.data_dir / "lostfound",
                                   station_id=config.station_id, clock=clock)
        stored = {lid: p for lid, p in self.profiles.items() if p.item_type == "storage"}
        if stored and "storage" in config.policy.items:
            self.storage = StorageService(store=store, lockers=self.lockers, profiles=stored,
                                          policy=config.policy.items["storage"], tokens=tokens,
                                          station_id=config.station_id, clock=clock)

    @staticmethod
    def _build_uploader(config: StationConfig, store: Store, health: Any) -> Any:
        from server_bridge.uploader import Uploader

        assert config.central is not None
        token = read_secret(config.central.token_file) or ""
        return Uploader(store, config.station_id, config.central.url, token, health,
                        batch_max=config.central.batch_max, batch_max_age_s=config.central.batch_max_age_s,
                        heartbeat_s=config.central.heartbeat_s)

    # life cycle -------------------------------------------------------------------------------
    def start(self, handle_returns: bool = True, background: bool = True) -> Station:
        self.lockers.start()
        self.lending.start(handle_returns=handle_returns)
        for part in (self.scanning, self.uploader):
            if part is not None:
                part.start()
        if background:
            self._loop = threading.Thread(target=self._housekeeping, name="station-loop", daemon=True)
            self._loop.start()
        log.info("station.started station=%s site=%s version=%s", self.config.station_id, self.config.site,
                 __version__)
        return self

    def _housekeeping(self) -> None:
        ticks = 0
        while not self._stop.wait(2.0):
            self.tick()
            ticks += 1
            if ticks % 5 == 1:
                self.write_health_file()

    @property
    def health_file(self) -> Path:
        return self.config.data_dir / "health.json"

    def write_health_file(self) -> None:
        """What `diag` in another process reads for the parts only this process can see (camera, uploads)."""
        try:
            tmp = self.health_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.health(), default=str))
            os.replace(tmp, self.health_file)
        except (OSError, TypeError, ValueError):
            log.exception("station.health_file_failed")

    def tick(self) -> None:
        """One pass of periodic work: settle stale intents, bought power banks, queued receipts."""
        try:
            self.lending.periodic()
            if self.printing is not None:
                self.printing.retry_pending()
        except Exception:
            log.exception("station.tick_failed")

    def stop(self) -> None:
        self._stop.set()
        for part in (self.uploader, self.scanning, self.printing):
            if part is not None and hasattr(part, "stop"):
                part.stop()
        self.lending.stop()
        self.lockers.close()
        if self._loop is not None:
            self._loop.join(timeout=5)
        self.store.close()

    # health -----------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Device health for heartbeats, diagnostics and the staff screen."""
        depth, oldest = self.store.outbox_depth()
        lockers = []
        for locker_id, prof in self.profiles.items():
            view = self.lockers.view(locker_id)
            slots = [{"slot": s.slot, "state": s.state, "item": s.item, "battery": s.battery}
                     for s in (view.slots if view else ())]
            lockers.append({"locker_id": locker_id, "item_type": prof.item_type,
                            "online": bool(view and view.online), "slots": slots,
                            "faults": sum(1 for s in slots if s["state"] == "fault")})
        printer = None
        if self.printing is not None:
            try:
                st = self.printing.status()
                printer = {"online": st.online, "paper_out": st.paper_out, "paper_near_end": st.paper_near_end,
                           "cover_open": st.cover_open}
            except Exception:
                printer = {"online": False, "paper_out": False, "paper_near_end": False, "cover_open": False}
        camera = None
        if self.scanning is not None:
            st = self.scanning.status()
            camera = {"connected": st.connected, "fps": st.fps, "decode_rate": st.decode_rate,
                      "last_frame_age_s": st.last_frame_age_s, "error": st.error}
        disk = shutil.disk_usage(self.config.data_dir)
        return {
            "ts": time.time(), "version": __version__, "uptime_s": time.time() - self.started_at,
            "printer": printer, "camera": camera, "lockers": lockers,
            "outbox": {"depth": depth, "oldest_age_s": oldest},
            "mqtt": {"stats": self.lockers.stats()},
            "central": self.uploader.status() if self.uploader is not None else None,
            "disk": {"free_bytes": disk.free, "total_bytes": disk.total},
        }
