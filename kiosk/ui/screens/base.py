"""The base of every screen: enter with parameters, wipe, react to scans, Back and Home, notices, speech."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from kivy.app import App
from kivy.properties import BooleanProperty
from kivy.uix.screenmanager import Screen

from kiosk.services.scanning import ScanEvent

if TYPE_CHECKING:
    from kiosk.ui.services import UiServices
    from kiosk.ui.shell import KioskApp


class FlowScreen(Screen):
    persistent = False      # kept across sessions (attract, home); flow screens are dropped on wipe
    idle_exempt = False     # a device is moving: the idle timeout waits
    staff_only = False      # staff screens: returns and badges do not interrupt them
    keep_in_history = True  # Back may return here (not to a wait or a result screen)
    home_button = True      # Home shown (not on Home itself)
    back_button = True      # Back shown when there is somewhere to go back to (not on result screens)
    flow = ""               # name used for the satisfaction rating
    can_go_back = BooleanProperty(False)

    @property
    def app(self) -> KioskApp:
        return cast("KioskApp", App.get_running_app())

    @property
    def services(self) -> UiServices:
        return self.app.services

    def enter(self, **params: Any) -> None:
        """Called by `app.go` with the flow's parameters before the screen shows."""
        self.notify("")

    def wipe(self) -> None:
        """Forget everything about the shopper (subclasses clear their own fields too)."""
        self.notify("")

    def on_scan(self, event: ScanEvent) -> bool:
        """Handle a scan event; return True when this screen used it."""
        return False

    def back(self) -> None:
        self.app.go_back()

    def go_home(self) -> None:
        self.app.go("home")

    def spoken(self) -> str:
        """What speech mode reads when the screen opens: its heading, then what to do."""
        frame = self.ids.get("frame")
        return str(frame.title) if frame is not None else ""

    def notify(self, msgid: str, ok: bool = False, **fmt: Any) -> None:
        """Show a line above the actions: a problem (⚠) or, with ok=True, a confirmation (✓).

        Kept as msgid + values so a language switch re-translates it; problems are read aloud."""
        self._notice = (msgid, ok, fmt)
        self._show_notice()
        if msgid and not ok and self.manager is not None and self.manager.current == self.name:
            frame = self.ids.get("frame")
            if frame is not None:
                self.app.say(frame.notice, urgent=True)

    def _show_notice(self, *_: Any) -> None:
        frame = self.ids.get("frame")
        msgid, ok, fmt = getattr(self, "_notice", ("", False, {}))
        if frame is not None:
            # string values are translated too (a msgid such as an action name; anything else stays as is)
            values = {k: self.app.t(v) if isinstance(v, str) else v for k, v in fmt.items()}
            frame.notice, frame.notice_ok = (self.app.t(msgid).format(**values) if msgid else ""), ok

    def show_widget(self, widget: Any, shown: bool) -> None:
        """Take a widget out of its layout (no space, no touches) or put it back where it was."""
        places = self.__dict__.setdefault("_places", {})
        if widget.parent is not None:
            places[id(widget)] = (widget.parent, widget.parent.children.index(widget), widget)
        if not shown and widget.parent is not None:
            widget.parent.remove_widget(widget)
        elif shown and widget.parent is None and id(widget) in places:
            parent, index, _w = places[id(widget)]
            parent.add_widget(widget, index=min(index, len(parent.children)))

    def _nav(self, *_: Any) -> None:
        frame = self.ids.get("frame")
        if frame is not None:
            frame.show_back = self.can_go_back and self.back_button
            frame.show_home = self.home_button

    def on_kv_post(self, *_: Any) -> None:
        frame = self.ids.get("frame")
        if frame is not None:
            frame.sort_zones()
        self.app.bind(lang=self._show_notice)
        self.bind(can_go_back=self._nav)
        self._nav()
