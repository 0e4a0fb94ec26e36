"""Schema of a receipt printer model (filled in by the receipts work)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PrinterProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["printer"]
    model: str = Field(min_length=1, max_length=64)
