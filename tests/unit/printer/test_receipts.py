"""Receipt layouts: what the shopper reads, in Chinese first or English first, with their QR and masked phone."""
from __future__ import annotations

from dataclasses import replace

from drivers.printer.layout import Qr, Text
from kiosk.services.receipts import ReturnReceipt, duration, layout_for, masked_phone, money
from tests.fixtures.printer import receipt_book, sample_receipts

RECEIPTS = sample_receipts(receipt_book())


def test_every_receipt_carries_its_signed_code_as_the_only_qr() -> None:
    lending, _, storage, parking, complaint, lost, _ = RECEIPTS
    assert layout_for(lending).qr_payloads() == [lending.return_token]  # type: ignore[union-attr]
    assert layout_for(storage).qr_payloads() == [storage.pickup_token]  # type: ignore[union-attr]
    assert layout_for(parking).qr_payloads() == [parking.voucher_token]  # type: ignore[union-attr]
    assert layout_for(complaint).qr_payloads() == [complaint.lookup_token]  # type: ignore[union-attr]
    assert layout_for(lost).qr_payloads() == [lost.claim_token]  # type: ignore[union-attr]


def test_chinese_first_by_default_english_first_on_request() -> None:
    zh = [b for b in layout_for(RECEIPTS[0]).blocks if isinstance(b, Text)]
    en = [b for b in layout_for(RECEIPTS[0], lang="en").blocks if isinstance(b, Text)]
    titles_zh = [b.text for b in zh if b.size == "double"]
    titles_en = [b.text for b in en if b.size == "double"]
    assert titles_zh == ["借用凭证"] and titles_en == ["Lending receipt"]
    assert "物品 Item" in layout_for(RECEIPTS[0]).plain_text()
    assert "Item 物品" in layout_for(RECEIPTS[0], lang="en").plain_text()


def test_return_receipt_shows_fee_duration_and_whether_it_was_bought() -> None:
    r = RECEIPTS[1]
    text = layout_for(r).plain_text()
    assert "¥3.00" in text and "1小时30分 (1 h 30 min)" in text and "已归还" in text
    bought = layout_for(replace(r, bought=True, fee_cents=9900)).plain_text()  # type: ignore[type-var]
    assert "¥99.00" in bought and "已转为购买" in bought
    assert isinstance(r, ReturnReceipt)


def test_times_are_mall_local() -> None:
    assert "2025-11-25 00:00" in layout_for(RECEIPTS[0]).plain_text()  # T0 is 16:00 UTC


def test_phones_are_masked_in_fields_and_free_text() -> None:
    text = layout_for(RECEIPTS[4]).plain_text()
    assert "13812345678" not in text and text.count("138****5678") == 2
    assert masked_phone("+86 139-1234-5678") == "139****5678"
    assert masked_phone("12345") == "*****"


def test_money_and_duration_wording() -> None:
    assert money(5) == "¥0.05" and money(1000) == "¥10.00"
    assert duration(59) == "0分钟 (0 min)" and duration(3660, "en") == "1 h 1 min (1小时1分)"


def test_qr_has_a_caption_telling_what_to_do_with_it() -> None:
    [qr] = [b for b in layout_for(RECEIPTS[0]).blocks if isinstance(b, Qr)]
    assert qr.caption == "归还时扫码 Scan at return"
