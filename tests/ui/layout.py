"""Layout rules every screen keeps in every mode (issue 13), as one checker the tests and `make screenshots` use.

Rules: nothing off-screen or clipped (text fits its box), no word cut over two lines, no lone mark cut from its
words and no 避头尾 break in Chinese (kiosk/ui/linebreak.py), no overlapping controls, no invisible widget holding
space, touch targets ≥ 15 mm with ≥ 2 mm gaps, no text under 26 px, and in low-reach mode every control in the
lower half (the bottom band).
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView
from kivy.uix.textinput import TextInput
from kivy.uix.widget import Widget

from kiosk.ui.linebreak import faults
from kiosk.ui.theme import mm_to_px

MIN_TEXT_PX = 26
TARGET_MM = 15.0
GAP_MM = 2.0

Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in window space


def rect(w: Widget) -> Rect:
    x0, y0 = w.to_window(w.x, w.y)
    x1, y1 = w.to_window(w.right, w.top)
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def shown(w: Widget) -> Iterator[tuple[Widget, bool]]:
    """Every widget drawn on the current screen (and the overlay), with whether it sits in a scroll view."""
    def walk(node: Widget, scrolled: bool, hidden: bool) -> Iterator[tuple[Widget, bool]]:
        hidden = hidden or node.opacity <= 0.01
        if not hidden:
            yield node, scrolled
        else:
            yield node, scrolled  # reported by the invisible check below
        for child in node.children:
            yield from walk(child, scrolled or isinstance(node, ScrollView), hidden)
    yield from walk(w, False, False)


def effective_hidden(w: Widget) -> bool:
    node: Any = w
    while node is not None:
        if node.opacity <= 0.01:
            return True
        node = node.parent if node.parent is not node else None
    return False


def controls(root: Widget) -> list[Widget]:
    return [w for w, _s in shown(root) if isinstance(w, Button | TextInput) and not w.disabled
            and not effective_hidden(w) and w.width > 0 and w.height > 0]


def _broken_word(w: Label) -> str | None:
    """A word (no CJK, where a break between characters is normal) that wrapping cut over two lines ("★★★★ / ★"
    on a narrow button in large-text mode, "✓ Femal / e"): the word, or None."""
    lines = getattr(getattr(w, "_label", None), "_cached_lines", None) or []
    drawn = ["".join(word.text for word in line.words).replace("\u00a0", " ") for line in lines]
    for segment in w.text.split("\n"):
        for word in segment.split():
            if any("\u2e80" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef"
                   for ch in word):
                continue
            if drawn and not any(word in line.split() or word in line for line in drawn):
                return word
    return None


def _bad_breaks(w: Label) -> list[str]:
    """Lone marks cut from their words and 避头尾 breaks in Chinese (kiosk/ui/linebreak.py), as drawn."""
    lines = getattr(getattr(w, "_label", None), "_cached_lines", None) or []
    return [why for _i, why in faults(w.text, ["".join(word.text for word in line.words) for line in lines])]


def problems(app: Any, *, dpi: float = 102.0, low_reach: bool = False) -> list[str]:
    """Every broken rule on the current screen, in words (empty: the screen is fine)."""
    screen = app.current_screen()
    win_w, win_h = app.root.width, app.root.height
    out: list[str] = []
    scroll_rects = [rect(w) for w, _s in shown(screen) if isinstance(w, ScrollView)]

    def inside_scroll(r: Rect) -> bool:
        return any(s[0] - 1 <= r[0] and r[2] <= s[2] + 1 for s in scroll_rects)

    for w, scrolled in shown(screen):
        if w is screen:
            continue
        r = rect(w)
        area = (r[2] - r[0]) * (r[3] - r[1])
        name = type(w).__name__ + (f" {w.text!r}" if isinstance(w, Label) and w.text else "")
        if effective_hidden(w):
            if area > 1 and not any(effective_hidden(a) and a is not w for a in [w.parent] if a is not None):
                out.append(f"invisible {name} holds {r[2] - r[0]:.0f}x{r[3] - r[1]:.0f} px")
            continue
        if isinstance(w, Label) and not w.text.strip() and area > 1 and type(w).__name__.startswith("K"):
            out.append(f"empty {name} holds {r[3] - r[1]:.0f} px")
        if area <= 0:
            continue
        if scrolled:
            if not inside_scroll(r):
                out.append(f"{name} sticks out of its scroll view: {r}")
            continue
        if r[0] < -1 or r[1] < -1 or r[2] > win_w + 1 or r[3] > win_h + 1:
            out.append(f"{name} is off-screen: {tuple(round(v) for v in r)}")
        if isinstance(w, Label) and w.text.strip():
            if w.font_size < MIN_TEXT_PX - 0.5:
                out.append(f"{name} text is {w.font_size:.0f} px (< {MIN_TEXT_PX})")
            tw, th = w.texture_size
            if tw > w.width + 2 or th > w.height + 2:
                out.append(f"{name} text {tw:.0f}x{th:.0f} is clipped in {w.width:.0f}x{w.height:.0f}")
            if (word := _broken_word(w)) is not None:
                out.append(f"{name} breaks the word {word!r} over two lines")
            out += [f"{name}: {why}" for why in _bad_breaks(w)]
    texts = [(w, rect(w)) for w, scrolled in shown(screen) if isinstance(w, Label) and w.text.strip()
             and not scrolled and not effective_hidden(w) and w is not screen]
    for i, (a, ra) in enumerate(texts):   # words drawn over words (a crowded hero spilling into the header)
        for b, rb in texts[i + 1:]:
            if a in b.walk(restrict=True) or b in a.walk(restrict=True):
                continue
            if min(ra[2], rb[2]) - max(ra[0], rb[0]) > 2 and min(ra[3], rb[3]) - max(ra[1], rb[1]) > 2:
                out.append(f"text {a.text!r} overlaps text {b.text!r}")
    ctrls = controls(screen)
    need, gap = mm_to_px(TARGET_MM, dpi) - 0.5, mm_to_px(GAP_MM, dpi) - 0.5
    in_scroll = {id(w) for w, scrolled in shown(screen) if scrolled}

    def seen(r: Rect) -> bool:   # a row scrolled out of its view is not drawn there (it is clipped)
        return any(s[0] - 1 <= r[0] and r[2] <= s[2] + 1 and s[1] - 1 <= r[1] and r[3] <= s[3] + 1
                   for s in scroll_rects)

    rects = [(c, r) for c in ctrls if id(c) not in in_scroll or seen(r := rect(c))]
    rects = [(c, rect(c)) for c, _r in rects]
    for c, r in rects:
        label = f"{type(c).__name__} {getattr(c, 'text', '')!r}"
        if r[2] - r[0] < need or r[3] - r[1] < need:
            out.append(f"{label} is {r[2] - r[0]:.0f}x{r[3] - r[1]:.0f} px (< 15 mm = {need:.0f})")
        if low_reach and r[3] > win_h / 2 + 1:
            out.append(f"{label} reaches {r[3]:.0f} px in low reach (band ends at {win_h / 2:.0f})")
    for i, (a, ra) in enumerate(rects):
        for b, rb in rects[i + 1:]:
            if a in b.walk(restrict=True) or b in a.walk(restrict=True):
                continue
            dx = max(ra[0], rb[0]) - min(ra[2], rb[2])
            dy = max(ra[1], rb[1]) - min(ra[3], rb[3])
            if dx < 0 and dy < 0:
                out.append(f"{a.text!r} overlaps {b.text!r}")
            elif max(dx, dy) < gap:
                out.append(f"{a.text!r} and {b.text!r} are {max(dx, dy):.0f} px apart (< 2 mm = {gap:.0f})")
    return out
