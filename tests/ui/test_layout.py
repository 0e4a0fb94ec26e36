"""Every screen in every mode keeps the layout rules of tests/ui/layout.py (issue 13)."""
from __future__ import annotations

import pytest

from kiosk.ui.screens import SCREENS
from tests.ui.demo import open_screen

# high contrast swaps the palette only (kiosk/ui/theme.py: same sizes, same grid), so its layout is the normal
# one: `make test` checks it under -m slow only, keeping the suite near its 10-minute budget.
MODES = ["normal", "large_text", pytest.param("high_contrast", marks=pytest.mark.slow), "low_reach"]


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
@pytest.mark.parametrize("mode", MODES)
def test_every_screen_keeps_the_layout_rules(make_ui, bare_station, lang: str, mode: str) -> None:
    from tests.ui.layout import problems

    ui = make_ui(bare_station, lang=lang, **({mode: True} if mode != "normal" else {}))
    found = {}
    for name in sorted(SCREENS):
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
