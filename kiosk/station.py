"""The station: its store, tokens, locker link and services as typed fields (built by `kiosk.bootstrap`).

Starting, stopping, the housekeeping loop and the health file are `kiosk.lifecycle`'s; the methods here
hand over to it so callers keep one object to hold.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from device_profiles.locker_schema import LockerProfile
from drivers.locker.link import LockerLink
from kiosk.bundles import Applier, Effective, Parts
from kiosk.config import StationConfig
from kiosk.content import CONTENT_ROOT
from kiosk.lifecycle import Lifecycle
from kiosk.services.broadcast import BroadcastDesk
from kiosk.services.complaints import ComplaintDesk
from kiosk.services.diagnostics import Problem, ServiceState, StationHealth
from kiosk.services.directory import Directory
from kiosk.services.handover import ShiftHandover
from kiosk.services.lending import Lending, LendingService, ReturnResult
from kiosk.services.lostfound import LostFound
from kiosk.services.members import MemberCentre
from kiosk.services.payments import PaymentsService
from kiosk.services.printing import PrintOutcome, PrintService
from kiosk.services.receipts import LendingReceipt, ReturnReceipt
from kiosk.services.remote import RemoteCommands
from kiosk.services.retention import Purger
from kiosk.services.scanning import ScanService
from kiosk.services.staff import StaffService
from kiosk.services.storage import StorageService
from kiosk.services.storage_desk import StorageProcedures
from kiosk.services.supplies import SuppliesDesk
from kiosk.services.survey import SurveyService
from kiosk.store import Store
from kiosk.tokens import TokenBook
from server_bridge.uploader import Uploader


class PrintedReceipts:
    """Adapts the printing service to what the lending service needs to say on paper."""

    def __init__(self, printing: PrintService, station_id: str) -> None:
        self.printing = printing
        self.station_id = station_id

    def lending_started(self, lending: Lending, return_token: str, fee_rule: str) -> PrintOutcome:
        return self.printing.print_receipt(LendingReceipt(
            station_id=self.station_id, lending_id=lending.lending_id, item_type=lending.item_type,
            item_id=lending.item_id, locker_id=lending.locker_id, slot=lending.slot,
            member_id=lending.member_id, started_at=lending.started_at, due_at=lending.due_at,
            fee_rule=fee_rule, return_token=return_token))

    def lending_returned(self, result: ReturnResult) -> PrintOutcome:
        lending = result.lending
        assert lending is not None
        pay = result.payment
        return self.printing.print_receipt(ReturnReceipt(
            station_id=self.station_id, lending_id=lending.lending_id, item_type=lending.item_type,
            item_id=lending.item_id, locker_id=result.locker_id, slot=result.slot,
            member_id=lending.member_id, started_at=lending.started_at, returned_at=lending.returned_at or 0.0,
            fee_cents=result.fee_cents if pay is None else pay.fee_fen, duration_s=result.duration_s,
            bought=result.bought, payment_kind=pay.kind if pay else "", deposit_cents=pay.deposit_fen if pay else 0,
            refund_cents=pay.refund_fen if pay else 0, refund_ref=(pay.out_refund_no or "") if pay else ""))


@dataclass
class Station:
    config: StationConfig
    store: Store
    tokens: TokenBook
    lockers: LockerLink
    profiles: dict[str, LockerProfile]
    lending: LendingService
    staff: StaffService
    survey: SurveyService
    printing: PrintService | None = None
    scanning: ScanService | None = None
    uploader: Uploader | None = None
    directory: Directory | None = None
    members: MemberCentre | None = None
    complaints: ComplaintDesk | None = None
    lostfound: LostFound | None = None
    storage: StorageService | None = None
    payments: PaymentsService | None = None  # issue 14: QR deposits through the centre (needs [central])
    supplies: SuppliesDesk | None = None  # issue 17: service supplies (医药箱、针线包)
    procedures: StorageProcedures | None = None  # issue 17: lost tag, overnight bags, damage records
    handover: ShiftHandover | None = None  # issue 17: 交接班记录
    applier: Applier | None = None  # issue 15.6: applies the configuration bundles the centre rolls out
    bundle_parts: Parts | None = None  # what the running bundle decided; None: the config file alone
    content_root: Path | None = None  # where the directory's content came from
    broadcast: BroadcastDesk | None = None  # issue 17: 广播寻人 / 寻物 requests
    retention: Purger | None = None  # issue 17: the desk's personal data purged on time (housekeeping)
    remote: RemoteCommands | None = None  # issue 15.7: commands from the centre (needs [central] and its token)
    faults: list[Problem] = field(default_factory=list)  # found while building: a missing secret, bad content
    started_at: float = field(default_factory=time.time)
    lifecycle: Lifecycle = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.lifecycle = Lifecycle(self)

    # configuration bundles: see kiosk.bundles -----------------------------------------------------
    def running_parts(self) -> Parts:
        """What a bundle decides, as the station runs it now (what a failed apply swaps back)."""
        if self.bundle_parts is not None:
            return self.bundle_parts
        return Parts(Effective(self.config, self.content_root or CONTENT_ROOT), dict(self.profiles), self.directory)

    def use_parts(self, parts: Parts) -> None:
        """Swap a bundle's policy, profiles and content into the running services (each a reference swap)."""
        config = parts.effective.config
        self.lending.use({lid: p for lid, p in parts.profiles.items() if p.lendable}, config.policy)
        if self.storage is not None and "storage" in config.policy.items:
            self.storage.policy = config.policy.items["storage"]
            self.storage.profiles = {k: p for k, p in parts.profiles.items() if p.item_type == "storage"}
        if self.members is not None:
            self.members.parking = config.policy.parking
            self.directory = parts.directory
        self.profiles = dict(parts.profiles)
        self.config, self.content_root = config, parts.effective.content_root
        self.bundle_parts = parts if parts.effective.version is not None else None

    @property
    def config_version(self) -> int | None:
        return self.bundle_parts.effective.version if self.bundle_parts is not None else None

    # life cycle and health: see kiosk.lifecycle -----------------------------------------------
    def start(self, handle_returns: bool = True, background: bool = True, wait: bool = True) -> Station:
        self.lifecycle.start(handle_returns=handle_returns, background=background, wait=wait)
        return self

    def stop(self) -> None:
        self.lifecycle.stop()

    def tick(self) -> None:
        self.lifecycle.tick()

    def health(self) -> StationHealth:
        return self.lifecycle.health()

    def service_states(self) -> tuple[ServiceState, ...]:
        return self.lifecycle.service_states()

    @property
    def health_file(self) -> Path:
        return self.config.data_dir / "health.json"

    def write_health_file(self) -> None:
        self.lifecycle.write_health_file()
