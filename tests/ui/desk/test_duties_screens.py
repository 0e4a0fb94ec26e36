"""The desk's duties by touch (issue 17): a shift handover signed by the incoming badge + PIN on the screen."""
from __future__ import annotations

from pathlib import Path

from kiosk.services.staff import write_staff_file
from tests.fixtures.ui import STAFF_PIN
from tests.ui.demo import sign_in, staff_scan, with_desk_duties


def test_handover_is_signed_by_the_second_badge_on_screen_and_recorded_once(make_ui, bare_station,
                                                                            tmp_path: Path) -> None:
    assert bare_station.staff.staff_file is not None
    write_staff_file(bare_station.staff.staff_file, {"S-001": ("Wang Fang", STAFF_PIN), "S-002": ("Li Na", "1357")},
                     iterations=1000)
    with_desk_duties(bare_station, tmp_path / "incidents")
    ui = make_ui(bare_station, lang="en")
    sign_in(bare_station, ui.app)
    ui.app.go("diagnostics")
    ui.step(2)
    ui.tap_text("Desk duties")
    ui.wait_screen("duties")
    assert any("after closing: 1" in t for t in ui.visible_texts())  # the demo's bag from before yesterday's closing
    ui.tap_text("Shift handover")
    screen = ui.wait_screen("handover")
    assert screen.ids.sign.disabled
    ui.app.on_scan(staff_scan(bare_station, "S-001"))  # the outgoing badge cannot countersign
    ui.step(2)
    assert screen.second_id == "" and any("second staff member" in t for t in ui.visible_texts())
    ui.app.on_scan(staff_scan(bare_station, "S-002"))
    ui.step(2)
    assert screen.second_id == "S-002"
    for key in "1357":
        screen.ids.keypad.press(key)
    screen.ids.keypad.press("ok")
    ui.wait_until(lambda: screen.second_ok, what="the incoming PIN")
    screen.ids.note.text = "P1 门 2 卡顿"
    ui.tap_text("Sign and send")
    ui.wait_until(lambda: any("Handover signed by S-001 and S-002" in t for t in ui.visible_texts()),
                  what="the handover")
    rows = bare_station.store.query("SELECT outgoing, incoming, body FROM desk_handovers")
    assert [(r["outgoing"], r["incoming"]) for r in rows] == [("S-001", "S-002")] and "P1 门 2 卡顿" in rows[0]["body"]
    assert [e.type for e in bare_station.store.outbox_pending()].count("shift.handover") == 1
    assert screen.ids.sign.disabled  # signed once: a second tap needs a new badge


def test_duty_lists_follow_the_language_switch_in_place(make_ui, bare_station, tmp_path: Path) -> None:
    """One mechanism (kiosk/ui/widgets.py `Worded`): the rows built in Python — the check's lines, the staff's bag
    choices, the shoppers' supplies list — relabel themselves when the language changes, the same widgets."""
    with_desk_duties(bare_station, tmp_path / "incidents")
    ui = make_ui(bare_station)
    sign_in(bare_station, ui.app)
    for name, zh, en in (("supplies_check", "医药箱（满额 2）", "First-aid kit (full 2)"),
                         ("staff_storage", "闭店后", "after closing"),
                         ("supplies", "医药箱", "First-aid kit")):
        ui.app.lang = "zh_CN"
        screen = ui.app.go(name)
        ui.step(2)
        rows = list(screen.ids.rows.walk())
        assert any(zh in t for t in ui.visible_texts()), (name, ui.visible_texts())
        ui.app.lang = "en"
        ui.step(2)
        texts = ui.visible_texts()
        assert any(en in t for t in texts) and not any(zh in t for t in texts), (name, texts)
        assert list(screen.ids.rows.walk()) == rows   # relabelled in place, not rebuilt


def test_the_check_shows_every_item_within_reach_in_low_reach(make_ui, bare_station, tmp_path: Path) -> None:
    """Low reach: the count-and-condition check listed 1½ of 4 items in a 3.3-target scroll view under 900 px of
    nothing, names squeezed into a fifth of the width; now the list fills the lower half (it scrolls beyond),
    each name on a line of its own above its controls."""
    with_desk_duties(bare_station, tmp_path / "incidents")
    ui = make_ui(bare_station, low_reach=True)
    sign_in(bare_station, ui.app)
    screen = ui.app.go("supplies_check")
    ui.step(3)
    rows = screen.ids.rows
    scroll = rows.parent
    half = ui.app.root.height / 2
    assert scroll.top <= half + 1 and (scroll.height >= rows.height - 1 or scroll.top >= half - ui.app.pad), \
        (scroll.y, scroll.top, rows.height)
    names = [w for w in rows.children if type(w).__name__ == "KLabel"]
    assert len(names) == 4 and all(w.width >= rows.width - 1 for w in names)
