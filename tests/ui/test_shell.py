"""The app shell: attract → home, language switch, idle timeout wipe, accessibility modes."""
from __future__ import annotations

from pathlib import Path


def test_touch_anywhere_on_attract_opens_home(make_ui, bare_station) -> None:
    ui = make_ui(bare_station)
    assert ui.app.current_screen().name == "attract"
    ui.tap_at(540, 900)
    assert ui.app.current_screen().name == "home"
    texts = ui.visible_texts()
    assert any("借雨伞" in t for t in texts) and any("借充电宝" in t for t in texts)


def test_smoke_screenshot(make_ui, bare_station, screenshot_dir: Path) -> None:
    ui = make_ui(bare_station)
    ui.screenshot(screenshot_dir / "smoke-attract.png")
    ui.tap_at(540, 900)
    ui.screenshot(screenshot_dir / "smoke-home.png")
    assert (screenshot_dir / "smoke-home.png").stat().st_size > 1000
