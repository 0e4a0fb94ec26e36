"""Bytes and build time of the lending receipt on the 80 mm CJK printer: native QR + printer font vs raster QR
vs the whole receipt as one raster image (python-escpos's image path), and what each costs on a serial line.

Prints a table and ends with `RESULT {json}`. Goal: ≤ 1.5 KB and ≥ 10x fewer bytes than all-raster.
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from escpos.printer import Dummy  # noqa: E402

from device_profiles.printer_schema import PrinterProfile  # noqa: E402
from device_profiles.schema import PROFILE_ROOT, load_profile_as  # noqa: E402
from drivers.printer.virtual.paper import Paper, apply  # noqa: E402
from drivers.printer.virtual.parser import EscposParser  # noqa: E402
from kiosk.services.receipts import LendingReceipt, layout_for, render  # noqa: E402
from kiosk.tokens import TokenBook, TokenKeys  # noqa: E402

RUNS = 15
T0 = 1_764_000_000.0


def lending_receipt() -> LendingReceipt:
    book = TokenBook(TokenKeys(b"bench-site-key-0123456789abcdef"), clock=lambda: T0)
    return LendingReceipt("K01", "LD-0001", "umbrella", "U-0007", "U1", 7, "M-10086", T0, T0 + 86400,
                          "前30分钟免费，之后每小时2元，每日封顶10元\nFirst 30 min free, then ¥2/h, at most ¥10 a day",
                          book.lending_token("LD-0001", int(T0 + 7 * 86400)))


def all_raster(profile: PrinterProfile, receipt: LendingReceipt) -> bytes:
    """Draw the receipt as the printer would, then send that one picture through python-escpos's image()."""
    paper = Paper(width=profile.dots_per_line)
    for cmd in EscposParser().feed(render(layout_for(receipt), profile)):
        apply(paper, cmd)
    image, _ = paper.take()
    out = Dummy(profile=profile.escpos_profile)
    out._raw(b"\x1b@")
    out.image(image.convert("1"), impl=profile.raster)
    out.cut(mode="PART", feed=True)
    return bytes(out.output)


def measure(build: Callable[[], bytes]) -> tuple[int, float]:
    data = build()
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        build()
        times.append((time.perf_counter() - started) * 1000)
    return len(data), statistics.median(times)


def main() -> int:
    profile = load_profile_as(PROFILE_ROOT / "printers" / "epson-tm-t20ii-cn.yaml", PrinterProfile)
    receipt = lending_receipt()
    rows = {
        "native_qr_printer_font": measure(lambda: render(layout_for(receipt), profile, "native")),
        "raster_qr_printer_font": measure(lambda: render(layout_for(receipt), profile, "raster")),
        "all_raster_escpos_image": measure(lambda: all_raster(profile, receipt)),
    }
    baseline = rows["all_raster_escpos_image"][0]
    print(f"lending receipt on {profile.model} ({profile.dots_per_line} dots), median of {RUNS} builds")
    print(f"{'path':<26}{'bytes':>8}{'build ms':>10}{'9600 baud s':>13}{'115200 baud s':>15}{'x fewer':>9}")
    result: dict[str, object] = {"profile": profile.model}
    for name, (size, ms) in rows.items():
        s9600, s115k = size * 10 / 9600, size * 10 / 115200  # 8N1: ten bits on the wire per byte
        print(f"{name:<26}{size:>8}{ms:>10.2f}{s9600:>13.2f}{s115k:>15.3f}{baseline / size:>9.1f}")
        result[name] = {"bytes": size, "build_ms": round(ms, 3), "s_at_9600": round(s9600, 3),
                        "s_at_115200": round(s115k, 4)}
    native = rows["native_qr_printer_font"][0]
    result["native_vs_all_raster_ratio"] = round(baseline / native, 1)
    result["goal_bytes_le_1536"] = native <= 1536
    result["goal_ratio_ge_10"] = baseline / native >= 10
    print("RESULT " + json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
