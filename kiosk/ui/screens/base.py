"""The base of every screen: enter with parameters, wipe, react to scans, back and home, inline notices."""
from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.uix.screenmanager import Screen


class FlowScreen(Screen):
    persistent = False     # kept across sessions (attract, home); flow screens are dropped on wipe
    idle_exempt = False    # a device is moving: the idle timeout waits
    flow = ""              # name used for the satisfaction rating

    @property
    def app(self) -> Any:
        return App.get_running_app()

    def enter(self, **params: Any) -> None:
        """Called by `app.go` with the flow's parameters before the screen shows."""
        self.notify("")

    def wipe(self) -> None:
        """Forget everything about the shopper (subclasses clear their own fields too)."""
        self.notify("")

    def on_scan(self, event: Any) -> bool:
        """Handle a scan event; return True when this screen used it."""
        return False

    def back(self) -> None:
        self.go_home()

    def go_home(self) -> None:
        self.app.go("home")

    def notify(self, msgid: str, ok: bool = False, **fmt: Any) -> None:
        """Show a line under the body: a problem (!) or, with ok=True, a confirmation (✓).

        Kept as msgid + values so a language switch re-translates it."""
        self._notice = (msgid, ok, fmt)
        self._show_notice()

    def _show_notice(self, *_: Any) -> None:
        frame = self.ids.get("frame")
        msgid, ok, fmt = getattr(self, "_notice", ("", False, {}))
        if frame is not None:
            # string values are translated too (a msgid such as an action name; anything else stays as is)
            values = {k: self.app.t(v) if isinstance(v, str) else v for k, v in fmt.items()}
            frame.notice, frame.notice_ok = (self.app.t(msgid).format(**values) if msgid else ""), ok

    def on_kv_post(self, *_: Any) -> None:
        self.app.bind(lang=self._show_notice)
