"""Shared widgets: the screen frame (title bar, language and accessibility toggles, back/home), a keypad,
an on-screen QR code and the camera preview with its framing guide."""
from __future__ import annotations

import time
from typing import Any

import qrcode
from kivy.app import App
from kivy.clock import Clock
from kivy.graphics import Color, Line
from kivy.graphics.texture import Texture
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.image import Image
from kivy.uix.label import Label
from kivy.uix.widget import Widget


class KLabel(Label):
    """Wrapped text in the theme's colour and size (styled in widgets.kv)."""


class KTitle(KLabel):
    pass


class KButton(Button):
    """A touch target of at least the configured 15 mm, outlined so it never depends on colour.

    Ask for a taller button with `min_h`, never `height`: the class rule owns `height` and re-fires whenever
    the text's texture changes, so a plain `height:` in a screen's kv is overwritten (every button was 64 px)."""

    min_h = NumericProperty(0)


class BarButton(Button):
    """A one-line title-bar button as wide as its text (never wraps, so its width cannot feed back)."""


class AccentButton(KButton):
    """The main action of a screen."""


class Tile(KButton):
    """A home tile: an icon glyph over its label (a msgid, translated live)."""

    icon = StringProperty("")
    msgid = StringProperty("")


class TopBar(BoxLayout):
    """Title, language toggle and the accessibility switches (large text, high contrast, low reach)."""

    frame = ObjectProperty(None, allownone=True)


class NavBar(BoxLayout):
    """Back and home."""

    frame = ObjectProperty(None, allownone=True)
    target_height = NumericProperty(0)


class NoticeLabel(KLabel):
    frame = ObjectProperty(None, allownone=True)
    ok = BooleanProperty(False)


class Frame(BoxLayout):
    """Every screen's layout: [low-reach spacer] title bar · body · notice · back/home bar.

    Children given in a screen's .kv go into the body. In low-reach mode the spacer takes the upper
    half of the screen, so every control sits in the lower half."""

    title = StringProperty("")
    show_nav = BooleanProperty(True)
    show_back = BooleanProperty(True)
    notice = StringProperty("")
    notice_ok = BooleanProperty(False)   # a confirmation (✓) rather than a problem (!)

    def __init__(self, **kwargs: Any) -> None:
        self._ready = False
        kwargs.setdefault("orientation", "vertical")
        super().__init__(**kwargs)
        self.spacer = Widget(size_hint_y=None, height=0)
        self.bar = TopBar()
        self.body = BoxLayout(orientation="vertical")
        self.notice_label = NoticeLabel()
        self.nav = NavBar()
        for w in (self.bar, self.notice_label, self.nav):
            w.frame = self
        for w in (self.spacer, self.bar, self.body, self.notice_label, self.nav):
            super().add_widget(w)
        self._ready = True
        app = App.get_running_app()
        app.bind(low_reach=self._reach)
        self.bind(height=self._reach, show_nav=self._nav, title=self._title, show_back=self._back,
                  notice=self._notice, notice_ok=self._notice)
        self._reach()
        self._back()

    def _title(self, *_: Any) -> None:
        self.bar.ids.title.text = self.title

    def _back(self, *_: Any) -> None:
        back = self.nav.ids.back
        back.opacity = 1 if self.show_back else 0
        back.disabled = not self.show_back

    def _notice(self, *_: Any) -> None:
        mark = "✓ " if self.notice_ok else "! "
        self.notice_label.text = mark + self.notice if self.notice else ""
        self.notice_label.ok = self.notice_ok

    def add_widget(self, widget: Widget, *args: Any, **kwargs: Any) -> None:
        if self._ready:
            self.body.add_widget(widget, *args, **kwargs)
        else:
            super().add_widget(widget, *args, **kwargs)

    def _reach(self, *_: Any) -> None:
        low = App.get_running_app().low_reach
        self.spacer.height = self.height * 0.5 if low else 0

    def _nav(self, *_: Any) -> None:
        self.nav.opacity = 1 if self.show_nav else 0
        self.nav.disabled = not self.show_nav
        self.nav.height = self.nav.target_height if self.show_nav else 0


