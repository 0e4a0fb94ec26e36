"""The virtual printer's paper: applies parsed ESC/POS commands and draws what a thermal head would.

Text uses Font A 12x24 / Font B 9x17 cells (CJK twice as wide), GB18030 in Chinese mode (FS &), the
selected code page otherwise; QR codes, barcodes and raster images are drawn for real.
"""
from __future__ import annotations

import codecs
import logging
from dataclasses import dataclass, field, replace

import qrcode
from PIL import Image, ImageDraw

from drivers.printer.glyphs import CELL_H, CELL_W, glyph
from drivers.printer.virtual.parser import Cmd, TextRun

log = logging.getLogger(__name__)

DEFAULT_LINE_SPACING = 30
# ESC t n -> Python codec for the pages receipts actually use; others fall back to cp437.
CODE_PAGES = {0: "cp437", 2: "cp850", 3: "cp860", 4: "cp863", 5: "cp865", 16: "cp1252", 17: "cp866",
              18: "cp852", 19: "cp858"}
QR_EC = {48: qrcode.constants.ERROR_CORRECT_L, 49: qrcode.constants.ERROR_CORRECT_M,
         50: qrcode.constants.ERROR_CORRECT_Q, 51: qrcode.constants.ERROR_CORRECT_H}


@dataclass(frozen=True)
class Style:
    font: str = "a"
    bold: bool = False
    underline: bool = False
    invert: bool = False
    sx: int = 1
    sy: int = 1
    chinese: bool = False
    codepage: int = 0


