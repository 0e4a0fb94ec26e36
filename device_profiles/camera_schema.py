"""Schema of a camera model (filled in by the scanner work)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CameraProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["camera"]
    model: str = Field(min_length=1, max_length=64)
