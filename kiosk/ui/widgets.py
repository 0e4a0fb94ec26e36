"""The design system's components (docs/ui.md "Components"): the screen frame with its zones, buttons, toggles
with a visible on-state, drawn pictograms, service tiles, the countdown ring, the locker diagram, the amount
card, notices, a keypad, an on-screen QR code and the camera preview with its framing guide.

Sizes and colours come from the app's theme properties (kiosk/ui/theme.py tokens); styles are in widgets.kv.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import qrcode
from kivy.animation import Animation
from kivy.app import App
from kivy.clock import Clock
from kivy.graphics import Color, Ellipse, InstructionGroup, Line, Rectangle, RoundedRectangle
from kivy.graphics.texture import Texture
from kivy.properties import (
    BooleanProperty,
    DictProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.image import Image
from kivy.uix.label import Label
from kivy.uix.textinput import TextInput
from kivy.uix.widget import Widget

from kiosk.ui.linebreak import glue, rewrap
from kiosk.ui.pictograms import PICTOGRAMS, _arc_points
from kiosk.ui.theme import PULSE_HZ


def _app() -> Any:
    return App.get_running_app()


class Wrapped:
    """Wraps without a bad break (kiosk/ui/linebreak.py): a leading mark is glued to its first word with a
    no-break space ("✓ / Female" cannot happen), and when Kivy's wrapping puts Chinese closing punctuation at
    the start of a line (避头尾) the label is laid out again with a line break one character (or word) earlier.
    `text` itself never changes."""

    def texture_update(self, *largs: Any) -> None:
        label: Any = self
        core = label._label
        if label.markup or label.text_size[0] is None:
            super().texture_update(*largs)   # type: ignore[misc]
            return
        core.text = glue(label.text)   # afresh: a width change lays the words out again
        super().texture_update(*largs)   # type: ignore[misc]
        for _ in range(4):
            lines = ["".join(word.text for word in line.words) for line in (core._cached_lines or [])]
            fixed = rewrap(core.text, lines)
            if fixed is None:
                return
            core.text = fixed
            super().texture_update(*largs)   # type: ignore[misc]


class Worded:
    """The one way a widget follows the language switch: a widget built in Python is given `words`, a function
    of the language (`KLabel(words=lambda lg: app.t(msgid, lg))`), and relabels itself in place when
    `app.lang` changes (the widgets someone is looking at stay the same ones). Widgets from a kv rule say
    `app.t(msgid, app.lang)` there instead, which Kivy re-evaluates the same way."""

    words: Callable[[str], str] | None = None
    follows_language = False   # a subclass whose words always depend on the language (ChoiceButton)

    def __init__(self, **kwargs: Any) -> None:
        self.words = kwargs.pop("words", None)
        super().__init__(**kwargs)
        if self.words is not None or self.follows_language:
            _app().bind(lang=self.reword)
            self.reword()

    def wording(self, lang: str) -> str:
        return self.words(lang) if self.words is not None else str(getattr(self, "text", ""))

    def reword(self, *_: Any) -> None:
        label: Any = self
        if self.words is not None or self.follows_language:
            label.text = self.wording(_app().lang)


class KLabel(Wrapped, Worded, Label):
    """Wrapped text in the theme's colour and size; an empty label takes no space (ask for more with min_h)."""

    zone = StringProperty("body")
    min_h = NumericProperty(0)


class KTitle(KLabel):
    pass


class KCaption(KLabel):
    pass


class KDisplay(KLabel):
    """Display size: countdowns, door numbers, amounts."""

    zone = StringProperty("hero")


class KButton(Wrapped, Worded, Button):
    """A touch target of at least the configured 15 mm, outlined (≥ 3:1) so it never depends on colour.

    Ask for a taller button with `min_h`, never `height`: the class rule owns `height` and re-fires whenever
    the text's texture changes, so a plain `height:` in a screen's kv is overwritten (every button was 64 px)."""

    min_h = NumericProperty(0)
    zone = StringProperty("body")


