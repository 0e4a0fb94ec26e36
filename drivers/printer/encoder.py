"""Turns a ReceiptLayout into ESC/POS bytes for one printer profile, through python-escpos's Dummy printer.

Chinese goes as GB18030 in Chinese mode (FS &) on printers with a CJK font, as raster lines otherwise;
QR codes go native (GS ( k) where the profile allows, as python-escpos raster images otherwise.
"""
from __future__ import annotations

import contextlib
import io
from typing import Literal

from escpos.printer import Dummy
from PIL import ImageOps

from device_profiles.printer_schema import PrinterProfile
from drivers.printer.glyphs import SCALES, text_line_image
from drivers.printer.layout import Barcode, Block, Feed, Qr, ReceiptLayout, Row, Rule, Text
from drivers.printer.textwidth import justify, wrap

QrMode = Literal["auto", "native", "raster"]

ESC, FS, GS = b"\x1b", b"\x1c", b"\x1d"
CHINESE_ON = FS + b"&"
CHINESE_OFF = FS + b"."
_EC = {"L": 0, "M": 1, "Q": 2, "H": 3}


class _Writer:
    def __init__(self, profile: PrinterProfile, qr_mode: QrMode) -> None:
        self.profile = profile
        self.qr_native = profile.qr.native if qr_mode == "auto" else qr_mode == "native"
        self.cjk = profile.cjk == "gb18030"
        self.out = Dummy(profile=profile.escpos_profile)
        self.state: dict[str, object] = {"align": "left", "bold": False, "underline": False, "size": (1, 1)}

    def raw(self, data: bytes) -> None:
        self.out._raw(data)

    def begin(self) -> None:
        self.raw(ESC + b"@")
        if self.cjk:
            self.raw(CHINESE_ON)

    def style(self, align: str = "left", bold: bool = False, underline: bool = False,
              size: str = "normal") -> None:
        """Send only what changed, so a receipt stays small on 9600-baud serial printers."""
        sx, sy = SCALES[size]
        want = {"align": align, "bold": bold, "underline": underline, "size": (sx, sy)}
        if want["align"] != self.state.get("align"):
            self.raw(ESC + b"a" + bytes([{"left": 0, "center": 1, "right": 2}[align]]))
        if want["bold"] != self.state.get("bold"):
            self.raw(ESC + b"E" + bytes([int(bold)]))
        if want["underline"] != self.state.get("underline"):
            self.raw(ESC + b"-" + bytes([int(underline)]))
            if self.cjk:
                self.raw(FS + b"-" + bytes([int(underline)]))
        if want["size"] != self.state.get("size"):
            self.raw(GS + b"!" + bytes([(sx - 1) << 4 | (sy - 1)]))
        self.state = want

    def line(self, text: str, align: str = "left", bold: bool = False, underline: bool = False,
             size: str = "normal") -> None:
        if not self.cjk and not text.isascii():
            # No CJK font in the printer: the line becomes a raster image of the same look, as wide as its ink.
            img = text_line_image(text, self.profile.dots_per_line, "left", size, bold, underline)
            box = ImageOps.invert(img.convert("L")).getbbox()
            if box:
                img = img.crop((0, 0, min(img.width, (box[2] + 7) // 8 * 8), img.height))
            self.style(align)
            self.out.image(img, impl=self.profile.raster)
            return
        self.style(align, bold, underline, size)
        self.raw(text.encode("gb18030" if self.cjk else "ascii") + b"\n")

    def block(self, b: Block) -> None:
        cols = self.profile.columns
        if isinstance(b, Text):
            sx, _ = SCALES[b.size]
            for part in wrap(b.text, cols // sx, self.cjk):
                self.line(part, b.align, b.bold, b.underline, b.size)
        elif isinstance(b, Row):
            for part in justify(b.label, b.value, cols, self.cjk):
                self.line(part, "left", b.bold)
        elif isinstance(b, Rule):
            self.line(b.char * cols)
        elif isinstance(b, Qr):
            self.qr(b)
        elif isinstance(b, Barcode):
            self.style("center")
            with contextlib.redirect_stdout(io.StringIO()):  # python-escpos print()s which renderer it chose
                self.out.barcode(b.data, b.symbology, height=64, width=2, pos="BELOW", font="A",
                                 align_ct=False, check=False)
            self.raw(b"\n")
        elif isinstance(b, Feed):
            self.raw(b"\n" * b.lines)

    def qr(self, b: Qr) -> None:
        self.style("center")
        q = self.profile.qr
        if self.qr_native:
            self.out.qr(b.data, ec=_EC[q.ec], size=q.module_dots, native=True)
            self.raw(b"\n")
        else:
            self.out.qr(b.data, ec=_EC[q.ec], size=q.module_dots, native=False,
                        image_arguments={"impl": self.profile.raster, "center": False})
        if b.caption:
            for part in wrap(b.caption, self.profile.columns, self.cjk):
                self.line(part, "center")

    def end(self) -> bytes:
        self.style("left")
        self.raw(ESC + b"d" + bytes([self.profile.feed_lines_before_cut]))
        if self.profile.cutter != "none":
            self.out.cut(mode="PART" if self.profile.cutter == "partial" else "FULL", feed=False)
        return bytes(self.out.output)


def encode(layout: ReceiptLayout, profile: PrinterProfile, qr_mode: QrMode = "auto") -> bytes:
    """The complete job for one receipt: init, body, feed, cut."""
    w = _Writer(profile, qr_mode)
    w.begin()
    for b in layout.blocks:
        w.block(b)
    return w.end()
