"""Design tokens (kiosk/ui/theme.py) and pictograms keep their promises: contrast, type floor, one icon each."""
from __future__ import annotations

import pytest

from kiosk.ui.pictograms import PICTOGRAMS, SERVICE_ICONS, svg
from kiosk.ui.screens import HOME_TILES
from kiosk.ui.theme import HIGH_CONTRAST, NORMAL, SERVICE_COLOURS, contrast, make_theme, mm_to_px


@pytest.mark.parametrize("palette", [NORMAL, HIGH_CONTRAST], ids=["normal", "high_contrast"])
def test_colour_tokens_meet_wcag(palette) -> None:
    for surface in (palette.bg, palette.button):
        assert contrast(palette.fg, surface) >= 7.0
        assert contrast(palette.muted, surface) >= 4.5
        assert contrast(palette.outline, surface) >= 3.0          # control edges (WCAG 1.4.11)
        assert contrast(palette.disabled_fg, surface) >= 3.0      # never white on white
    assert contrast(palette.accent_fg, palette.accent) >= 4.5
    for name in SERVICE_COLOURS:                                   # service colours carry pictograms and edges
        assert contrast(getattr(palette, name), palette.button) >= 3.0, name


def test_the_old_outline_failed_the_edge_rule() -> None:
    """The check can fail: the previous #8A949E outline was 2.85:1 on the background."""
    old = (0x8A / 255, 0x94 / 255, 0x9E / 255, 1.0)
    assert contrast(old, NORMAL.bg) < 3.0 <= contrast(NORMAL.outline, NORMAL.bg)


@pytest.mark.parametrize("dpi", [102.0, 160.0])
def test_type_scale(dpi: float) -> None:
    normal, large = make_theme(dpi=dpi), make_theme(dpi=dpi, large_text=True)
    assert normal.caption_px >= 26 and normal.font_px >= 32 * dpi / 102 - 1
    assert normal.caption_px < normal.font_px < normal.h2_px < normal.title_px < normal.display_px
    assert normal.display_px >= 112 * dpi / 102 - 1
    for a, b in ((normal.font_px, large.font_px), (normal.display_px, large.display_px)):
        assert abs(b - a * 1.5) <= 1
    assert normal.grid.primary_h >= mm_to_px(36, dpi) - 1 and normal.grid.gutter >= mm_to_px(2, dpi)


def test_every_service_has_its_own_drawn_pictogram() -> None:
    for tile in HOME_TILES:
        assert tile.icon in PICTOGRAMS, tile
    icons = list(SERVICE_ICONS.values())
    assert len(icons) == len(set(icons)), "one pictogram, one meaning"
    for name in ("umbrella", "power_bank", "stroller", "bag", "member", "complaint", "lostfound", "map", "info"):
        assert PICTOGRAMS[name], name
    sheet = svg()
    assert sheet.count("<g ") == len(PICTOGRAMS) and sheet.startswith("<svg")
