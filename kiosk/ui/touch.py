"""Synthetic touches and frame stepping, for tests and benches that drive the UI like a shopper would."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kivy.base import EventLoop
from kivy.input.motionevent import MotionEvent
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk.ui.app import save_screenshot


class SyntheticTouch(MotionEvent):
    def __init__(self, x: float, y: float) -> None:
        win = EventLoop.window
        super().__init__("synthetic", id(self), {"x": x / win.width, "y": y / win.height})

    def depack(self, args: dict[str, float]) -> None:
        self.is_touch = True
        self.sx, self.sy = args["x"], args["y"]
        self.profile = ["pos"]
        super().depack(args)


class UiDriver:
    """Taps widgets by their text, steps frames and waits for what a shopper would see."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def step(self, frames: int = 1) -> None:
        for _ in range(frames):
            EventLoop.idle()

    def tap_at(self, x: float, y: float) -> None:
        touch = SyntheticTouch(x, y)
        EventLoop._dispatch_input("begin", touch)
        self.step()
        touch.move({"x": x / EventLoop.window.width, "y": y / EventLoop.window.height})
        EventLoop._dispatch_input("end", touch)
        self.step(2)

    def tap(self, widget: Widget) -> None:
        x, y = widget.to_window(*widget.center)
        self.tap_at(x, y)

    def widgets(self, root: Widget | None = None) -> Iterator[Widget]:
        root = root or self.app.root
        yield from root.walk(restrict=True)

    def buttons(self) -> list[Button]:
        return [w for w in self.widgets(self.app.current_screen()) if isinstance(w, Button)
                and not w.disabled and w.opacity > 0 and w.height > 0]

    def button(self, contains: str) -> Button:
        found = [b for b in self.buttons() if contains in b.text]
        if not found:
            raise LookupError(f"no button with {contains!r} on {self.app.current_screen().name}: "
                              f"{[b.text for b in self.buttons()]}")
        return found[0]

    def tap_text(self, contains: str) -> None:
        self.tap(self.button(contains))

    def visible_texts(self, root: Widget | None = None) -> list[str]:
        root = root or self.app.current_screen()
        return [w.text for w in self.widgets(root) if isinstance(w, Label) and w.text.strip() and w.opacity > 0]

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
        """Step frames (workers report back through the Kivy clock) until `predicate` holds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what or predicate} on "
                                   f"{self.app.current_screen().name}: {self.visible_texts()}")
            self.step()
            time.sleep(0.01)

    def settle(self, seconds: float = 0.3) -> None:
        """Step frames for a little real time, so the app's periodic checks (idle: every 0.25 s) run."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.step()
            time.sleep(0.01)

    def wait_screen(self, name: str, timeout: float = 10.0) -> Any:
        self.wait_until(lambda: self.app.current_screen().name == name, timeout, f"screen {name}")
        self.step(2)
        return self.app.current_screen()

    def screenshot(self, path: Path) -> Path:
        self.step(2)
        return save_screenshot(path)
