"""UI settings (the `[ui]` table of the station config when present): timeouts, DPI, starting theme."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class UiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    idle_s: float = Field(default=60.0, gt=0, le=3600, description="quiet time before 'still there?'")
    countdown_s: float = Field(default=10.0, gt=0, le=120, description="'still there?' countdown")
    dpi: float = Field(default=102.0, ge=50, le=600, description="screen DPI, for 15 mm touch targets")
    min_target_mm: float = Field(default=15.0, ge=7, le=40)
    lang: Literal["zh_CN", "en"] = "zh_CN"
    large_text: bool = False
    high_contrast: bool = False
    low_reach: bool = False
    width: int = Field(default=1080, ge=320)
    height: int = Field(default=1920, ge=320)
    receipts_dir: Path | None = Field(default=None, description="virtual printer output, for diagnostics")
    attract_slide_s: float = Field(default=6.0, gt=0, le=120)
