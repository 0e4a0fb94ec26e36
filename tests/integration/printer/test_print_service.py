"""The print service against the virtual printer: faults keep jobs, recovery prints them once, nothing hangs."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from drivers.locker.broker import free_port
from drivers.printer import open_printer
from drivers.printer.virtual import VirtualPrinter
from kiosk.services.printing import PrintService
from kiosk.store import Store
from tests.fixtures.disk import SmallDisk
from tests.fixtures.printer import printer_profile, receipt_book, sample_receipts, wait_for_receipts

PROFILE = printer_profile("epson-tm-t20ii-cn")
RECEIPTS = sample_receipts(receipt_book())


def _service(tmp_path: Path, port: int, timeout_s: float = 1.0, bound_s: float = 3.0,
             clock: Callable[[], float] = time.time) -> PrintService:
    printer = open_printer(PROFILE, "network", host="127.0.0.1", port=port, timeout_s=timeout_s)
    return PrintService(printer, PROFILE, Store(tmp_path / "station.db", clock=clock), clock, bound_s=bound_s)


def _jobs(service: PrintService) -> list[tuple[int, str]]:
    return [(r["job_id"], r["status"]) for r in service.store.query("SELECT job_id, status FROM print_jobs")]


def test_receipt_prints_and_job_is_recorded(tmp_path: Path, virtual_printer: VirtualPrinter) -> None:
    service = _service(tmp_path, virtual_printer.port)
    outcome = service.print_receipt(RECEIPTS[0])
    assert outcome.printed and outcome.reason is None
    assert _jobs(service) == [(outcome.job_id, "printed")]
    [png] = wait_for_receipts(virtual_printer, 1)
    assert "借用凭证" in png.with_suffix(".txt").read_text(encoding="utf-8")
    assert service.last_receipt is RECEIPTS[0]


def test_paper_out_mid_queue_keeps_jobs_and_prints_each_once_after_recovery(
        tmp_path: Path, virtual_printer: VirtualPrinter) -> None:
    service = _service(tmp_path, virtual_printer.port)
    assert service.print_receipt(RECEIPTS[0]).printed
    wait_for_receipts(virtual_printer, 1)

    virtual_printer.set_status("paper_out")
    kept = [service.print_receipt(r) for r in RECEIPTS[1:3]]
    assert [(o.printed, o.reason) for o in kept] == [(False, "paper_out")] * 2
    assert service.pending() == 2
    assert service.retry_pending() == 0

    virtual_printer.set_status("ok")
    assert service.retry_pending() == 2
    assert service.retry_pending() == 0
    pngs = wait_for_receipts(virtual_printer, 3)
    time.sleep(0.2)  # a duplicate would land right behind the last one
    assert len(virtual_printer.receipts()) == 3
    texts = [p.with_suffix(".txt").read_text(encoding="utf-8") for p in pngs]
    assert "借用凭证" in texts[0] and "归还凭证" in texts[1] and "寄存凭证" in texts[2]
    assert [s for _, s in _jobs(service)] == ["printed"] * 3


def test_cover_open_is_reported_and_job_kept(tmp_path: Path, virtual_printer: VirtualPrinter) -> None:
    virtual_printer.set_status("cover_open")
    service = _service(tmp_path, virtual_printer.port)
    outcome = service.print_receipt(RECEIPTS[3])
    assert (outcome.printed, outcome.reason) == (False, "cover_open")
    assert service.status().cover_open
    assert virtual_printer.receipts() == []


def test_near_end_still_prints_with_a_warning(tmp_path: Path, virtual_printer: VirtualPrinter) -> None:
    virtual_printer.set_status("near_end")
    outcome = _service(tmp_path, virtual_printer.port).print_receipt(RECEIPTS[6])
    assert outcome.printed and outcome.warning == "paper_near_end"
    assert len(wait_for_receipts(virtual_printer, 1)) == 1


def test_unreachable_printer_is_offline_within_the_bound(tmp_path: Path) -> None:
    service = _service(tmp_path, free_port(), timeout_s=1.0, bound_s=2.0)
    started = time.monotonic()
    outcome = service.print_receipt(RECEIPTS[0])
    assert (outcome.printed, outcome.reason) == (False, "offline")
    assert time.monotonic() - started < service.bound_s + 0.5
    assert service.pending() == 1


def test_hung_printer_never_blocks_the_caller_past_the_bound(tmp_path: Path,
                                                             virtual_printer: VirtualPrinter) -> None:
    virtual_printer.set_status("offline")  # accepts connections, answers nothing
    service = _service(tmp_path, virtual_printer.port, timeout_s=5.0, bound_s=0.5)
    started = time.monotonic()
    outcome = service.print_receipt(RECEIPTS[0])
    assert (outcome.printed, outcome.reason) == (False, "offline")
    assert time.monotonic() - started < 1.5
    assert service.status().online is False
    assert service.pending() == 1


def test_reprint_last_n_prints_the_same_receipts_again(tmp_path: Path, virtual_printer: VirtualPrinter) -> None:
    service = _service(tmp_path, virtual_printer.port)
    for r in RECEIPTS[:3]:
        assert service.print_receipt(r).printed
    outcomes = service.reprint_last(2)
    assert [o.printed for o in outcomes] == [True, True]
    pngs = wait_for_receipts(virtual_printer, 5)
    texts = [p.with_suffix(".txt").read_text(encoding="utf-8") for p in pngs]
    assert texts[3:] == texts[1:3]


def test_stale_jobs_are_dropped_not_printed_to_a_stranger(tmp_path: Path, virtual_printer: VirtualPrinter) -> None:
    now = [1_000_000.0]
    service = _service(tmp_path, virtual_printer.port, clock=lambda: now[0])
    virtual_printer.set_status("paper_out")
    assert not service.print_receipt(RECEIPTS[0]).printed
    now[0] += service.max_age_s + 1  # type: ignore[operator]
    virtual_printer.set_status("ok")
    assert service.retry_pending() == 0
    assert [s for _, s in _jobs(service)] == ["dropped"]
    assert virtual_printer.receipts() == []


def test_background_retry_prints_when_the_printer_recovers(tmp_path: Path,
                                                           virtual_printer: VirtualPrinter) -> None:
    service = _service(tmp_path, virtual_printer.port)
    virtual_printer.set_status("paper_out")
    assert not service.print_receipt(RECEIPTS[1]).printed
    service.start(interval_s=0.05)
    try:
        virtual_printer.set_status("ok")
        assert len(wait_for_receipts(virtual_printer, 1)) == 1
    finally:
        service.stop()
    assert service.pending() == 0


@pytest.fixture
def printer_process(tmp_path: Path):
    out = tmp_path / "proc-paper"
    proc = subprocess.Popen([sys.executable, "-m", "drivers.printer.virtual", "--port", "0", "--out", str(out),
                             "--width", "576", "--log-level", "WARNING"], stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
        yield info
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_status_is_switched_from_another_process(tmp_path: Path, printer_process: dict) -> None:
    service = _service(tmp_path, printer_process["port"])
    assert service.status().ready
    Path(printer_process["status_file"]).write_text("paper_out\n", encoding="ascii")
    assert service.status().paper_out
    Path(printer_process["status_file"]).write_text("ok\n", encoding="ascii")
    assert service.print_receipt(RECEIPTS[0]).printed
    out = Path(printer_process["out"])
    deadline = time.monotonic() + 5
    while not list(out.glob("000001.png")) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (out / "000001.png").exists() and (out / "000001.txt").exists()


def test_two_processes_retrying_the_same_queue_print_each_job_once(tmp_path: Path,
                                                                   virtual_printer: VirtualPrinter) -> None:
    station = _service(tmp_path, virtual_printer.port)
    staff_cli = _service(tmp_path, virtual_printer.port)  # same station.db, its own connection and worker
    virtual_printer.set_status("paper_out")
    for r in RECEIPTS[:4]:
        assert not station.print_receipt(r).printed
    virtual_printer.set_status("ok")
    counts: list[int] = []
    threads = [threading.Thread(target=lambda s=s: counts.append(s.retry_pending())) for s in (station, staff_cli)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sum(counts) == 4
    assert len(wait_for_receipts(virtual_printer, 4)) == 4
    time.sleep(0.2)
    assert len(virtual_printer.receipts()) == 4 and station.pending() == 0


def test_a_full_disk_never_loses_a_queued_receipt_nor_blocks_a_new_one(
        small_disk: SmallDisk, virtual_printer: VirtualPrinter) -> None:
    """SQLITE_FULL while queueing a receipt (issue 12): printed straight away when the printer can, refused in
    words when it cannot; the receipt queued before the disk filled prints once when there is room."""
    service = _service(small_disk.path, virtual_printer.port)
    virtual_printer.set_status("paper_out")
    assert service.print_receipt(RECEIPTS[0]).reason == "paper_out"  # queued: committed before the disk filled
    small_disk.fill(service.store)

    assert (service.print_receipt(RECEIPTS[1]).reason) == "disk_full"  # no paper and no room to wait
    virtual_printer.set_status("ok")
    now = service.print_receipt(RECEIPTS[2])
    assert (now.printed, now.warning) == (True, "not_queued")
    wait_for_receipts(virtual_printer, 1)
    assert service.retry_pending() == 0  # a queued job prints only under a claim the store can record
    assert service.pending() == 1

    small_disk.free(service.store)
    assert service.retry_pending() == 1
    assert service.retry_pending() == 0
    wait_for_receipts(virtual_printer, 2)
    time.sleep(0.2)  # a duplicate would land right behind
    assert len(virtual_printer.receipts()) == 2
    assert [s for _, s in _jobs(service)] == ["printed"]
    service.store.close()
