"""The serial adapter (pyserial over a real pseudo-terminal) against the virtual printer: print, status, offline."""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.printer import open_printer
from drivers.printer.virtual import VirtualPrinter
from drivers.printer.virtual.serial_link import PtyLink
from kiosk.services.receipts import layout_for, render
from tests.fixtures.printer import printer_profile, receipt_book, sample_receipts, wait_for_receipts

PROFILE = printer_profile("xprinter-xp58-cn")


@pytest.fixture
def serial_printer(tmp_path: Path) -> Iterator[tuple[VirtualPrinter, str]]:
    vp = VirtualPrinter(tmp_path / "paper", width=PROFILE.dots_per_line)
    link = PtyLink(vp, idle_tear_s=0.2)
    yield vp, link.start()
    link.stop()


def test_receipt_over_serial_prints_and_status_follows_the_printer(serial_printer) -> None:
    vp, device = serial_printer
    printer = open_printer(PROFILE, "serial", device=device, timeout_s=1.0)
    assert printer.status().ready
    printer.send(render(layout_for(sample_receipts(receipt_book())[2]), PROFILE))  # storage, raster QR
    [png] = wait_for_receipts(vp, 1)
    assert "寄存凭证" in png.with_suffix(".txt").read_text(encoding="utf-8")
    vp.set_status("cover_open")
    assert printer.status().reason == "cover_open"
    vp.set_status("offline")
    started = time.monotonic()
    assert printer.status().online is False
    assert time.monotonic() - started < 2.0
    printer.close()
