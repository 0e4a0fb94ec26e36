"""Every screen in both languages as a screenshot artifact; low-reach layout; 15 mm touch targets."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from kiosk.ui.screens import SCREENS
from kiosk.ui.theme import mm_to_px
from tests.ui.demo import open_screen


def assert_drawn(path: Path) -> None:
    with Image.open(path) as img:
        colours = img.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 20, f"{path.name} looks blank"


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_every_screen_is_saved_as_a_screenshot(make_ui, bare_station, screenshot_dir: Path, lang: str) -> None:
    ui = make_ui(bare_station, lang=lang)
    for name in sorted(SCREENS):
        open_screen(ui, bare_station, name)
        assert ui.app.current_screen().name == name
        assert_drawn(ui.screenshot(screenshot_dir / f"{name}-{lang}.png"))


@pytest.mark.parametrize("mode", ["high_contrast", "large_text", "low_reach"])
def test_accessibility_modes_are_saved_as_screenshots(make_ui, bare_station, screenshot_dir: Path,
                                                      mode: str) -> None:
    ui = make_ui(bare_station, **{mode: True})
    for name in ("home", "borrow", "rating", "staff_pin"):
        open_screen(ui, bare_station, name)
        assert_drawn(ui.screenshot(screenshot_dir / f"{name}-{mode}.png"))


def visible_buttons(ui) -> list:
    return [b for b in ui.buttons() if b.width > 0 and b.height > 0]


def test_low_reach_puts_every_control_in_the_lower_half(make_ui, bare_station) -> None:
    ui = make_ui(bare_station, low_reach=True)
    half = ui.app.root.height / 2
    for name in sorted(SCREENS):
        open_screen(ui, bare_station, name)
        for button in visible_buttons(ui):
            _, top = button.to_window(button.x, button.top)
            assert top <= half + 1, f"{name}: {button.text!r} reaches up to {top:.0f} px (half is {half:.0f})"


def test_the_low_reach_switch_moves_controls_down(make_ui, bare_station) -> None:
    ui = make_ui(bare_station)
    open_screen(ui, bare_station, "home")
    top_before = max(b.to_window(b.x, b.top)[1] for b in visible_buttons(ui))
    ui.tap_text("低位")
    top_after = max(b.to_window(b.x, b.top)[1] for b in visible_buttons(ui))
    assert top_before > ui.app.root.height * 0.9 and top_after <= ui.app.root.height / 2 + 1


@pytest.mark.parametrize("dpi", [102.0, 160.0])
def test_touch_targets_are_at_least_15_mm(make_ui, bare_station, dpi: float) -> None:
    ui = make_ui(bare_station, dpi=dpi)
    need = mm_to_px(15, dpi) - 0.5
    for name in sorted(SCREENS):
        open_screen(ui, bare_station, name)
        for button in visible_buttons(ui):
            assert button.height >= need and button.width >= need, \
                f"{name}: {button.text!r} is {button.width:.0f}x{button.height:.0f} px, needs {need:.0f}"


def test_high_contrast_changes_colours_and_keeps_outlines(make_ui, bare_station) -> None:
    ui = make_ui(bare_station)
    open_screen(ui, bare_station, "home")
    before = list(ui.app.c_bg)
    ui.tap_text("高对比")
    assert ui.app.c_bg != before and ui.app.c_bg[:3] == [0.0, 0.0, 0.0]
    assert ui.app.c_outline[:3] != ui.app.c_bg[:3]
