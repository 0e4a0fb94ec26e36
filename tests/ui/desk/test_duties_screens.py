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
