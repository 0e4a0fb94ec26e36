"""The camera protocol every frame source speaks, its status, and the latest-frame slot they share."""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

Clock = Callable[[], float]


class ScannerError(Exception):
    """Base of the scanner's errors; `code` is stable for the UI, the message is safe to show staff."""

    code = "scanner_error"


@dataclass(frozen=True)
class CameraStatus:
    """What diagnostics show: link state, frame rate, staleness and how fast frames are decoded."""

    connected: bool
    fps: float = 0.0
    last_frame_age_s: float | None = None
    decode_rate: float = 0.0  # frames decoded per second by the scan service
    decode_ms: float | None = None  # median decode time of recent frames
    reconnects: int = 0
    error: str | None = None


class FrameSource(Protocol):
    """A camera: the latest frame wins, older frames are dropped rather than queued."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def read(self) -> tuple[np.ndarray | None, float]:
        """The newest frame (BGR) and its capture time on the source's clock; (None, 0.0) before any."""
        ...

    def status(self) -> CameraStatus: ...

    def latest_frame(self) -> np.ndarray | None: ...


class LatestFrame:
    """A one-frame mailbox: writers replace, readers see the newest; keeps a short rate history."""

    def __init__(self, clock: Clock = time.monotonic, window: int = 30) -> None:
        self._clock = clock
        self._lock = threading.Condition()
        self._frame: np.ndarray | None = None
        self._ts = 0.0
        self._times: deque[float] = deque(maxlen=window)

    def put(self, frame: np.ndarray) -> float:
        ts = self._clock()
        with self._lock:
            self._frame, self._ts = frame, ts
            self._times.append(ts)
            self._lock.notify_all()
        return ts

    def get(self) -> tuple[np.ndarray | None, float]:
        with self._lock:
            return self._frame, self._ts

    def wait_newer(self, ts: float, timeout: float) -> bool:
        """Block until a frame newer than ts arrives (or timeout); True if one did."""
        with self._lock:
            return self._lock.wait_for(lambda: self._ts > ts, timeout)

    def clear(self) -> None:
        with self._lock:
            self._frame = None
            self._times.clear()

    def fps(self) -> float:
        with self._lock:
            times = list(self._times)
        if len(times) < 2:
            return 0.0
        # a stalled camera must not keep reporting its last good rate
        span = max(times[-1] - times[0], self._clock() - times[-1])
        return (len(times) - 1) / span if span > 0 else 0.0

    def age(self) -> float | None:
        with self._lock:
            return None if not self._times else self._clock() - self._ts


def save_frame(frame: np.ndarray, path: Path) -> None:
    """Write one frame as an image. Frames stay in memory otherwise (privacy): staff diagnostics only."""
    if not cv2.imwrite(str(path), frame):
        raise ScannerError(f"could not write frame to {path}")