class KInput(TextInput):
    """A text field outlined like every control: a white field on the light background is 1.08:1 on its own
    (WCAG 1.4.11 asks 3:1 for a control's edge); the outline turns accent while it has the focus."""


class BarButton(Button):
    """A one-line title-bar button as wide as its text (never wraps, so its width cannot feed back)."""


class BarToggle(BarButton):
    """A header switch (large text, high contrast, low reach, speech): on = filled, ✓ and bold."""

    on = BooleanProperty(False)
    label = StringProperty("")
    icon = StringProperty("")


class AccentButton(KButton):
    """The main action of a screen: full width, in the bottom action band."""

    zone = StringProperty("band")


class PrimaryButton(AccentButton):
    pass


class SecondaryButton(KButton):
    """Another action in the band (Skip, Print …), quieter than the primary one."""

    zone = StringProperty("band")


class ChoiceButton(KButton):
    """One of several choices; the chosen one is filled, bold and marked ✓ — never colour alone. Its words are
    `msgid` translated, or `words(lang)` for words made up of several parts (kiosk/ui/widgets.py `Worded`)."""

    value = StringProperty("")
    msgid = StringProperty("")
    chosen = BooleanProperty(False)
    icon = StringProperty("")
    follows_language = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _app().bind(high_contrast=self._style)
        self.bind(chosen=self._style, msgid=self.reword)
        self._style()

    def wording(self, lang: str) -> str:
        words = self.words(lang) if self.words is not None else _app().t(self.msgid, lang)
        return ("✓ " if self.chosen else "") + words

    def _style(self, *_: Any) -> None:
        app = _app()
        self.reword()
        self.bold = self.chosen
        self.background_color = app.c_accent if self.chosen else app.c_btn
        self.color = app.c_accent_fg if self.chosen else app.c_btn_fg


class Pictogram(Widget):
    """A drawn vector pictogram (kiosk/ui/pictograms.py) in `color`, scaled to the widget's square."""

    name = StringProperty("")
    color = ListProperty([0, 0, 0, 1])
    zone = StringProperty("hero")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bind(pos=self._draw, size=self._draw, name=self._draw, color=self._draw)

    def _draw(self, *_: Any) -> None:
        self.canvas.clear()
        side = min(self.width, self.height)
        draw_pictogram(self.canvas, self.name, self.color, self.center_x - side / 2, self.center_y - side / 2, side)


def draw_pictogram(canvas: Any, name: str, color: Sequence[float], ox: float, oy: float, side: float) -> None:
    """The strokes of pictogram `name` added to `canvas` (a canvas or an instruction group), in a `side`-px
    square whose bottom-left is (ox, oy)."""
    strokes = PICTOGRAMS.get(name)
    if not strokes or side <= 0:
        return
    s = side / 100
    add = canvas.add
    add(Color(*color))
    for st in strokes:
        kind = st[0]
        if kind == "line":
            pts = [v * s + (ox if i % 2 == 0 else oy) for i, v in enumerate(st[1])]
            add(Line(points=pts, width=max(1.0, st[2] * s / 2), joint="round", cap="round"))
        elif kind == "circle":
            add(Line(circle=(ox + st[1] * s, oy + st[2] * s, st[3] * s), width=max(1.0, st[4] * s / 2)))
        elif kind == "disc":
            r = st[3] * s
            add(Ellipse(pos=(ox + st[1] * s - r, oy + st[2] * s - r), size=(2 * r, 2 * r)))
        elif kind == "rect":
            add(Line(rounded_rectangle=(ox + st[1] * s, oy + st[2] * s, st[3] * s, st[4] * s, 3 * s),
                     width=max(1.0, st[5] * s / 2)))
        elif kind == "box":
            add(Rectangle(pos=(ox + st[1] * s, oy + st[2] * s), size=(st[3] * s, st[4] * s)))
        elif kind == "arc":
            pts = _arc_points(ox + st[1] * s, oy + st[2] * s, st[3] * s, st[4], st[5])
            add(Line(points=pts, width=max(1.0, st[6] * s / 2), cap="round"))


