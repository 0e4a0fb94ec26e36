"""Parameters that put each screen into a representative state (screenshots, language and layout checks)."""
from __future__ import annotations

import time
from typing import Any

from kiosk.services.broadcast import BroadcastRequest
from kiosk.services.lending import BorrowProgress, BorrowResult, Lending, ReturnResult
from kiosk.services.printing import PrintOutcome
from kiosk.services.scanning import StaffScanned

T0 = time.time()


def sample_lending(item_type: str = "umbrella") -> Lending:
    return Lending("LD-0001", "M-10086", item_type, "U-0007", "K01", "U1", 7, T0, T0 + 24 * 3600, "open")


# screens in a state worth its own picture: (name, screen it is)
VARIANTS = {"home_out_of_service": "home", "storage_stored": "storage", "storage_collected": "storage"}


def demo_screens() -> list[str]:
    """Every screen, plus the variants (screenshots and layout checks)."""
    from kiosk.ui.screens import SCREENS

    return sorted([*SCREENS, *VARIANTS])


def open_screen(ui: Any, station: Any, name: str) -> Any:
    """Go to `name` the way a flow would, with sample results where the screen shows one."""
    app = ui.app
    if name == "receipt":
        result = BorrowResult(sample_lending(), station.tokens.lending_token("LD-0001", int(T0 + 86400 * 30)),
                              PrintOutcome(printed=False, job_id=1, reason="paper_out"))
        screen = app.go("receipt", result=result, item_type="umbrella")
    elif name == "wait":
        screen = app.go("wait", item_type="umbrella")
        now = app.deadline_clock()
        app.deadline_clock = lambda: now   # the countdown holds still for checks and screenshots
        screen.show(BorrowProgress("door_open", "U1", 7, "U-0007", None, now + 12))
    elif name == "returned":
        screen = app.go("returned", result=ReturnResult(sample_lending(), "U-0007", "U1", 3, 400, 5400.0, False))
    elif name == "message":
        screen = app.go("message", code="locker_offline")
    elif name == "staff_pin":
        screen = app.go("staff_pin", badge=station.tokens.verify_staff(station.tokens.staff_badge("S-001")))
    elif name in ("diagnostics", "maintenance", "duties", "staff_supplies", "supplies_check", "staff_storage",
                  "handover"):
        sign_in(station, app)
        screen = app.go(name)
    elif name == "borrow":
        screen = app.go("borrow", item_type="power_bank")
    elif name == "request":  # 广播寻人: a child in red, 3F, 15 minutes ago
        screen = app.go("request")
        screen.kind, screen.floor, screen.seen = "child", "3F", "15"
        screen.category = "female"
        screen.category = "red"
    elif name == "home":
        screen = app.go("home")
        screen.out_of_service = []   # (persistent: a variant shown before may have greyed its tiles)
    elif name == "home_out_of_service":   # the locker link down (tests/integration/station/test_start_degraded)
        screen = app.go("home")
        screen.out_of_service = ["borrow.power_bank", "borrow.stroller", "borrow.umbrella", "return"]
    elif name == "storage_stored":   # a bag just deposited: its code, door, price and until when
        from kiosk.services.storage import StorageReceipt

        screen = app.go("storage")
        screen._stored((StorageReceipt("D-0001", "S1", 4, station.tokens.sign("B1", "D-0001"), T0, T0 + 24 * 3600),
                        True))
    elif name == "storage_collected":   # collected after 3 h 20 min: the fee as the hero
        from kiosk.services.storage import Pickup

        screen = app.go("storage")
        screen._collected(Pickup("D-0001", "S1", 4, 3 * 3600 + 20 * 60, 400, False))
    elif name == "shop":   # a shop upstairs: the stacked floors with the route (the demo directory)
        screen = app.go("shop", unit="3F-02")
    elif name == "directory":   # a search with results
        screen = app.go("directory")
        screen.press("X")
    elif name == "request_ticket":
        screen = app.go("request_ticket", request=sample_request(station), printed=True)
    else:
        screen = app.go(name)
    ui.step(3)
    return screen


