"""Floor maps drawn from floors.yaml: an SVG for the web and a PNG for the kiosk, one shop highlighted."""
from __future__ import annotations

import io
from html import escape
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from kiosk.content import FloorPlan, MallContent

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
FACILITY_LABEL = {"desk": ("服务台", "Desk"), "restroom": ("卫生间", "WC"), "elevator": ("电梯", "Lift"),
                  "escalator": ("扶梯", "Escalator"), "nursing": ("母婴室", "Nursing"), "exit": ("出口", "Exit")}
# Highlight is a thick outline plus a fill, so it does not depend on colour alone.
FILL, HIGHLIGHT, OUTLINE, TEXT = "#e8eef5", "#ffb300", "#37474f", "#102027"


def _labels(content: MallContent, lang: str) -> dict[str, str]:
    return {s.unit: (s.zh if lang == "zh" else s.en) for s in content.shops}


def floor_svg(content: MallContent, plan: FloorPlan, highlight: str | None = None, lang: str = "zh",
              scale: int = 8) -> str:
    """An SVG of one floor; the highlighted unit is filled and outlined thickly."""
    names = _labels(content, lang)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{100 * scale}" height="{60 * scale}" '
           f'viewBox="0 0 100 60" font-family="Noto Sans CJK SC, sans-serif">',
           '<rect x="0" y="0" width="100" height="60" fill="#fafafa" stroke="#90a4ae" stroke-width="0.4"/>']
    for unit, x, y, w, h in plan.units:
        hot = unit == highlight
        out.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{HIGHLIGHT if hot else FILL}" '
                   f'stroke="{OUTLINE}" stroke-width="{1.2 if hot else 0.3}"/>')
        label = escape(names.get(unit, ""))
        out.append(f'<text x="{x + w / 2}" y="{y + h / 2}" font-size="2.6" text-anchor="middle" '
                   f'fill="{TEXT}">{label}</text>')
        out.append(f'<text x="{x + w / 2}" y="{y + h / 2 + 3.4}" font-size="2" text-anchor="middle" '
                   f'fill="{TEXT}">{escape(unit)}</text>')
    for kind, x, y in plan.facilities:
        text = FACILITY_LABEL[kind][0 if lang == "zh" else 1]
        out.append(f'<circle cx="{x}" cy="{y}" r="1.6" fill="#1565c0"/>'
                   f'<text x="{x}" y="{y + 4}" font-size="2" text-anchor="middle">{escape(text)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(str(CJK_FONT), size)
    except OSError:
        return ImageFont.load_default()


def floor_png(content: MallContent, plan: FloorPlan, highlight: str | None = None, lang: str = "zh",
              scale: int = 10) -> bytes:
    """The same map as a PNG (Kivy shows PNGs; its SVG support is partial)."""
    names = _labels(content, lang)
    img = Image.new("RGB", (100 * scale, 60 * scale), "#fafafa")
    draw = ImageDraw.Draw(img)
    big, small = _font(int(2.6 * scale)), _font(2 * scale)
    for unit, x, y, w, h in plan.units:
        hot = unit == highlight
        box = (x * scale, y * scale, (x + w) * scale, (y + h) * scale)
        draw.rectangle(box, fill=HIGHLIGHT if hot else FILL, outline=OUTLINE, width=12 if hot else 3)
        cx, cy = (x + w / 2) * scale, (y + h / 2) * scale
        draw.text((cx, cy), names.get(unit, ""), fill=TEXT, font=big, anchor="mm")
        draw.text((cx, cy + 3.4 * scale), unit, fill=TEXT, font=small, anchor="mm")
    for kind, x, y in plan.facilities:
        r = 1.6 * scale
        draw.ellipse((x * scale - r, y * scale - r, x * scale + r, y * scale + r), fill="#1565c0")
        draw.text((x * scale, (y + 4) * scale), FACILITY_LABEL[kind][0 if lang == "zh" else 1],
                  fill=TEXT, font=small, anchor="mm")
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()
