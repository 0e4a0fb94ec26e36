"""QR decoders: the three engines as-is (bench baselines) and the station's pipeline built on them.

The pipeline works on the grey framing-guide region; which engine goes first is a camera-profile
setting, chosen by the measurements in docs/scanner.md.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
import zxingcpp
from pyzbar import pyzbar

log = logging.getLogger(__name__)

_QR_ONLY = [pyzbar.ZBarSymbol.QRCODE]
_ZX_QR = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


class Decoder(Protocol):
    """Anything that turns one frame (BGR or grey numpy array) into the payloads it shows."""

    name: str

    def decode(self, frame: np.ndarray) -> list[bytes]: ...


@dataclass(frozen=True)
class Roi:
    """The framing guide drawn on screen, as fractions of the frame: codes are held up inside it."""

    x: float = 0.0
    y: float = 0.0
    w: float = 1.0
    h: float = 1.0

    def rect(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Pixel rectangle (x, y, w, h) inside a width × height frame."""
        x0, y0 = int(self.x * width), int(self.y * height)
        x1, y1 = int(round((self.x + self.w) * width)), int(round((self.y + self.h) * height))
        return x0, y0, max(1, min(width, x1) - x0), max(1, min(height, y1) - y0)


def to_gray(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if frame.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        return cv2.cvtColor(frame, code)
    return frame


def _unique(found: list[bytes]) -> list[bytes]:
    return list(dict.fromkeys(found))


class PlainZbar:
    """pyzbar exactly as a newcomer would call it: the raw frame, every symbology."""

    name = "zbar-raw"

    def decode(self, frame: np.ndarray) -> list[bytes]:
        return _unique([s.data for s in pyzbar.decode(frame)])


class ZxingDecoder:
    """zxing-cpp on the grey frame (it binarises locally and tries inverted codes itself)."""

    name = "zxing"

    def __init__(self, try_downscale: bool = True) -> None:
        self.try_downscale = try_downscale

    def decode(self, frame: np.ndarray) -> list[bytes]:
        found = zxingcpp.read_barcodes(to_gray(frame), formats=_ZX_QR,
                                       try_rotate=False, try_downscale=self.try_downscale, try_invert=True)
        return _unique([bytes(b.bytes) for b in found if b.valid])


class OpenCvDecoder:
    """OpenCV's QRCodeDetector (detect + decode, several codes per frame)."""

    name = "opencv"

    def __init__(self) -> None:
        self._detector = cv2.QRCodeDetector()

    def decode(self, frame: np.ndarray) -> list[bytes]:
        try:
            ok, texts, _, _ = self._detector.detectAndDecodeMulti(to_gray(frame))
        except cv2.error:
            return []
        # OpenCV hands back str (decoded as Latin-1/UTF-8 internally), so raw bytes are approximated.
        return _unique([t.encode("utf-8", "surrogateescape") for t in (texts or ()) if ok and t])


class QrPipeline:
    """The station's decoder: cheap passes first, the expensive ones only for frames that need them.

    primary="zxing" (measured fastest and most robust, see docs/scanner.md): zxing-cpp on the grey
    framing-guide region; the zbar passes run only when zxing saw a code it could not read.
    primary="zbar": the zbar passes first, zxing-cpp as the fallback for frames where they find nothing.
    """

    name = "pipeline"

    def __init__(self, roi: Roi | None = None, decode_width: int = 640, primary: str = "zxing",
                 fallback: bool = True) -> None:
        if primary not in ("zxing", "zbar"):
            raise ValueError(f"primary must be zxing or zbar, got {primary!r}")
        self.roi = roi or Roi()
        self.decode_width = decode_width
        self.primary = primary
        self.fallback = fallback
        self._clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))

    def _zxing(self, region: np.ndarray) -> tuple[list[bytes], bool]:
        """Payloads read, and whether a code was seen that could not be read."""
        seen = zxingcpp.read_barcodes(region, formats=_ZX_QR, try_rotate=False,
                                      try_downscale=True, try_invert=True, return_errors=True)
        return [bytes(b.bytes) for b in seen if b.valid], any(not b.valid for b in seen)

    def _zbar_passes(self, region: np.ndarray) -> list[bytes]:
        h, w = region.shape[:2]
        small = region
        if w > self.decode_width:
            f = self.decode_width / w
            small = cv2.resize(region, (self.decode_width, max(1, int(h * f))), interpolation=cv2.INTER_AREA)
        # plain, then inverted (dark-mode phones), then contrast-normalised (dim corners, glare)
        for img in (small, cv2.bitwise_not(small), self._clahe.apply(small)):
            found = [s.data for s in pyzbar.decode(img, symbols=_QR_ONLY)]
            if found:
                return found
        return []

    def region(self, frame: np.ndarray) -> np.ndarray:
        """The grey framing-guide region of a frame (a view, not a copy)."""
        gray = to_gray(frame)
        x, y, w, h = self.roi.rect(gray.shape[1], gray.shape[0])
        return gray[y:y + h, x:x + w]

    def decode(self, frame: np.ndarray) -> list[bytes]:
        region = self.region(frame)
        if self.primary == "zxing":
            found, unread = self._zxing(region)
            if unread and self.fallback:
                found += self._zbar_passes(region)
            return _unique(found)
        found = self._zbar_passes(region)
        if not found and self.fallback:
            found, _ = self._zxing(region)
        return _unique(found)


DECODERS: dict[str, type] = {
    "pipeline": QrPipeline,
    "zbar-raw": PlainZbar,
    "zxing": ZxingDecoder,
    "opencv": OpenCvDecoder,
}
