"""Real camera capture: a thread over cv2.VideoCapture, latest frame wins, reconnect with backoff."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from device_profiles.camera_schema import CameraProfile
from drivers.scanner.frames import CameraStatus, Clock, LatestFrame

log = logging.getLogger(__name__)

_ROTATE = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


def parse_source(source: int | str) -> int | str:
    """"0" → device index 0; anything else is a device path, video file or image-sequence pattern."""
    if isinstance(source, str) and source.isdigit():
        return int(source)
    return source


class CameraCapture:
    """Reads one camera on its own thread; a lost camera is reopened with exponential backoff."""

    def __init__(self, profile: CameraProfile, source: int | str, *, clock: Clock = time.monotonic,
                 opener: Callable[[int | str], Any] | None = None) -> None:
        self.profile = profile
        self.source = parse_source(source)
        self._clock = clock
        self._opener = opener or cv2.VideoCapture
        self._slot = LatestFrame(clock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connected = False
        self._reconnects = 0
        self._error: str | None = None
        # a file plays at the profile's rate, as a camera would deliver it
        self._paced = isinstance(self.source, str) and Path(self.source).is_file()

    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="camera-capture", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        self._thread = None
        self._connected = False

    def read(self) -> tuple[np.ndarray | None, float]:
        return self._slot.get()

    def latest_frame(self) -> np.ndarray | None:
        return self._slot.get()[0]

    def wait_newer(self, ts: float, timeout: float) -> bool:
        return self._slot.wait_newer(ts, timeout)

    def status(self) -> CameraStatus:
        return CameraStatus(connected=self._connected, fps=round(self._slot.fps(), 2),
                            last_frame_age_s=self._slot.age(), reconnects=self._reconnects, error=self._error)

    def _open(self) -> Any | None:
        cap = self._opener(self.source)
        if not cap.isOpened():
            cap.release()
            return None
        p = self.profile
        if not isinstance(self.source, str) or self.source.startswith("/dev/"):
            if p.fourcc:
                cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*p.fourcc))
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, p.resolution.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, p.resolution.height)
            cap.set(cv2.CAP_PROP_FPS, p.fps)
            # one buffered frame: a queue of old frames would make the shopper wait for the past
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            if p.focus != "auto":
                cap.set(cv2.CAP_PROP_AUTOFOCUS, 0)
                if isinstance(p.focus, int):
                    cap.set(cv2.CAP_PROP_FOCUS, p.focus)
            if p.exposure != "auto":
                cap.set(cv2.CAP_PROP_AUTO_EXPOSURE, 1)
                cap.set(cv2.CAP_PROP_EXPOSURE, float(p.exposure))
        return cap

    def _orient(self, frame: np.ndarray) -> np.ndarray:
        if self.profile.rotation:
            frame = cv2.rotate(frame, _ROTATE[self.profile.rotation])
        if self.profile.mirror:
            frame = cv2.flip(frame, 1)
        return frame

    def _run(self) -> None:
        rc = self.profile.reconnect
        backoff = rc.backoff_initial_s
        period = 1.0 / self.profile.fps
        while not self._stop.is_set():
            cap = self._open()
            if cap is None:
                self._connected = False
                self._error = "camera not found"
                log.warning("camera.open_failed source=%s retry_in_s=%.1f", self.source, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, rc.backoff_max_s)
                continue
            if self._reconnects or self._error:
                log.info("camera.connected source=%s reconnects=%d", self.source, self._reconnects)
            self._connected, self._error = True, None
            backoff = rc.backoff_initial_s
            failures = 0
            try:
                while not self._stop.is_set() and failures < rc.max_read_failures:
                    ok, frame = cap.read()
                    if not ok or frame is None:
                        failures += 1
                        continue
                    failures = 0
                    self._slot.put(self._orient(frame))
                    if self._paced:
                        self._stop.wait(period)
            finally:
                cap.release()
            if not self._stop.is_set():
                self._connected = False
                self._error = "camera lost"
                self._reconnects += 1
                log.warning("camera.lost source=%s reconnects=%d", self.source, self._reconnects)
                self._stop.wait(backoff)
