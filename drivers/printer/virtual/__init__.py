"""The virtual receipt printer: an ESC/POS TCP server on loopback that writes each cut receipt as PNG + text.

Its simulated status lives in `DIR/status` (ok | paper_out | cover_open | near_end | offline), so any
process can switch it while it runs: `echo paper_out > DIR/status`. "offline" means hung: connections
are accepted but nothing is answered or printed. While in a fault, received pages are lost, as on paper.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import socketserver
import threading
from pathlib import Path
from typing import Literal

from PIL import Image

from drivers.printer.virtual.paper import Paper, apply
from drivers.printer.virtual.parser import Cmd, EscposParser

log = logging.getLogger(__name__)

SimStatus = Literal["ok", "paper_out", "cover_open", "near_end", "offline"]
STATUSES: tuple[str, ...] = ("ok", "paper_out", "cover_open", "near_end", "offline")
FIXED = 0x12  # bits 1 and 4 are always set in a DLE EOT answer
FAULTS = ("paper_out", "cover_open", "offline")
IDLE_TIMEOUT_S = 30.0  # a client that connects and goes quiet must not keep the printer from others


def status_byte(status: str, n: int) -> bytes:
    """The DLE EOT n answer an Epson-class printer gives in this state."""
    fault = status in ("paper_out", "cover_open")
    value = FIXED
    if n == 1 and fault:
        value |= 0x08  # offline
    elif n == 2:
        value |= (0x04 if status == "cover_open" else 0) | (0x20 if status == "paper_out" else 0)
    elif n == 4:
        value |= (0x0C if status in ("near_end", "paper_out") else 0) | (0x60 if status == "paper_out" else 0)
    return bytes([value])


class VirtualPrinter:
    """Usable in-process (tests, `make run`) and as `python -m drivers.printer.virtual`."""

    def __init__(self, out_dir: Path | str, port: int = 0, status: SimStatus = "ok", width: int = 576,
                 host: str = "127.0.0.1") -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.width = width
        self.status_file = self.out_dir / "status"
        self.set_status(status)
        self.paper = Paper(width=width)
        self.unknown_commands: list[bytes] = []
        self.pages_lost = 0
        self._requested_port = port
        self._lock = threading.RLock()
        self._server: socketserver.TCPServer | None = None
        self._thread: threading.Thread | None = None
        self._active: socket.socket | None = None
        numbers = [int(m.group(1)) for p in self.out_dir.glob("*.png") if (m := re.match(r"^(\d{6})$", p.stem))]
        self._next = max(numbers, default=0) + 1

    # control -----------------------------------------------------------------------------------
    @property
    def status(self) -> str:
        try:
            value = self.status_file.read_text(encoding="ascii").strip()
        except OSError:
            return "ok"
        return value if value in STATUSES else "ok"

    def set_status(self, status: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        tmp = self.status_file.with_suffix(".tmp")
        tmp.write_text(status + "\n", encoding="ascii")
        os.replace(tmp, self.status_file)
        log.info("virtual_printer.status status=%s", status)

    @property
    def port(self) -> int:
        if self._server is None:
            return self._requested_port
        return int(self._server.server_address[1])

    def receipts(self) -> list[Path]:
        return sorted(self.out_dir.glob("[0-9][0-9][0-9][0-9][0-9][0-9].png"))

    # server ------------------------------------------------------------------------------------
    def start(self) -> VirtualPrinter:
        printer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                printer._serve(self.request)

        # Like port 9100 on a real printer: one connection at a time, in the order they arrive.
        socketserver.TCPServer.allow_reuse_address = True
        self._server = socketserver.TCPServer((self.host, self._requested_port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="virtual-printer",
                                        daemon=True)
        self._thread.start()
        log.info("virtual_printer.started port=%d out=%s width=%d", self.port, self.out_dir, self.width)
        return self

    def stop(self) -> None:
        active = self._active
        if active is not None:  # a client holding the line (hung printer tests) must not delay shutdown
            with contextlib.suppress(OSError):
                active.shutdown(socket.SHUT_RDWR)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> VirtualPrinter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self, sock: socket.socket) -> None:
        parser = EscposParser()
        self._active = sock
        sock.settimeout(IDLE_TIMEOUT_S)
        dirty = False
        try:
            while True:
                try:
                    data = sock.recv(65536)
                except (TimeoutError, OSError):
                    break
                if not data:
                    break
                faulted = self.status in FAULTS
                for cmd in parser.feed(data):
                    if isinstance(cmd, Cmd) and cmd.name == "DLE EOT":
                        self._answer_status(sock, cmd.args[0])
                        continue
                    dirty = self.process(cmd, faulted) or dirty
        finally:
            self._active = None
            # A printer without a cutter: the receipt is torn off when the job's connection ends.
            if dirty:
                self.tear_off()

    def tear_off(self) -> Path | None:
        """Finish the page in progress as a receipt file (what a shopper does on a printer with no cutter)."""
        with self._lock:
            return None if self.paper.blank else self._finish_page()

    def _answer_status(self, sock: socket.socket, n: int) -> None:
        status = self.status
        if status == "offline":
            return
        try:
            sock.sendall(status_byte(status, n))
        except OSError:
            pass

    def process(self, cmd: object, faulted: bool = False) -> bool:
        """Apply one parsed command; returns True when it put something on the paper."""
        with self._lock:
            self.paper.faulted = self.paper.faulted or faulted
            before = self.paper.blank
            if not apply(self.paper, cmd):  # type: ignore[arg-type]
                raw = getattr(cmd, "args", b"")
                self.unknown_commands.append(raw)
                log.warning("virtual_printer.unknown_command bytes=%s", raw.hex())
            changed = before != self.paper.blank or not self.paper.blank
            if self.paper.cut_requested:
                self.paper.cut_requested = False
                if not self.paper.blank:
                    self._finish_page()
                return False
            return changed

    def feed(self, data: bytes) -> None:
        """Print a byte stream without a socket (benchmarks, previews); DLE EOT is ignored."""
        parser = EscposParser()
        dirty = False
        faulted = self.status in FAULTS
        for cmd in parser.feed(data):
            if not (isinstance(cmd, Cmd) and cmd.name == "DLE EOT"):
                dirty = self.process(cmd, faulted) or dirty
        if dirty:
            self.tear_off()

    def _finish_page(self) -> Path | None:
        lost = self.paper.faulted
        image, text = self.paper.take()
        if lost:
            self.pages_lost += 1
            log.warning("virtual_printer.page_lost status=%s", self.status)
            return None
        stem = self.out_dir / f"{self._next:06d}"
        self._next += 1
        stem.with_suffix(".txt").write_text(text, encoding="utf-8")
        tmp = stem.with_suffix(".png.tmp")
        image.convert("1", dither=Image.Dither.NONE).save(tmp, format="PNG")
        os.replace(tmp, stem.with_suffix(".png"))
        log.info("virtual_printer.receipt file=%s height=%d", stem.with_suffix(".png"), image.height)
        return stem.with_suffix(".png")
