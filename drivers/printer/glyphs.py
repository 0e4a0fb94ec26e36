"""Draws printer-font-like glyphs with Noto Sans Mono CJK: 12x24-dot half-width cells, 24x24 CJK cells.

Used by the raster fallback for printers without a CJK font and by the virtual printer's paper.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from drivers.printer.textwidth import char_width

FONT_DIR = Path(os.environ.get("PRINTER_CJK_FONT_DIR", "/usr/share/fonts/opentype/noto"))
MONO_SC_INDEX = 7  # "Noto Sans Mono CJK SC" inside the .ttc: ASCII exactly half as wide as a CJK glyph
CELL_W = {"a": 12, "b": 9}
CELL_H = {"a": 24, "b": 17}
SCALES = {"normal": (1, 1), "wide": (2, 1), "tall": (1, 2), "double": (2, 2)}


@lru_cache(maxsize=8)
def font(bold: bool = False, size: int = 24) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = FONT_DIR / ("NotoSansCJK-Bold.ttc" if bold else "NotoSansCJK-Regular.ttc")
    try:
        return ImageFont.truetype(str(path), size, index=MONO_SC_INDEX)
    except OSError:
        return ImageFont.load_default(size)


@lru_cache(maxsize=8192)
def glyph(ch: str, font_name: str = "a", bold: bool = False, underline: bool = False,
          invert: bool = False, sx: int = 1, sy: int = 1, kanji: bool = False) -> Image.Image:
    """One character as an image of its cell, scaled like a printer's character size.

    `kanji`: printed from the printer's double-byte font (Chinese mode), so always two cells wide.
    """
    cw, ch_h = CELL_W[font_name], CELL_H[font_name]
    w = cw * char_width(ch, kanji) or 1
    img = Image.new("L", (w, ch_h), 0)
    draw = ImageDraw.Draw(img)
    size = round(ch_h * 0.875)
    # Noto's ink starts ~0.3 em below the draw origin; lift it so CJK tops and Latin descenders both fit.
    draw.text((0, -round(size * 0.29)), ch, fill=255, font=font(bold, size))
    if underline:
        draw.rectangle((0, ch_h - 2, w - 1, ch_h - 1), fill=255)
    if invert:
        img = Image.eval(img, lambda v: 255 - v)
    if sx != 1 or sy != 1:
        img = img.resize((w * sx, ch_h * sy), Image.Resampling.NEAREST)
    return img


def text_line_image(text: str, width: int, align: str = "left", size: str = "normal",
                    bold: bool = False, underline: bool = False, line_height: int = 30) -> Image.Image:
    """One printed line as a black-on-white image `width` dots wide (mode "1"), aligned like ESC a."""
    sx, sy = SCALES[size]
    glyphs = [glyph(ch, "a", bold, underline, False, sx, sy) for ch in text]
    used = sum(g.width for g in glyphs)
    height = max(line_height * sy, max((g.height for g in glyphs), default=0))
    canvas = Image.new("L", (width, height), 0)
    x = {"left": 0, "center": (width - used) // 2, "right": width - used}.get(align, 0)
    x = max(0, x)
    for g in glyphs:
        if x + g.width > width:
            break
        canvas.paste(g, (x, 0))
        x += g.width
    return Image.eval(canvas, lambda v: 0 if v > 96 else 255).convert("1")
