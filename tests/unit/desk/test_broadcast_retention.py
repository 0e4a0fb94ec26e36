"""Station side of issue 17: 广播寻人 requests filed in one transaction with their event, and the desk's
retention purge (found-item photos, lost reports, requests), one test per kind."""
from __future__ import annotations

import io
import json
import logging
import random
from pathlib import Path

import pytest
from PIL import Image

from kiosk.services.broadcast import BroadcastDesk, BroadcastRefused
from kiosk.services.lostfound import LostFound
from kiosk.services.receipts import layout_for
from kiosk.services.retention import Purger, desk_rules
from kiosk.store import Store
from kiosk.tokens import TokenBook
from tests.unit.desk.conftest import FakeClock, changes

PHONE = "13812345678"
DAY = 86_400


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def desk(store: Store, tokens: TokenBook, clock: FakeClock) -> BroadcastDesk:
    return BroadcastDesk(store=store, tokens=tokens, station_id="K01", public_url="https://c.example",
                         clock=clock, rng=random.Random(1))


@pytest.fixture
def lf(store: Store, tokens: TokenBook, clock: FakeClock, tmp_path: Path) -> LostFound:
    return LostFound(store=store, tokens=tokens, photo_dir=tmp_path / "photos", station_id="K01", clock=clock)


def test_a_request_is_one_row_and_one_event_with_the_number_masked(
        desk: BroadcastDesk, store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    req = desk.file(kind="child", gender="male", colour="blue", floor="2F", seen_minutes_ago=15, phone=PHONE)
    events = store.outbox_pending()
    assert [e.type for e in events] == ["broadcast.filed"]
    assert events[0].data["phone_masked"] == "138****5678" and events[0].data["traits"] == {
        "gender": "male", "colour": "blue"}
    assert events[0].data["last_seen_at"] == req.created_at - 15 * 60
    assert req.status_url.endswith("/desk/r/" + req.code) and req.code.startswith("R1.")
    printed = " ".join(str(b) for b in layout_for(desk.receipt(req)).blocks)
    assert "138****5678" in printed and PHONE not in printed
    assert PHONE not in caplog.text and PHONE not in json.dumps([e.data for e in events])


@pytest.mark.parametrize("fields, code", [
    ({"kind": "child", "floor": "2F", "seen_minutes_ago": 5, "phone": "12345"}, "phone_invalid"),
    ({"kind": "item", "floor": "2F", "seen_minutes_ago": 5, "phone": PHONE}, "invalid_form"),
    ({"kind": "child", "floor": "9X", "seen_minutes_ago": 5, "phone": PHONE}, "invalid_floor"),
    ({"kind": "child", "floor": "2F", "seen_minutes_ago": 5, "phone": PHONE, "description": "穿红衣服"},
     "invalid_description"),
    ({"kind": "child", "floor": "2F", "seen_minutes_ago": 5, "phone": PHONE, "photo": b"x"}, "invalid_photo"),
])
def test_refused_requests_store_nothing(desk: BroadcastDesk, store: Store, fields: dict, code: str) -> None:
    before = changes(store)
    with pytest.raises(BroadcastRefused) as refused:
        desk.file(**fields)
    assert refused.value.code == code
    assert changes(store) == before and not store.query("SELECT 1 FROM desk_requests")


def test_staff_may_add_a_description(desk: BroadcastDesk, store: Store) -> None:
    req = desk.file(staff_id="S7", kind="item", item_category="bag", floor="1F", seen_minutes_ago=30, phone=PHONE,
                    description="黑色双肩包")
    assert store.outbox_pending()[0].data["description"] == "黑色双肩包" and req.filed_by == "S7"


def test_request_purged_when_its_time_ends_but_not_before_it_reached_the_centre(
        desk: BroadcastDesk, store: Store, clock: FakeClock) -> None:
    req = desk.file(kind="elder", floor="1F", place="东门", seen_minutes_ago=5, phone=PHONE)
    purger = Purger(store, desk_rules(), clock)
    clock.advance(3 * DAY)
    assert purger.run()["request"] == 0  # still waiting in the outbox: the centre must get it first
    store.mark_sent(10)
    assert purger.run()["request"] == 1 and purger.run()["request"] == 0
    row = store.query("SELECT * FROM desk_requests WHERE request_id=?", (req.request_id,))[0]
    assert (row["phone_masked"], row["place"], row["purged_at"]) == (None, "", clock.now)
    data = json.loads(store.query("SELECT data FROM outbox")[0]["data"])
    assert "phone_masked" not in data and "place" not in data and data["kind"] == "elder"


def test_found_item_photos_deleted_when_claimed_handed_over_or_retention_ends(
        lf: LostFound, store: Store, clock: FakeClock) -> None:
    purger = Purger(store, desk_rules(), clock)
    claimed = lf.register_found(staff_id="S1", category="cards", place="1F", found_at=clock.now, photo=_jpeg(),
                                description="银行卡 王五")
    overdue = lf.register_found(staff_id="S1", category="bag", place="2F", found_at=clock.now, photo=_jpeg())
    store.mark_sent(100)
    files = [p for i in (claimed, overdue) for p in (i.photo, i.public_photo)]
    assert all(p is not None and p.exists() for p in files)

    lf.hand_back(staff_id="S1", claim_code=claimed.claim_code)
    store.mark_sent(100)
    assert purger.run()["found_item"] == 1
    assert claimed.photo is not None and not claimed.photo.exists() and claimed.public_photo is not None
    assert not claimed.public_photo.exists() and overdue.photo is not None and overdue.photo.exists()
    assert lf.item(claimed.item_id).photo is None and lf.item(claimed.item_id).description == ""
    assert "王五" not in " ".join(r["data"] for r in store.query("SELECT data FROM outbox"))

    clock.advance(8 * DAY)
    lf.hand_over(staff_id="S1", receiver="保安部 赵")  # handed over to security: the photos go with it
    store.mark_sent(100)
    assert purger.run()["found_item"] == 1 and not any(p is not None and p.exists() for p in files)

    forgotten = lf.register_found(staff_id="S1", category="keys", place="B1", found_at=clock.now, photo=_jpeg())
    store.mark_sent(100)
    clock.advance(29 * DAY)
    assert purger.run()["found_item"] == 0
    clock.advance(2 * DAY)  # never handed over: its retention (30 days) ends anyway
    assert purger.run()["found_item"] == 1 and forgotten.photo is not None and not forgotten.photo.exists()


def test_lost_report_personal_fields_purged_after_retention(lf: LostFound, store: Store, clock: FakeClock) -> None:
    purger = Purger(store, desk_rules(), clock)
    report, _ = lf.report_lost(category="phone", place="3F 影院", lost_at=clock.now - 600, description="蓝色手机壳",
                               phone=PHONE)
    store.mark_sent(100)
    clock.advance(6 * DAY)
    assert purger.run()["lost_report"] == 0
    clock.advance(2 * DAY)
    assert purger.run()["lost_report"] == 1
    row = store.query("SELECT * FROM desk_lost_reports WHERE report_id=?", (report,))[0]
    assert (row["phone_masked"], row["description"], row["place"]) == (None, "", "3F 影院")
    data = json.loads(store.query("SELECT data FROM outbox WHERE type='lostfound.reported'")[0]["data"])
    assert "phone_masked" not in data and "description" not in data
