"""The printer protocol, its status and errors (kept apart from `open_printer` so adapters import them
without importing the package that imports them back)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

ConnType = Literal["network", "serial", "usb", "file"]


class PrinterError(Exception):
    """Printer trouble; `code` is stable for the UI, the message is safe to show staff."""

    code = "printer_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code:
            self.code = code


class PrinterOffline(PrinterError):
    """The printer did not answer within the bound (unplugged, powered off, wrong address, hung)."""

    code = "offline"


@dataclass(frozen=True)
class PrinterStatus:
    """Real-time status (DLE EOT). `verified` is False when the link cannot report status (file, no DLE EOT)."""

    online: bool
    cover_open: bool = False
    paper_near_end: bool = False
    paper_out: bool = False
    verified: bool = True

    @property
    def ready(self) -> bool:
        """Can take a job now (near end still prints)."""
        return self.online and not self.cover_open and not self.paper_out

    @property
    def reason(self) -> str | None:
        """Why it cannot print: "offline" | "cover_open" | "paper_out", or None when ready."""
        if self.paper_out:
            return "paper_out"
        if self.cover_open:
            return "cover_open"
        if not self.online:
            return "offline"
        return None

    def as_dict(self) -> dict[str, bool]:
        return {"online": self.online, "cover_open": self.cover_open, "paper_near_end": self.paper_near_end,
                "paper_out": self.paper_out, "verified": self.verified}


OFFLINE = PrinterStatus(online=False)


@runtime_checkable
class Printer(Protocol):
    """What services need of a receipt printer; every call is bounded by the adapter's timeout."""

    def send(self, data: bytes) -> None:
        """Write one job's ESC/POS bytes; raises PrinterOffline when the link is gone."""

    def status(self) -> PrinterStatus:
        """Ask the printer now; an unanswered query is reported as offline, never raised."""

    def close(self) -> None:
        """Release the link; the next call reopens it."""
