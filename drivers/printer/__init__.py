"""Receipt printers: the `Printer` protocol services type against, its status, errors, and `open_printer`.

Adapters: `EscposPrinter` (python-escpos over network/serial/usb/file) and the virtual printer in
`drivers.printer.virtual` (a TCP server that renders receipts to PNG).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from device_profiles.printer_schema import use_private_escpos_cache

use_private_escpos_cache()  # before any submodule imports python-escpos

from drivers.printer.base import (  # noqa: E402
    OFFLINE,
    ConnType,
    Printer,
    PrinterError,
    PrinterOffline,
    PrinterStatus,
)

if TYPE_CHECKING:
    from device_profiles.printer_schema import PrinterProfile


def open_printer(profile: PrinterProfile, conn_type: ConnType, *, host: str | None = None,
                 port: int | None = None, device: str | None = None, baudrate: int | None = None,
                 vid: int | None = None, pid: int | None = None, timeout_s: float = 3.0) -> Printer:
    """Build the adapter for a configured connection; missing fields fall back to the profile's interfaces."""
    from drivers.printer.escpos_adapter import EscposPrinter

    return EscposPrinter.from_connection(profile, conn_type, host=host, port=port, device=device,
                                         baudrate=baudrate, vid=vid, pid=pid, timeout_s=timeout_s)


__all__ = ["OFFLINE", "ConnType", "Printer", "PrinterError", "PrinterOffline", "PrinterStatus", "open_printer"]
