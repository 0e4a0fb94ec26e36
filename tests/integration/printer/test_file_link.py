"""A printer on a device node / file (e.g. /dev/usb/lp0): bytes land as sent; status cannot be read back."""
from __future__ import annotations

from pathlib import Path

from drivers.printer import open_printer
from drivers.printer.virtual import VirtualPrinter
from kiosk.services.printing import PrintService
from kiosk.store import Store
from tests.fixtures.printer import printer_profile, receipt_book, sample_receipts

PROFILE = printer_profile("epson-tm-t88v-latin")


def test_file_link_writes_the_job_and_says_status_is_unverified(tmp_path: Path) -> None:
    node = tmp_path / "lp0"
    printer = open_printer(PROFILE, "file", device=str(node))
    service = PrintService(printer, PROFILE, Store(tmp_path / "station.db"))
    outcome = service.print_receipt(sample_receipts(receipt_book())[0])
    printer.close()
    assert outcome.printed and outcome.status is not None and outcome.status.verified is False

    paper = VirtualPrinter(tmp_path / "paper", width=PROFILE.dots_per_line)
    paper.feed(node.read_bytes())
    [png] = paper.receipts()
    assert "[QR] L1.LD-0001." in png.with_suffix(".txt").read_text(encoding="utf-8")


def test_missing_device_node_is_offline(tmp_path: Path) -> None:
    printer = open_printer(PROFILE, "file", device=str(tmp_path / "no" / "such" / "lp0"))
    assert printer.status().online is False
