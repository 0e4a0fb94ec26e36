"""The Kivy application: screen manager, language and theme switches, idle wipe, scan routing, workers.

Import only after `kiosk.ui.app.prepare_kivy` (the window size must be set before Kivy opens the window).
"""
from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import NoTransition, ScreenManager

from kiosk.ui import widgets  # noqa: F401  (registers Frame, Keypad, QRView, CameraView with the Factory)
from kiosk.ui.i18n import DEFAULT_LANG, Catalogs
from kiosk.ui.idle import IdleWatch
from kiosk.ui.screens import SCREENS
from kiosk.ui.settings import UiSettings
from kiosk.ui.theme import make_theme

log = logging.getLogger(__name__)
UI_DIR = Path(__file__).parent


def load_kv(path: Path) -> None:
    """Load a .kv file once per process (loading twice would apply every rule twice)."""
    if str(path) not in Builder.files:
        Builder.load_file(str(path))


class KioskRoot(FloatLayout):
    """The screen manager plus the 'still there?' overlay on top."""


class KioskApp(App):
    lang = StringProperty(DEFAULT_LANG)
    large_text = BooleanProperty(False)
    high_contrast = BooleanProperty(False)
    low_reach = BooleanProperty(False)
    fs = NumericProperty(20)
    fs_title = NumericProperty(32)
    tgt = NumericProperty(60)
    pad = NumericProperty(12)
    c_bg = ListProperty([1, 1, 1, 1])
    c_fg = ListProperty([0, 0, 0, 1])
    c_muted = ListProperty([0, 0, 0, 1])
    c_btn = ListProperty([1, 1, 1, 1])
    c_btn_fg = ListProperty([0, 0, 0, 1])
    c_accent = ListProperty([0, 0, 1, 1])
    c_accent_fg = ListProperty([1, 1, 1, 1])
    c_ok = ListProperty([0, 1, 0, 1])
    c_err = ListProperty([1, 0, 0, 1])
    c_outline = ListProperty([0, 0, 0, 1])
    still_there = BooleanProperty(False)
    idle_left = NumericProperty(0)

    def __init__(self, station: Any, settings: UiSettings | None = None, *,
                 mono: Callable[[], float] = time.monotonic, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.title = "Mall service station"
        self.station = station
        self.settings = settings or UiSettings()
        self.mono = mono
        # the lending service's deadlines are time.monotonic() values, whatever clock idle is given
        self.deadline_clock: Callable[[], float] = time.monotonic
        self.catalogs = Catalogs()
        self.idle = IdleWatch(self.settings.idle_s, self.settings.countdown_s, mono)
        self.session: dict[str, Any] = {}
        self.workers: set[threading.Thread] = set()
        self.manager: ScreenManager | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self.lang = self.settings.lang
        self.large_text = self.settings.large_text
        self.high_contrast = self.settings.high_contrast
        self.low_reach = self.settings.low_reach
        self.apply_theme()
        self.bind(large_text=self.apply_theme, high_contrast=self.apply_theme, low_reach=self.apply_theme)

    # services the screens use (None when the station has no such service) ------------------------
    def service(self, name: str) -> Any:
        return getattr(self.station, name, None)

    # language and theme --------------------------------------------------------------------------
    def t(self, msgid: str, lang: str | None = None) -> str:
        return self.catalogs.t(msgid, lang or self.lang)

    def service_lang(self, lang: str | None = None) -> str:
        """The services' language code ("zh" / "en") for the UI's current one."""
        return "zh" if (lang or self.lang).startswith("zh") else "en"

    def toggle_lang(self) -> None:
        self.lang = "en" if self.lang == "zh_CN" else "zh_CN"
        log.info("ui.lang lang=%s", self.lang)

    def apply_theme(self, *_: Any) -> None:
        th = make_theme(dpi=self.settings.dpi, min_target_mm=self.settings.min_target_mm,
                        large_text=self.large_text, high_contrast=self.high_contrast, low_reach=self.low_reach)
        p = th.palette
        self.fs, self.fs_title, self.tgt, self.pad = th.font_px, th.title_px, th.target_px, th.pad_px
        self.c_bg, self.c_fg, self.c_muted = list(p.bg), list(p.fg), list(p.muted)
        self.c_btn, self.c_btn_fg, self.c_outline = list(p.button), list(p.button_fg), list(p.outline)
        self.c_accent, self.c_accent_fg = list(p.accent), list(p.accent_fg)
        self.c_ok, self.c_err = list(p.ok), list(p.error)
        Window.clearcolor = p.bg

    # building and navigation ---------------------------------------------------------------------
    def build(self) -> KioskRoot:
        load_kv(UI_DIR / "widgets.kv")
        self.manager = ScreenManager(transition=NoTransition())
        root = KioskRoot()
        root.add_widget(self.manager)
        self._overlay = Factory.StillThere()
        self.bind(still_there=self._show_overlay)
        self.go("attract")
        Window.bind(on_touch_down=self._any_touch)
        Clock.schedule_interval(self._tick, 0.25)
        return root

    def _show_overlay(self, *_: Any) -> None:
        # added only while shown: a hidden overlay on top would still swallow touches
        if self.still_there and self._overlay.parent is None:
            self.root.add_widget(self._overlay)
        elif not self.still_there and self._overlay.parent is not None:
            self.root.remove_widget(self._overlay)

    def on_start(self) -> None:
        scanning = self.service("scanning")
        if scanning is not None:
            self._unsubscribe.append(scanning.subscribe(self._scan_from_worker))
        lending = self.service("lending")
        if lending is not None and hasattr(lending, "on_return"):
            self._unsubscribe.append(lending.on_return(self._return_from_worker))

    def on_stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        Window.unbind(on_touch_down=self._any_touch)
        Clock.unschedule(self._tick)

    def screen(self, name: str) -> Any:
        """The screen called `name`, created (and its .kv loaded) on first use."""
        assert self.manager is not None
        if self.manager.has_screen(name):
            return self.manager.get_screen(name)
        module_name, class_name = SCREENS[name].split(":")
        module = importlib.import_module(module_name)
        load_kv(Path(module.__file__ or "").with_suffix(".kv"))
        screen = getattr(module, class_name)(name=name)
        self.manager.add_widget(screen)
        return screen

    def go(self, name: str, **params: Any) -> Any:
        screen = self.screen(name)
        screen.enter(**params)
        assert self.manager is not None
        self.manager.current = name
        log.info("ui.screen name=%s", name)
        return screen

    def current_screen(self) -> Any:
        assert self.manager is not None
        return self.manager.current_screen

    def back(self) -> None:
        self.current_screen().back()

    # idle and session ----------------------------------------------------------------------------
    def _any_touch(self, *_: Any) -> None:
        self.idle.touched()
        if self.still_there:
            self.still_there = False

    def _tick(self, _dt: float) -> None:
        screen = self.current_screen()
        if screen.name == "attract" or getattr(screen, "idle_exempt", False):
            self.idle.touched()
            self.still_there = False
            return
        state = self.idle.state()
        self.still_there = state == "warning"
        self.idle_left = self.idle.seconds_left()
        if state == "expired":
            self.end_session("idle")

    def end_session(self, why: str) -> None:
        """Wipe everything the shopper left behind and go back to the attract loop."""
        assert self.manager is not None
        self.session.clear()
        self.still_there = False
        self.go("attract")
        # flow screens are dropped, not just cleared, so nothing of the shopper stays in their memory
        for screen in list(self.manager.screens):
            screen.wipe()
            if not getattr(screen, "persistent", False):
                self.manager.remove_widget(screen)
        Clock.schedule_once(self._forget_transition)
        self.lang = self.settings.lang
        self.large_text, self.high_contrast = self.settings.large_text, self.settings.high_contrast
        self.low_reach = self.settings.low_reach
        log.info("ui.session_ended why=%s", why)

    def _forget_transition(self, _dt: float) -> None:
        # the finished transition still points at the screen that was left: let it go
        if self.manager is not None and not self.manager.transition.is_active:
            self.manager.transition = NoTransition()

    # scans and returns arrive on worker threads ---------------------------------------------------
    def _scan_from_worker(self, event: Any) -> None:
        Clock.schedule_once(lambda _dt: self.on_scan(event))

    def on_scan(self, event: Any) -> None:
        """Route a scan event: a staff badge anywhere outside a flow starts staff sign-in."""
        self.idle.touched()
        screen = self.current_screen()
        kind = type(event).__name__
        log.info("ui.scan kind=%s screen=%s", kind, screen.name)
        if screen.on_scan(event):
            return
        if kind == "StaffScanned" and not getattr(screen, "idle_exempt", False):
            self.go("staff_pin", badge=event.badge)
            return
        if kind == "ScanRefused":
            screen.notify("Sorry, that is not a code we know.")
        elif kind != "StaffScanned":
            screen.notify("Please choose what you need first.")

    def _return_from_worker(self, result: Any) -> None:
        Clock.schedule_once(lambda _dt: self.on_returned(result))

    def on_returned(self, result: Any) -> None:
        """An item came back into a slot: show it unless staff or a lending is in the middle of something."""
        self.idle.touched()
        screen = self.current_screen()
        if getattr(screen, "idle_exempt", False) or screen.name in ("staff_pin", "diagnostics", "maintenance"):
            return
        self.go("returned", result=result)

    # blocking service calls run on a worker -------------------------------------------------------
    def run_worker(self, job: Callable[[], Any], on_done: Callable[[Any], None],
                   on_error: Callable[[BaseException], None], name: str = "ui-worker") -> None:
        """Run `job` off the UI thread; the outcome comes back on the UI thread."""
        def body() -> None:
            try:
                result = job()
            except Exception as exc:  # handed to the screen, which maps codes to words
                Clock.schedule_once(lambda _dt, error=exc: on_error(error))
            else:
                Clock.schedule_once(lambda _dt, value=result: on_done(value))
            finally:
                self.workers.discard(threading.current_thread())

        thread = threading.Thread(target=body, name=name, daemon=True)
        self.workers.add(thread)
        thread.start()
