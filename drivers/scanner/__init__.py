"""Camera QR scanning: frame sources (real camera, simulated camera), decoders and the decode pipeline."""
from device_profiles.camera_schema import CameraProfile
from drivers.scanner.capture import CameraCapture
from drivers.scanner.decoders import (
    DECODERS,
    Decoder,
    OpenCvDecoder,
    PlainZbar,
    QrPipeline,
    Roi,
    ZxingDecoder,
)
from drivers.scanner.frames import CameraStatus, FrameSource, LatestFrame, ScannerError, save_frame
from drivers.scanner.scene import Scene, render
from drivers.scanner.simcam import SimulatedCamera, make_scene, write_control

__all__ = [
    "DECODERS", "CameraCapture", "CameraStatus", "Decoder", "FrameSource", "LatestFrame",
    "OpenCvDecoder", "PlainZbar", "QrPipeline", "Roi", "ScannerError", "Scene", "SimulatedCamera",
    "ZxingDecoder", "make_scene", "pipeline_for", "render", "save_frame", "write_control",
]


def pipeline_for(profile: CameraProfile) -> QrPipeline:
    """The decode pipeline a camera profile asks for (framing guide + decode settings)."""
    g, d = profile.framing_guide, profile.decode
    return QrPipeline(Roi(g.x, g.y, g.w, g.h), decode_width=d.decode_width, primary=d.primary,
                      fallback=d.fallback)
