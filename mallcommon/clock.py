"""The clocks a station measures with (docs/architecture.md, "Which clock"): the wall clock for what is printed
or sent, CLOCK_BOOTTIME for how long something lasted — NTP stepping the wall clock after boot cannot move it."""
from __future__ import annotations

import time
from pathlib import Path

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
