"""Floor maps drawn from floors.yaml: an SVG for the web and a PNG for the kiosk, one shop highlighted, and on the
kiosk "您在这里 / You are here" with the walking route to the shop (kiosk/content/routes.py)."""
from __future__ import annotations

import io
from html import escape
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from kiosk.content import FloorPlan, MallContent
from kiosk.content.routes import Route

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
# The .ttc holds JP, KR, SC, TC and HK faces; face 0 is Japanese. Chinese labels need the SC face's glyphs
# (返, 门, 关 … differ), found by name rather than trusting an index that another Debian build may change.
SC_FACE_NAME = "Noto Sans CJK SC"
FACILITY_LABEL = {"desk": ("服务台", "Desk"), "restroom": ("卫生间", "WC"), "elevator": ("电梯", "Lift"),
                  "escalator": ("扶梯", "Escalator"), "nursing": ("母婴室", "Nursing"), "exit": ("出口", "Exit")}
# Highlight is a thick outline plus a fill, so it does not depend on colour alone.
FILL, HIGHLIGHT, OUTLINE, TEXT = "#e8eef5", "#ffb300", "#37474f", "#102027"
HERE, ROUTE = "#d32f2f", "#d32f2f"  # one colour: "follow the red line from the red dot"
HERE_LABEL = {"zh": "您在这里", "en": "You are here"}


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


_SC_INDEX: list[int] = []


def sc_face_index(path: Path = CJK_FONT) -> int:
    """Index of the Simplified Chinese face in the collection (0 if it has none; then JP shapes, never blank)."""
    if not _SC_INDEX:
        found = 0
        for index in range(8):
            try:
                if ImageFont.truetype(str(path), 12, index=index).getname()[0] == SC_FACE_NAME:
                    found = index
                    break
            except OSError:
                break
        _SC_INDEX.append(found)
    return _SC_INDEX[0]


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(str(CJK_FONT), size, index=sc_face_index())
    except OSError:
        return ImageFont.load_default()


def floor_png(content: MallContent, plan: FloorPlan, highlight: str | None = None, lang: str = "zh",
              scale: int = 10, here: tuple[int, int] | None = None,
              path: tuple[tuple[int, int], ...] = ()) -> bytes:
    """The same map as a PNG (Kivy shows PNGs; its SVG support is partial)."""
    img = _floor_image(content, plan, highlight, lang, scale, here, path)
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def route_png(content: MallContent, route: Route, lang: str = "zh", scale: int = 10) -> bytes:
    """The route as one picture: each floor it crosses, top to bottom, with a caption naming the floor and the
    step ("1F · 乘扶梯到 3F"); the first floor carries the "you are here" marker, the last the shop lit."""
    steps = route.steps(lang)
    caption_h = 6 * scale
    tiles = []
    for i, leg in enumerate(route.legs):
        plan = content.floor(leg.floor)
        if plan is None:
            raise LookupError(f"no floor {leg.floor}")
        here = (route.start.x, route.start.y) if i == 0 else None
        highlight = route.unit if leg.ends_at == "shop" else None
        tiles.append((leg.floor, steps[i], _floor_image(content, plan, highlight, lang, scale, here, leg.points)))
    out = Image.new("RGB", (100 * scale, len(tiles) * (60 * scale + caption_h)), "#ffffff")
    draw = ImageDraw.Draw(out)
    font = _font(int(3.4 * scale))
    for i, (floor, step, img) in enumerate(tiles):
        top = i * (60 * scale + caption_h)
        draw.text((2 * scale, top + caption_h // 2), f"{i + 1}. {floor} · {step}", fill=TEXT, font=font, anchor="lm")
        out.paste(img, (0, top + caption_h))
    buf = io.BytesIO()
    out.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def _floor_image(content: MallContent, plan: FloorPlan, highlight: str | None, lang: str, scale: int,
                 here: tuple[int, int] | None, path: tuple[tuple[int, int], ...]) -> Image.Image:
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
    if len(path) >= 2:  # under the facility dots, so the lift and escalator on the way stay visible
        # cell centres; a wide line with round joints reads as a walkway, an arrowhead says which way
        pts = [(px * scale, py * scale) for px, py in path]
        draw.line(pts, fill=ROUTE, width=max(4, int(0.9 * scale)), joint="curve")
        (ax, ay), (bx, by) = pts[-2], pts[-1]
        dx, dy = (bx - ax), (by - ay)
        norm = max(abs(dx), abs(dy)) or 1.0
        ux, uy = dx / norm, dy / norm
        head = 2.2 * scale
        draw.polygon([(bx + ux * head * 0.6, by + uy * head * 0.6),
                      (bx - ux * head + uy * head * 0.7, by - uy * head - ux * head * 0.7),
                      (bx - ux * head - uy * head * 0.7, by - uy * head + ux * head * 0.7)], fill=ROUTE)
    for kind, x, y in plan.facilities:
        r = 1.6 * scale
        draw.ellipse((x * scale - r, y * scale - r, x * scale + r, y * scale + r), fill="#1565c0")
        draw.text((x * scale, (y + 4) * scale), FACILITY_LABEL[kind][0 if lang == "zh" else 1],
                  fill=TEXT, font=small, anchor="mm")
    if here is not None:
        hx, hy = here[0] * scale, here[1] * scale
        r = 2.4 * scale
        draw.ellipse((hx - r, hy - r, hx + r, hy + r), fill=HERE, outline="#ffffff", width=max(2, scale // 3))
        label = HERE_LABEL["zh" if lang.startswith("zh") else "en"]
        font = _font(int(2.6 * scale))
        tb = draw.textbbox((hx, hy - r - scale), label, font=font, anchor="md")
        pad = scale // 2
        left, right = tb[0] - pad, tb[2] + pad
        shift = max(0.0, -left) - max(0.0, right - img.width)   # keep the label on the picture
        draw.rectangle((left + shift, tb[1] - pad, right + shift, tb[3] + pad), fill=HERE)
        draw.text((hx + shift, hy - r - scale), label, fill="#ffffff", font=font, anchor="md")
    return img