class Keypad(GridLayout):
    """Digits, delete and OK; `entered` holds what was typed (shown masked by the screen)."""

    entered = StringProperty("")
    max_len = NumericProperty(8)
    on_ok = ObjectProperty(None, allownone=True)

    def press(self, key: str) -> None:
        if key == "del":
            self.entered = self.entered[:-1]
        elif key == "ok":
            if self.on_ok is not None:
                self.on_ok(self.entered)
        elif len(self.entered) < self.max_len:
            self.entered += key

    def clear(self) -> None:
        self.entered = ""


def qr_texture(text: str, module_px: int = 8) -> Texture:
    """A crisp QR code texture (black on white, quiet zone included)."""
    qr = qrcode.QRCode(border=4, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(text)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    n = len(matrix)
    # rows bottom-up: Kivy textures start at the bottom-left
    buf = bytes(0 if cell else 255 for row in reversed(matrix) for cell in row)
    tex = Texture.create(size=(n, n), colorfmt="luminance")
    tex.blit_buffer(buf, colorfmt="luminance", bufferfmt="ubyte")
    tex.mag_filter = "nearest"
    tex.min_filter = "nearest"
    return tex


class QRView(Image):
    data = StringProperty("")

    def on_data(self, *_: Any) -> None:
        self.texture = qr_texture(self.data) if self.data else None


class CameraView(Image):
    """Live preview from the scan service with the decode region drawn as a framing guide."""

    roi = ListProperty([])  # x, y, w, h as fractions of the frame, when the scan service tells it
    running = BooleanProperty(False)
    fps = NumericProperty(0.0)
    available = BooleanProperty(True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._frames = 0
        self._since = 0.0
        self._checks = 0
        self._connected = True
        self.bind(pos=self._draw_guide, size=self._draw_guide, roi=self._draw_guide)

    def start(self) -> None:
        if not self.running:
            self.running = True
            Clock.schedule_interval(self._update, 1 / 15)

    def stop(self) -> None:
        self.running = False
        Clock.unschedule(self._update)
        self.texture = None

    def _update(self, _dt: float) -> None:
        app = App.get_running_app()
        scanning = app.service("scanning")
        frame = None
        if scanning is not None:
            try:
                # latest_frame() keeps the last picture after a camera is lost, so ask status() now and then
                if self._checks % 15 == 0:
                    self._connected = bool(getattr(scanning.status(), "connected", True))
                self._checks += 1
                frame = scanning.latest_frame() if self._connected else None
            except Exception:  # a camera gone mid-preview shows as "camera unavailable", never crashes the UI
                frame = None
            roi = getattr(scanning, "roi", None)
            roi = roi() if callable(roi) else roi
            if roi and list(roi) != list(self.roi):
                self.roi = list(roi)
        self.available = frame is not None
        if frame is None:
            self.texture = None
            return
        h, w = frame.shape[:2]
        tex = self.texture
        if tex is None or tex.size != (w, h):
            tex = Texture.create(size=(w, h), colorfmt="rgb")
            tex.flip_vertical()
        tex.blit_buffer(frame.tobytes(), colorfmt="bgr", bufferfmt="ubyte")
        self.texture = tex
        self.canvas.ask_update()
        now = time.monotonic()  # real frame rate, whatever clock the idle timeout is given
        self._frames += 1
        if now - self._since >= 1.0:
            self.fps = self._frames / (now - self._since) if self._since else 0.0
            self._frames, self._since = 0, now

    def _draw_guide(self, *_: Any) -> None:
        self.canvas.after.clear()
        x, y, w, h = self.roi if len(self.roi) == 4 else (0.2, 0.2, 0.6, 0.6)
        iw, ih = self.norm_image_size if self.texture else self.size
        ox, oy = self.center_x - iw / 2, self.center_y - ih / 2
        with self.canvas.after:
            Color(1, 0.8, 0, 1)
            # ROI fractions are top-left based (image rows); Kivy's y grows upwards
            Line(rectangle=(ox + x * iw, oy + (1 - y - h) * ih, w * iw, h * ih), width=3)
