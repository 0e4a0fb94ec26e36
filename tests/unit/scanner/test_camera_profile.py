"""Camera profiles: the shipped ones load, and mistakes name the file and the key."""
from __future__ import annotations

from pathlib import Path

import pytest

from device_profiles import ProfileError, load_profile
from device_profiles.camera_schema import CameraProfile
from drivers.scanner import SimulatedCamera, pipeline_for

CAMERAS = Path(__file__).resolve().parents[3] / "device_profiles" / "cameras"


def test_shipped_camera_profiles_load_and_include_720p_and_vga() -> None:
    profiles = [load_profile(p) for p in sorted(CAMERAS.glob("*.yaml"))]
    assert all(isinstance(p, CameraProfile) for p in profiles)
    sizes = {(p.resolution.width, p.resolution.height) for p in profiles}  # type: ignore[attr-defined]
    assert {(1280, 720), (640, 480)} <= sizes


def test_profile_drives_the_pipeline_and_the_simulated_camera() -> None:
    profile = load_profile(CAMERAS / "usb-720p.yaml")
    assert isinstance(profile, CameraProfile)
    pipeline = pipeline_for(profile)
    assert pipeline.roi.rect(1280, 720) == (256, 36, 768, 648)
    cam = SimulatedCamera.from_profile(profile)
    cam.start()
    frame, _ = cam.read()
    assert frame is not None and frame.shape == (720, 1280, 3)


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "cam.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_unknown_key_is_named(tmp_path: Path) -> None:
    p = _write(tmp_path, "kind: camera\nmodel: x\nresolution: {width: 640, height: 480}\nfps: 15\nzoom: 2\n")
    with pytest.raises(ProfileError) as err:
        load_profile(p)
    assert err.value.key == "zoom" and str(p) in str(err.value)


def test_framing_guide_outside_the_frame_is_refused(tmp_path: Path) -> None:
    p = _write(tmp_path, "kind: camera\nmodel: x\nresolution: {width: 640, height: 480}\nfps: 15\n"
                         "framing_guide: {x: 0.5, y: 0, w: 0.6, h: 1}\n")
    with pytest.raises(ProfileError, match="framing guide"):
        load_profile(p)


def test_bad_rotation_is_named(tmp_path: Path) -> None:
    p = _write(tmp_path, "kind: camera\nmodel: x\nresolution: {width: 640, height: 480}\nfps: 15\nrotation: 45\n")
    with pytest.raises(ProfileError) as err:
        load_profile(p)
    assert err.value.key == "rotation"


def test_station_camera_gets_the_profiles_framing_guide(scan_tokens, tmp_path: Path) -> None:
    from kiosk.services.scanning import ScanService

    profile = load_profile(CAMERAS / "usb-720p.yaml")
    assert isinstance(profile, CameraProfile)
    service = ScanService(SimulatedCamera.for_station(profile, tmp_path / "simcam"), scan_tokens)
    g = profile.framing_guide
    assert service.roi == (g.x, g.y, g.w, g.h) != (0.0, 0.0, 1.0, 1.0)
