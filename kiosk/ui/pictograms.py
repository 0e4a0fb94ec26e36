"""Drawn vector pictograms (pure data, no Kivy): what a shopper recognises instead of text glyphs.

Each pictogram is a list of strokes in a 100×100 box, y up: ("line", points, width), ("circle", cx, cy, r, width),
("disc", cx, cy, r), ("rect", x, y, w, h, width), ("box", x, y, w, h) filled, ("arc", cx, cy, r, start°, end°,
width) with Kivy's angles (0° = up, clockwise). `kiosk.ui.widgets.Pictogram` draws them in any colour and size;
`svg()` writes the same strokes for docs/ui-pictograms.svg.

    python -m kiosk.ui.pictograms docs/ui-pictograms.svg
"""
from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

Stroke = tuple[Any, ...]

PICTOGRAMS: dict[str, list[Stroke]] = {
    # canopy with ribs, shaft and a hooked handle
    "umbrella": [("arc", 50, 52, 40, -90, 90, 5), ("line", [10, 52, 90, 52], 5),
                 ("line", [50, 92, 50, 18], 5), ("arc", 42, 18, 8, 90, 270, 5),
                 ("line", [30, 52, 50, 92, 70, 52], 3)],
    # a battery-shaped power bank with a bolt and a cable
    "power_bank": [("rect", 26, 14, 40, 70, 5), ("box", 38, 84, 16, 6),
                   ("line", [50, 70, 38, 48, 52, 48, 42, 26], 5), ("line", [66, 30, 80, 30, 80, 12], 4)],
    # pram: hood, basket, handle, two wheels
    "stroller": [("arc", 40, 52, 28, -90, 0, 5), ("line", [12, 52, 40, 52, 40, 80], 5),
                 ("line", [12, 52, 20, 34, 68, 34, 72, 52], 5), ("line", [68, 34, 82, 66, 92, 66], 5),
                 ("circle", 26, 18, 9, 5), ("circle", 62, 18, 9, 5)],
    # shopping bag with handle
    "bag": [("line", [18, 14, 24, 66, 76, 66, 82, 14, 18, 14], 5), ("arc", 50, 66, 14, -90, 90, 5)],
    # member card: card, stripe, chip, star
    "member": [("rect", 10, 22, 80, 56, 5), ("box", 10, 60, 80, 8), ("box", 18, 32, 16, 12),
               ("line", [62, 46, 66, 36, 70, 46, 60, 40, 72, 40, 62, 46], 3)],
    # speech bubble with an exclamation mark
    "complaint": [("line", [12, 84, 88, 84, 88, 34, 40, 34, 24, 18, 26, 34, 12, 34, 12, 84], 5),
                  ("line", [50, 76, 50, 52], 6), ("disc", 50, 43, 4)],
    # box with a question mark: lost & found
    "lostfound": [("rect", 14, 12, 72, 56, 5), ("line", [14, 68, 26, 86, 74, 86, 86, 68], 5),
                  ("arc", 50, 48, 10, -90, 150, 5), ("line", [55, 40, 50, 32, 50, 28], 5), ("disc", 50, 20, 3.5)],
    # folded map with a pin
    "map": [("line", [8, 18, 36, 10, 64, 18, 92, 10, 92, 78, 64, 86, 36, 78, 8, 86, 8, 18], 5),
            ("line", [36, 10, 36, 78], 3), ("line", [64, 18, 64, 86], 3), ("circle", 50, 56, 9, 5),
            ("line", [43, 50, 50, 34, 57, 50], 5)],
    # i in a circle
    "info": [("circle", 50, 50, 40, 5), ("line", [50, 24, 50, 56], 8), ("disc", 50, 70, 5)],
    # an item going down into an open door
    "return": [("rect", 20, 8, 60, 52, 5), ("line", [50, 94, 50, 36], 6), ("line", [34, 52, 50, 34, 66, 52], 6)],
    # four squares: more services
    "more": [("rect", 12, 54, 32, 32, 5), ("rect", 56, 54, 32, 32, 5), ("rect", 12, 12, 32, 32, 5),
             ("rect", 56, 12, 32, 32, 5)],
    "ticket": [("rect", 14, 14, 72, 72, 5), ("line", [28, 66, 72, 66], 5), ("line", [28, 50, 72, 50], 5),
               ("line", [28, 34, 56, 34], 5)],
    "storage": [("rect", 14, 8, 72, 84, 5), ("line", [14, 50, 86, 50], 4), ("disc", 74, 70, 4), ("disc", 74, 30, 4)],
    "first_aid": [("rect", 10, 14, 80, 60, 5), ("line", [50, 28, 50, 60], 9), ("line", [34, 44, 66, 44], 9),
                  ("line", [36, 74, 36, 86, 64, 86, 64, 74], 5)],
    "check": [("line", [18, 50, 40, 28, 82, 72], 9)],
    "warning": [("line", [50, 90, 92, 14, 8, 14, 50, 90], 5), ("line", [50, 68, 50, 40], 7), ("disc", 50, 28, 4.5)],
    "door": [("rect", 22, 6, 56, 88, 5), ("disc", 66, 50, 5)],
    "receipt": [("line", [22, 92, 78, 92, 78, 8, 70, 14, 62, 8, 54, 14, 46, 8, 38, 14, 30, 8, 22, 14, 22, 92], 5),
                ("line", [32, 74, 68, 74], 4), ("line", [32, 58, 68, 58], 4), ("line", [32, 42, 56, 42], 4)],
    "camera": [("rect", 8, 20, 84, 56, 5), ("circle", 50, 48, 17, 5), ("box", 22, 76, 20, 8)],
    "speaker": [("line", [10, 38, 26, 38, 48, 18, 48, 82, 26, 62, 10, 62, 10, 38], 5),
                ("arc", 52, 50, 18, 45, 135, 5), ("arc", 52, 50, 32, 45, 135, 5)],
    # half filled circle (the fill drawn as concentric half rings, so it stays inside the circle)
    "contrast": [("circle", 50, 50, 38, 5)] + [("arc", 50, 50, r, 0, 180, 7) for r in (4, 10, 16, 22, 28, 34)],
    "reach": [("line", [50, 92, 50, 20], 6), ("line", [30, 40, 50, 20, 70, 40], 6), ("line", [14, 8, 86, 8], 6)],
    "text_size": [("line", [8, 16, 30, 84, 52, 16], 6), ("line", [17, 42, 43, 42], 5),
                  ("line", [60, 16, 74, 56, 88, 16], 5), ("line", [65, 32, 83, 32], 4)],
    "staff": [("circle", 50, 66, 18, 5), ("arc", 50, 10, 36, -90, 90, 5)],
    # clipboard with a checklist: the desk's duties (supplies, checks, handover)
    "duties": [("rect", 18, 6, 64, 82, 5), ("rect", 36, 82, 28, 12, 4),
               ("line", [28, 64, 34, 58, 42, 70], 4), ("line", [52, 64, 72, 64], 4),
               ("line", [28, 42, 34, 36, 42, 48], 4), ("line", [52, 42, 72, 42], 4),
               ("line", [52, 20, 72, 20], 4), ("rect", 29, 15, 11, 11, 3)],
    "phone": [("rect", 28, 6, 44, 88, 5), ("disc", 50, 16, 4), ("line", [42, 84, 58, 84], 4)],
    "star": [("line", [50, 92, 61, 62, 94, 62, 67, 42, 78, 10, 50, 30, 22, 10, 33, 42, 6, 62, 39, 62, 50, 92], 5)],
    "home": [("line", [8, 50, 50, 90, 92, 50], 6), ("line", [20, 58, 20, 10, 80, 10, 80, 58], 6),
             ("rect", 42, 10, 16, 28, 4)],
    "back": [("line", [86, 50, 16, 50], 7), ("line", [40, 76, 14, 50, 40, 24], 7)],
    "pin": [("circle", 50, 64, 16, 6), ("line", [34, 58, 50, 10, 66, 58], 6)],
}