class ServiceTile(KButton):
    """A home tile: pictogram, label and an availability chip ("12 可借"); out of service says so in words."""

    icon = StringProperty("")
    msgid = StringProperty("")
    chip = StringProperty("")           # availability in words, already translated
    out_of_service = BooleanProperty(False)
    accent = ListProperty([0, 0, 0, 1])
    fit_h = NumericProperty(0)
    words_h = NumericProperty(0)
    row_words_h = NumericProperty(0)
    picture_side = 0.0   # the pictogram's side as drawn

    def __init__(self, **kwargs: Any) -> None:
        self._measured: tuple[Any, float] = (None, 0.0)
        super().__init__(**kwargs)
        self._replace = Clock.create_trigger(self._place, -1)   # once per frame, on the final geometry
        self.bind(pos=self._replace, size=self._replace, icon=self._replace, accent=self._replace,
                  out_of_service=self._replace, text=self._replace, font_size=self._replace,
                  texture_size=self._replace, row_words_h=self._replace)

    def _place(self, *_: Any) -> None:
        """The pictogram fills the space above the words; `fit_h` is what the words need (the tile grows to it:
        a chip such as "⚠ Out of service" must never clip the name)."""
        app = _app()
        pad = app.pad if app is not None else 12
        words = self.words_h = self._words_height(pad) + pad * 2
        self.fit_h = words + pad * 2 + 16   # the text box is the tile less a pad each side, then its own padding
        # a row of tiles gives every pictogram the same room (row_words_h: the most words in the row)
        room = self.height - max(words, self.row_words_h) - 16
        side = self.picture_side = max(0.0, min(self.width * 0.6, room))
        colour = (app.c_outline if self.out_of_service else self.accent) if app is not None else self.accent
        self.canvas.after.remove_group("picture")
        group = InstructionGroup(group="picture")
        draw_pictogram(group, self.icon, colour, self.center_x - side / 2, self.top - 8 - side, side)
        self.canvas.after.add(group)

    def _words_height(self, pad: float) -> float:
        """The height of the words wrapped to the tile's width (measured, not clipped by the tile's height)."""
        from kivy.core.text import Label as CoreLabel

        key = (self.text, round(self.width), self.font_size, self.bold, self.font_name)
        if key != self._measured[0]:
            core = CoreLabel(text=glue(self.text), font_size=self.font_size, bold=self.bold, font_name=self.font_name,
                             line_height=self.line_height, halign="center",
                             text_size=(max(1.0, self.width - pad * 4), None))   # text box less padding
            core.refresh()
            self._measured = (key, float(core.content_height))   # the texture itself is not kept
        return self._measured[1]


class Tile(ServiceTile):
    """Kept for other rooms' tiles: a ServiceTile."""


class TopBar(BoxLayout):
    """Title; the language switch and the accessibility toggles sit in `toggles` (moved down in low reach)."""

    frame = ObjectProperty(None, allownone=True)


class ToggleRow(BoxLayout):
    """Language, large text, high contrast, low reach and speech, each with a visible on-state."""


class NavBar(BoxLayout):
    """One Back (to the previous screen) and one Home; each only where it leads somewhere."""

    frame = ObjectProperty(None, allownone=True)


class NoticeLabel(KLabel):
    frame = ObjectProperty(None, allownone=True)
    ok = BooleanProperty(False)


