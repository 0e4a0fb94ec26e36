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
from typing import Any, Literal

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import BooleanProperty, DictProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import NoTransition, ScreenManager

from drivers.audio import HeadphoneJack, open_jack
from kiosk.memory import release_free_memory
from kiosk.services.lending import ReturnResult
from kiosk.services.scanning import ScanEvent, ScanRefused, StaffScanned
from kiosk.ui import widgets  # noqa: F401  (registers Frame, Keypad, QRView, CameraView with the Factory)
from kiosk.ui.i18n import DEFAULT_LANG, LANGS, Catalogs
from kiosk.ui.idle import IdleWatch
from kiosk.ui.screens import SCREENS
from kiosk.ui.services import UiServices
from kiosk.ui.settings import UiSettings
from kiosk.ui.speech import Speaker, make_speaker
from kiosk.ui.theme import SERVICE_COLOURS, make_theme

log = logging.getLogger(__name__)
# Shopper screens built ahead while the attract loop runs (fresh instances: nothing of a previous shopper is in
# them), so a tap switches to a ready screen instead of building ~100 widgets from .kv first (bench/ui_startup.py:
# building was most of tap → drawn). Staff-only and rarely used screens are still built on first use.
PREWARM = ("home", "borrow", "return", "desk_menu", "wait", "receipt", "returned", "rating", "member", "complaint",
           "directory", "lostfound", "storage", "info", "pay", "message")