# what each service / menu entry shows (one pictogram, one meaning: never reused for something else)
SERVICE_ICONS = {"umbrella": "umbrella", "power_bank": "power_bank", "stroller": "stroller", "return": "return",
                 "desk": "more", "member": "member", "complaint": "complaint", "ticket": "ticket",
                 "directory": "map", "lostfound": "lostfound", "storage": "storage", "info": "info"}


def _arc_points(cx: float, cy: float, r: float, start: float, end: float, steps: int = 24) -> list[float]:
    pts: list[float] = []
    for i in range(steps + 1):
        a = math.radians(start + (end - start) * i / steps)
        pts += [cx + r * math.sin(a), cy + r * math.cos(a)]
    return pts


def svg(names: list[str] | None = None, cell: int = 120, cols: int = 7) -> str:
    """Every pictogram as one SVG sheet with its name under it (for docs/ui.md)."""
    names = names or sorted(PICTOGRAMS)
    rows = (len(names) + cols - 1) // cols
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{cols * cell}" height="{rows * (cell + 24)}" '
           f'font-family="sans-serif" font-size="13">', '<rect width="100%" height="100%" fill="#F4F6F8"/>']
    for i, name in enumerate(names):
        ox, oy = (i % cols) * cell + 10, (i // cols) * (cell + 24) + 10
        s = (cell - 20) / 100

        def p(x: float, y: float, ox: float = ox, oy: float = oy, s: float = s) -> str:
            return f"{ox + x * s:.1f},{oy + (100 - y) * s:.1f}"

        g = ['<g stroke="#1B1F24" fill="none" stroke-linecap="round" stroke-linejoin="round">']
        for st in PICTOGRAMS[name]:
            kind = st[0]
            if kind == "line":
                pts = st[1]
                g.append(f'<polyline points="{" ".join(p(pts[j], pts[j + 1]) for j in range(0, len(pts), 2))}" '
                         f'stroke-width="{st[2] * s:.1f}"/>')
            elif kind in ("circle", "disc"):
                cx, cy = p(st[1], st[2]).split(",")
                fill = ' fill="#1B1F24"' if kind == "disc" else ""
                width = f' stroke-width="{st[4] * s:.1f}"' if kind == "circle" else ""
                g.append(f'<circle cx="{cx}" cy="{cy}" r="{st[3] * s:.1f}"{fill}{width}/>')
            elif kind in ("rect", "box"):
                x, y = p(st[1], st[2] + st[4]).split(",")
                fill = ' fill="#1B1F24"' if kind == "box" else ""
                width = f' stroke-width="{st[5] * s:.1f}"' if kind == "rect" else ""
                g.append(f'<rect x="{x}" y="{y}" width="{st[3] * s:.1f}" height="{st[4] * s:.1f}"{fill}{width}/>')
            elif kind == "arc":
                pts = _arc_points(*st[1:6])
                g.append(f'<polyline points="{" ".join(p(pts[j], pts[j + 1]) for j in range(0, len(pts), 2))}" '
                         f'stroke-width="{st[6] * s:.1f}"/>')
        g.append("</g>")
        out += g
        out.append(f'<text x="{ox + (cell - 20) / 2:.0f}" y="{oy + cell:.0f}" text-anchor="middle">{name}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(svg(), encoding="utf-8")
