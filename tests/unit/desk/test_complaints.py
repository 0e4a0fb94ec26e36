"""Complaints at the kiosk: a ticket and its event in one transaction; bad input refused, nothing stored."""
from __future__ import annotations

import random

import pytest

from kiosk.services.complaints import ComplaintDesk, ComplaintRefused, clean_text
from kiosk.store import Store
from kiosk.tokens import TokenBook
from tests.unit.desk.conftest import FakeClock, changes


@pytest.fixture
def desk(store: Store, tokens: TokenBook, clock: FakeClock) -> ComplaintDesk:
    return ComplaintDesk(store=store, tokens=tokens, station_id="K01", public_url="http://127.0.0.1:9/",
                         clock=clock, rng=random.Random(7))


def test_filed_ticket_is_stored_with_event_and_masked_phone(desk: ComplaintDesk, store: Store) -> None:
    ticket = desk.file(category="cleanliness", floor="2F", rating=2, phone="138 1234 5678")
    assert ticket.ticket_id.startswith("K01-")
    assert ticket.phone_masked == "138****5678"
    assert ticket.status_url == f"http://127.0.0.1:9/desk/t/{ticket.code}"
    row = store.query("SELECT * FROM desk_complaints")[0]
    assert row["phone_masked"] == "138****5678" and "12345678" not in str(dict(row))
    [event] = store.outbox_pending()
    assert event.type == "complaint.filed"
    assert event.data["complaint_id"] == ticket.ticket_id and event.data["phone_masked"] == "138****5678"
    assert "12345678" not in str(event.data)


def test_status_scan_of_own_ticket_works_offline(desk: ComplaintDesk) -> None:
    ticket = desk.file(category="parking", floor="B1", rating=3)
    status = desk.status(ticket.status_url)
    assert (status.ticket_id, status.status, status.source) == (ticket.ticket_id, "filed", "station")
    assert desk.status(ticket.code).ticket_id == ticket.ticket_id


def test_forged_ticket_code_is_refused(desk: ComplaintDesk) -> None:
    ticket = desk.file(category="parking", floor="B1", rating=3)
    forged = ticket.code[:-2] + ("AA" if not ticket.code.endswith("AA") else "BB")
    with pytest.raises(ComplaintRefused) as exc:
        desk.status(forged)
    assert exc.value.code == "forged"


@pytest.mark.parametrize("phone", ["1381234567", "138123456789", "23812345678", "abc"])
def test_wrong_phone_is_refused_and_nothing_stored(desk: ComplaintDesk, store: Store, phone: str) -> None:
    before = changes(store)
    with pytest.raises(ComplaintRefused) as exc:
        desk.file(category="goods", floor="1F", rating=1, phone=phone)
    assert exc.value.code == "phone_invalid"
    assert "11-digit" in str(exc.value)
    assert changes(store) == before


def test_ten_thousand_characters_are_refused(desk: ComplaintDesk, store: Store) -> None:
    before = changes(store)
    with pytest.raises(ComplaintRefused) as exc:
        desk.file(category="other", floor="1F", rating=1, text="差" * 10_000)
    assert exc.value.code == "text_too_long" and "500" in str(exc.value)
    assert changes(store) == before


@pytest.mark.parametrize("text", ["<script>alert(1)</script>", "很差 <img src=x onerror=1>", "&#60;b&#62;",
                                  "click javascript:void(0)"])
def test_markup_is_refused(desk: ComplaintDesk, store: Store, text: str) -> None:
    before = changes(store)
    with pytest.raises(ComplaintRefused) as exc:
        desk.file(category="other", floor="1F", rating=1, text=text)
    assert exc.value.code == "text_has_markup"
    assert changes(store) == before


def test_plain_comparison_signs_are_fine() -> None:
    assert clean_text("等了 >30 分钟, 3 < 5") == "等了 >30 分钟, 3 < 5"


@pytest.mark.parametrize("fields,code", [
    ({"category": "noise", "floor": "1F", "rating": 1}, "invalid_category"),
    ({"category": "goods", "floor": "1F", "rating": 9}, "invalid_rating"),
    ({"category": "goods", "rating": 3, "shop_unit": "x"}, "invalid_shop_unit"),
    ({"category": "goods", "rating": 3}, "invalid_form"),
    ({"category": "goods", "rating": 3, "floor": "2F", "shop_unit": "1F-01"}, "invalid_form")])
def test_bad_fields_name_the_field(desk: ComplaintDesk, store: Store, fields: dict, code: str) -> None:
    before = changes(store)
    with pytest.raises(ComplaintRefused) as exc:
        desk.file(**fields)
    assert exc.value.code == code
    assert changes(store) == before


def test_floor_comes_from_the_shop(desk: ComplaintDesk) -> None:
    assert desk.file(category="goods", shop_unit="3F-02", rating=4).floor == "3F"
