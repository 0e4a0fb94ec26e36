"""What the screens may use of the station, typed (issue 11 item 4): `app.services.lending` is a
`LendingService | None`, visible to imports and mypy, instead of `app.service("lending") -> Any`.

`UiServices.of(station)` reads the station once when the app starts; a station without a part (a bare test
station, a kiosk without a camera) gives None and the screen says the service is not available.
Errors reach screens as exceptions; `error_code` reads their code without getattr guesswork.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from drivers.locker.link import LockerLink, LockerView
    from kiosk.services.broadcast import BroadcastDesk
    from kiosk.services.complaints import ComplaintDesk
    from kiosk.services.directory import Directory
    from kiosk.services.handover import ShiftHandover
    from kiosk.services.lending import LendingService
    from kiosk.services.lostfound import LostFound
    from kiosk.services.members import MemberCentre
    from kiosk.services.payments import PaymentsService
    from kiosk.services.printing import PrintService
    from kiosk.services.scanning import ScanService
    from kiosk.services.staff import StaffService
    from kiosk.services.storage import StorageService
    from kiosk.services.storage_desk import StorageProcedures
    from kiosk.services.supplies import SuppliesDesk
    from kiosk.services.survey import SurveyService
    from kiosk.store import Store
    from kiosk.tokens import TokenBook


@runtime_checkable
class Coded(Protocol):
    """The services' refusals (LendingRefused, StaffError, MemberRefused …) all carry a `code` word."""

    code: str


def error_code(exc: BaseException, default: str = "error") -> str:
    return exc.code if isinstance(exc, Coded) and isinstance(exc.code, str) else default


@dataclass(frozen=True)
class LockerLayout:
    """How a locker's doors are arranged (its profile's `layout`), for the locker diagram."""

    locker_id: str
    item_type: str
    rows: int
    cols: int
    slots: int


@dataclass(frozen=True)
class UiServices:
    lending: LendingService | None = None
    scanning: ScanService | None = None
    printing: PrintService | None = None
    staff: StaffService | None = None
    survey: SurveyService | None = None
    members: MemberCentre | None = None
    complaints: ComplaintDesk | None = None
    lostfound: LostFound | None = None
    directory: Directory | None = None
    storage: StorageService | None = None
    payments: PaymentsService | None = None
    broadcast: BroadcastDesk | None = None
    supplies: SuppliesDesk | None = None
    procedures: StorageProcedures | None = None
    handover: ShiftHandover | None = None
    lockers: LockerLink | None = None
    store: Store | None = None
    tokens: TokenBook | None = None
    station_id: str = "?"
    layouts: tuple[LockerLayout, ...] = ()

    @classmethod
    def of(cls, station: Any) -> UiServices:
        """The one place that looks at the station object's attributes."""
        names = ("lending", "scanning", "printing", "staff", "survey", "members", "complaints", "lostfound",
                 "directory", "storage", "payments", "broadcast", "supplies", "procedures", "handover", "lockers",
                 "store", "tokens")
        parts = {name: getattr(station, name, None) for name in names}
        config = getattr(station, "config", None)
        return cls(**parts, station_id=str(getattr(config, "station_id", "?")), layouts=layouts_of(station))

    def layout(self, locker_id: str) -> LockerLayout | None:
        return next((lk for lk in self.layouts if lk.locker_id == locker_id), None)

    def view(self, locker_id: str) -> LockerView | None:
        return self.lockers.view(locker_id) if self.lockers is not None else None

    def layouts_for(self, item_type: str) -> list[LockerLayout]:
        return [lk for lk in self.layouts if lk.item_type == item_type]


def grid_for(slots: int, rows: int | None = None, cols: int | None = None) -> tuple[int, int]:
    """Rows × columns: the profile's when given, else a tall cabinet of up to 4 columns."""
    if rows and cols:
        return rows, cols
    if cols:
        return -(-slots // cols), cols
    if rows:
        return rows, -(-slots // rows)
    cols = 1 if slots <= 3 else 2 if slots <= 8 else 3 if slots <= 12 else 4
    return -(-slots // cols), cols


def layouts_of(station: Any) -> tuple[LockerLayout, ...]:
    profiles = getattr(station, "profiles", None) or {}
    if not profiles and getattr(station, "lending", None) is not None:
        profiles = getattr(station.lending, "profiles", {}) or {}
    out = []
    for locker_id, prof in profiles.items():
        slots = int(getattr(prof, "slots", 0) or 0)
        layout = getattr(prof, "layout", None)
        rows, cols = grid_for(slots, getattr(layout, "rows", None), getattr(layout, "columns", None))
        out.append(LockerLayout(locker_id, str(getattr(prof, "item_type", "")), rows, cols, slots))
    return tuple(out)


def newest_receipt(receipts_dir: Path | None) -> str:
    pictures = sorted(receipts_dir.glob("[0-9]*.png")) if receipts_dir and receipts_dir.is_dir() else []
    return str(pictures[-1]) if pictures else ""
