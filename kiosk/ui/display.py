"""The screen as remote commands see it (kiosk.services.remote.Display): is a shopper here, and a PNG of it.

Called from the remote-command worker thread; the picture is taken on the Kivy thread (the only one that may
read the window) and handed back through a future.
"""
from __future__ import annotations

import shutil
import tempfile
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any


def save_screenshot(path: Path) -> Path:
    """Window.screenshot numbers its files; move the result to exactly `path`."""
    from kivy.core.window import Window

    path.parent.mkdir(parents=True, exist_ok=True)
    written = Window.screenshot(name=str(path.parent / f"{path.stem}-.png"))  # Kivy inserts a counter
    if not written:
        raise OSError(f"screenshot to {path} failed")
    shutil.move(written, path)
    return path


class KivyDisplay:
    def __init__(self, app: Any) -> None:
        self.app = app

    def shopper_active(self) -> bool:
        """Anything but the attract loop (and staff mode, where staff stand at the screen) is a shopper's session."""
        manager = self.app.manager
        screen = manager.current_screen if manager is not None else None
        if screen is None:
            return False
        return not (screen.name == "attract" or getattr(screen, "staff_only", False))

    def screenshot(self, timeout_s: float) -> bytes:
        from kivy.clock import Clock

        done: Future[bytes] = Future()

        def shoot(_dt: float) -> None:
            try:
                with tempfile.TemporaryDirectory(prefix="remote-shot-") as tmp:
                    done.set_result(save_screenshot(Path(tmp) / "screen.png").read_bytes())
            except Exception as exc:  # handed to the worker, which reports it
                done.set_exception(exc)

        Clock.schedule_once(shoot, 0)
        try:
            return done.result(timeout=timeout_s)
        except FutureTimeout as exc:
            raise OSError("the screen did not answer in time") from exc