class Frame(BoxLayout):
    """Every screen's layout, top to bottom: header (title + toggles) · hero · body · notice · action band · nav.

    Children given in a screen's .kv go to the zone they name (`zone: 'hero' | 'body' | 'band'`; buttons of the
    band and pictures of the hero say so themselves). The hero takes the free height, so the body, the actions
    and Back/Home sit at the bottom, within reach. In low-reach mode the toggles move down beside the actions,
    and only the hero shrinks."""

    title = StringProperty("")
    show_nav = BooleanProperty(True)
    show_back = BooleanProperty(True)
    show_home = BooleanProperty(True)
    notice = StringProperty("")
    notice_ok = BooleanProperty(False)   # a confirmation (✓) rather than a problem (⚠)

    def __init__(self, **kwargs: Any) -> None:
        self._ready = False
        kwargs.setdefault("orientation", "vertical")
        super().__init__(**kwargs)
        self.bar = TopBar()
        self.toggles = ToggleRow()
        self.hero = BoxLayout(orientation="vertical")
        self.body = BoxLayout(orientation="vertical", size_hint_y=None)
        self.body.bind(minimum_height=self.body.setter("height"))
        self.notice_label = NoticeLabel()
        self.band = BoxLayout(orientation="vertical", size_hint_y=None)
        self.band.bind(minimum_height=self.band.setter("height"))
        self.nav = NavBar()
        for w in (self.bar, self.notice_label, self.nav):
            w.frame = self
        for w in (self.bar, self.hero, self.body, self.notice_label, self.band, self.nav):
            super().add_widget(w)
        self._ready = True
        app = _app()
        app.bind(low_reach=self._reach, pad=self._spacing)
        self.bind(show_nav=self._nav, title=self._title, show_back=self._nav, show_home=self._nav,
                  notice=self._notice, notice_ok=self._notice)
        self._spacing()
        self._reach()
        self._nav()

    def _spacing(self, *_: Any) -> None:
        pad = _app().pad
        for box in (self, self.hero, self.body, self.band):
            box.spacing = pad

    def _title(self, *_: Any) -> None:
        self.bar.ids.title.text = self.title

    def _nav(self, *_: Any) -> None:
        nav = self.nav
        if not hasattr(self, "_nav_buttons"):   # strong references: a removed button must not be collected
            self._nav_buttons = {key: nav.ids[key].__self__ for key in ("back", "home")}
        for key, shown in (("back", self.show_back), ("home", self.show_home)):
            button = self._nav_buttons[key]
            if shown and button.parent is None:
                nav.add_widget(button, index=0 if key == "home" else len(nav.children))
            elif not shown and button.parent is not None:
                nav.remove_widget(button)
        visible = self.show_nav and bool(nav.children)
        if visible and nav.parent is None:
            super().add_widget(nav)
        elif not visible and nav.parent is not None:
            self.remove_widget(nav)

    def _notice(self, *_: Any) -> None:
        mark = "✓ " if self.notice_ok else "⚠ "
        self.notice_label.text = mark + self.notice if self.notice else ""
        self.notice_label.ok = self.notice_ok

    def add_widget(self, widget: Widget, *args: Any, **kwargs: Any) -> None:
        if not self._ready:
            super().add_widget(widget, *args, **kwargs)
            return
        # kv sets a child's own `zone: …` only after adding it: the screen calls sort_zones() once built
        self.body.add_widget(widget, *args, **kwargs)

    def sort_zones(self) -> None:
        """Move each child of the body to the zone it names, keeping their order."""
        for widget in list(reversed(self.body.children)):
            zone = getattr(widget, "zone", "body")
            if zone in ("hero", "band"):
                self.body.remove_widget(widget)
                (self.hero if zone == "hero" else self.band).add_widget(widget)
            elif widget.size_hint_y is not None:
                widget.size_hint_y = None   # the body is as tall as its content; flexible parts go in the hero

    def _reach(self, *_: Any) -> None:
        low = _app().low_reach
        if self.toggles.parent is not None:
            self.toggles.parent.remove_widget(self.toggles)
        if low:   # beside the actions: between the notice and the band
            index = self.children.index(self.band) + 1
            super().add_widget(self.toggles, index=index)
        else:
            self.bar.add_widget(self.toggles)


class Keypad(GridLayout):
    """Digits, delete and OK; `entered` holds what was typed (shown masked by the screen)."""

    entered = StringProperty("")
    max_len = NumericProperty(8)
    on_ok = ObjectProperty(None, allownone=True)
    zone = StringProperty("body")

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


