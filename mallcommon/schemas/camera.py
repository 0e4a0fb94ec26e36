"""Schema of a camera model: capture format, orientation, framing guide and decode settings."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mallcommon.schemas import Strict


class Resolution(Strict):
    width: int = Field(ge=160, le=4096)
    height: int = Field(ge=120, le=4096)


class FramingGuide(Strict):
    """The rectangle drawn on screen that shoppers hold codes inside, as fractions of the frame."""

    x: float = Field(ge=0, lt=1)
    y: float = Field(ge=0, lt=1)
    w: float = Field(gt=0, le=1)
    h: float = Field(gt=0, le=1)

    @model_validator(mode="after")
    def _inside(self) -> FramingGuide:
        if self.x + self.w > 1.0 + 1e-9 or self.y + self.h > 1.0 + 1e-9:
            raise ValueError("framing guide must lie inside the frame (x + w <= 1, y + h <= 1)")
        return self


class DecodeSettings(Strict):
    primary: Literal["zxing", "zbar"] = Field(default="zxing", description="engine tried first")
    fallback: bool = True
    decode_width: int = Field(default=640, ge=160, le=4096, description="zbar passes downscale to this width")


class Reconnect(Strict):
    backoff_initial_s: float = Field(default=0.5, gt=0, le=60)
    backoff_max_s: float = Field(default=10.0, gt=0, le=600)
    max_read_failures: int = Field(default=5, ge=1, le=1000, description="failed reads in a row = camera lost")


class CameraProfile(Strict):
    kind: Literal["camera"]
    model: str = Field(min_length=1, max_length=64)
    vendor: str = Field(default="", max_length=64)
    resolution: Resolution
    fps: float = Field(gt=0, le=120)
    fourcc: str | None = Field(default=None, pattern=r"^[A-Z0-9 ]{4}$", description="e.g. MJPG for USB 2.0 at 720p")
    rotation: Literal[0, 90, 180, 270] = 0
    mirror: bool = False
    focus: Literal["auto", "fixed"] | int = Field(default="auto", description="auto, fixed, or a manual focus value")
    exposure: Literal["auto"] | float = Field(default="auto", description="auto or a manual exposure value")
    framing_guide: FramingGuide = FramingGuide(x=0.0, y=0.0, w=1.0, h=1.0)
    decode: DecodeSettings = DecodeSettings()
    reconnect: Reconnect = Reconnect()
