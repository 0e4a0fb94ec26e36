"""Design tokens (pure data, no Kivy): layout grid, type scale, colours, motion — docs/ui.md "Design system".

Sizes are given in millimetres on the panel and turned into pixels for its DPI, so a 15 mm target or a 26 px
caption stays what it is on any screen. At the station's 102 dpi (a 21.5" 1080×1920 portrait panel,
0.248 mm/px) the scale is: caption 26, body 32, h2 44, h1 56, display 112 px; large-text mode is ×1.5.
"""
from __future__ import annotations

from dataclasses import dataclass

RGBA = tuple[float, float, float, float]

MM_PER_PX_AT_102 = 25.4 / 102


def _hex(code: str) -> RGBA:
    code = code.lstrip("#")
    return (int(code[0:2], 16) / 255, int(code[2:4], 16) / 255, int(code[4:6], 16) / 255, 1.0)


def luminance(c: RGBA) -> float:
    def chan(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    return 0.2126 * chan(c[0]) + 0.7152 * chan(c[1]) + 0.0722 * chan(c[2])


def contrast(a: RGBA, b: RGBA) -> float:
    """WCAG 2 contrast ratio."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@dataclass(frozen=True)
class Palette:
    bg: RGBA
    fg: RGBA            # text
    muted: RGBA         # secondary text (≥ 4.5:1 on bg and surface)
    button: RGBA        # surface of controls and cards
    button_fg: RGBA
    accent: RGBA        # primary action
    accent_fg: RGBA
    ok: RGBA
    error: RGBA
    outline: RGBA       # every control's edge: ≥ 3:1 against bg (WCAG 1.4.11)
    warning: RGBA
    warning_bg: RGBA
    focus: RGBA         # the lit door, the selected choice's ring
    disabled_fg: RGBA   # a disabled control's text (still ≥ 3:1: never white on white)
    umbrella: RGBA      # one colour per service: tile, door light, receipt header
    power_bank: RGBA
    stroller: RGBA
    storage: RGBA
    desk: RGBA
    motion: bool = True  # high contrast: no pulsing or fading


NORMAL = Palette(bg=_hex("F4F6F8"), fg=_hex("1B1F24"), muted=_hex("4F5A65"), button=_hex("FFFFFF"),
                 button_fg=_hex("1B1F24"), accent=_hex("0B5CAD"), accent_fg=_hex("FFFFFF"),
                 ok=_hex("1E7B34"), error=_hex("B3261E"), outline=_hex("6B7683"), warning=_hex("8A5A00"),
                 warning_bg=_hex("FFF4D6"), focus=_hex("FFB800"), disabled_fg=_hex("6B7683"),
                 umbrella=_hex("0B5CAD"), power_bank=_hex("1E7B34"), stroller=_hex("B45309"),
                 storage=_hex("6D28D9"), desk=_hex("0F766E"))
# Yellow on black passes WCAG AAA (contrast > 15:1); outlines make every control visible without colour.
_Y, _K, _W = _hex("FFEB3B"), _hex("000000"), _hex("FFFFFF")
HIGH_CONTRAST = Palette(bg=_K, fg=_W, muted=_W, button=_K, button_fg=_Y, accent=_Y, accent_fg=_K,
                        ok=_W, error=_W, outline=_Y, warning=_Y, warning_bg=_K, focus=_Y, disabled_fg=_hex("BDBDBD"),
                        umbrella=_Y, power_bank=_Y, stroller=_Y, storage=_Y, desk=_Y, motion=False)

SERVICE_COLOURS = ("umbrella", "power_bank", "stroller", "storage", "desk")

# type scale in mm of em height (102 dpi → px in the comment)
TYPE_MM = {"caption": 6.5,    # 26 px: the floor, nothing on screen is smaller
           "body": 8.0,       # 32 px
           "h2": 11.0,        # 44 px
           "h1": 14.0,        # 56 px
           "display": 28.0}   # 112 px: countdowns, door numbers, amounts
LARGE_TEXT_SCALE = 1.5

# motion
FADE_S = 0.2          # 150–250 ms
PULSE_HZ = 1.0        # "act now": the lit door, the last seconds of a countdown


@dataclass(frozen=True)
class Grid:
    """Portrait layout zones (px): header on top, content, and the action band at the bottom within reach."""

    width: int
    height: int
    margin: int          # outer margin
    gutter: int          # between columns and between controls (≥ 2 mm)
    header: int          # title + toggles
    band: int            # bottom action band (primary + secondary + back/home)
    primary_h: int       # full-width primary button
    secondary_h: int


@dataclass(frozen=True)
class Theme:
    palette: Palette
    font_px: float      # body text
    title_px: float     # h1
    caption_px: float
    h2_px: float
    display_px: float
    target_px: float    # the smallest side of any control
    pad_px: float       # gap between controls (≥ 2 mm)
    low_reach: bool
    grid: Grid


def mm_to_px(mm: float, dpi: float) -> float:
    return mm * dpi / 25.4


def make_grid(width: int, height: int, dpi: float, target_px: float) -> Grid:
    gutter = round(max(mm_to_px(3, dpi), 8))
    primary = round(max(mm_to_px(36, dpi), target_px))
    secondary = round(max(mm_to_px(24, dpi), target_px))
    return Grid(width=width, height=height, margin=round(mm_to_px(6, dpi)), gutter=gutter,
                header=round(max(mm_to_px(26, dpi), target_px + 2 * gutter)),
                band=primary + secondary + 3 * gutter, primary_h=primary, secondary_h=secondary)


def make_theme(*, dpi: float, min_target_mm: float = 15.0, large_text: bool = False,
               high_contrast: bool = False, low_reach: bool = False, width: int = 1080,
               height: int = 1920) -> Theme:
    """The sizes follow the DPI so a 15 mm target stays 15 mm on any panel."""
    scale = LARGE_TEXT_SCALE if large_text else 1.0

    def px(role: str) -> float:
        return round(max(mm_to_px(TYPE_MM[role], dpi), 26.0 * TYPE_MM[role] / TYPE_MM["caption"]) * scale)

    body = px("body")
    target = round(max(mm_to_px(min_target_mm, dpi), body * 2.1))
    return Theme(palette=HIGH_CONTRAST if high_contrast else NORMAL, font_px=body, title_px=px("h1"),
                 caption_px=px("caption"), h2_px=px("h2"), display_px=px("display"),
                 target_px=target, pad_px=round(max(mm_to_px(3, dpi), 8)), low_reach=low_reach,
                 grid=make_grid(width, height, dpi, target))