class Collapsible:
    """`shown: False` takes the widget out of the layout (no height, no touches), never just transparent."""

    def visible(self) -> bool:
        return bool(getattr(self, "shown", True))

    def _collapse(self, *_: Any) -> None:
        w: Any = self
        if w.visible():
            if getattr(w, "_saved_hint", None) is not None:
                w.size_hint_y, w._saved_hint = w._saved_hint, None
            if getattr(w, "_saved_height", None) is not None:
                w.height, w._saved_height = w._saved_height, None
            w.opacity, w.disabled = 1, False
        else:
            if getattr(w, "_saved_hint", None) is None and getattr(w, "_saved_height", None) is None:
                w._saved_hint, w._saved_height = w.size_hint_y, w.height
            w.size_hint_y, w.height, w.opacity, w.disabled = None, 0, 0, True


class QRView(Collapsible, Image):
    data = StringProperty("")
    zone = StringProperty("hero")
    shown = BooleanProperty(True)

    def on_shown(self, *_: Any) -> None:
        self._collapse()

    def on_data(self, *_: Any) -> None:
        self.texture = qr_texture(self.data) if self.data else None


class CountdownRing(Widget):
    """The door-open hero: a draining ring around the seconds left, pulsing at 1 Hz in the last 5 s."""

    seconds = NumericProperty(0)
    total = NumericProperty(1)
    unit = StringProperty("")
    zone = StringProperty("hero")
    pulse = NumericProperty(1.0)

    def __init__(self, **kwargs: Any) -> None:
        self._arc_colour: Color | None = None
        super().__init__(**kwargs)
        self.bind(pos=self._draw, size=self._draw, seconds=self._draw, total=self._draw)
        Clock.schedule_interval(self._beat, 1 / 10)

    def _beat(self, _dt: float) -> None:
        if self._arc_colour is None or self.get_root_window() is None:
            return   # (the Clock holds this method weakly: a dropped screen's ring goes with it)
        app = _app()
        urgent = 0 < self.seconds <= 5 and app is not None and app.motion
        alpha = 0.55 + 0.45 * (0.5 + 0.5 * math.cos(2 * math.pi * PULSE_HZ * time.monotonic())) if urgent else 1.0
        if self._arc_colour is not None:
            self._arc_colour.a = alpha   # only the colour changes: no redraw

    def _draw(self, *_: Any) -> None:
        app = _app()
        if app is None:
            return
        self.canvas.before.clear()
        r = min(self.width, self.height) / 2 - app.pad * 2
        if r <= 0:
            return
        frac = max(0.0, min(1.0, self.seconds / self.total)) if self.total else 0.0
        colour = app.c_err if self.seconds <= 5 else app.c_accent
        with self.canvas.before:
            Color(*app.c_outline)
            Line(circle=(self.center_x, self.center_y, r), width=max(2, r * 0.04))
            self._arc_colour = Color(*colour[:3], 1.0)
            Line(circle=(self.center_x, self.center_y, r, 0, 360 * frac), width=max(4, r * 0.1), cap="round")


