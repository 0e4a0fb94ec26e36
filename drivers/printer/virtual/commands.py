"""What each ESC/POS command does to the virtual paper; commands not listed print nothing (drawer, buzzer …)."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drivers.printer.virtual.paper import Paper


def _size(paper: Paper, n: int) -> None:
    paper.set(sx=(n >> 4 & 7) + 1, sy=(n & 7) + 1)


def _esc_bang(paper: Paper, a: bytes) -> None:
    """ESC ! n: font B (bit 0), bold (3), double height (4), double width (5), underline (7)."""
    n = a[0]
    paper.set(font="b" if n & 1 else "a", bold=bool(n & 8), sy=2 if n & 16 else 1, sx=2 if n & 32 else 1,
              underline=bool(n & 128))


def _feed_lines(paper: Paper, a: bytes) -> None:
    paper.print_line()
    for _ in range(max(0, a[0] - 1)):
        paper.print_line()


def _tab(paper: Paper, a: bytes) -> None:
    from drivers.printer.virtual.parser import TextRun

    paper.text_run(TextRun(b"    "))


def _init(paper: Paper, a: bytes) -> None:
    paper.reset()


def _cut(paper: Paper, a: bytes) -> None:
    paper.cut_requested = True


def _qr(paper: Paper, a: bytes) -> bool:
    return paper.qr_function(a)


def _graphics_L(paper: Paper, a: bytes) -> None:
    if len(a) >= 2 and a[0] == 48:
        paper.graphics(a[1], a[2:])


def _hri(paper: Paper, a: bytes) -> None:
    paper.barcode["hri"] = a[0] & 3 if a[0] < 4 else (a[0] - 48) & 3


HANDLERS: dict[str, Callable[[Paper, bytes], object]] = {
    "LF": lambda p, a: p.print_line(),
    "CR": lambda p, a: None,
    "HT": _tab,
    "FF": lambda p, a: _cut(p, a),
    "CAN": lambda p, a: p.runs.clear(),
    "ESC @": _init,
    "ESC !": _esc_bang,
    "ESC E": lambda p, a: p.set(bold=bool(a[0] & 1)),
    "ESC G": lambda p, a: p.set(bold=bool(a[0] & 1)),
    "ESC -": lambda p, a: p.set(underline=bool(a[0] & 3) if a[0] < 3 else bool((a[0] - 48) & 3)),
    "ESC a": lambda p, a: setattr(p, "align", (a[0] - 48 if a[0] >= 48 else a[0]) % 3),
    "ESC M": lambda p, a: p.set(font="b" if a[0] in (1, 49) else "a"),
    "ESC t": lambda p, a: p.set(codepage=a[0]),
    "ESC d": _feed_lines,
    "ESC J": lambda p, a: p.feed_dots(a[0]),
    "ESC 2": lambda p, a: setattr(p, "line_spacing", 30),
    "ESC 3": lambda p, a: setattr(p, "line_spacing", max(a[0], 1)),
    "ESC *": lambda p, a: p.column_band(a),
    "ESC i": _cut,
    "ESC m": _cut,
    "GS !": lambda p, a: _size(p, a[0]),
    "GS B": lambda p, a: p.set(invert=bool(a[0] & 1)),
    "GS v0": lambda p, a: p.raster(a),
    "GS (k": _qr,
    "GS (L": _graphics_L,
    "GS 8L": _graphics_L,
    "GS k": lambda p, a: p.barcode_cmd(a),
    "GS h": lambda p, a: p.barcode.__setitem__("h", max(1, a[0])),
    "GS w": lambda p, a: p.barcode.__setitem__("w", min(6, max(1, a[0]))),
    "GS H": _hri,
    "GS V": _cut,
    "FS &": lambda p, a: p.set(chinese=True),
    "FS .": lambda p, a: p.set(chinese=False),
    "FS -": lambda p, a: p.set(underline=bool(a[0] & 3) if a[0] < 3 else bool((a[0] - 48) & 3)),
    "FS W": lambda p, a: p.set(sx=2 if a[0] & 1 else 1, sy=2 if a[0] & 1 else 1),
}
