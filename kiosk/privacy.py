"""The station's personal-data rules live in `mallcommon.privacy` (the centre needs them too)."""
from __future__ import annotations

from mallcommon.privacy import PhoneInvalid, mask_phone, normalize_phone, scrub

__all__ = ["PhoneInvalid", "mask_phone", "normalize_phone", "scrub"]
