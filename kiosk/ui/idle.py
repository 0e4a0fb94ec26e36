"""Idle watch: quiet for `idle_s` → 'still there?' countdown of `countdown_s` → expired (wipe, attract)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Literal

IdleState = Literal["active", "warning", "expired"]


class IdleWatch:
    """Pure state machine over an injected monotonic clock; the app polls `state()` on a Kivy Clock."""

    def __init__(self, idle_s: float, countdown_s: float, clock: Callable[[], float]) -> None:
        self.idle_s = idle_s
        self.countdown_s = countdown_s
        self.clock = clock
        self._last = clock()

    def touched(self) -> None:
        self._last = self.clock()

    def quiet_for(self) -> float:
        return self.clock() - self._last

    def state(self) -> IdleState:
        quiet = self.quiet_for()
        if quiet < self.idle_s:
            return "active"
        if quiet < self.idle_s + self.countdown_s:
            return "warning"
        return "expired"

    def seconds_left(self) -> int:
        """Whole seconds left in the countdown (for the 'still there?' dialog)."""
        left = self.idle_s + self.countdown_s - self.quiet_for()
        return max(0, int(left + 0.999))
