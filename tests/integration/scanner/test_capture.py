"""CameraCapture over a real cv2.VideoCapture: frames flow, a lost camera shows in status and recovers."""
from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from device_profiles.camera_schema import CameraProfile
from drivers.scanner import CameraCapture, QrPipeline, Scene, render
from tests.fixtures.scanner import wait_until as _until

PAYLOAD = b"I1.U-0314"


def _profile(**extra: object) -> CameraProfile:
    return CameraProfile.model_validate({
        "kind": "camera", "model": "test", "resolution": {"width": 320, "height": 240}, "fps": 50,
        "reconnect": {"backoff_initial_s": 0.05, "backoff_max_s": 0.2, "max_read_failures": 2}, **extra})


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """A short MJPG clip of a phone showing a code: a camera we can unplug by moving the file away."""
    path = tmp_path / "camera.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (320, 240))
    assert writer.isOpened()
    for i in range(10):
        writer.write(render(Scene(size=0.5, seed=1).with_payloads(PAYLOAD), 320, 240, frame_no=i))
    writer.release()
    return path


def test_frames_flow_and_decode(clip: Path) -> None:
    cam = CameraCapture(_profile(), str(clip))
    cam.start()
    try:
        assert _until(lambda: cam.read()[0] is not None)
        assert QrPipeline().decode(cam.read()[0]) == [PAYLOAD]
        assert _until(lambda: cam.status().fps > 5)
        assert cam.status().connected
    finally:
        cam.stop()


def test_orientation_comes_from_the_profile(clip: Path) -> None:
    cam = CameraCapture(_profile(rotation=90, mirror=True), str(clip))
    cam.start()
    try:
        assert _until(lambda: cam.latest_frame() is not None)
        frame = cam.latest_frame()
        assert frame.shape[:2] == (320, 240)  # rotated: portrait
        assert QrPipeline().decode(frame) == [PAYLOAD]
    finally:
        cam.stop()


def test_unplugged_camera_shows_in_status_and_capture_recovers(clip: Path) -> None:
    cam = CameraCapture(_profile(), str(clip))
    cam.start()
    away = clip.with_suffix(".unplugged")
    try:
        assert _until(lambda: cam.status().connected and cam.read()[0] is not None)
        clip.rename(away)  # the clip ends and cannot be reopened: the camera is gone
        assert _until(lambda: not cam.status().connected)
        lost = cam.status()
        assert lost.error in ("camera lost", "camera not found") and lost.reconnects >= 1
        _, ts_lost = cam.read()
        away.rename(clip)
        assert _until(lambda: cam.status().connected and cam.read()[1] > ts_lost)
        assert QrPipeline().decode(cam.read()[0]) == [PAYLOAD]
    finally:
        cam.stop()


def test_no_camera_at_all_keeps_retrying_without_crashing(tmp_path: Path) -> None:
    cam = CameraCapture(_profile(), str(tmp_path / "missing.avi"))
    cam.start()
    try:
        assert _until(lambda: cam.status().error == "camera not found")
        assert cam.read() == (None, 0.0) and not cam.status().connected
    finally:
        cam.stop()
