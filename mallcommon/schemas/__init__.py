"""The schemas of everything a station can be sent from the centre (issue 15, item 6), shared by both sides.

Device profiles (`locker`, `printer`, `camera`), the lending policy and prices (`policy`) and the mall's
content (`content`: shops, floor plans, events, 公开明示) are validated by these models at the station when it
loads them and at the centre before a bundle is stored (`mallcommon.bundle`). Pydantic models only: reading
files stays with the station (`device_profiles.schema`, `kiosk.content`, `kiosk.config`).
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Unknown keys are refused and a loaded value never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)
