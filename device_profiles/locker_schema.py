"""Schema of a locker model: lives in `mallcommon.schemas.locker` (the centre validates bundles with it)."""
from mallcommon.schemas.locker import LockerLayout, LockerProfile, LockerSensors, LockerTimeouts

__all__ = ["LockerLayout", "LockerProfile", "LockerSensors", "LockerTimeouts"]
