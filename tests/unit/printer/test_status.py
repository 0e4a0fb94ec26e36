"""DLE EOT: the virtual printer's answers decode to the status the adapter reports."""
from __future__ import annotations

import pytest

from drivers.printer import PrinterStatus
from drivers.printer.escpos_adapter import parse_status
from drivers.printer.virtual import status_byte


@pytest.mark.parametrize(("sim", "ready", "reason", "near_end"), [
    ("ok", True, None, False),
    ("near_end", True, None, True),
    ("paper_out", False, "paper_out", True),
    ("cover_open", False, "cover_open", False),
])
def test_simulated_status_round_trips(sim: str, ready: bool, reason: str | None, near_end: bool) -> None:
    status = parse_status(b"".join(status_byte(sim, n) for n in (1, 2, 4)))
    assert status.ready is ready
    assert status.reason == reason
    assert status.paper_near_end is near_end


def test_short_or_malformed_answers_mean_offline() -> None:
    assert parse_status(b"\x12\x12") == PrinterStatus(online=False)
    assert parse_status(b"\xff\x12\x12").reason == "offline"
