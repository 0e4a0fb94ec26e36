"""Pure parts of the UI: idle state machine on an injected clock, theme sizes per DPI, the PIN stays masked."""
from __future__ import annotations

import pytest

from kiosk.ui.idle import IdleWatch
from kiosk.ui.theme import HIGH_CONTRAST, NORMAL, make_theme, mm_to_px
from tests.fixtures.ui import ManualClock
from tests.ui.demo import staff_scan


def test_idle_watch_states() -> None:
    clock = ManualClock(0)
    watch = IdleWatch(60, 10, clock)
    assert watch.state() == "active"
    clock.advance(59.9)
    assert watch.state() == "active"
    clock.advance(0.2)
    assert watch.state() == "warning" and watch.seconds_left() == 10
    clock.advance(9)
    assert watch.seconds_left() == 1
    watch.touched()
    assert watch.state() == "active"
    clock.advance(70)
    assert watch.state() == "expired" and watch.seconds_left() == 0


@pytest.mark.parametrize("dpi", [72.0, 102.0, 160.0, 320.0])
@pytest.mark.parametrize("large_text", [False, True])
def test_targets_follow_the_dpi(dpi: float, large_text: bool) -> None:
    theme = make_theme(dpi=dpi, large_text=large_text)
    assert theme.target_px >= mm_to_px(15, dpi) - 0.5
    assert theme.target_px > theme.font_px * 2


def test_large_text_is_larger_and_high_contrast_is_another_palette() -> None:
    normal, large = make_theme(dpi=102), make_theme(dpi=102, large_text=True)
    assert large.font_px > normal.font_px * 1.3 and large.title_px > normal.title_px
    assert make_theme(dpi=102, high_contrast=True).palette is HIGH_CONTRAST
    assert normal.palette is NORMAL


def test_the_pin_is_shown_masked(make_ui, bare_station) -> None:
    ui = make_ui(bare_station)
    ui.tap_at(540, 900)
    ui.app.on_scan(staff_scan(bare_station))
    screen = ui.wait_screen("staff_pin")
    for digit in "2468":
        ui.tap_text(digit)
    labels = [t for t in ui.visible_texts() if "●" in t]
    assert labels == ["●●●●"]
    assert not any("2468" in t for t in ui.visible_texts())
    ui.tap_text("删除")
    assert screen.ids.keypad.entered == "246"


def test_buttons_keep_the_height_their_kv_asks_for(make_ui, bare_station) -> None:
    """The <KButton> rule used to overwrite every height with max(tgt, text + pad): all buttons were 64 px."""
    ui = make_ui(bare_station)
    app = ui.app
    ui.tap_at(540, 900)
    tiles = [b for b in ui.buttons() if type(b).__name__ == "ServiceTile"]
    assert tiles and all(t.min_h >= app.tgt * 3 for t in tiles)
    assert all(abs(t.height - t.min_h) < 1 for t in tiles), [(t.height, t.min_h) for t in tiles]
    app.on_scan(staff_scan(bare_station))
    ui.step(3)
    key = ui.button("5")
    assert abs(key.height - app.grid_secondary) < 1, key.height
    key.text = "5 "  # a new texture re-fires the class rule: the asked-for height stays
    ui.step(2)
    assert abs(key.height - app.grid_secondary) < 1, key.height
