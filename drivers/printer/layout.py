"""A printer-neutral receipt: blocks of text, label/value rows, rules, QR codes, barcodes and feeds."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Align = Literal["left", "center", "right"]
Size = Literal["normal", "wide", "tall", "double"]


@dataclass(frozen=True)
class Text:
    """One paragraph, wrapped by display width at render time."""

    text: str
    align: Align = "left"
    bold: bool = False
    underline: bool = False
    size: Size = "normal"


@dataclass(frozen=True)
class Row:
    """A label on the left and its value flush right (wraps onto two lines on narrow paper)."""

    label: str
    value: str
    bold: bool = False


@dataclass(frozen=True)
class Rule:
    char: str = "-"


@dataclass(frozen=True)
class Qr:
    data: str
    caption: str = ""


@dataclass(frozen=True)
class Barcode:
    data: str
    symbology: Literal["CODE128", "CODE39", "EAN13"] = "CODE128"


@dataclass(frozen=True)
class Feed:
    lines: int = 1


Block = Text | Row | Rule | Qr | Barcode | Feed


@dataclass(frozen=True)
class ReceiptLayout:
    """What a receipt says, in order; `kind` names the receipt (lending, return, …) for queues and logs."""

    kind: str
    blocks: tuple[Block, ...] = field(default_factory=tuple)

    def qr_payloads(self) -> list[str]:
        return [b.data for b in self.blocks if isinstance(b, Qr)]

    def plain_text(self) -> str:
        """The words on the receipt, for previews and e-receipts."""
        out: list[str] = []
        for b in self.blocks:
            if isinstance(b, Text):
                out.append(b.text)
            elif isinstance(b, Row):
                out.append(f"{b.label} {b.value}")
            elif isinstance(b, Qr) and b.caption:
                out.append(b.caption)
        return "\n".join(out)
