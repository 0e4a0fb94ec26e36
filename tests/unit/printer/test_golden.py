"""Golden ESC/POS listings of every receipt on every printer profile; a layout change shows as a readable diff.

Regenerate after an intended change: UPDATE_GOLDEN=1 pytest tests/unit/printer/test_golden.py
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from drivers.printer.virtual.describe import describe
from kiosk.services.receipts import kind_of, layout_for, render
from tests.fixtures.printer import PRINTER_PROFILES, printer_profile, receipt_book, sample_receipts

GOLDEN = Path(__file__).parent / "golden"
RECEIPTS = sample_receipts(receipt_book())


@pytest.mark.parametrize("profile_name", PRINTER_PROFILES)
@pytest.mark.parametrize("receipt", RECEIPTS, ids=kind_of)
def test_receipt_bytes_match_golden(receipt: object, profile_name: str) -> None:
    data = render(layout_for(receipt), printer_profile(profile_name))  # type: ignore[arg-type]
    listing = "\n".join(describe(data)) + "\n"
    path = GOLDEN / f"{kind_of(receipt)}.{profile_name}.txt"  # type: ignore[arg-type]
    if os.environ.get("UPDATE_GOLDEN") or not path.exists():
        path.write_text(listing, encoding="utf-8")
        if not os.environ.get("UPDATE_GOLDEN"):
            pytest.fail(f"golden file {path.name} was missing and has been written; check it in")
    assert listing == path.read_text(encoding="utf-8")


def test_cjk_printer_gets_chinese_mode_and_gb18030() -> None:
    data = render(layout_for(RECEIPTS[0]), printer_profile("epson-tm-t20ii-cn"))
    assert data.startswith(b"\x1b@\x1c&")
    assert "借用凭证".encode("gb18030") in data


def test_printer_without_cjk_font_gets_chinese_as_raster_and_never_chinese_mode() -> None:
    data = render(layout_for(RECEIPTS[0]), printer_profile("epson-tm-t88v-latin"))
    assert b"\x1c&" not in data and "借用凭证".encode("gb18030") not in data
    assert b"\x1dv0" in data


def test_native_qr_only_where_the_profile_allows() -> None:
    token = RECEIPTS[0].return_token  # type: ignore[union-attr]
    native = render(layout_for(RECEIPTS[0]), printer_profile("epson-tm-t20ii-cn"))
    raster = render(layout_for(RECEIPTS[0]), printer_profile("xprinter-xp58-cn"))
    assert b"\x1d(k" in native and token.encode() in native
    assert b"\x1d(k" not in raster and token.encode() not in raster


def test_phone_numbers_never_reach_the_paper_in_full() -> None:
    for profile_name in PRINTER_PROFILES:
        for receipt in RECEIPTS:
            data = render(layout_for(receipt), printer_profile(profile_name))
            assert b"13812345678" not in data and b"13912345678" not in data
    listing = "\n".join(describe(render(layout_for(RECEIPTS[4]), printer_profile("epson-tm-t20ii-cn"))))
    assert "138****5678" in listing
