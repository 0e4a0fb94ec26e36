"""Every receipt on every profile through the virtual printer over a real TCP socket: PNG, width, QR, text."""
from __future__ import annotations

from collections.abc import Callable

import pytest
from PIL import Image
from pyzbar.pyzbar import decode

from drivers.printer import open_printer
from drivers.printer.virtual import VirtualPrinter
from kiosk.services.receipts import kind_of, layout_for, render
from tests.fixtures.printer import (
    PRINTER_PROFILES,
    printer_profile,
    receipt_book,
    sample_receipts,
    wait_for_receipts,
)

RECEIPTS = sample_receipts(receipt_book())
TITLES = {"lending": "借用凭证", "return": "归还凭证", "storage": "寄存凭证", "parking": "停车优惠券",
          "complaint": "投诉受理单", "lost_item": "失物登记", "test_page": "打印测试页"}


@pytest.mark.parametrize("profile_name", PRINTER_PROFILES)
def test_every_receipt_prints_with_a_decodable_qr(profile_name: str,
                                                  make_virtual_printer: Callable[..., VirtualPrinter]) -> None:
    profile = printer_profile(profile_name)
    vp = make_virtual_printer(profile.dots_per_line, name=profile_name)
    printer = open_printer(profile, "network", host="127.0.0.1", port=vp.port, timeout_s=2.0)
    for receipt in RECEIPTS:
        printer.send(render(layout_for(receipt), profile))
    pngs = wait_for_receipts(vp, len(RECEIPTS))
    assert len(pngs) == len(RECEIPTS)
    assert vp.unknown_commands == []
    for receipt, png in zip(RECEIPTS, pngs, strict=True):
        image = Image.open(png)
        assert image.width == profile.dots_per_line
        expected = layout_for(receipt).qr_payloads()
        assert [c.data.decode() for c in decode(image)] == expected, png.name
        text = png.with_suffix(".txt").read_text(encoding="utf-8")
        if profile.cjk == "gb18030":
            assert TITLES[kind_of(receipt)] in text
        else:  # no CJK font: every Chinese line went as a raster image, the QR stayed native
            assert "[image" in text and ("[QR]" in text) == bool(expected)
            assert not any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_lending_token_in_png_verifies_as_the_signed_token(virtual_printer: VirtualPrinter) -> None:
    book = receipt_book()
    receipt = sample_receipts(book)[0]
    profile = printer_profile("epson-tm-t20ii-cn")
    open_printer(profile, "network", host="127.0.0.1", port=virtual_printer.port).send(
        render(layout_for(receipt), profile))
    [png] = wait_for_receipts(virtual_printer, 1)
    [code] = decode(Image.open(png))
    token = book.verify_lending(code.data, allow_expired=True)
    assert token.lending_id == receipt.lending_id  # type: ignore[union-attr]
