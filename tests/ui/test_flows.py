"""Shopper flows driven by synthetic touches on a real station: secured mosquitto, locker simulators,
virtual printer, simulated camera; and the screens saying so when those parts fail."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.scanner import SimulatedCamera
from kiosk.services.staff import write_staff_file
from tests.fixtures.station import ROOT, StationStack, make_stack
from tests.fixtures.ui import STAFF_PIN


def _widgets() -> tuple[type, type]:
    from kiosk.ui.widgets import LockerDiagram, QRView

    return LockerDiagram, QRView

PRINTER_PROFILE = ROOT / "device_profiles/printers/epson-tm-t20ii-cn.yaml"


class Kiosk:
    """The station stack plus what the UI needs around it."""

    def __init__(self, stack: StationStack, camera: SimulatedCamera, printer: Any) -> None:
        self.stack, self.camera, self.printer = stack, camera, printer

    @property
    def station(self) -> Any:
        return self.stack.station

    def show_member_code(self, member_id: str) -> None:
        self.camera.show(self.station.tokens.member_code(member_id))


@pytest.fixture
def kiosk(tmp_path: Path, virtual_printer: Any) -> Iterator[Kiosk]:
    printer_toml = (f'[printer]\nprofile = "{PRINTER_PROFILE}"\n[printer.connection]\ntype = "network"\n'
                    f'host = "127.0.0.1"\nport = {virtual_printer.port}\ntimeout_s = 2\n')
    stack = make_stack(tmp_path / "stack", lockers=[("U1", "umbrella"), ("P1", "power_bank")], take_s=6.0,
                       extra_toml=printer_toml)
    try:
        write_staff_file(stack.config.data_dir / "staff.toml", {"S-001": ("Wang Fang", STAFF_PIN)}, iterations=1000)
        for locker_id in ("U1", "P1"):
            stack.start_sim(locker_id, fill="all")
        from kiosk.bootstrap import Part, bootstrap

        camera = SimulatedCamera(640, 480, 15.0)
        station = bootstrap(stack.config, clock=stack.clock, camera=camera, parts=Part.ALL & ~Part.UPLOADER)
        stack.station = station
        station.start(handle_returns=True, background=False)
        yield Kiosk(stack, camera, virtual_printer)
    finally:
        stack.close()


def test_borrow_an_umbrella_end_to_end(make_ui, kiosk: Kiosk, screenshot_dir: Path) -> None:
    ui = make_ui(kiosk.station, receipts_dir=kiosk.printer.out_dir)
    app = ui.app
    ui.tap_at(540, 900)                                  # attract → home
    taps = 0
    ui.tap_text("借雨伞")
    taps += 1
    borrow = ui.wait_screen("borrow")
    ui.wait_until(lambda: borrow.status == "ready", 10, "availability")
    assert any("可借" in t for t in ui.visible_texts())
    kiosk.show_member_code("M-10086")                    # no tap: the camera reads the code
    wait = ui.wait_screen("wait", 10)
    ui.wait_until(lambda: wait.stage == "door_open", 10, "the door to open")
    assert taps <= 3
    kiosk.camera.clear()
    ui.step(2)
    headline = wait.headline(wait.stage, wait.seconds, app.lang)
    assert headline.startswith("请取伞 — ") and headline.endswith(" 秒")
    assert 0 < wait.seconds <= 6 + 2  # the profile's take timeout plus the service's margin
    ui.screenshot(screenshot_dir / "flow-door-open-zh_CN.png")
    sim = kiosk.stack.sims["U1"]
    assert any(s.door_open for s in sim.firmware.slots)
    kiosk.stack.control("U1", {"op": "take", "slot": wait.slot})
    receipt = ui.wait_screen("receipt", 15)
    assert receipt.printed
    assert any("请取走小票" in t for t in ui.visible_texts())
    kiosk.stack.wait(lambda: len(kiosk.printer.receipts()) == 1, 5, "the receipt in the printer's folder")
    ui.screenshot(screenshot_dir / "flow-receipt-zh_CN.png")
    ui.tap_text("完成")
    ui.wait_screen("rating")
    ui.tap_text("非常满意")
    home = ui.wait_screen("home")
    assert "感谢" in home.ids.frame.notice
    [lending] = kiosk.station.lending.open_lendings("M-10086")
    assert lending.item_type == "umbrella"
    ratings = [e.data for e in kiosk.station.store.outbox_pending() if e.type == "survey.rated"]
    assert ratings == [{"flow": "borrow_umbrella", "score": 5, "lang": "zh_CN"}]

    # a second umbrella for the same member is refused in plain words, nothing moves
    ui.tap_text("借雨伞")
    ui.wait_until(lambda: ui.app.current_screen().name == "borrow" and borrow.status == "ready", 10, "ready")
    kiosk.camera.show(kiosk.station.tokens.member_code("M-10086", at=kiosk.stack.clock() + 30))
    ui.wait_screen("message", 10)
    kiosk.camera.clear()
    assert any("您已有一件未归还" in t for t in ui.visible_texts())
    ui.tap_text("返回首页")

    # and back: scan the umbrella's label on the return screen, then put it into a slot
    ui.tap_text("归还物品")
    returning = ui.wait_screen("return")
    kiosk.camera.show(f"I1.{lending.item_id}")
    ui.wait_until(lambda: returning.recognised == lending.item_id, 10, "the label to be read")
    kiosk.camera.clear()
    kiosk.stack.control("U1", {"op": "insert", "item": lending.item_id})
    returned = ui.wait_screen("returned", 15)
    assert returned.found and any("谢谢" in t for t in ui.visible_texts())
    ui.screenshot(screenshot_dir / "flow-returned-zh_CN.png")
    ui.tap_text("完成")
    ui.wait_screen("rating")
    ui.tap_text("跳过")
    ui.wait_screen("home")
    assert kiosk.station.lending.open_lendings("M-10086") == []


def test_power_bank_shows_the_battery_of_what_comes_out(make_ui, kiosk: Kiosk) -> None:
    ui = make_ui(kiosk.station, lang="en")
    ui.tap_at(540, 900)
    ui.tap_text("power bank")
    borrow = ui.wait_screen("borrow")
    ui.wait_until(lambda: borrow.status == "ready", 10, "availability")
    best = kiosk.station.lending.availability("power_bank").best_battery
    assert best is not None and any(f"{best}% battery" in t for t in ui.visible_texts())


def test_printer_out_of_paper_shows_the_return_code_on_screen(make_ui, kiosk: Kiosk,
                                                              screenshot_dir: Path) -> None:
    kiosk.printer.set_status("paper_out")
    ui = make_ui(kiosk.station)
    ui.tap_at(540, 900)
    ui.tap_text("借雨伞")
    borrow = ui.wait_screen("borrow")
    ui.wait_until(lambda: borrow.status == "ready", 10, "availability")
    kiosk.show_member_code("M-20001")
    wait = ui.wait_screen("wait", 10)
    ui.wait_until(lambda: wait.stage == "door_open", 10, "the door to open")
    kiosk.camera.clear()
    kiosk.stack.control("U1", {"op": "take", "slot": wait.slot})
    receipt = ui.wait_screen("receipt", 15)
    assert not receipt.printed
    assert any("打印机暂不可用" in t for t in ui.visible_texts())
    _, QRView = _widgets()
    [qr] = [w for w in receipt.ids.qr.walk() if isinstance(w, QRView)]
    assert qr.texture is not None and receipt.return_token.startswith("L1.")
    ui.screenshot(screenshot_dir / "flow-paper-out-zh_CN.png")


def test_locker_offline_is_said_plainly(make_ui, kiosk: Kiosk, screenshot_dir: Path) -> None:
    kiosk.stack.sims["U1"].stop()
    kiosk.stack.wait(lambda: not kiosk.station.lending.availability("umbrella").lockers_online, 15,
                     "the locker to be seen offline")
    ui = make_ui(kiosk.station)
    ui.tap_at(540, 900)
    home = ui.wait_screen("home")
    # home: the umbrella tile is greyed and says it is out of service (the power banks are not)
    ui.wait_until(lambda: any(t.tile_id == "umbrella" and t.out_of_service and "暂停服务" in t.chip
                              for t in home.ids.tiles.children), 10, "the umbrella tile out of service")
    assert not any(t.tile_id == "power_bank" and t.out_of_service for t in home.ids.tiles.children)
    ui.tap_text("借雨伞")                    # still tappable: its own screen says why in full
    borrow = ui.wait_screen("borrow")
    ui.wait_until(lambda: borrow.status == "offline", 10, "availability")
    assert any("柜机已离线" in t for t in ui.visible_texts())
    kiosk.show_member_code("M-30001")
    ui.settle(1.0)
    assert ui.app.current_screen().name == "borrow" and "柜机已离线" in borrow.ids.frame.notice
    ui.screenshot(screenshot_dir / "flow-locker-offline-zh_CN.png")


def test_camera_gone_is_said_plainly(make_ui, kiosk: Kiosk) -> None:
    kiosk.camera.unplug()
    ui = make_ui(kiosk.station)
    ui.tap_at(540, 900)
    ui.tap_text("借雨伞")
    borrow = ui.wait_screen("borrow")
    ui.wait_until(lambda: not borrow.ids.camera.available, 5, "the preview to notice")
    ui.step(2)
    assert any("摄像头暂时无法使用" in t for t in ui.visible_texts())


def test_staff_diagnostics_on_the_real_station(make_ui, kiosk: Kiosk, screenshot_dir: Path) -> None:
    ui = make_ui(kiosk.station, receipts_dir=kiosk.printer.out_dir)
    ui.tap_at(540, 900)
    kiosk.camera.show(kiosk.station.tokens.staff_badge("S-001"))
    ui.wait_screen("staff_pin", 10)
    kiosk.camera.clear()
    for digit in STAFF_PIN:
        ui.tap_text(digit)
    ui.tap_text("确定")
    diag = ui.wait_screen("diagnostics", 10)
    ui.wait_until(lambda: diag._health is not None and diag.ids.slots.children, 10, "health")
    ui.tap_text("打印测试页")
    kiosk.stack.wait(lambda: len(kiosk.printer.receipts()) == 1, 10, "the test page")
    ui.wait_until(lambda: bool(diag.receipt_image), 10, "the receipt picture")
    LockerDiagram, _ = _widgets()
    diagrams = [w for w in ui.widgets(diag.ids.slots) if isinstance(w, LockerDiagram)]
    view = diag.ids.frame.hero
    for diagram in diagrams:  # the sixth slot column used to be cut off at the right edge
        for slot in range(1, diagram.rows * diagram.cols + 1):
            x, y, w, _h = diagram.door_rect(slot)
            left, _ = diagram.to_window(x, y)
            right, _ = diagram.to_window(x + w, y)
            assert view.x <= left and right <= view.right - 2, f"door {slot} reaches {right:.0f} of {view.right:.0f}"
    u1 = next(d for d in diagrams if d.locker_id == "U1")
    scroll = u1.parent.parent.parent
    scroll.scroll_to(u1, animate=False)  # staff scroll down to the lockers
    ui.step(3)
    x, y, w, h = u1.door_rect(1)
    ui.tap_at(*u1.to_window(x + w / 2, y + h / 2))
    assert diag.selected_locker == "U1" and diag.selected_slot == 1
    ui.tap_text("格口自检")
    ui.wait_until(lambda: "格口自检 1 (U1)：完成" in diag.ids.frame.notice, 10, "the self-test answer")
    ui.screenshot(screenshot_dir / "flow-diagnostics-zh_CN.png")
    ui.tap_text("维护记录")
    form = ui.wait_screen("maintenance")
    ui.tap_text("维修")
    form.ids.note.text = "slot 1 latch replaced"
    ui.tap_text("保存记录")
    records = [e.data for e in kiosk.station.store.outbox_pending() if e.type == "maintenance.logged"]
    assert records == [{"staff_id": "S-001", "action": "repair", "device": "printer",
                        "note": "slot 1 latch replaced"}]
    audits = [e.data for e in kiosk.station.store.outbox_pending() if e.type == "staff.slot_command"]
    assert audits and audits[0]["op"] == "selftest"