@dataclass
class Paper:
    """One receipt being printed; `take()` returns the finished image + text at a cut."""

    width: int = 576
    style: Style = field(default_factory=Style)
    align: int = 0
    line_spacing: int = DEFAULT_LINE_SPACING
    runs: list[tuple[Style, bytearray]] = field(default_factory=list)
    inline: list[Image.Image] = field(default_factory=list)
    strips: list[Image.Image] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    qr: dict[str, int | bytes] = field(default_factory=dict)
    stored_graphic: bytes = b""
    barcode: dict[str, int] = field(default_factory=lambda: {"h": 162, "w": 3, "hri": 0})
    cut_requested: bool = False
    faulted: bool = False  # data arrived while the printer was in a fault: this page never comes out

    @property
    def blank(self) -> bool:
        return not (self.strips or self.runs or self.inline)

    # drawing -----------------------------------------------------------------------------------
    def _place(self, img: Image.Image, height: int | None = None) -> None:
        """Append one printed band, aligned like ESC a (L: white 0 … black 255)."""
        img = img.crop((0, 0, min(img.width, self.width), img.height))
        band = Image.new("L", (self.width, max(height or 0, img.height)), 0)
        x = {0: 0, 1: (self.width - img.width) // 2, 2: self.width - img.width}.get(self.align, 0)
        band.paste(img, (max(0, x), 0))
        self.strips.append(band)

    def _decode(self, style: Style, data: bytes) -> str:
        if style.chinese:
            return data.decode("gb18030", errors="replace")
        name = CODE_PAGES.get(style.codepage, "cp437")
        return codecs.decode(data, name, errors="replace")

    def print_line(self, feed: bool = True) -> None:
        """LF: print the buffered characters (wrapping at the paper edge) and advance one line."""
        chars: list[tuple[str, Style]] = []
        for style, data in self.runs:
            chars.extend((ch, style) for ch in self._decode(style, bytes(data)))
        self.runs = []
        if self.inline:  # ESC * bands: one line of column graphics, no spacing between bands
            row = Image.new("L", (sum(i.width for i in self.inline), max(i.height for i in self.inline)), 0)
            x = 0
            for img in self.inline:
                row.paste(img, (x, 0))
                x += img.width
            self.inline = []
            self._place(row)
            return
        if not chars:
            if feed:
                self.strips.append(Image.new("L", (self.width, self.line_spacing), 0))
            return
        self.text.append("".join(ch for ch, _ in chars).rstrip())
        line: list[Image.Image] = []
        used = 0
        for ch, st in chars:
            g = glyph(ch, st.font, st.bold, st.underline, st.invert, st.sx, st.sy, st.chinese)
            if used + g.width > self.width and line:
                self._emit_glyphs(line)
                line, used = [], 0
            line.append(g)
            used += g.width
        self._emit_glyphs(line)

    def _emit_glyphs(self, glyphs: list[Image.Image]) -> None:
        height = max(g.height for g in glyphs)
        row = Image.new("L", (sum(g.width for g in glyphs), height), 0)
        x = 0
        for g in glyphs:
            row.paste(g, (x, height - g.height))
            x += g.width
        self._place(row, max(height + self.line_spacing - CELL_H["a"], height))

    def text_run(self, run: TextRun) -> None:
        if self.runs and self.runs[-1][0] == self.style:
            self.runs[-1][1].extend(run.data)
        else:
            self.runs.append((self.style, bytearray(run.data)))

    def raster(self, args: bytes) -> None:
        """GS v 0 m xL xH yL yH data: xL+xH*256 bytes per row, MSB is the leftmost dot, 1 = black."""
        m, wb, h = args[0], args[1] | args[2] << 8, args[3] | args[4] << 8
        img = _bits_to_image(args[5:5 + wb * h], wb, h)
        if m & 1:
            img = img.resize((img.width * 2, img.height), Image.Resampling.NEAREST)
        if m & 2:
            img = img.resize((img.width, img.height * 2), Image.Resampling.NEAREST)
        self.print_line(feed=False)
        self._place(img)
        self.text.append(f"[image {img.width}x{img.height}]")

    def column_band(self, args: bytes) -> None:
        """ESC * m nL nH data: a band 8 (m=0,1) or 24 (m=32,33) dots high, one column at a time."""
        m, n = args[0], args[1] | args[2] << 8
        rows = 3 if m in (32, 33) else 1
        data = args[3:]
        img = Image.new("L", (n, rows * 8), 0)
        px = img.load()
        assert px is not None
        for x in range(n):
            for r in range(rows):
                byte = data[x * rows + r]
                for bit in range(8):
                    if byte & (0x80 >> bit):
                        px[x, r * 8 + bit] = 255
        if m in (0, 32):
            img = img.resize((n * 2, img.height), Image.Resampling.NEAREST)
        self.inline.append(img)

    def graphics(self, fn: int, data: bytes) -> None:
        """GS ( L / GS 8 L: fn 112 stores a raster graphic, fn 50 prints it."""
        if fn == 112 and len(data) >= 8:
            self.stored_graphic = data
        elif fn == 50 and self.stored_graphic:
            d = self.stored_graphic  # tone bx by colour xL xH yL yH data
            w, h = d[4] | d[5] << 8, d[6] | d[7] << 8
            img = _bits_to_image(d[8:], (w + 7) // 8, h).crop((0, 0, w, h))
            self.print_line(feed=False)
            self._place(img)
            self.text.append(f"[image {w}x{h}]")

    def qr_function(self, data: bytes) -> bool:
        """GS ( k: returns False for functions this printer does not have (other symbols)."""
        if len(data) < 2:
            return False
        cn, fn, rest = data[0], data[1], data[2:]
        if cn != 49:  # PDF417, MaxiCode …: documented, skipped; nothing to draw
            return True
        if fn == 65:
            self.qr["model"] = rest[0] if rest else 50
        elif fn == 67 and rest:
            self.qr["size"] = max(1, min(16, rest[0]))
        elif fn == 69 and rest:
            self.qr["ec"] = rest[0]
        elif fn == 80:
            self.qr["data"] = rest[1:]
        elif fn == 81:
            self._draw_qr()
        return fn in (65, 67, 69, 80, 81, 82)

    def _draw_qr(self) -> None:
        payload = bytes(self.qr.get("data", b""))  # type: ignore[arg-type]
        if not payload:
            return
        code = qrcode.QRCode(box_size=int(self.qr.get("size", 3)), border=2,  # type: ignore[arg-type]
                             error_correction=QR_EC.get(int(self.qr.get("ec", 48)), QR_EC[48]))  # type: ignore[arg-type]
        code.add_data(payload)
        code.make(fit=True)
        img = code.make_image().get_image().convert("L")
        self.print_line(feed=False)
        self._place(Image.eval(img, lambda v: 255 - v))
        self.text.append(f"[QR] {payload.decode('utf-8', errors='replace')}")

    def barcode_cmd(self, args: bytes) -> None:
        m, data = args[0], args[1:].decode("ascii", errors="replace")
        names = {0: "upca", 1: "upce", 2: "ean13", 3: "ean8", 4: "code39", 5: "itf", 6: "codabar",
                 65: "upca", 66: "upce", 67: "ean13", 68: "ean8", 69: "code39", 70: "itf", 71: "codabar",
                 72: "code93", 73: "code128"}
        name = names.get(m, "barcode")
        text = data[2:] if name == "code128" and data[:1] == "{" else data
        modules = _barcode_modules(name, text)
        w, h = self.barcode["w"], self.barcode["h"]
        img = Image.new("L", (len(modules) * w, h + (CELL_H["a"] if self.barcode["hri"] else 0)), 0)
        draw = ImageDraw.Draw(img)
        for i, bit in enumerate(modules):
            if bit == "1":
                draw.rectangle((i * w, 0, i * w + w - 1, h - 1), fill=255)
        if self.barcode["hri"]:
            x = max(0, (img.width - len(text) * CELL_W["a"]) // 2)
            for ch in text:
                img.paste(glyph(ch), (x, h))
                x += CELL_W["a"]
        self.print_line(feed=False)
        self._place(img)
        self.text.append(f"[barcode {name}] {text}")

    def feed_dots(self, dots: int) -> None:
        self.print_line(feed=False)
        if dots:
            self.strips.append(Image.new("L", (self.width, dots), 0))

    def take(self) -> tuple[Image.Image, str]:
        """The cut receipt as a black-on-white image and its text."""
        self.print_line(feed=False)
        height = max(1, sum(s.height for s in self.strips))
        page = Image.new("L", (self.width, height), 0)
        y = 0
        for s in self.strips:
            page.paste(s, (0, y))
            y += s.height
        text = "\n".join(self.text) + "\n"
        self.strips, self.text, self.faulted = [], [], False
        return Image.eval(page, lambda v: 255 - v), text

    def reset(self) -> None:
        """ESC @: styles back to power-on values; what is already printed stays on the paper."""
        self.print_line(feed=False)
        self.style, self.align, self.line_spacing = Style(), 0, DEFAULT_LINE_SPACING

    def set(self, **changes: object) -> None:
        self.style = replace(self.style, **changes)  # type: ignore[arg-type]


def _bits_to_image(data: bytes, width_bytes: int, height: int) -> Image.Image:
    data = data.ljust(width_bytes * height, b"\x00")
    img = Image.frombytes("1", (width_bytes * 8, height), bytes(data[:width_bytes * height]))
    return img.convert("L")


def _barcode_modules(name: str, text: str) -> str:
    """Bars as "1"/"0" modules from python-barcode; an unknown symbology draws a framed box."""
    try:
        import barcode as pybarcode

        cls = pybarcode.get_barcode_class({"upca": "upca", "ean13": "ean13", "ean8": "ean8", "code39": "code39",
                                           "itf": "itf", "codabar": "codabar", "code128": "code128"}[name])
        kwargs = {"add_checksum": False} if name == "code39" else {}
        return "".join(cls(text, **kwargs).build())
    except Exception as exc:  # python-barcode refuses data the printer might accept; draw a frame instead
        log.info("virtual_printer.barcode_fallback symbology=%s error=%s", name, exc)
        return "1" + "0" * 60 + "1"


def apply(paper: Paper, cmd: Cmd | TextRun) -> bool:
    """Apply one command; returns False for a command the virtual printer does not know."""
    from drivers.printer.virtual.commands import HANDLERS

    if isinstance(cmd, TextRun):
        paper.text_run(cmd)
        return True
    handler = HANDLERS.get(cmd.name)
    if handler is None:
        return cmd.name != "unknown"  # documented and skipped by its length: drawer kick, buzzer …
    result = handler(paper, cmd.args)
    return result is not False
