"""Print service: status before and after each job, a durable reprint queue (`print_jobs`), reprint last N.

It never raises for printer trouble and never blocks a caller longer than `bound_s`: the printer is driven
from one worker thread, and a job's row only becomes `printed` when that worker saw the job go through.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from device_profiles.printer_schema import PrinterProfile
from drivers.printer import OFFLINE, Printer, PrinterError, PrinterStatus
from kiosk.services.receipts import Lang, Receipt, ReceiptLayout, layout_for, render
from kiosk.store import Store, StoreFull

log = logging.getLogger(__name__)

Clock = Callable[[], float]
CLAIM_TTL_S = 300.0  # longer than any job takes (a 64 KB raster at 9600 baud is ~70 s); older = crashed
WAITING = "(status='queued' OR (status='printing' AND claimed_at < ?))"


@dataclass(frozen=True)
class PrintOutcome:
    """`reason` when not printed: paper_out | cover_open | offline | printing (another process has it) |
    dropped (stale) | disk_full (no room to queue it and the printer could not take it now); `warning` when
    printed: paper_near_end | status_unknown | already_printed | not_queued (printed straight away: no room
    to queue it)."""

    printed: bool
    job_id: int
    reason: str | None = None
    warning: str | None = None
    status: PrinterStatus | None = None


class PrintService:
    """Prints receipts on one printer; jobs that cannot print wait in the store until it recovers."""

    def __init__(self, printer: Printer, profile: PrinterProfile, store: Store, clock: Clock = time.time, *,
                 bound_s: float = 8.0, lang: Lang = "zh", max_age_s: float | None = 1800.0) -> None:
        self.printer = printer
        self.profile = profile
        self.store = store
        self.clock = clock
        self.bound_s = bound_s
        self.lang: Lang = lang
        # A receipt that could not print for longer than this belongs to a shopper who left with an
        # e-receipt; printing it later would hand their return QR to whoever stands at the station.
        self.max_age_s = max_age_s
        self.last_receipt: Receipt | None = None
        self.last_layout: ReceiptLayout | None = None
        self._unrecorded: set[int] = set()  # printed while the disk was full; marked printed once it has room
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="printer")
        self._stop = threading.Event()
        self._loop: threading.Thread | None = None

    # public ------------------------------------------------------------------------------------
    def print_receipt(self, receipt: Receipt, lang: Lang | None = None) -> PrintOutcome:
        layout = layout_for(receipt, lang or self.lang)
        self.last_receipt, self.last_layout = receipt, layout
        payload = render(layout, self.profile)
        try:
            job_id = self._enqueue(layout.kind, payload)
        except StoreFull as exc:
            # No room to queue it: print it now if the printer can, else say so (the lending itself is
            # already recorded; the shopper is shown the return code on screen).
            log.error("print.not_queued kind=%s error=%s", layout.kind, exc)
            return self._bounded(self._attempt_unqueued, payload)
        return self._run(job_id)

    def retry_pending(self) -> int:
        """Print what is queued, oldest first, stopping at the first job the printer refuses."""
        printed = 0
        for job_id in sorted(self._unrecorded):
            try:
                self._finish(job_id, "printed")
            except StoreFull:
                return 0
            self._unrecorded.discard(job_id)
        rows = self.store.query(f"SELECT job_id, created_at FROM print_jobs WHERE {WAITING} ORDER BY job_id",
                                (self.clock() - CLAIM_TTL_S,))
        for row in rows:
            if row["job_id"] in self._unrecorded:
                continue
            if self.max_age_s is not None and self.clock() - row["created_at"] > self.max_age_s:
                self._finish(row["job_id"], "dropped", "stale")
                log.info("print.dropped job=%d reason=stale", row["job_id"])
                continue
            outcome = self._run(row["job_id"])
            if outcome.reason in ("printing", "dropped") or outcome.warning == "already_printed":
                continue  # another process has it or already settled it
            if not outcome.printed:
                break
            printed += 1
        return printed

    def reprint_last(self, n: int) -> list[PrintOutcome]:
        """Staff reprint: the last `n` printed receipts again, oldest first, each as a new job."""
        rows = self.store.query("SELECT kind, payload FROM print_jobs WHERE status='printed' "
                                "ORDER BY printed_at DESC, job_id DESC LIMIT ?", (max(0, n),))
        return [self._run(self._enqueue(r["kind"], bytes(r["payload"]))) for r in reversed(rows)]

    def status(self) -> PrinterStatus:
        future = self._worker.submit(self.printer.status)
        try:
            return future.result(timeout=self.bound_s)
        except FutureTimeout:
            return OFFLINE

    def pending(self) -> int:
        return int(self.store.query("SELECT COUNT(*) AS n FROM print_jobs WHERE status IN ('queued', 'printing')")
                   [0]["n"])

    def start(self, interval_s: float = 5.0) -> None:
        """Retry queued jobs in the background every `interval_s` (the station loop may call retry_pending instead)."""
        self._stop.clear()
        self._loop = threading.Thread(target=self._retry_loop, args=(interval_s,), name="print-retry", daemon=True)
        self._loop.start()

    def stop(self) -> None:
        self._stop.set()
        if self._loop is not None:
            self._loop.join(timeout=self.bound_s + 1)
        self._worker.shutdown(wait=False, cancel_futures=True)

    # internals ---------------------------------------------------------------------------------
    def _retry_loop(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            if self.pending():
                self.retry_pending()

    def _enqueue(self, kind: str, payload: bytes) -> int:
        with self.store.transaction() as conn:
            cur = conn.execute("INSERT INTO print_jobs (kind, created_at, payload, status) VALUES (?, ?, ?, 'queued')",
                               (kind, self.clock(), payload))
            return int(cur.lastrowid or 0)

    def _finish(self, job_id: int, status: str, error: str | None = None) -> None:
        with self.store.transaction() as conn:
            conn.execute("UPDATE print_jobs SET status=?, error=?, printed_at=?, claimed_at=NULL "
                         "WHERE job_id=? AND status IN ('queued', 'printing')",
                         (status, error, self.clock() if status == "printed" else None, job_id))

    def _claim(self, job_id: int) -> sqlite3.Row | None:
        """Take the job for this process (the station loop and a staff CLI may both be retrying)."""
        with self.store.transaction() as conn:
            now = self.clock()
            cur = conn.execute(f"UPDATE print_jobs SET status='printing', claimed_at=? WHERE job_id=? AND {WAITING}",
                               (now, job_id, now - CLAIM_TTL_S))
            if cur.rowcount != 1:
                return None
            row: sqlite3.Row = conn.execute("SELECT kind, payload FROM print_jobs WHERE job_id=?", (job_id,)).fetchone()
            return row

    def _note_failure(self, job_id: int, reason: str) -> None:
        with self.store.transaction() as conn:
            conn.execute("UPDATE print_jobs SET status='queued', claimed_at=NULL, attempts=attempts+1, error=? "
                         "WHERE job_id=? AND status='printing'", (reason, job_id))

    def _run(self, job_id: int) -> PrintOutcome:
        return self._bounded(self._attempt, job_id)

    def _bounded(self, attempt: Callable[[Any], PrintOutcome], arg: Any) -> PrintOutcome:
        future: Future[PrintOutcome] = self._worker.submit(attempt, arg)
        job_id = arg if isinstance(arg, int) else 0
        try:
            return future.result(timeout=self.bound_s)
        except FutureTimeout:
            # The worker finishes on its own (adapter timeouts) and records the truth in the row.
            log.warning("print.timeout job=%d bound_s=%.1f", job_id, self.bound_s)
            return PrintOutcome(False, job_id, "offline", status=OFFLINE)

    def _attempt_unqueued(self, payload: bytes) -> PrintOutcome:
        before = self.printer.status()
        if not before.ready:
            return PrintOutcome(False, 0, "disk_full", status=before)
        try:
            self.printer.send(payload)
        except PrinterError:
            return PrintOutcome(False, 0, "disk_full", status=OFFLINE)
        return PrintOutcome(True, 0, None, "not_queued", before)

    def _attempt(self, job_id: int) -> PrintOutcome:
        try:
            row = self._claim(job_id)
        except StoreFull:  # a job is printed only under a recorded claim (another process may be retrying too)
            return PrintOutcome(False, job_id, "disk_full")
        if row is None:
            state = self.store.query("SELECT status FROM print_jobs WHERE job_id=?", (job_id,))
            status = state[0]["status"] if state else "missing"
            if status == "printed":
                return PrintOutcome(True, job_id, None, "already_printed")
            return PrintOutcome(False, job_id, status)
        before = self.printer.status()
        if not before.ready:
            return self._failed(job_id, before.reason or "offline", before)
        try:
            self.printer.send(bytes(row["payload"]))
        except PrinterError as exc:
            return self._failed(job_id, exc.code if exc.code != "printer_error" else "offline", OFFLINE)
        after = self.printer.status() if before.verified else before
        if after.paper_out or after.cover_open:
            # The roll ran out or the cover opened during the job: the paper is incomplete, print it again.
            return self._failed(job_id, after.reason or "paper_out", after)
        try:
            self._finish(job_id, "printed")
        except StoreFull:  # printed, but the row still says 'printing': remember it, so it never prints twice
            log.error("print.printed_unrecorded job=%d (disk full)", job_id)
            self._unrecorded.add(job_id)
        warning = "paper_near_end" if after.paper_near_end else None
        if not after.online:
            warning = "status_unknown"  # bytes were taken; a silent printer is not a reason to print twice
        log.info("print.printed job=%d kind=%s warning=%s", job_id, row["kind"], warning)
        return PrintOutcome(True, job_id, None, warning, after)

    def _failed(self, job_id: int, reason: str, status: PrinterStatus) -> PrintOutcome:
        try:
            self._note_failure(job_id, reason)
        except StoreFull:  # still claimed: retried once the claim is old, as after a crash
            log.error("print.failure_unrecorded job=%d reason=%s (disk full)", job_id, reason)
        log.info("print.kept job=%d reason=%s", job_id, reason)
        return PrintOutcome(False, job_id, reason, status=status)
