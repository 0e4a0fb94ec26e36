"""systemd notify + watchdog (Type=notify, WatchdogSec): READY once, then WATCHDOG=1 from the main loop.

Outside systemd (no NOTIFY_SOCKET) every call is a no-op.
"""
from __future__ import annotations

import logging
import os

import sdnotify

log = logging.getLogger(__name__)


class Watchdog:
    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        self._notifier = sdnotify.SystemdNotifier() if self.enabled else None
        usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
        # ping at a third of the deadline, so one slow frame never trips it
        self.interval_s = max(0.5, usec / 3_000_000) if usec else 5.0

    def _notify(self, message: str) -> None:
        if self._notifier is not None:
            self._notifier.notify(message)

    def ready(self, status: str = "station running") -> None:
        self._notify(f"READY=1\nSTATUS={status}")

    def ping(self) -> None:
        self._notify("WATCHDOG=1")

    def stopping(self) -> None:
        self._notify("STOPPING=1")

    def __enter__(self) -> Watchdog:
        self.ready()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping()
