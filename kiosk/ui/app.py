"""Entry points: `run_ui` (the `run` CLI verb) and `build_app` (tests and benches step frames themselves)."""
from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from kiosk.memory import tune_malloc
from kiosk.ui.display import save_screenshot  # noqa: F401  (kept here: tests and tools import it from app)
from kiosk.ui.settings import UiSettings
from kiosk.watchdog import Watchdog

log = logging.getLogger(__name__)



def prepare_kivy(settings: UiSettings, *, windowed: bool = True, kivy_home: Path | None = None) -> None:
    """Environment and window config; must run before anything imports kivy.core.window."""
    tune_malloc()   # before the window's and the scanner's threads exist (docs/ui.md "Memory")
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    if kivy_home is not None:
        os.environ.setdefault("KIVY_HOME", str(kivy_home))
    from kivy.config import Config

    Config.set("graphics", "width", str(settings.width))
    Config.set("graphics", "height", str(settings.height))
    Config.set("graphics", "fullscreen", "0" if windowed else "auto")
    Config.set("graphics", "resizable", "1" if windowed else "0")
    Config.set("graphics", "multisamples", str(settings.multisamples))
    Config.set("input", "mouse", "mouse,disable_multitouch")
    Config.set("kivy", "exit_on_escape", "0" if not windowed else "1")
    Config.set("kivy", "keyboard_mode", "systemanddock")
    register_font()


def register_font() -> Path:
    """Noto Sans CJK SC as the default font: no missing-glyph boxes, and Chinese in Chinese glyph shapes
    (the .ttc's first face is the Japanese one; kiosk.ui.fonts extracts the SC face once)."""
    from kivy.core.text import LabelBase

    from kiosk.ui.fonts import ensure_fonts

    files = ensure_fonts()
    LabelBase.register("Roboto", str(files.regular), fn_bold=str(files.bold))
    return files.regular


def build_app(station: Any, settings: UiSettings | None = None, **kwargs: Any) -> Any:
    """Build the app and show its first frame without entering the blocking run loop (tests, benches)."""
    from kivy.base import EventLoop
    from kivy.core.window import Window

    from kiosk.ui.shell import KioskApp

    settings = settings or UiSettings()
    if tuple(Window.size) != (settings.width, settings.height):
        Window.size = (settings.width, settings.height)
    app = KioskApp(station, settings, **kwargs)
    app._run_prepare()
    EventLoop.idle()
    return app


def close_app(app: Any) -> None:
    """Undo `build_app` (the window stays for the next app in the same process)."""
    from kivy.app import App

    app.dispatch("on_stop")
    window = app._app_window
    if window is not None:
        for child in list(window.children):
            window.remove_widget(child)
    App._running_app = None


def run_ui(station: Any, *, windowed: bool = False, screenshot_dir: Path | None = None,
           screenshot_every_s: float = 5.0, settings: UiSettings | None = None,
           stop_after_s: float | None = None) -> None:
    """Open the UI (fullscreen unless windowed) and block until it closes.

    Without a display an Xvfb is started, and screenshots go to `screenshot_dir` (printed) every few seconds."""
    settings = settings or getattr(getattr(station, "config", None), "ui", None) or UiSettings()
    xvfb = None
    if not os.environ.get("DISPLAY"):
        from kiosk.ui.xvfb import Xvfb

        xvfb = Xvfb(settings.width, settings.height).start()
        os.environ["DISPLAY"] = xvfb.display or ""
        if screenshot_dir is None:
            screenshot_dir = Path(getattr(station.config, "data_dir", Path("var"))) / "screenshots"
        print(f"no display: the UI runs on Xvfb {xvfb.display}; screenshots every {screenshot_every_s:g} s "
              f"in {screenshot_dir.resolve()}", flush=True)
    remote = getattr(station, "remote", None)
    if remote is not None:
        remote.expect_display()  # a remote screenshot waits for the first screen instead of "no screen"
    prepare_kivy(settings, windowed=windowed)
    from kivy.clock import Clock
    from kivy.core.window import Window

    from kiosk.ui.shell import KioskApp

    app = KioskApp(station, settings)
    watchdog = Watchdog()
    started = time.monotonic()

    # pinged from the Kivy clock: a hung UI thread stops the pings and systemd restarts the station
    Clock.schedule_interval(lambda _dt: watchdog.ping(), watchdog.interval_s)
    restart = getattr(getattr(station, "lifecycle", None), "restart_requested", None)
    if restart is not None:  # a remote restart leaves through the app's own stop (kiosk.lifecycle.EXIT_RESTART)
        Clock.schedule_interval(lambda _dt: app.stop() if restart.is_set() else None, 0.5)
    if screenshot_dir is not None:
        target = screenshot_dir

        def shoot(_dt: float) -> None:
            try:
                # one capture and PNG encode on the UI thread (it delays the watchdog ping behind it), then a copy
                # renamed into place like the capture itself, so a reader never sees half a file
                latest = save_screenshot(target / "latest.png")
                named = target / f"{app.current_screen().name}.png"
                shutil.copyfile(latest, named.with_suffix(".png.tmp"))
                os.replace(named.with_suffix(".png.tmp"), named)
            except OSError as exc:
                log.warning("ui.screenshot_failed dir=%s error=%s", target, exc)

        Clock.schedule_interval(shoot, screenshot_every_s)

    def drawn(*_: Any) -> None:  # the app's first frame has just been swapped onto the screen
        Window.unbind(on_flip=drawn)
        watchdog.ready("screen drawn")
        log.info("ui.first_frame after_s=%.2f", time.monotonic() - started)
        if screenshot_dir is not None:
            Clock.schedule_once(shoot, 0)

    # READY=1 only once a screen is drawn: systemd (and bench/start_degraded.py) time the start to it
    app.bind(on_start=lambda *_: Window.bind(on_flip=drawn))
    if stop_after_s is not None:  # smoke tests and demos
        Clock.schedule_once(lambda _dt: app.stop(), stop_after_s)
    try:
        app.run()
    finally:
        watchdog.stopping()
        log.info("ui.stopped ran_s=%.0f", time.monotonic() - started)
        if xvfb is not None:
            xvfb.stop()
