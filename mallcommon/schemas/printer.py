"""Schema of a receipt printer model: paper, fonts, CJK mode, QR, cutter, status, python-escpos profile."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from mallcommon.schemas import Strict


def use_private_escpos_cache() -> None:
    """Point python-escpos's capabilities pickle at one private folder before it is first imported.

    Left alone it writes a ~100 KB pickle into a new temp dir per process (it still makes the empty dir);
    a shared folder would let another user plant the pickle it loads. capabilities.json ships in the package.
    """
    if "ESCPOS_CAPABILITIES_PICKLE_DIR" in os.environ:
        return
    folder = Path(tempfile.gettempdir()) / f"escpos-capabilities-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        if folder.stat().st_uid != os.getuid() or folder.stat().st_mode & 0o077:
            return
    except OSError:
        return
    os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"] = str(folder)


use_private_escpos_cache()



class PrinterFonts(Strict):
    """Characters per line of the printer's half-width fonts (a CJK glyph takes two)."""

    a: int = Field(ge=16, le=80, description="Font A (12x24 dots) characters per line")
    b: int | None = Field(default=None, ge=16, le=100, description="Font B (9x17 dots) characters per line")


class PrinterQr(Strict):
    native: bool = Field(description="GS ( k QR in the printer; false = send the QR as a raster image")
    module_dots: int = Field(default=6, ge=1, le=16, description="dots per QR module")
    ec: Literal["L", "M", "Q", "H"] = "M"


class UsbInterface(Strict):
    vid: int = Field(ge=0, le=0xFFFF)
    pid: int = Field(ge=0, le=0xFFFF)


class SerialInterface(Strict):
    baudrate: int = Field(default=9600, ge=1200, le=921600)


class NetworkInterface(Strict):
    port: int = Field(default=9100, ge=1, le=65535)


class PrinterInterfaces(Strict):
    usb: UsbInterface | None = None
    serial: SerialInterface | None = None
    network: NetworkInterface | None = None


class PrinterProfile(Strict):
    kind: Literal["printer"]
    model: str = Field(min_length=1, max_length=64)
    vendor: str = Field(default="", max_length=64)
    paper_mm: Literal[58, 80]
    dots_per_line: int = Field(ge=256, le=832, description="printable dots across the paper")
    dpi: int = Field(default=203, ge=150, le=300)
    fonts: PrinterFonts
    cjk: Literal["gb18030", "none"] = Field(description="gb18030: FS & + GB18030 bytes; none: CJK as raster")
    qr: PrinterQr
    cutter: Literal["full", "partial", "none"]
    status: Literal["dle_eot", "none"] = Field(description="dle_eot: real-time status answers DLE EOT")
    raster: Literal["bitImageRaster", "bitImageColumn", "graphics"] = "bitImageRaster"
    escpos_profile: str = Field(min_length=1, description="python-escpos capability profile name")
    feed_lines_before_cut: int = Field(default=4, ge=0, le=10)
    interfaces: PrinterInterfaces = PrinterInterfaces()

    @field_validator("escpos_profile")
    @classmethod
    def _known_escpos_profile(cls, name: str) -> str:
        # capabilities.json ships inside python-escpos; reading it needs no network.
        from escpos.capabilities import CAPABILITIES

        if name not in CAPABILITIES["profiles"]:
            raise ValueError(f"not a python-escpos capability profile: {name!r}")
        return name

    @model_validator(mode="after")
    def _consistent(self) -> PrinterProfile:
        if self.dots_per_line // 12 < self.fonts.a:
            raise ValueError(f"fonts.a={self.fonts.a} does not fit {self.dots_per_line} dots (12 dots a character)")
        return self

    @property
    def columns(self) -> int:
        """Half-width columns of Font A on one line."""
        return self.fonts.a
