"""Schema of a camera model: lives in `mallcommon.schemas.camera` (the centre validates bundles with it)."""
from mallcommon.schemas.camera import CameraProfile, DecodeSettings, FramingGuide, Reconnect, Resolution

__all__ = ["CameraProfile", "DecodeSettings", "FramingGuide", "Reconnect", "Resolution"]
