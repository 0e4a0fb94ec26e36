"""Scan service: decodes camera frames off the caller's thread and turns payloads into verified scan events.

Every payload goes through TokenBook.classify (member codes are consumed there, so a replay is refused at
scan time). A payload seen again within debounce_s of its last sighting is the same scan, so a phone held
in view stays one scan. Payloads are never executed, and logged only through `redact`.
"""
from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from drivers.scanner.frames import CameraStatus, FrameSource, save_frame
from kiosk.tokens import (
    MAX_PAYLOAD,
    ItemLabel,
    LendingToken,
    MemberCode,
    SignedCode,
    StaffBadge,
    TokenBook,
    TokenRejected,
    redact,
)

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class FrameDecoder(Protocol):
    def decode(self, frame: Any) -> list[bytes]: ...


@dataclass(frozen=True)
class MemberScanned:
    code: MemberCode
    source: str = "camera"


@dataclass(frozen=True)
class LendingScanned:
    token: LendingToken
    source: str = "camera"


@dataclass(frozen=True)
class ItemScanned:
    label: ItemLabel
    source: str = "camera"


@dataclass(frozen=True)
class StaffScanned:
    badge: StaffBadge
    source: str = "camera"


@dataclass(frozen=True)
class SignedScanned:
    code: SignedCode
    source: str = "camera"


@dataclass(frozen=True)
class ScanRefused:
    """Not acted on. `reason` is a stable code (forged, expired, replayed, unknown, not_text, too_long …);
    `message` is safe to show; `hint` is the redacted payload (kind prefix + length), never its content."""

    reason: str
    message: str
    hint: str = ""
    source: str = "camera"


ScanEvent = MemberScanned | LendingScanned | ItemScanned | StaffScanned | SignedScanned | ScanRefused
Subscriber = Callable[[ScanEvent], None]


def _event_for(token: object, source: str) -> ScanEvent:
    if isinstance(token, MemberCode):
        return MemberScanned(token, source)
    if isinstance(token, LendingToken):
        return LendingScanned(token, source)
    if isinstance(token, ItemLabel):
        return ItemScanned(token, source)
    if isinstance(token, StaffBadge):
        return StaffScanned(token, source)
    if isinstance(token, SignedCode):
        return SignedScanned(token, source)
    raise TypeError(f"unexpected token type {type(token).__name__}")


@dataclass
class _Stats:
    decoded_at: deque[float] = field(default_factory=lambda: deque(maxlen=60))
    decode_ms: deque[float] = field(default_factory=lambda: deque(maxlen=60))
    frames: int = 0


