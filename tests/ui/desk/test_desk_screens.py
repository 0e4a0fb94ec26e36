"""Desk flows driven by synthetic touches under Xvfb, with real services (and the real centre and lockers)."""
from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from kiosk.config import ItemPolicy
from kiosk.content import load_content
from kiosk.services.complaints import ComplaintDesk
from kiosk.services.directory import Directory
from kiosk.services.lostfound import LostFound
from kiosk.services.members import HttpMemberApi, MemberCentre
from kiosk.services.scanning import MemberScanned, SignedScanned
from kiosk.services.storage import StorageService
from tests.integration.desk.conftest import CentralUnderTest
from tests.integration.desk.lockers import Lockers


def tap_exact(ui: Any, text: str) -> None:
    found = [b for b in ui.buttons() if b.text == text]
    assert found, f"no button {text!r}: {[b.text for b in ui.buttons()]}"
    ui.tap(found[0])


def shows(ui: Any, needle: str) -> bool:
    return any(needle in t for t in ui.visible_texts())


def test_find_starbucks_by_pinyin_initials_and_see_it_on_the_map(make_ui, bare_station, screenshot_dir: Path
                                                                  ) -> None:
    bare_station.directory = Directory(load_content())
    ui = make_ui(bare_station)
    ui.app.go("directory")
    ui.step(2)
    for letter in "XBK":
        tap_exact(ui, letter)
    ui.tap_text("星巴克 · 1F-01")
    shop = ui.wait_screen("shop")
    assert shop.ids.map.texture is not None and shows(ui, "1F-01")
    # "您在这里" and the route: the map is the route picture (one floor here), the steps are in words beside it
    assert shows(ui, "步行至 1F-01") and shop.ids.map.texture.height == 660
    ui.screenshot(screenshot_dir / "desk-shop-map-zh_CN.png")
    ui.tap_text("English")
    assert shows(ui, "Starbucks") and shows(ui, "Walk to 1F-01")


def test_complaint_by_touch_masks_the_phone_and_shows_the_ticket(make_ui, bare_station, screenshot_dir: Path
                                                                 ) -> None:
    desk = ComplaintDesk(store=bare_station.store, tokens=bare_station.tokens, station_id="K01",
                         public_url="http://127.0.0.1:8800")
    bare_station.complaints = desk
    ui = make_ui(bare_station)
    ui.tap_at(540, 900)  # attract → home
    ui.wait_screen("home")
    ui.tap_text("更多服务")
    ui.wait_screen("desk_menu")
    ui.tap_text("投诉与建议")
    ui.wait_screen("complaint")
    tap_exact(ui, "环境卫生")
    tap_exact(ui, "2F")
    tap_exact(ui, "2 ★")
    assert shows(ui, "✓ 环境卫生")
    ui.tap_text("下一步")
    ui.wait_screen("complaint_phone")
    for digit in "13812345678":
        tap_exact(ui, digit)
    assert shows(ui, "138****5678") and not shows(ui, "13812345678")
    tap_exact(ui, ui.app.t("OK"))
    ticket = ui.wait_screen("ticket")
    row = bare_station.store.query("SELECT * FROM desk_complaints")[0]
    assert (row["category"], row["floor"], row["rating"], row["phone_masked"]) == ("cleanliness", "2F", 2,
                                                                                    "138****5678")
    assert shows(ui, row["ticket_id"]) and ticket.url.endswith(row["code"])
    ui.screenshot(screenshot_dir / "desk-ticket-zh_CN.png")
    ui.tap_text(ui.app.t("Done"))
    ui.wait_screen("rating")


def test_wrong_phone_length_is_refused_on_screen(make_ui, bare_station) -> None:
    bare_station.complaints = ComplaintDesk(store=bare_station.store, tokens=bare_station.tokens, station_id="K01",
                                            public_url="http://127.0.0.1:8800")
    ui = make_ui(bare_station, lang="en")
    ui.app.go("complaint_phone", form={"category": "goods", "floor": "1F", "rating": 3, "lang": "en"})
    ui.step(2)
    for digit in "1381234":
        tap_exact(ui, digit)
    tap_exact(ui, "OK")
    ui.wait_until(lambda: shows(ui, "11-digit"), what="the refusal")
    assert bare_station.store.query("SELECT COUNT(*) AS n FROM desk_complaints")[0]["n"] == 0


def test_member_centre_shows_points_and_redeems_parking_once(make_ui, bare_station, central: CentralUnderTest,
                                                              screenshot_dir: Path) -> None:
    tokens = bare_station.tokens
    bare_station.members = MemberCentre(store=bare_station.store, tokens=tokens, station_id="K01",
                                        api=HttpMemberApi(central.url, central.tokens["K01"]))
    ui = make_ui(bare_station, lang="en")
    screen = ui.app.go("member")
    ui.step(2)
    ui.app.on_scan(MemberScanned(tokens.verify_member(tokens.member_code("M10002"))))
    ui.wait_until(lambda: screen.state == "shown", what="the member")
    assert shows(ui, "3400 points") and shows(ui, "李*")
    ui.screenshot(screenshot_dir / "desk-member-en.png")
    ui.tap_text("1 h parking")
    assert screen.state == "shown" and shows(ui, "Confirm: 1 h for 100 points")  # points are spent on a second tap
    ui.tap_text("Confirm: 1 h")
    ui.wait_until(lambda: screen.state == "voucher", what="the voucher")
    assert screen.voucher_code.startswith("P1.") and shows(ui, "Parking voucher: 1 h")
    batch = {"events": [e.envelope() for e in bare_station.store.outbox_pending()]}
    central.upload(bare_station.store)
    again = httpx.post(f"{central.url}/api/v1/stations/K01/events", json=batch,  # the uploader retries
                       headers={"Authorization": f"Bearer {central.tokens['K01']}"})
    assert again.status_code == 200
    resp = httpx.get(f"{central.url}/api/v1/members/M10002",
                     headers={"Authorization": f"Bearer {central.tokens['K01']}"})
    assert resp.json()["points"] == 3300


