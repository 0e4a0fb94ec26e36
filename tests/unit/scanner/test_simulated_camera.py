"""The simulated camera: deterministic frames, latest frame wins, unplug/plug, steering by control file."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.scanner import QrPipeline, SimulatedCamera, write_control
from drivers.scanner.scene import Scene, render
from tests.fixtures.scanner import SettableClock


def test_same_seed_same_frame_and_noise_varies_per_frame() -> None:
    scene = Scene(noise=6, seed=11).with_payloads("I1.U-0001")
    assert np.array_equal(render(scene, 640, 480, 1), render(scene, 640, 480, 1))
    assert not np.array_equal(render(scene, 640, 480, 1), render(scene, 640, 480, 2))


def test_frames_are_produced_at_most_at_the_frame_rate() -> None:
    clock = SettableClock(100.0)
    cam = SimulatedCamera(320, 240, fps=10, clock=clock)
    cam.start()
    _, t1 = cam.read()
    _, t2 = cam.read()
    assert t1 == t2  # same instant: the same frame, no backlog
    clock.advance(0.1)
    _, t3 = cam.read()
    assert t3 > t2


def test_show_and_clear_change_what_is_seen() -> None:
    clock = SettableClock(0.0)
    cam = SimulatedCamera(640, 480, fps=10, clock=clock)
    cam.start()
    cam.show("I1.U-0042", dark_mode=True, tilt=15)
    frame, _ = cam.read()
    assert QrPipeline().decode(frame) == [b"I1.U-0042"]
    cam.clear()
    clock.advance(0.2)
    frame, _ = cam.read()
    assert QrPipeline().decode(frame) == []


def test_unknown_scene_knob_is_named() -> None:
    with pytest.raises(ValueError, match="sparkle"):
        SimulatedCamera().show("I1.X", sparkle=3)


def test_unplugged_camera_reports_it_and_stops_delivering() -> None:
    clock = SettableClock(0.0)
    cam = SimulatedCamera(320, 240, fps=10, clock=clock)
    cam.start()
    _, t1 = cam.read()
    cam.unplug()
    clock.advance(5)
    _, t2 = cam.read()
    status = cam.status()
    assert t2 == t1 and not status.connected and status.last_frame_age_s == pytest.approx(5.0)
    cam.plug()
    _, t3 = cam.read()
    assert t3 > t1 and cam.status().connected


def test_image_files_are_played_in_turn(tmp_path: Path) -> None:
    files = []
    for i, payload in enumerate(["I1.A-0001", "I1.B-0002"]):
        files.append(tmp_path / f"{i}.png")
        cv2.imwrite(str(files[-1]), render(Scene(seed=i).with_payloads(payload), 320, 240))
    clock = SettableClock(0.0)
    cam = SimulatedCamera(320, 240, fps=10, images=files, clock=clock)
    cam.start()
    seen = set()
    for _ in range(2):
        clock.advance(0.1)
        seen.update(QrPipeline().decode(cam.read()[0]))
    assert seen == {b"I1.A-0001", b"I1.B-0002"}


def test_control_file_from_another_process_shows_and_expires(tmp_path: Path) -> None:
    clock, wall = SettableClock(0.0), SettableClock(1000.0)
    cam = SimulatedCamera(640, 480, fps=10, clock=clock, wall_clock=wall, control_dir=tmp_path)
    cam.start()
    write_control(tmp_path, [b"I1.U-0007"], seconds=5, wall_clock=wall, size=0.4)
    clock.advance(1)
    assert QrPipeline().decode(cam.read()[0]) == [b"I1.U-0007"]
    wall.advance(6)
    clock.advance(1)
    assert QrPipeline().decode(cam.read()[0]) == []


def test_control_file_can_unplug_the_camera(tmp_path: Path) -> None:
    clock = SettableClock(0.0)
    cam = SimulatedCamera(320, 240, fps=10, clock=clock, control_dir=tmp_path)
    cam.start()
    write_control(tmp_path, plugged=False)
    clock.advance(1)
    cam.read()
    assert not cam.status().connected
    write_control(tmp_path)  # keeps it unplugged: only `plug` plugs it back
    clock.advance(1)
    cam.read()
    assert not cam.status().connected
    write_control(tmp_path, plugged=True)
    clock.advance(1)
    cam.read()
    assert cam.status().connected


def test_video_file_is_played_and_looped(tmp_path: Path) -> None:
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"MJPG"), 10, (320, 240))
    for i in range(3):
        writer.write(render(Scene(size=0.5, seed=i).with_payloads(f"I1.V-000{i}"), 320, 240))
    writer.release()
    clock = SettableClock(0.0)
    cam = SimulatedCamera(320, 240, fps=10, video=clip, clock=clock)
    cam.start()
    seen = []
    for _ in range(5):  # three frames, then from the start again
        clock.advance(0.1)
        seen += QrPipeline().decode(cam.read()[0])
    cam.stop()
    assert seen == [b"I1.V-0000", b"I1.V-0001", b"I1.V-0002", b"I1.V-0000", b"I1.V-0001"]
