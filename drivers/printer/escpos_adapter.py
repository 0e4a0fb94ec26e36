"""The real printer adapter: python-escpos connections (network 9100, serial, USB, file/device node).

Every call is bounded by `timeout_s`: a printer that does not connect or answer DLE EOT in time is
reported offline. Network connections are opened per call so a rebooted printer needs no reconnect logic.
"""
from __future__ import annotations

import logging
import socket
import time
from typing import Any

from device_profiles.printer_schema import PrinterProfile
from drivers.printer.base import OFFLINE, ConnType, PrinterError, PrinterOffline, PrinterStatus

log = logging.getLogger(__name__)

DLE_EOT = b"\x10\x04"
QUERIES = (1, 2, 4)  # printer status, offline cause, roll paper sensor


def parse_status(answers: bytes) -> PrinterStatus:
    """Decode the three DLE EOT answers (n = 1, 2, 4); a malformed answer means we cannot trust the link."""
    if len(answers) != 3 or any(b & 0x93 != 0x12 for b in answers):
        return OFFLINE
    printer, cause, paper = answers
    return PrinterStatus(online=not printer & 0x08, cover_open=bool(cause & 0x04),
                         paper_near_end=bool(paper & 0x0C), paper_out=bool(paper & 0x60 or cause & 0x20))


class EscposPrinter:
    """`Printer` over one python-escpos connection object."""

    def __init__(self, profile: PrinterProfile, conn: Any, conn_type: ConnType, timeout_s: float = 3.0,
                 baudrate: int | None = None) -> None:
        self.profile = profile
        self.conn = conn
        self.conn_type = conn_type
        self.timeout_s = timeout_s
        self.baudrate = baudrate
        self._open = False

    @classmethod
    def from_connection(cls, profile: PrinterProfile, conn_type: ConnType, *, host: str | None = None,
                        port: int | None = None, device: str | None = None, baudrate: int | None = None,
                        vid: int | None = None, pid: int | None = None, timeout_s: float = 3.0) -> EscposPrinter:
        """Build the python-escpos connection; the profile's interfaces fill what the config leaves out."""
        ifaces = profile.interfaces
        name = profile.escpos_profile
        if conn_type == "network":
            from escpos.printer import Network

            if not host:
                raise PrinterError("network printer needs a host", "config")
            port = port or (ifaces.network.port if ifaces.network else 9100)
            return cls(profile, Network(host, port, timeout=timeout_s, profile=name), conn_type, timeout_s)
        if conn_type == "serial":
            from escpos.printer import Serial

            if not device:
                raise PrinterError("serial printer needs a device", "config")
            baudrate = baudrate or (ifaces.serial.baudrate if ifaces.serial else 9600)
            conn = Serial(devfile=device, baudrate=baudrate, timeout=timeout_s, profile=name)
            return cls(profile, conn, conn_type, timeout_s, baudrate)
        if conn_type == "usb":
            from escpos.printer import Usb

            vid = vid if vid is not None else (ifaces.usb.vid if ifaces.usb else None)
            pid = pid if pid is not None else (ifaces.usb.pid if ifaces.usb else None)
            if vid is None or pid is None:
                raise PrinterError("USB printer needs vid and pid", "config")
            conn = Usb(vid, pid, timeout=int(timeout_s * 1000), profile=name)
            return cls(profile, conn, conn_type, timeout_s)
        if conn_type == "file":
            from escpos.printer import File

            if not device:
                raise PrinterError("file printer needs a device path", "config")
            return cls(profile, File(devfile=device, profile=name), conn_type, timeout_s)
        raise PrinterError(f"unknown connection type {conn_type!r}", "config")

    # link --------------------------------------------------------------------------------------
    def _ensure_open(self) -> None:
        if self._open:
            return
        try:
            self.conn.open()
        except Exception as exc:  # python-escpos raises DeviceNotFoundError, USBNotFoundError, OSError …
            raise PrinterOffline(f"printer not reachable ({type(exc).__name__})") from exc
        if self.conn_type == "serial" and self.baudrate:
            # Without a write timeout a stalled serial line (handshake held) blocks forever.
            self.conn.device.write_timeout = self.timeout_s + 12 * 1024 * 10 / self.baudrate
        self._open = True

    def _release_if_network(self) -> None:
        if self.conn_type == "network":
            self.close()

    def close(self) -> None:
        if self._open:
            try:
                self.conn.close()
            except Exception as exc:  # closing a dead link must not turn into a second fault
                log.debug("printer.close_failed error=%s", exc)
            self._open = False
            if self.conn_type == "network":
                self.conn._device = False  # python-escpos' Network.close keeps the dead socket

    def send(self, data: bytes) -> None:
        self._ensure_open()
        try:
            self.conn._raw(data)
        except Exception as exc:
            self.close()
            raise PrinterOffline(f"printer stopped taking data ({type(exc).__name__})") from exc
        self._release_if_network()

    def status(self) -> PrinterStatus:
        if self.profile.status == "none" or self.conn_type == "file":
            try:
                self._ensure_open()
            except PrinterOffline:
                return OFFLINE
            self._release_if_network()
            return PrinterStatus(online=True, verified=False)
        deadline = time.monotonic() + self.timeout_s
        try:
            self._ensure_open()
            self.conn._raw(b"".join(DLE_EOT + bytes([n]) for n in QUERIES))
            answers = self._read(len(QUERIES), deadline)
        except PrinterOffline:
            return OFFLINE
        except Exception as exc:
            log.info("printer.status_failed conn=%s error=%s", self.conn_type, type(exc).__name__)
            self.close()
            return OFFLINE
        self._release_if_network()
        status = parse_status(answers)
        if len(answers) < len(QUERIES):
            log.info("printer.status_timeout conn=%s got=%d", self.conn_type, len(answers))
            self.close()
        return status

    def _read(self, n: int, deadline: float) -> bytes:
        got = b""
        while len(got) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if self.conn_type == "network":
                sock: socket.socket = self.conn.device
                sock.settimeout(remaining)
                try:
                    chunk = sock.recv(n - len(got))
                except TimeoutError:
                    break
                if not chunk:
                    break
            elif self.conn_type == "serial":
                self.conn.device.timeout = remaining
                chunk = self.conn.device.read(n - len(got))
                if not chunk:
                    break
            else:
                chunk = bytes(self.conn._read() or b"")
                if not chunk:
                    time.sleep(0.01)
            got += chunk
        return got[:n]
