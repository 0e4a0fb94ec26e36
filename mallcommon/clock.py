"""The clocks a station measures with (docs/architecture.md, "Which clock"): the wall clock for what is printed
or sent, CLOCK_BOOTTIME for how long something lasted — NTP stepping the wall clock after boot cannot move it."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")


def boot_clock() -> float:
    """Seconds since boot, suspend included (CLOCK_BOOTTIME): the same in every process, never stepped."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def boot_id() -> str:
    """This boot's id: a boot_clock() reading means something only within the boot that took it."""
    try:
        return BOOT_ID_FILE.read_text().strip()
    except OSError:
        return "unknown"


def boot_stamp(boot: str, at: float) -> str:
    """A boot_clock() reading with its boot, as stored beside a wall time ("<boot id>@<seconds>")."""
    return f"{boot}@{at:.3f}"


def boot_elapsed(stamp: str | None, boot: str, now: float) -> float | None:
    """Seconds from `stamp` to `now` (a boot_clock() reading in `boot`), or None when the stamp is of another
    boot (or missing): then only the wall clock can tell."""
    if not stamp or "@" not in stamp:
        return None
    their_boot, _, at = stamp.rpartition("@")
    if their_boot != boot:
        return None
    try:
        return max(0.0, now - float(at))
    except ValueError:
        return None


class SteadyWall:
    """The wall clock the station records with: it follows the system's wall clock, drift and slewing included,
    but believes a step (the wall clock jumping by more than `tolerance_s` against the boot clock) only once the
    step has held for `stepout_s` (as ntpd waits its stepout before stepping). Until then it goes on from where it
    was, on the boot clock. A wall clock that glitches ±2 h and comes back therefore never reaches a record, the
    centre's pairing of starts and returns, or the order of events; a real correction is taken once, 5 min late.
    Member codes are checked on the raw wall clock (the phone's time is the truth there)."""

    def __init__(self, wall: Callable[[], float] = time.time, boot: Callable[[], float] = boot_clock,
                 stepout_s: float = 300.0, tolerance_s: float = 1.0) -> None:
        self.wall, self.boot = wall, boot
        self.stepout_s, self.tolerance_s = stepout_s, tolerance_s
        self._offset: float | None = None  # wall - boot as believed
        self._step_seen_at: float | None = None  # boot clock when the current unbelieved step was first seen
        self._lock = threading.Lock()
        # told each offset it comes to believe (not the drift it follows), so a restarted process of the same
        # boot goes on from it (`restore`) instead of believing whatever the wall clock says at its start
        self.on_believed: Callable[[float], None] | None = None

    def restore(self, offset: float) -> None:
        """The offset an earlier process of this boot believed (the caller checks the boot id)."""
        with self._lock:
            self._offset = offset

    def _believed(self, offset: float) -> None:
        if self.on_believed is not None:
            try:
                self.on_believed(offset)
            except Exception:  # keeping it is a convenience; the clock itself must never fail
                log.warning("clock.offset_not_kept", exc_info=True)

    def __call__(self) -> float:
        with self._lock:
            wall, boot = self.wall(), self.boot()
            if self._offset is None:
                self._offset = wall - boot
                self._believed(self._offset)
            ours = boot + self._offset
            if abs(wall - ours) <= self.tolerance_s:
                self._offset, self._step_seen_at = wall - boot, None  # drift and slewing are followed
                return wall
            if self._step_seen_at is None:
                self._step_seen_at = boot
                log.warning("clock.step_seen step_s=%+.1f (believed after %.0f s if it holds)", wall - ours,
                            self.stepout_s)
            elif boot - self._step_seen_at >= self.stepout_s:
                log.warning("clock.step_believed step_s=%+.1f", wall - ours)
                self._offset, self._step_seen_at = wall - boot, None
                self._believed(self._offset)
                return wall
            return ours