class ScanService:
    """Watches a FrameSource (or none: keypad only) and publishes typed scan events to subscribers."""

    def __init__(self, source: FrameSource | None, tokens: TokenBook, clock: Clock = time.monotonic,
                 debounce_s: float = 3.0, decoder: FrameDecoder | None = None, poll_s: float = 0.01,
                 max_decode_fps: float = 15.0) -> None:
        self.source = source
        self.tokens = tokens
        self.clock = clock
        self.debounce_s = debounce_s
        if decoder is None and source is not None:
            from drivers.scanner import QrPipeline, pipeline_for

            # the camera model's framing guide and decode settings, when the source knows its profile
            profile = getattr(source, "profile", None)
            decoder = pipeline_for(profile) if profile is not None else QrPipeline()
        self.decoder = decoder
        self.poll_s = poll_s
        # a 30 fps camera need not be decoded 30 times a second: 15 keeps scans instant and halves idle CPU
        self.min_decode_interval_s = 1.0 / max_decode_fps if max_decode_fps > 0 else 0.0
        self._subs: list[Subscriber] = []
        self._lock = threading.Lock()
        self._last_seen: dict[bytes, float] = {}
        self._stats = _Stats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        if self.source is None or (self._thread and self._thread.is_alive()):
            return
        self.source.start()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="scan-service", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        self._thread = None
        if self.source is not None:
            self.source.stop()

    # subscribers -------------------------------------------------------------------------------
    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call callback(event) for every scan (on the scan thread); returns the unsubscribe function."""
        with self._lock:
            self._subs.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subs:
                    self._subs.remove(callback)

        return unsubscribe

    def wait_for(self, kinds: type | tuple[type, ...] | Iterable[type], timeout: float) -> ScanEvent | None:
        """The next event of one of these classes, or None after timeout seconds."""
        wanted = kinds if isinstance(kinds, type) else tuple(kinds)
        got: list[ScanEvent] = []
        ready = threading.Event()

        def on_event(event: ScanEvent) -> None:
            if not got and isinstance(event, wanted):
                got.append(event)
                ready.set()

        unsubscribe = self.subscribe(on_event)
        try:
            ready.wait(timeout)
        finally:
            unsubscribe()
        return got[0] if got else None

    # scanning ----------------------------------------------------------------------------------
    def submit_manual(self, text: str) -> ScanEvent:
        """Keypad entry (no camera, or a code the camera cannot read): verified and published like a scan."""
        event = self._classify(text.strip().encode("utf-8", "surrogatepass"), "manual")
        self._publish(event)
        return event

    def process_frame(self, frame: Any) -> list[ScanEvent]:
        """Decode one frame and publish its scans; the scan thread calls this for every new frame."""
        assert self.decoder is not None
        t0 = time.perf_counter()
        payloads = self.decoder.decode(frame)
        ms = (time.perf_counter() - t0) * 1000
        now = self.clock()
        with self._lock:
            self._stats.decoded_at.append(now)
            self._stats.decode_ms.append(ms)
            self._stats.frames += 1
        events = []
        for payload in payloads:
            if self._is_repeat(payload, now):
                continue
            event = self._classify(payload, "camera")
            events.append(event)
            self._publish(event)
        return events

    def _is_repeat(self, payload: bytes, now: float) -> bool:
        with self._lock:
            for p, seen in list(self._last_seen.items()):
                if now - seen > self.debounce_s:
                    del self._last_seen[p]
            repeat = payload in self._last_seen
            self._last_seen[payload] = now  # sliding: a code held in view stays one scan
        return repeat

    def _classify(self, payload: bytes, source: str) -> ScanEvent:
        try:
            if len(payload) > MAX_PAYLOAD:
                raise TokenRejected("too_long", "code is too long")
            try:
                text = payload.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise TokenRejected("not_text", "not a code we know") from exc
            event = _event_for(self.tokens.classify(text), source)
            log.info("scan.accepted kind=%s source=%s code=%s", type(event).__name__, source, redact(text))
            return event
        except TokenRejected as exc:
            hint = redact(payload.decode("ascii", "replace")[:MAX_PAYLOAD]) if payload else ""
            log.info("scan.refused reason=%s source=%s code=%s", exc.reason, source, hint)
            return ScanRefused(exc.reason, str(exc), hint, source)

    def _publish(self, event: ScanEvent) -> None:
        with self._lock:
            subs = list(self._subs)
        for callback in subs:
            try:
                callback(event)
            except Exception:  # one broken screen must not stop scanning for the others
                log.exception("scan.subscriber_failed event=%s", type(event).__name__)

    def _run(self) -> None:
        assert self.source is not None
        last_ts = 0.0
        last_decode = -1e9
        while not self._stop.is_set():
            try:
                frame, ts = self.source.read()
                # pacing of this real thread, so real time (the injected clock may be frozen in tests)
                now = time.monotonic()
                if frame is None or ts == last_ts or now - last_decode < self.min_decode_interval_s:
                    self._stop.wait(self.poll_s)
                    continue
                last_ts, last_decode = ts, now
                self.process_frame(frame)
            except Exception:  # a bad frame or decoder hiccup must not end scanning for the day
                log.exception("scan.frame_failed")
                self._stop.wait(0.5)

    # diagnostics -------------------------------------------------------------------------------
    def status(self) -> CameraStatus:
        """The camera's status with the decode rate and median decode time filled in."""
        base = self.source.status() if self.source is not None else CameraStatus(connected=False,
                                                                                   error="no camera")
        now = self.clock()
        with self._lock:
            recent = [t for t in self._stats.decoded_at if now - t <= 5.0]
            ms = list(self._stats.decode_ms)
        rate = len(recent) / 5.0 if recent else 0.0
        return replace(base, decode_rate=round(rate, 2),
                       decode_ms=round(statistics.median(ms), 2) if ms else None)

    @property
    def frames_decoded(self) -> int:
        """How many frames the service has decoded since it was made."""
        with self._lock:
            return self._stats.frames

    def latest_frame(self) -> Any:
        """The newest camera frame (BGR numpy array) for the preview, or None."""
        return self.source.latest_frame() if self.source is not None else None

    @property
    def roi(self) -> tuple[float, float, float, float]:
        """The framing guide (x, y, w, h as fractions of the frame) the UI draws over the preview."""
        r = getattr(self.decoder, "roi", None)
        return (r.x, r.y, r.w, r.h) if r is not None else (0.0, 0.0, 1.0, 1.0)

    def save_diagnostic_frame(self, path: Path, staff: StaffBadge) -> Path | None:
        """Write the current frame to disk: only for a signed-in staff member, who is logged by id."""
        if not isinstance(staff, StaffBadge):
            raise TypeError("a verified StaffBadge is required to save camera frames")
        frame = self.latest_frame()
        if frame is None:
            return None
        save_frame(frame, path)
        log.warning("scan.frame_saved staff=%s path=%s", staff.staff_id, path)
        return path
