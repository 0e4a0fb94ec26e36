"""Lost & found: register, browse with blurred documents, report → match, claim once, 7-day hand-over."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageStat

from kiosk.services.lostfound import LostFound, LostFoundRefused
from kiosk.store import Store
from kiosk.tokens import TokenBook
from tests.unit.desk.conftest import FakeClock, changes

DAY = 86_400


def _photo() -> bytes:
    """A sharp black-and-white pattern, like text on an ID card."""
    img = Image.new("RGB", (400, 250), "white")
    draw = ImageDraw.Draw(img)
    for x in range(0, 400, 8):
        draw.rectangle((x, 0, x + 3, 250), fill="black")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _sharpness(path: Path) -> float:
    return ImageStat.Stat(Image.open(path).convert("L")).stddev[0]


@pytest.fixture
def lf(store: Store, tokens: TokenBook, clock: FakeClock, tmp_path: Path) -> LostFound:
    return LostFound(store=store, tokens=tokens, photo_dir=tmp_path / "photos", station_id="K01", clock=clock)


def test_lost_report_matches_the_registered_item(lf: LostFound, clock: FakeClock, store: Store) -> None:
    lf.register_found(staff_id="S01", category="umbrella", floor="1F", place="星巴克门口",
                      found_at=clock() - 600, description="蓝色长柄伞")
    wallet = lf.register_found(staff_id="S01", category="wallet", floor="2F", place="优衣库试衣间",
                               found_at=clock() - 300, description="棕色皮钱包")
    lf.register_found(staff_id="S01", category="wallet", floor="4F", place="影城售票处",
                      found_at=clock() - 200, description="黑色长款")
    report_id, matches = lf.report_lost(category="wallet", floor="2F", place="优衣库", lost_at=clock() - 3600,
                                        description="棕色钱包", phone="13900001111")
    assert report_id.startswith("LR-")
    assert [m.item.item_id for m in matches][0] == wallet.item_id
    assert all(m.item.category == "wallet" for m in matches)
    event = store.outbox_pending()[-1]
    assert event.type == "lostfound.reported" and event.data["matches"][0] == wallet.item_id
    assert event.data["phone_masked"] == "139****1111"


def test_item_found_before_the_loss_does_not_match(lf: LostFound, clock: FakeClock) -> None:
    lf.register_found(staff_id="S01", category="keys", place="B1 停车场", found_at=clock() - 5 * 3600)
    _, matches = lf.report_lost(category="keys", place="B1 停车场", lost_at=clock() - 3600)
    assert matches == []


def test_document_photos_are_blurred_for_shoppers(lf: LostFound, clock: FakeClock) -> None:
    card = lf.register_found(staff_id="S01", category="documents", place="服务台", found_at=clock(),
                             photo=_photo())
    bag = lf.register_found(staff_id="S01", category="bag", place="服务台", found_at=clock(), photo=_photo())
    shown = {i.item_id: i for i in lf.browse()}
    assert shown[card.item_id].photo is None  # shoppers never get the sharp copy
    assert card.photo is not None and card.public_photo is not None and bag.public_photo is not None
    assert _sharpness(card.public_photo) < 0.3 * _sharpness(card.photo)
    assert _sharpness(bag.public_photo) > 0.8 * _sharpness(bag.photo)


def test_browse_filters(lf: LostFound, clock: FakeClock) -> None:
    lf.register_found(staff_id="S01", category="phone", floor="3F", place="乐高店", found_at=clock() - 2 * DAY)
    lf.register_found(staff_id="S01", category="phone", floor="1F", place="华为店", found_at=clock())
    assert [i.floor for i in lf.browse(category="phone")] == ["1F", "3F"]
    assert [i.floor for i in lf.browse(since=clock() - DAY)] == ["1F"]
    assert [i.place for i in lf.browse(place="乐高")] == ["乐高店"]


def test_claim_receipt_hands_back_once(lf: LostFound, clock: FakeClock, store: Store) -> None:
    item = lf.register_found(staff_id="S01", category="keys", place="服务台", found_at=clock())
    assert lf.hand_back(staff_id="S02", claim_code=item.claim_code).status == "claimed"
    assert lf.browse() == []
    before = changes(store)
    with pytest.raises(LostFoundRefused) as exc:
        lf.hand_back(staff_id="S02", claim_code=item.claim_code)
    assert exc.value.code == "not_held"
    with pytest.raises(LostFoundRefused) as exc:
        tampered = item.claim_code[:-1] + ("Q" if item.claim_code[-1] != "Q" else "R")
        lf.hand_back(staff_id="S02", claim_code=tampered)
    assert exc.value.code in ("forged", "malformed")
    assert changes(store) == before


def test_unclaimed_after_seven_days_is_flagged_and_handed_over(lf: LostFound, clock: FakeClock,
                                                               store: Store) -> None:
    old = lf.register_found(staff_id="S01", category="clothing", place="2F 中庭", found_at=clock())
    clock.advance(3 * DAY)
    young = lf.register_found(staff_id="S01", category="clothing", place="2F 中庭", found_at=clock())
    assert lf.due_for_handover() == []
    clock.advance(4 * DAY + 1)
    assert [i.item_id for i in lf.due_for_handover()] == [old.item_id]
    handed = lf.hand_over(staff_id="S03", receiver="保安部 张队")
    assert [(i.item_id, i.status) for i in handed] == [(old.item_id, "handed_over")]
    assert [i.item_id for i in lf.browse()] == [young.item_id]
    event = store.outbox_pending()[-1]
    assert event.type == "lostfound.handed_over" and event.data["receiver"] == "保安部 张队"


@pytest.mark.parametrize("fields,code", [
    ({"category": "spaceship", "place": "1F"}, "invalid_category"),
    ({"category": "bag", "place": ""}, "invalid_place"),
    ({"category": "bag", "place": "<b>1F</b>"}, "invalid_place"),
    ({"category": "bag", "place": "1F", "description": "x" * 10_000}, "invalid_description"),
])
def test_bad_registration_is_refused_and_nothing_stored(lf: LostFound, store: Store, clock: FakeClock,
                                                        fields: dict, code: str) -> None:
    before = changes(store)
    with pytest.raises(LostFoundRefused) as exc:
        lf.register_found(staff_id="S01", found_at=clock(), **fields)
    assert exc.value.code == code
    assert changes(store) == before


def test_bad_phone_on_report_is_refused(lf: LostFound, store: Store, clock: FakeClock) -> None:
    before = changes(store)
    with pytest.raises(LostFoundRefused) as exc:
        lf.report_lost(category="bag", place="1F", lost_at=clock(), phone="12345")
    assert exc.value.code == "phone_invalid"
    assert changes(store) == before


def test_unreadable_photo_is_refused(lf: LostFound, store: Store, clock: FakeClock) -> None:
    before = changes(store)
    with pytest.raises(LostFoundRefused) as exc:
        lf.register_found(staff_id="S01", category="bag", place="1F", found_at=clock(), photo=b"not an image")
    assert exc.value.code == "photo_unreadable"
    assert changes(store) == before