class LockerDiagram(Widget):
    """The cabinet drawn like the real one (rows × columns from its profile, door 1 at the top left):
    the door to use filled and pulsing in sync with its LED; free doors outlined for a return; in staff mode
    every door shows its state (and fault code) and can be chosen.

    `doors`: [{"slot": n, "state": "occupied|empty|open|fault|disabled", "item": …, "fault": code}]."""

    rows = NumericProperty(1)
    cols = NumericProperty(1)
    doors = ListProperty([])
    lit = NumericProperty(0)            # the door to use (0 = none)
    show_free = BooleanProperty(False)  # return: light every empty door
    selectable = BooleanProperty(False)
    selected = NumericProperty(0)
    locker_id = StringProperty("")
    accent = ListProperty([0.04, 0.36, 0.68, 1])
    zone = StringProperty("hero")
    pulse = NumericProperty(1.0)
    labels = DictProperty({})   # slot → extra words drawn in the door (staff mode)

    def __init__(self, **kwargs: Any) -> None:
        self._label_cache: dict[tuple[str, int], Texture] = {}
        self._lit_colour: Color | None = None
        self.register_event_type("on_select")
        super().__init__(**kwargs)
        self.bind(pos=self._draw, size=self._draw, rows=self._draw, cols=self._draw, doors=self._draw,
                  lit=self._draw, show_free=self._draw, selected=self._draw, accent=self._draw,
                  labels=self._draw)
        Clock.schedule_interval(self._beat, 1 / 10)

    def on_select(self, slot: int) -> None:
        pass

    def _beat(self, _dt: float) -> None:
        """1 Hz pulse of the lit door: only its colour instruction changes (no redraw, no new textures)."""
        app = _app()
        if self._lit_colour is None or self.get_root_window() is None:
            return
        if self.lit and app is not None and app.motion:
            self.pulse = 0.45 + 0.55 * (0.5 + 0.5 * math.cos(2 * math.pi * PULSE_HZ * time.monotonic()))
        else:
            self.pulse = 1.0
        self._lit_colour.a = self.pulse

    def door_rect(self, slot: int) -> tuple[float, float, float, float]:
        """Where door `slot` (1-based, row by row from the top left) is drawn: x, y, w, h in window space."""
        rows, cols = max(1, int(self.rows)), max(1, int(self.cols))
        gap = max(4.0, min(self.width, self.height) * 0.012)
        cw = (self.width - gap * (cols + 1)) / cols
        ch = (self.height - gap * (rows + 1)) / rows
        i = slot - 1
        r, c = divmod(i, cols)
        return (self.x + gap + c * (cw + gap), self.top - gap - (r + 1) * ch - r * gap, cw, ch)

    def _text(self, text: str, size: int, colour: Sequence[float]) -> Texture:
        from kivy.core.text import Label as CoreLabel

        key = (text + repr(tuple(colour)), size)
        tex = self._label_cache.get(key)
        if tex is None:
            label = CoreLabel(text=text, font_size=size, bold=True, color=tuple(colour))
            label.refresh()
            tex = label.texture
            if len(self._label_cache) > 400:
                self._label_cache.clear()
            self._label_cache[key] = tex
        return tex

    def _draw(self, *_: Any) -> None:
        app = _app()
        if app is None or self.width <= 1:
            return
        self.canvas.clear()
        self._lit_colour = None
        states = {int(d.get("slot", 0)): d for d in self.doors}
        count = max(len(states), int(self.rows) * int(self.cols), int(self.lit))
        with self.canvas:
            Color(*app.c_btn)
            RoundedRectangle(pos=self.pos, size=self.size, radius=[8])
            Color(*app.c_outline)
            Line(rounded_rectangle=(self.x, self.y, self.width, self.height, 8), width=2)
            for slot in range(1, count + 1):
                x, y, w, h = self.door_rect(slot)
                door = states.get(slot, {})
                state = door.get("state", "")
                free = self.show_free and state == "empty"
                if slot == self.lit:
                    self._lit_colour = Color(*app.c_focus[:3], self.pulse)
                    RoundedRectangle(pos=(x, y), size=(w, h), radius=[6])
                elif free:
                    Color(*self.accent[:3], 0.18)
                    RoundedRectangle(pos=(x, y), size=(w, h), radius=[6])
                elif state == "fault":
                    Color(*app.c_err[:3], 0.22)
                    RoundedRectangle(pos=(x, y), size=(w, h), radius=[6])
                edge = self.accent if (slot == self.lit or free) else app.c_outline
                Color(*edge)
                width = 4 if (slot == self.lit or slot == self.selected) else 1.6
                Line(rounded_rectangle=(x, y, w, h, 6), width=width)
                if slot == self.selected:
                    Color(*app.c_accent)
                    Line(rounded_rectangle=(x - 4, y - 4, w + 8, h + 8, 8), width=3)
                fit = min(h * 0.42, w * 0.42, app.fs_display * 0.6)
                # a size of the type scale, not one of its own: SDL_ttf opens a 2.5 MB face per size (docs/ui.md)
                size = int(max([app.fs_cap] + [s for s in (app.fs, app.fs_h2, app.fs_title) if s <= fit]))
                fg = app.c_fg if slot != self.lit else (0.1, 0.1, 0.1, 1)
                words = str(slot) + ((" " + self.labels[slot]) if slot in self.labels else "")
                tex = self._text(words, size, fg)
                Color(1, 1, 1, 1)
                tw, th = min(tex.width, w - 4), min(tex.height, h - 4)
                Rectangle(texture=tex, pos=(x + (w - tw) / 2, y + (h - th) / 2), size=(tw, th))

    def on_touch_down(self, touch: Any) -> bool:
        if not self.selectable or not self.collide_point(*touch.pos):
            return super().on_touch_down(touch)
        count = max(len(self.doors), int(self.rows) * int(self.cols))
        for slot in range(1, count + 1):
            x, y, w, h = self.door_rect(slot)
            if x <= touch.x <= x + w and y <= touch.y <= y + h:
                self.selected = slot
                self.dispatch("on_select", slot)
                return True
        return True


