"""Simulated camera: image files, a video file, or a synthetic shopper holding up a code.

Another process steers it through a control file `<control_dir>/show.json` (written atomically by
`write_control`, e.g. from `python -m kiosk sim show-qr`); the camera re-reads it when it changes.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from device_profiles.camera_schema import CameraProfile
from drivers.scanner.frames import CameraStatus, Clock, LatestFrame
from drivers.scanner.scene import Scene, render

log = logging.getLogger(__name__)

CONTROL_FILE = "show.json"
SCENE_KNOBS = {f.name for f in dataclasses.fields(Scene)} - {"payloads"}


def make_scene(payloads: Sequence[str | bytes], **knobs: Any) -> Scene:
    """A Scene showing payloads; an unknown knob is a ValueError naming it."""
    unknown = set(knobs) - SCENE_KNOBS
    if unknown:
        raise ValueError(f"unknown scene knob(s) {sorted(unknown)}; known: {sorted(SCENE_KNOBS)}")
    if "center" in knobs:
        knobs["center"] = tuple(knobs["center"])
    if knobs.get("holder", "phone") not in ("phone", "receipt", "badge"):
        raise ValueError(f"holder must be phone, receipt or badge, got {knobs['holder']!r}")
    if not 0 < knobs.get("size", 0.35) <= 1.5:
        raise ValueError(f"size must be in (0, 1.5], got {knobs['size']!r}")
    return Scene(**knobs).with_payloads(*payloads)


def write_control(control_dir: Path, payloads: Sequence[bytes] = (), *, seconds: float | None = None,
                  plugged: bool | None = None, wall_clock: Clock = time.time, **knobs: Any) -> Path:
    """Tell a running SimulatedCamera what to show (nothing = clear) and whether it is plugged in
    (None keeps what the control file said)."""
    make_scene(payloads, **knobs)  # refuse bad knobs here, not in the station
    control_dir.mkdir(parents=True, exist_ok=True)
    path = control_dir / CONTROL_FILE
    if plugged is None:
        try:
            plugged = bool(json.loads(path.read_text(encoding="utf-8")).get("plugged", True))
        except (OSError, ValueError):
            plugged = True
    state = {"payloads_hex": [p.hex() for p in payloads], "scene": knobs, "plugged": plugged,
             "until": None if seconds is None else wall_clock() + seconds, "written": wall_clock()}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, path)
    return path


class SimulatedCamera:
    """A FrameSource that renders frames when read, at most `fps` per second (latest frame wins)."""

    def __init__(self, width: int = 640, height: int = 480, fps: float = 15.0, *,
                 images: Sequence[Path | str] = (), video: Path | str | None = None, seed: int = 0,
                 clock: Clock = time.monotonic, wall_clock: Clock = time.time,
                 control_dir: Path | None = None) -> None:
        self.width, self.height, self.fps = width, height, fps
        self._images: list[np.ndarray] = []
        for p in images:
            img = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if img is None:
                raise ValueError(f"image file could not be read: {p}")
            self._images.append(img)
        self._video_path = str(video) if video else None
        self._video: Any = None
        self._seed = seed
        self._clock, self._wall = clock, wall_clock
        self._control = control_dir / CONTROL_FILE if control_dir else None
        self._control_mtime = 0
        self._control_checked = -1.0
        self._until: float | None = None
        self._slot = LatestFrame(clock)
        self._lock = threading.Lock()
        self._scene: Scene | None = None
        self._running = False
        self._plugged = True
        self._frame_no = 0
        self._last_render = -1e9
        self._rendered: tuple[Scene | None, np.ndarray | None] = (None, None)
        self.profile: CameraProfile | None = None

    @classmethod
    def from_profile(cls, profile: CameraProfile, **kwargs: Any) -> SimulatedCamera:
        """The camera model's resolution and rate; the scan service takes its framing guide from it."""
        cam = cls(profile.resolution.width, profile.resolution.height, profile.fps, **kwargs)
        cam.profile = profile
        return cam

    @classmethod
    def for_station(cls, profile: CameraProfile, control_dir: Path) -> SimulatedCamera:
        """The running station's camera, steered by `python -m kiosk sim show-qr` through control_dir."""
        return cls.from_profile(profile, control_dir=control_dir)

    # what the shopper does ---------------------------------------------------------------------
    def show(self, payload: str | bytes | Sequence[str | bytes], **scene: Any) -> None:
        """Hold up one code (or several: pass a list) with the given scene knobs (size, tilt, dark_mode …)."""
        payloads = [payload] if isinstance(payload, str | bytes) else list(payload)
        with self._lock:
            self._scene = make_scene(payloads, seed=scene.pop("seed", self._seed), **scene)
            self._until = None
            self._last_render = -1e9

    def clear(self) -> None:
        """Nothing in front of the camera."""
        with self._lock:
            self._scene = None
            self._until = None
            self._last_render = -1e9

    def unplug(self) -> None:
        with self._lock:
            self._plugged = False

    def plug(self) -> None:
        with self._lock:
            self._plugged = True

    # FrameSource -------------------------------------------------------------------------------
    def start(self) -> None:
        self._running = True

    def stop(self) -> None:
        self._running = False
        if self._video is not None:
            self._video.release()
            self._video = None

    def read(self) -> tuple[np.ndarray | None, float]:
        self._poll_control()
        with self._lock:
            if self._running and self._plugged and self._clock() - self._last_render >= 1.0 / self.fps - 1e-9:
                self._last_render = self._clock()
                frame = self._next_frame()
                if frame is not None:
                    self._slot.put(frame)
        return self._slot.get()

    def latest_frame(self) -> np.ndarray | None:
        return self._slot.get()[0]

    def status(self) -> CameraStatus:
        connected = self._running and self._plugged
        return CameraStatus(connected=connected, fps=round(self._slot.fps(), 2) if connected else 0.0,
                            last_frame_age_s=self._slot.age(), error=None if connected else "camera lost")

    # internals ---------------------------------------------------------------------------------
    def _next_frame(self) -> np.ndarray | None:
        self._frame_no += 1
        if self._until is not None and self._wall() >= self._until:
            self._scene, self._until = None, None
        if self._scene is not None or not (self._images or self._video_path):
            scene = self._scene or Scene(seed=self._seed)
            if scene.noise == 0 and scene == self._rendered[0]:
                return self._rendered[1]  # a still scene without sensor noise renders the same pixels
            frame = render(scene, self.width, self.height, frame_no=self._frame_no)
            self._rendered = (scene, frame)
            return frame
        if self._images:
            return self._images[self._frame_no % len(self._images)].copy()
        return self._read_video()

    def _read_video(self) -> np.ndarray | None:
        if self._video is None and self._video_path:
            self._video = cv2.VideoCapture(self._video_path)
        ok, frame = self._video.read()
        if not ok:  # loop the clip
            self._video.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._video.read()
        return frame if ok else None

    def _poll_control(self) -> None:
        if self._control is None or self._clock() - self._control_checked < 0.1:
            return
        self._control_checked = self._clock()
        try:
            mtime = self._control.stat().st_mtime_ns
        except FileNotFoundError:
            return
        if mtime == self._control_mtime:
            return
        self._control_mtime = mtime
        try:
            state = json.loads(self._control.read_text(encoding="utf-8"))
            payloads = [bytes.fromhex(h) for h in state.get("payloads_hex", [])]
            scene = make_scene(payloads, **state.get("scene", {})) if payloads else None
        except (OSError, ValueError, TypeError) as exc:
            log.warning("simcam.control_bad file=%s error=%s", self._control, type(exc).__name__)
            return
        with self._lock:
            self._scene, self._until = scene, state.get("until")
            self._plugged = bool(state.get("plugged", True))
            self._last_render = -1e9
        log.info("simcam.control codes=%d plugged=%s", len(payloads), self._plugged)