def sample_request(station: Any) -> BroadcastRequest:
    station.tokens.register_kind("R1")
    code = station.tokens.sign("R1", "K01-R261130-7Q2M")
    return BroadcastRequest("K01-R261130-7Q2M", code, f"http://127.0.0.1:8800/desk/r/{code}", "child",
                            {"gender": "female", "colour": "red"}, "3F", "", T0 - 900, "138****5678", None, T0)


def sign_in(station: Any, app: Any, pin: str = "2468") -> None:
    badge = station.staff.verify_badge(station.tokens.staff_badge("S-001"))
    app.session["staff"] = station.staff.sign_in(badge, pin)


def staff_scan(station: Any, staff_id: str = "S-001") -> StaffScanned:
    return StaffScanned(station.tokens.verify_staff(station.tokens.staff_badge(staff_id)))


def with_directory(station: Any) -> Any:
    """The mall's demo content (kiosk/content: shops, floors, the 公开明示 notice): the directory, shop and info
    screens then show what shoppers see instead of "not available"."""
    from kiosk.content import load_content
    from kiosk.services.directory import Directory

    station.directory = Directory(load_content())
    return station


def with_desk_duties(station: Any, photo_dir: Any) -> Any:
    """Give a bare station the desk's duties (issue 17) with something to show: supplies counted (one low), two
    bags in storage (one deposited before yesterday's closing), a handover draft over the demo lockers."""
    from device_profiles import PROFILE_ROOT, load_profile_as
    from device_profiles.supplies_schema import SuppliesProfile
    from kiosk.config import ItemPolicy
    from kiosk.services.handover import ShiftHandover
    from kiosk.services.repository import UnitOfWork
    from kiosk.services.storage import StorageService
    from kiosk.services.storage_desk import StorageProcedures
    from kiosk.services.supplies import SuppliesDesk

    profile = load_profile_as(PROFILE_ROOT / "supplies" / "desk-standard.yaml", SuppliesProfile)
    station.supplies = SuppliesDesk(store=station.store, profile=profile, station_id="K01")
    if not station.store.query("SELECT 1 FROM desk_supplies"):
        for item, count in (("first_aid_kit", 2), ("sewing_kit", 3), ("plasters", 40), ("reading_glasses", 4)):
            station.supplies.restock(item, count, "S-001")
        station.supplies.hand_out("first_aid_kit", staff_id="S-001")
    storage = StorageService(store=station.store, lockers=None, profiles={},  # type: ignore[arg-type]
                             policy=ItemPolicy(free_minutes=120, fee_per_hour_cents=200, daily_cap_cents=1000),
                             tokens=station.tokens, station_id="K01")
    station.procedures = StorageProcedures(store=station.store, storage=storage, lostfound=None, photo_dir=photo_dir)
    if not station.store.query("SELECT 1 FROM desk_storage"):
        # placed around the mall's last closing, not at fixed ages: "1 h ago" is after closing too when the
        # test runs in the hour after 22:00 Shanghai time
        last_closing = station.procedures.closing_after(T0) - 86400
        for deposit_id, slot, at in (("D-OLD", 3, last_closing - 8 * 3600),
                                     ("D-NEW", 7, T0 - min(3600.0, (T0 - last_closing) / 2))):
            with UnitOfWork(station.store) as uow:
                uow.storage.add_deposit(deposit_id, None, "S1", slot, at, T0 + 3600)
                uow.storage.stored(deposit_id, at, T0 + 3600)
    station.storage = storage   # the storage screen states its price
    station.handover = ShiftHandover(store=station.store, lockers=None, locker_ids=list(station.profiles),
                                     station_id="K01", supplies=station.supplies)
    return station