def test_bag_storage_deposit_and_collect_once(make_ui, bare_station, lockers: Lockers, screenshot_dir: Path
                                               ) -> None:
    sim = lockers.start("S1", fill=0, auto_take=0.2)
    tokens = bare_station.tokens
    bare_station.storage = StorageService(store=bare_station.store, lockers=lockers.connect(),
                                          profiles=lockers.profiles, tokens=tokens, station_id="K01",
                                          policy=ItemPolicy(free_minutes=120, fee_per_hour_cents=200,
                                                            daily_cap_cents=1000, loan_hours=24))
    ui = make_ui(bare_station, lang="en")
    screen = ui.app.go("storage")
    ui.step(2)
    ui.tap_text("Deposit a bag")
    ui.wait_until(lambda: screen.state == "opening", what="a free door")
    assert shows(ui, f"door {screen.slot} of locker S1")
    threading.Thread(target=lockers.control, args=("S1", {"op": "insert", "item": "BAG-UI", "slot": screen.slot}),
                     daemon=True).start()
    ui.wait_until(lambda: screen.state == "stored", what="the receipt")
    ui.step(2)
    # after depositing: the door, what collecting costs and until when (the receipt's expiry)
    assert shows(ui, f"Door {screen.slot} of locker S1") and shows(ui, "First 120 min free, then ¥2.00 per hour")
    assert shows(ui, "Collect it by ")
    ui.screenshot(screenshot_dir / "desk-storage-receipt-en.png")
    code = screen.code
    ui.app.on_scan(SignedScanned(tokens.verify_signed(code, "B1")))
    ui.wait_until(lambda: screen.state == "collected", what="the door opening")
    ui.step(2)
    assert shows(ui, "please take your bag") and shows(ui, "Stored for 1 min")
    # the fee is the hero in display size (it was a clause at the end of the headline)
    amount = next(w for w in screen.walk() if type(w).__name__ == "KDisplay")
    assert amount.text == "Free" and amount.font_size == ui.app.fs_display
    ui.wait_until(lambda: not sim.slots()[screen.slot - 1].item, what="the bag taken")
    screen.state = "choose"
    ui.app.on_scan(SignedScanned(tokens.verify_signed(code, "B1")))
    ui.wait_until(lambda: shows(ui, "already collected"), what="the replay refused")


def _card_photo() -> bytes:
    img = Image.new("RGB", (320, 200), "white")
    for x in range(0, 320, 6):
        img.paste((0, 0, 0), (x, 0, x + 2, 200))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_lost_and_found_browse_shows_blurred_document_and_claim_code(make_ui, bare_station, tmp_path: Path,
                                                                      screenshot_dir: Path) -> None:
    lf = LostFound(store=bare_station.store, tokens=bare_station.tokens, photo_dir=tmp_path / "photos",
                   station_id="K01")
    bare_station.lostfound = lf
    item = lf.register_found(staff_id="S-001", category="documents", floor="1F", place="星巴克门口",
                             found_at=lf.clock() - 3600, description="身份证", photo=_card_photo())
    ui = make_ui(bare_station)
    ui.app.go("lostfound")
    ui.step(2)
    tap_exact(ui, "证件")
    ui.tap_text("查看招领物品")
    ui.tap_text("星巴克门口")
    shown = ui.wait_screen("found_item")
    assert shown.photo.endswith(".public.jpg") and shown.claim_code == item.claim_code
    ui.screenshot(screenshot_dir / "desk-found-item-zh_CN.png")


def test_staff_registers_a_found_item_and_hands_over_old_ones(make_ui, bare_station, tmp_path: Path) -> None:
    from tests.ui.demo import sign_in

    lf = LostFound(store=bare_station.store, tokens=bare_station.tokens, photo_dir=tmp_path / "photos",
                   station_id="K01")
    bare_station.lostfound = lf
    old = lf.register_found(staff_id="S-001", category="umbrella", place="1F 南门", found_at=lf.clock() - 8 * 86_400)
    ui = make_ui(bare_station, lang="en")
    screen = ui.app.go("found_register")
    ui.step(2)
    assert shows(ui, "Staff only")
    sign_in(bare_station, ui.app)
    screen = ui.app.go("found_register")
    ui.step(2)
    tap_exact(ui, "Wallet")
    tap_exact(ui, "3F")
    screen.ids.place.text = "3F LEGO"
    ui.tap_text("Take the photo and register")
    ui.wait_until(lambda: shows(ui, "Registered as LF-"), what="the registration")
    rows = bare_station.store.query("SELECT * FROM desk_found_items WHERE category='wallet'")
    assert [(r["floor"], r["place"], r["registered_by"]) for r in rows] == [("3F", "3F LEGO", "S-001")]
    ui.tap_text("Hand over 1 items")
    assert lf.item(old.item_id).status == "handed_over" and shows(ui, "1 items handed over")
