"""A readable listing of an ESC/POS stream, one command per line (golden tests, staff diagnostics)."""
from __future__ import annotations

import hashlib

from drivers.printer.virtual.parser import Cmd, EscposParser, TextRun

BULK = {"GS v0", "ESC *", "GS (L", "GS 8L", "FS q", "GS *"}


def describe(data: bytes) -> list[str]:
    """`TEXT "…"` for printable runs (GB18030 in Chinese mode), `NAME hex` for commands, digests for images."""
    chinese = False
    lines: list[str] = []
    for item in EscposParser().feed(data):
        if isinstance(item, TextRun):
            text = item.data.decode("gb18030" if chinese else "cp437", errors="replace")
            lines.append(f'TEXT "{text}"')
            continue
        assert isinstance(item, Cmd)
        if item.name == "FS &":
            chinese = True
        elif item.name in ("FS .", "ESC @"):
            chinese = chinese and item.name != "FS ."
        if item.name in BULK:
            digest = hashlib.sha256(item.args).hexdigest()[:16]
            lines.append(f"{item.name} {item.args[:5].hex()}… len={len(item.args)} sha256={digest}")
        elif item.name == "GS (k" and len(item.args) > 3 and item.args[1] == 80:
            lines.append(f'GS (k store "{item.args[3:].decode("utf-8", errors="replace")}"')
        else:
            lines.append(f"{item.name} {item.args.hex()}".rstrip())
    return lines
