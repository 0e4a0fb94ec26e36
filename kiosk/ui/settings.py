"""UI settings (the `[ui]` table of the station config): defined in `kiosk.config` with the rest of the config,
so the config (which services read) imports nothing of the screens."""
from __future__ import annotations

from kiosk.config import UiSettings

__all__ = ["UiSettings"]
