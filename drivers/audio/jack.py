"""Is a headphone plugged in? `plugged()` answers True / False, or None when the hardware does not say.

Real kiosks' audio codecs report the jack through the kernel's input layer: an event device whose switch
capabilities include SW_HEADPHONE_INSERT (linux/input-event-codes.h: 0x02). Its current state is read with the
EVIOCGSW ioctl, no event loop and no extra package; reading is a few microseconds, so the UI may poll it.
The simulated jack reads a file holding "plugged" or "unplugged" (what `make run` and the tests use).
"""
from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import Literal, Protocol

log = logging.getLogger(__name__)

SW_HEADPHONE_INSERT = 0x02
SW_MAX = 0x10
_SW_BYTES = (SW_MAX + 8) // 8


def _eviocgsw(length: int) -> int:
    """_IOC(_IOC_READ, 'E', 0x1b, len) from linux/input.h."""
    return (2 << 30) | (length << 16) | (ord("E") << 8) | 0x1B


class HeadphoneJack(Protocol):
    def plugged(self) -> bool | None: ...

    def describe(self) -> str: ...


class NoJack:
    """The station's hardware does not report a jack: speech follows the toggle only."""

    def plugged(self) -> bool | None:
        return None

    def describe(self) -> str:
        return "none"


class SimulatedJack:
    def __init__(self, path: Path) -> None:
        self.path = path

    def plugged(self) -> bool | None:
        try:
            word = self.path.read_text(encoding="ascii").strip().lower()
        except (OSError, UnicodeDecodeError):
            return None
        if word in {"plugged", "1", "on"}:
            return True
        if word in {"unplugged", "0", "off"}:
            return False
        log.warning("audio.jack_sim_unreadable path=%s", self.path)   # anything else: unknown, not a guess
        return None

    def set(self, plugged: bool) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("plugged\n" if plugged else "unplugged\n", encoding="ascii")
        os.replace(tmp, self.path)

    def describe(self) -> str:
        return f"sim:{self.path}"


def find_headphone_switch(sys_root: Path = Path("/sys/class/input")) -> str | None:
    """The event device (e.g. "event5") whose switches include SW_HEADPHONE_INSERT, or None."""
    for caps in sorted(sys_root.glob("event*/device/capabilities/sw")):
        try:
            words = caps.read_text(encoding="ascii").split()
        except OSError:
            continue
        # the kernel prints the bitmap as space-separated hex longs, most significant first
        value = 0
        for word in words:
            value = (value << 64) | int(word, 16)
        if value >> SW_HEADPHONE_INSERT & 1:
            return caps.parents[2].name
    return None


class EvdevJack:
    """The real jack: the first input device with a headphone switch, read with EVIOCGSW."""

    def __init__(self, sys_root: Path = Path("/sys/class/input"), dev_root: Path = Path("/dev/input")) -> None:
        self.sys_root, self.dev_root = sys_root, dev_root
        self.device = find_headphone_switch(sys_root)
        if self.device is None:
            log.info("audio.no_headphone_switch")

    def plugged(self) -> bool | None:
        if self.device is None:
            return None
        buf = bytearray(_SW_BYTES)
        try:
            fd = os.open(self.dev_root / self.device, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            log.warning("audio.jack_open_failed device=%s error=%s", self.device, exc.strerror)
            return None
        try:
            fcntl.ioctl(fd, _eviocgsw(len(buf)), buf)
        except OSError as exc:
            log.warning("audio.jack_read_failed device=%s error=%s", self.device, exc.strerror)
            return None
        finally:
            os.close(fd)
        return bool(buf[SW_HEADPHONE_INSERT // 8] >> (SW_HEADPHONE_INSERT % 8) & 1)

    def describe(self) -> str:
        return f"evdev:{self.device}" if self.device else "evdev:none"


def open_jack(kind: Literal["none", "evdev", "sim"], sim_file: Path | None = None) -> HeadphoneJack:
    if kind == "evdev":
        return EvdevJack()
    if kind == "sim":
        if sim_file is None:
            raise ValueError("a simulated headphone jack needs headphone_sim_file")
        return SimulatedJack(sim_file)
    return NoJack()
