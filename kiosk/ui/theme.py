"""Colours and sizes for the normal, large-text, high-contrast and low-reach modes (pure data, no Kivy)."""
from __future__ import annotations

from dataclasses import dataclass

RGBA = tuple[float, float, float, float]


def _hex(code: str) -> RGBA:
    code = code.lstrip("#")
    return (int(code[0:2], 16) / 255, int(code[2:4], 16) / 255, int(code[4:6], 16) / 255, 1.0)


@dataclass(frozen=True)
class Palette:
    bg: RGBA
    fg: RGBA
    muted: RGBA
    button: RGBA
    button_fg: RGBA
    accent: RGBA
    accent_fg: RGBA
    ok: RGBA
    error: RGBA
    outline: RGBA


NORMAL = Palette(bg=_hex("F4F6F8"), fg=_hex("1B1F24"), muted=_hex("55606B"), button=_hex("FFFFFF"),
                 button_fg=_hex("1B1F24"), accent=_hex("0B5CAD"), accent_fg=_hex("FFFFFF"),
                 ok=_hex("1E7B34"), error=_hex("B3261E"), outline=_hex("8A949E"))
# Yellow on black passes WCAG AAA (contrast > 15:1); outlines make every control visible without colour.
HIGH_CONTRAST = Palette(bg=_hex("000000"), fg=_hex("FFFFFF"), muted=_hex("FFFFFF"), button=_hex("000000"),
                        button_fg=_hex("FFEB3B"), accent=_hex("FFEB3B"), accent_fg=_hex("000000"),
                        ok=_hex("FFFFFF"), error=_hex("FFFFFF"), outline=_hex("FFEB3B"))


@dataclass(frozen=True)
class Theme:
    palette: Palette
    font_px: float      # body text
    title_px: float
    target_px: float    # the smallest side of any control
    pad_px: float
    low_reach: bool


def mm_to_px(mm: float, dpi: float) -> float:
    return mm * dpi / 25.4


def make_theme(*, dpi: float, min_target_mm: float = 15.0, large_text: bool = False,
               high_contrast: bool = False, low_reach: bool = False) -> Theme:
    """The sizes follow the DPI so a 15 mm target stays 15 mm on any panel."""
    scale = 1.35 if large_text else 1.0
    body = max(mm_to_px(6.0, dpi), 18.0) * scale
    target = max(mm_to_px(min_target_mm, dpi), body * 2.6)
    return Theme(palette=HIGH_CONTRAST if high_contrast else NORMAL, font_px=round(body),
                 title_px=round(body * 1.6), target_px=round(target), pad_px=round(mm_to_px(3, dpi)),
                 low_reach=low_reach)
