"""Every screen in every mode keeps the layout rules of tests/ui/layout.py (issue 13)."""
from __future__ import annotations

import pytest

from tests.ui.demo import demo_screens, open_screen

# high contrast swaps the palette only (kiosk/ui/theme.py: same sizes, same grid), so its layout is the normal
# one: `make test` checks it under -m slow only, keeping the suite near its 10-minute budget.
MODES = ["normal", "large_text", pytest.param("high_contrast", marks=pytest.mark.slow), "low_reach"]


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
@pytest.mark.parametrize("mode", MODES)
def test_every_screen_keeps_the_layout_rules(make_ui, bare_station, tmp_path, lang: str, mode: str) -> None:
    from tests.ui.demo import with_desk_duties, with_directory
    from tests.ui.layout import problems

    with_directory(bare_station)   # directory, shop and info as shoppers see them, not "not available"
    with_desk_duties(bare_station, tmp_path / "incidents")   # the desk's duties with lists to lay out
    ui = make_ui(bare_station, lang=lang, **({mode: True} if mode != "normal" else {}))
    found = {}
    for name in demo_screens():
        open_screen(ui, bare_station, name)
        ui.step(2)
        bad = problems(ui.app, low_reach=mode == "low_reach")
        if bad:
            found[name] = bad
    assert not found, "\n".join(f"{name}: {p}" for name, ps in found.items() for p in ps)


def test_the_checker_catches_what_it_is_for(make_ui, bare_station) -> None:
    """A tiny button, an overlap, a hidden widget holding space and small text are all reported."""
    from kivy.factory import Factory

    from tests.ui.layout import problems

    ui = make_ui(bare_station)
    screen = open_screen(ui, bare_station, "home")
    body = screen.ids.frame.body
    small = Factory.Button(text="x", size_hint=(None, None), size=(30, 30), font_size=12)
    hidden = Factory.KLabel(text="hidden", opacity=0)
    narrow = Factory.Label(text="★★★★★", size_hint=(None, None), size=(120, 200), font_size=60)
    narrow.text_size = (120, None)
    body.add_widget(small)
    body.add_widget(hidden)
    body.add_widget(narrow)
    ui.step(3)
    found = "\n".join(problems(ui.app, low_reach=True))
    assert "(< 15 mm" in found and "text is 12 px" in found and "invisible KLabel" in found
    assert "breaks the word '★★★★★' over two lines" in found
    assert "in low reach" in found


def test_the_checker_catches_words_drawn_over_words(make_ui, bare_station) -> None:
    """A crowded hero spilled its headline over the header in large text (storage, after a deposit)."""
    from kivy.factory import Factory

    from tests.ui.layout import problems

    ui = make_ui(bare_station)
    screen = open_screen(ui, bare_station, "home")
    box = Factory.RelativeLayout(size_hint_y=None, height=120)
    for text in ("Your bag is stored", "中文 大字 高对比"):
        box.add_widget(Factory.Label(text=text, font_size=30, size_hint=(None, None), size=(400, 60), pos=(0, 20)))
    screen.ids.frame.body.add_widget(box)
    ui.step(3)
    assert "text 'Your bag is stored' overlaps text '中文 大字 高对比'" in "\n".join(problems(ui.app)) or \
        "text '中文 大字 高对比' overlaps text 'Your bag is stored'" in "\n".join(problems(ui.app))


def test_the_checker_catches_bad_line_breaks_and_labels_avoid_them(make_ui, bare_station) -> None:
    """A mark cut from its word ("✓ / Female") and Chinese closing punctuation starting a line (避头尾) are
    reported on a plain Kivy label; the station's own labels and buttons, given the same text and width, wrap
    without them."""
    from kivy.factory import Factory

    from tests.ui.layout import problems

    ui = make_ui(bare_station, large_text=True)
    screen = open_screen(ui, bare_station, "home")
    body = screen.ids.frame.body
    zh = "请使用其他服务站，或咨询服务台。"
    plain = [Factory.Label(text="✓ Female", font_size=48, bold=True, size_hint=(None, None), size=(190, 140)),
             Factory.Label(text=zh, font_size=48, size_hint=(None, None), size=(760, 140))]
    plain[0].text_size, plain[1].text_size = (190, None), (760, None)
    for w in plain:
        body.add_widget(w)
    ui.step(3)
    found = "\n".join(problems(ui.app))
    assert "the mark '✓' stands alone on a line" in found
    assert "starts with '。' (避头尾)" in found
    for w in plain:
        body.remove_widget(w)
    ours = [Factory.KButton(text="✓ Female", font_size=48, bold=True, size_hint_x=None, width=400),
            Factory.KLabel(text=zh, font_size=48, size_hint_x=None, width=760)]
    for w in ours:
        body.add_widget(w)
    ui.step(3)
    lines = ["".join(word.text for word in line.words) for line in ours[1]._label._cached_lines]
    assert len(lines) == 2 and lines[1].startswith("台"), lines   # the last character goes down with its 。
    assert ours[1].text == zh   # the text itself is untouched
    found = "\n".join(problems(ui.app))
    assert "stands alone" not in found and "避头尾" not in found, found