class AmountCard(BoxLayout):
    """The return screen's hero: what it cost in display size, with what it is for and how it is paid."""

    caption = StringProperty("")
    amount = StringProperty("")
    detail = StringProperty("")
    zone = StringProperty("hero")


class QRCard(BoxLayout):
    """A QR code with its caption ("微信扫一扫" …)."""

    data = StringProperty("")
    caption = StringProperty("")
    zone = StringProperty("hero")


def fade_in(widget: Widget) -> None:
    """Short motion (200 ms) for a screen's hero; nothing in high-contrast mode."""
    app = _app()
    if app is None or not app.motion:
        widget.opacity = 1
        return
    widget.opacity = 0.0
    Animation(opacity=1.0, duration=0.2, t="out_quad").start(widget)


class CameraView(Collapsible, Image):
    """Live preview from the scan service with the decode region drawn as a framing guide."""

    shown = BooleanProperty(True)

    def on_shown(self, *_: Any) -> None:
        self._collapse()
        if not self.visible():
            self.stop()

    def visible(self) -> bool:
        """Shown, on a station that has a camera: with no scan service there is no picture to frame, only an
        empty grey box (the screen's words say what to do instead)."""
        app = _app()
        return bool(self.shown) and (app is None or app.services.scanning is not None)

    roi = ListProperty([])  # x, y, w, h as fractions of the frame, when the scan service tells it
    running = BooleanProperty(False)
    fps = NumericProperty(0.0)
    available = BooleanProperty(True)
    zone = StringProperty("hero")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._frames = 0
        self._since = 0.0
        self._checks = 0
        self._connected = True
        self.bind(pos=self._draw_guide, size=self._draw_guide, roi=self._draw_guide)
        if not self.visible():
            Clock.schedule_once(lambda _dt: self._collapse(), 0)   # after the kv rule has sized it

    def start(self) -> None:
        if self.visible():
            self._start()

    def _start(self) -> None:
        if not self.running:
            self.running = True
            Clock.schedule_interval(self._update, 1 / 15)

    def stop(self) -> None:
        self.running = False
        Clock.unschedule(self._update)
        self.texture = None

    def _update(self, _dt: float) -> None:
        scanning = _app().services.scanning
        frame = None
        if scanning is not None:
            try:
                # latest_frame() keeps the last picture after a camera is lost, so ask status() now and then
                if self._checks % 15 == 0:
                    self._connected = bool(scanning.status().connected)
                self._checks += 1
                frame = scanning.latest_frame() if self._connected else None
            except Exception:  # a camera gone mid-preview shows as "camera unavailable", never crashes the UI
                frame = None
            roi = scanning.roi
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
        if not self.texture:
            return   # no picture: no guide over nothing
        x, y, w, h = self.roi if len(self.roi) == 4 else (0.2, 0.2, 0.6, 0.6)
        iw, ih = self.norm_image_size
        ox, oy = self.center_x - iw / 2, self.center_y - ih / 2
        app = _app()
        with self.canvas.after:
            Color(*(app.c_focus if app is not None else (1, 0.8, 0, 1)))
            # ROI fractions are top-left based (image rows); Kivy's y grows upwards
            Line(rectangle=(ox + x * iw, oy + (1 - y - h) * ih, w * iw, h * ih), width=4)