PREWARM_GAP_S = 0.05   # between two builds: the attract loop keeps drawing
JACK_CHECK_S = 0.5  # how often the headphone jack is read (an ioctl or a file read: microseconds)
DOOR_CHECK_S = 1.0  # how often the screen looks for a door left open (the views are cached: no locker is asked)
SILENT_MARKS = set("✓⚠▲▼▶●○■□★☆")   # shown beside words for the eye; the words are what is read
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
    speech = BooleanProperty(False)
    motion = BooleanProperty(True)
    fs = NumericProperty(32)
    fs_title = NumericProperty(56)
    fs_cap = NumericProperty(26)
    fs_h2 = NumericProperty(44)
    fs_display = NumericProperty(112)
    tgt = NumericProperty(60)
    pad = NumericProperty(12)
    grid_margin = NumericProperty(24)
    grid_primary = NumericProperty(96)
    grid_secondary = NumericProperty(72)
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
    c_warning = ListProperty([0, 0, 0, 1])
    c_warning_bg = ListProperty([1, 1, 1, 1])
    c_focus = ListProperty([1, 0.7, 0, 1])
    c_disabled = ListProperty([0.4, 0.4, 0.4, 1])
    c_svc = DictProperty({})    # one colour per service (umbrella, power_bank, stroller, storage, desk)
    still_there = BooleanProperty(False)
    idle_left = NumericProperty(0)

    def __init__(self, station: Any, settings: UiSettings | None = None, *,
                 mono: Callable[[], float] = time.monotonic, speaker: Speaker | None = None,
                 jack: HeadphoneJack | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.title = "Mall service station"
        self.station = station
        self.services = UiServices.of(station)
        self.history: list[str] = []      # screens Back returns to, most recent last
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
        self.speech = self.settings.speech
        self.speaker = speaker if speaker is not None else make_speaker(self.settings)
        self.jack: HeadphoneJack = jack if jack is not None else open_jack(self.settings.headphone_jack,
                                                                           self.settings.headphone_sim_file)
        self._jack_state: bool | None = None
        self._speech_by_jack = False   # speech the jack turned on is turned off by unplugging; a tap's is kept
        self.apply_theme()
        self.bind(large_text=self.apply_theme, high_contrast=self.apply_theme, low_reach=self.apply_theme)
        self.bind(speech=self._speech_switched, lang=self._speak_screen)

    # speech: heading, countdown and errors, in the UI's language --------------------------------
    def say(self, text: str, *, urgent: bool = False) -> None:
        text = "".join(ch for ch in text if ch not in SILENT_MARKS).strip()
        if self.speech and text:
            self.speaker.say(text, "zh" if self.lang.startswith("zh") else "en", interrupt=urgent)

    def _speech_switched(self, *_: Any) -> None:
        if self.speech:
            self._speak_screen()
        else:
            self.speaker.stop()

    def _speak_screen(self, *_: Any) -> None:
        if self.manager is not None and self.manager.current_screen is not None:
            screen = self.current_screen()
            self.say(screen.spoken(), urgent=True)

    # language and theme --------------------------------------------------------------------------
    def t(self, msgid: str, lang: str | None = None) -> str:
        return self.catalogs.t(msgid, lang or self.lang)

    def service_lang(self, lang: str | None = None) -> Literal["zh", "en"]:
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
        self.fs_cap, self.fs_h2, self.fs_display = th.caption_px, th.h2_px, th.display_px
        self.grid_margin, self.grid_primary, self.grid_secondary = th.grid.margin, th.grid.primary_h, th.grid.secondary_h
        self.c_warning, self.c_warning_bg = list(p.warning), list(p.warning_bg)
        self.c_focus, self.c_disabled = list(p.focus), list(p.disabled_fg)
        self.c_svc = {name: list(getattr(p, name)) for name in SERVICE_COLOURS}
        self.motion = p.motion
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
        self._door_banner = Factory.DoorBanner()
        self.bind(still_there=self._show_overlay, lang=self._show_door_banner)
        self._doors_left_open: list[tuple[str, int]] = []
        self.go("attract")
        self._prewarm_soon()
        Window.bind(on_touch_down=self._any_touch)
        Clock.schedule_interval(self._tick, 0.25)
        Clock.schedule_interval(self.check_doors, DOOR_CHECK_S)
        Clock.schedule_interval(self.check_jack, JACK_CHECK_S)
        return root

    # a headphone plugged in -----------------------------------------------------------------------
    def check_jack(self, *_: Any) -> None:
        """Plugging a headphone turns audio guidance on (a blind shopper cannot find the toggle); unplugging
        turns off what plugging turned on. The jack's 'don't know' (None) changes nothing."""
        state = self.jack.plugged()
        if state is None or state == self._jack_state:
            return
        self._jack_state = state
        log.info("ui.headphone %s", "plugged" if state else "unplugged")
        if state and not self.speech:
            self._speech_by_jack = True
            self.speech = True
        elif not state and self._speech_by_jack:
            self._speech_by_jack = False
            self.speech = False

    # a door left open -----------------------------------------------------------------------------
    def check_doors(self, *_: Any) -> None:
        """Doors the lockers report left open (protocol v1.1 `left_open`), read from the link's cached views."""
        left: list[tuple[str, int]] = []
        for layout in self.services.layouts:
            view = self.services.view(layout.locker_id)
            if view is not None:
                left += [(layout.locker_id, slot) for slot in view.doors_left_open()]
        if left != self._doors_left_open:
            self._doors_left_open = left
            self._show_door_banner()
            if left:
                self.say(self._door_banner.text, urgent=True)

    def door_banner_text(self) -> str:
        """"请关好 7 号门 / Please close door 7": the screen's language first, the other one after it."""
        if not self._doors_left_open:
            return ""
        slot = self._doors_left_open[0][1]
        langs = [self.lang] + [lang for lang in LANGS if lang != self.lang]
        return " / ".join(self.t("Please close door {slot}", lang).format(slot=slot) for lang in langs)

    def _show_door_banner(self, *_: Any) -> None:
        banner = self._door_banner
        banner.text = self.door_banner_text()
        if banner.text and banner.parent is None:
            self.root.add_widget(banner)
        elif not banner.text and banner.parent is not None:
            self.root.remove_widget(banner)

    def _show_overlay(self, *_: Any) -> None:
        # added only while shown: a hidden overlay on top would still swallow touches
        if self.still_there and self._overlay.parent is None:
            self.root.add_widget(self._overlay)
        elif not self.still_there and self._overlay.parent is not None:
            self.root.remove_widget(self._overlay)

    def on_start(self) -> None:
        scanning = self.services.scanning
        if scanning is not None:
            self._unsubscribe.append(scanning.subscribe(self._scan_from_worker))
        lending = self.services.lending
        if lending is not None:
            self._unsubscribe.append(lending.on_return(self._return_from_worker))
        remote = getattr(self.station, "remote", None)
        if remote is not None:  # remote screenshots (issue 15.7) come from this screen, once it has a picture
            from kiosk.ui.display import KivyDisplay

            def drawn(*_: Any) -> None:
                Window.unbind(on_flip=drawn)
                remote.attach_display(KivyDisplay(self))

            def detach() -> None:
                Window.unbind(on_flip=drawn)
                remote.attach_display(None)

            Window.bind(on_flip=drawn)
            self._unsubscribe.append(detach)

    def on_stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        Window.unbind(on_touch_down=self._any_touch)
        Clock.unschedule(self._tick)
        Clock.unschedule(self.check_doors)
        Clock.unschedule(self.check_jack)
        Clock.unschedule(self._prewarm_one)
        Clock.unschedule(self._release_memory)
        self.speaker.stop()

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

    def prewarm_pending(self) -> list[str]:
        """Shopper screens not built yet (the bench and tests wait for this to empty)."""
        assert self.manager is not None
        return [n for n in PREWARM if n in SCREENS and not self.manager.has_screen(n)] if self.settings.prewarm \
            else []

    def _prewarm_soon(self, *_: Any) -> None:
        if self.settings.prewarm:
            Clock.unschedule(self._prewarm_one)
            Clock.schedule_once(self._prewarm_one, PREWARM_GAP_S)

    def _prewarm_one(self, _dt: float) -> None:
        """Build one missing shopper screen, only while nobody is using the station (attract shown)."""
        if self.manager is None or self.manager.current != "attract":
            return   # a shopper arrived: their taps build what they need; resumed at the next attract
        pending = self.prewarm_pending()
        if not pending:
            return
        started = time.perf_counter()
        self.screen(pending[0])
        log.debug("ui.prewarmed name=%s ms=%.0f", pending[0], (time.perf_counter() - started) * 1000)
        if len(pending) > 1:
            Clock.schedule_once(self._prewarm_one, PREWARM_GAP_S)
        else:   # the last shopper's screens are gone and the next one's are built: hand the freed heap back
            self._release_memory()

    def _release_memory(self, _dt: float = 0.0) -> None:
        if self.manager is not None and self.manager.current == "attract":   # nobody is waiting on the screen
            log.debug("ui.memory_released ms=%.0f", release_free_memory())

    def go(self, name: str, **params: Any) -> Any:
        """Open `name` with the flow's parameters; the screen left is remembered for Back if it allows."""
        assert self.manager is not None
        leaving = self.manager.current_screen if self.manager.current else None
        screen = self.screen(name)
        if name in ("home", "attract"):
            self.history.clear()
        elif leaving is not None and leaving.name != name and leaving.keep_in_history:
            self.history.append(leaving.name)
            del self.history[:-8]
        screen.enter(**params)
        screen.can_go_back = bool(self.history)
        self.manager.current = name
        log.info("ui.screen name=%s", name)
        self._speak_screen()
        return screen

    def go_back(self) -> Any:
        """Back: the previous screen as it was left (its choices kept), or home when there is none."""
        assert self.manager is not None
        while self.history:
            name = self.history.pop()
            if self.manager.has_screen(name):
                screen = self.manager.get_screen(name)
                screen.can_go_back = bool(self.history)
                self.manager.current = name
                log.info("ui.screen name=%s back=1", name)
                self._speak_screen()
                return screen
        return self.go("home")

    def go_home(self) -> None:
        self.current_screen().go_home()

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
        if screen.name == "attract" or screen.idle_exempt:
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
        self.history.clear()
        self.go("attract")
        # flow screens are dropped, not just cleared, so nothing of the shopper stays in their memory
        for screen in list(self.manager.screens):
            screen.wipe()
            if not screen.persistent:
                self.manager.remove_widget(screen)
        Clock.schedule_once(self._forget_transition)
        self._prewarm_soon()
        if not self.settings.prewarm:   # otherwise released once the next shopper's screens are built
            Clock.schedule_once(self._release_memory, PREWARM_GAP_S)
        self.lang = self.settings.lang
        self.large_text, self.high_contrast = self.settings.large_text, self.settings.high_contrast
        self.low_reach = self.settings.low_reach
        # a headphone still plugged in keeps guidance on for the next shopper
        self.speech = self.settings.speech or (self._jack_state is True and self._speech_by_jack)
        log.info("ui.session_ended why=%s", why)

    def _forget_transition(self, _dt: float) -> None:
        # the finished transition still points at the screen that was left: let it go
        if self.manager is not None and not self.manager.transition.is_active:
            self.manager.transition = NoTransition()

    # scans and returns arrive on worker threads ---------------------------------------------------
    def _scan_from_worker(self, event: ScanEvent) -> None:
        Clock.schedule_once(lambda _dt: self.on_scan(event))

    def on_scan(self, event: ScanEvent) -> None:
        """Route a scan event by its type: the screen first; a staff badge anywhere outside a flow starts
        staff sign-in."""
        self.idle.touched()
        screen = self.current_screen()
        log.info("ui.scan kind=%s screen=%s", type(event).__name__, screen.name)
        if screen.on_scan(event):
            return
        if isinstance(event, StaffScanned):
            if not screen.idle_exempt:
                self.go("staff_pin", badge=event.badge)
        elif isinstance(event, ScanRefused) and event.reason == "disk_full":
            screen.notify("This station cannot lend right now")
        elif isinstance(event, ScanRefused):
            screen.notify("Sorry, that is not a code we know.")
        else:
            screen.notify("Please choose what you need first.")

    def _return_from_worker(self, result: ReturnResult) -> None:
        Clock.schedule_once(lambda _dt: self.on_returned(result))

    def on_returned(self, result: ReturnResult) -> None:
        """An item came back into a slot: show it unless staff or a lending is in the middle of something."""
        self.idle.touched()
        screen = self.current_screen()
        if screen.idle_exempt or screen.staff_only:
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
