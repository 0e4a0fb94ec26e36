"""Labelled QR robustness set: seeded synthetic frames per condition at 640×480 and 1280×720.

`python bench/qr_set.py --out DIR [--quick]` writes the PNGs and labels.jsonl for a look; without --out it
prints what the set holds. The bench renders the same frames in memory (nothing is committed as images).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import functools  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import zxingcpp  # noqa: E402

from drivers.scanner.decoders import Roi  # noqa: E402
from drivers.scanner.scene import Printed, Scene, photograph, render  # noqa: E402
from kiosk.tokens import TokenBook, TokenKeys  # noqa: E402

RESOLUTIONS = [(640, 480), (1280, 720)]
# The framing guide of each resolution's camera profile (device_profiles/cameras/*.yaml).
GUIDES = {(640, 480): Roi(0.1, 0.05, 0.8, 0.9), (1280, 720): Roi(0.2, 0.05, 0.6, 0.9)}
PER_CONDITION = 22
PER_CONDITION_QUICK = 6


@dataclass(frozen=True)
class Sample:
    id: str
    condition: str
    width: int
    height: int
    scene: Scene
    expected: tuple[bytes, ...]
    printed: bool = False  # a receipt from the virtual printer, photographed

    def frame(self) -> np.ndarray:
        frame_no = sum(self.id.encode()) & 0xFF
        if self.printed:
            paper = virtual_printer_receipt(self.expected[0])
            if paper is not None:
                return photograph(paper, self.scene, self.width, self.height, frame_no)
        return render(self.scene, self.width, self.height, frame_no=frame_no)


@functools.lru_cache(maxsize=64)
def virtual_printer_receipt(payload: bytes) -> Printed | None:
    """The receipt the virtual printer renders for an ESC/POS job with this return code (None without it)."""
    try:
        from escpos.printer import Dummy

        from drivers.printer.virtual.paper import Paper, apply
        from drivers.printer.virtual.parser import EscposParser
    except ImportError:
        return None
    job = Dummy()
    job.set(align="center")
    job.text("MALL SERVICE DESK\nUmbrella U1-07\nDue 2026-11-26 14:02\n2.00/h, cap 10.00\n")
    job.qr(payload.decode(), native=True, size=6)
    job.text("Scan to return\n")
    job.cut()
    paper = Paper(width=576)
    for cmd in EscposParser().feed(job.output):
        apply(paper, cmd)
    img = np.array(paper.take()[0].convert("L"))
    found = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)
    if not found:
        return None
    pos = found[0].position
    xs = [pos.top_left.x, pos.top_right.x, pos.bottom_right.x, pos.bottom_left.x]
    ys = [pos.top_left.y, pos.top_right.y, pos.bottom_right.y, pos.bottom_left.y]
    return img, (sum(xs) / 4, sum(ys) / 4), float(max(xs) - min(xs))


def _payloads(rng: random.Random, book: TokenBook) -> Iterator[str]:
    while True:
        n = rng.randrange(1, 9999)
        yield rng.choice([
            book.member_code(f"MB{n:06d}", at=1_790_000_000 + n),
            book.lending_token(f"LD{n:08d}", 1_790_000_000 + n),
            book.staff_badge(f"ST{n:04d}"),
            f"I1.U-{n:04d}",
            book.sign("P1", f"CAR{n:05d}", "B2"),
        ])


def _conditions() -> dict[str, Callable[[random.Random, Scene, float], Scene]]:
    u = random.Random.uniform
    return {
        "clean": lambda r, s, k: replace(s, size=u(r, 0.25, 0.5), tilt=u(r, -8, 8)),
        "small": lambda r, s, k: replace(s, size=u(r, 0.17, 0.22), tilt=u(r, -10, 10)),
        "tilted": lambda r, s, k: replace(s, tilt=u(r, -45, 45), perspective=u(r, 0.05, 0.2)),
        "perspective": lambda r, s, k: replace(s, perspective=u(r, 0.2, 0.35), perspective_axis=u(r, 0, 360)),
        "blur": lambda r, s, k: replace(s, blur=u(r, 0.8, 1.6) * k),
        "motion": lambda r, s, k: replace(s, motion=u(r, 2, 5) * k),
        "noise_jpeg": lambda r, s, k: replace(s, noise=u(r, 8, 18), jpeg_quality=r.randrange(55, 80)),
        "glare": lambda r, s, k: replace(s, glare=u(r, 0.4, 0.8), tilt=u(r, -15, 15)),
        "dark_mode": lambda r, s, k: replace(s, dark_mode=True, tilt=u(r, -20, 20), perspective=u(r, 0, 0.15)),
        "dim": lambda r, s, k: replace(s, brightness=u(r, 0.3, 0.5), noise=u(r, 3, 8)),
        "cracked": lambda r, s, k: replace(s, cracks=r.randrange(3, 7), tilt=u(r, -10, 10)),
        "receipt": lambda r, s, k: replace(s, holder="receipt", size=u(r, 0.18, 0.28), perspective=u(r, 0.1, 0.3),
                                        perspective_axis=u(r, 0, 360), tilt=u(r, -20, 20),
                                        blur=u(r, 0.6, 1.2) * k),
        "printer_receipt": lambda r, s, k: replace(s, size=u(r, 0.18, 0.28), perspective=u(r, 0.1, 0.3),
                                                perspective_axis=u(r, 0, 360), tilt=u(r, -20, 20),
                                                blur=u(r, 0.6, 1.2) * k),
        "badge": lambda r, s, k: replace(s, holder="badge", size=u(r, 0.2, 0.35), tilt=u(r, -15, 15)),
        "two_codes": lambda r, s, k: replace(s, holder="badge", size=u(r, 0.2, 0.26)),
        "no_code": lambda r, s, k: replace(s, payloads=(), noise=u(r, 0, 10), blur=u(r, 0, 1)),
    }


def build_set(quick: bool = False, seed: int = 20261125) -> list[Sample]:
    """Every sample of the set, in a fixed order; the same seed gives the same frames."""
    rng = random.Random(seed)
    book = TokenBook(TokenKeys(b"bench-site-key-0123456789"), clock=lambda: 1_790_000_000)
    book.register_kind("P1")
    payloads = _payloads(rng, book)
    per = PER_CONDITION_QUICK if quick else PER_CONDITION
    samples: list[Sample] = []
    for cond, make in _conditions().items():
        for width, height in RESOLUTIONS:
            guide = GUIDES[(width, height)]
            for i in range(per):
                scene = make(rng, Scene(seed=rng.randrange(1 << 30)), height / 480)
                count = 2 if cond == "two_codes" else 0 if cond == "no_code" else 1
                codes = tuple(next(payloads).encode() for _ in range(count))
                # keep the code inside the on-screen framing guide, as a shopper following it would
                half = scene.size / 2 * height / width
                span_x = guide.w / 2 - half * (3.2 if count == 2 else 1.3)
                cx = guide.x + guide.w / 2 - (0.25 * guide.w if count == 2 else 0) + rng.uniform(-1, 1) * max(0.0, span_x) * 0.5
                cy = guide.y + guide.h / 2 + rng.uniform(-1, 1) * max(0.0, guide.h / 2 - scene.size * 0.7) * 0.5
                scene = replace(scene, payloads=codes, center=(cx, cy))
                samples.append(Sample(f"{cond}-{width}-{i:02d}", cond, width, height, scene, codes,
                                      printed=cond == "printer_receipt"))
    return samples


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, help="write PNGs + labels.jsonl here")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    samples = build_set(args.quick)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        with open(args.out / "labels.jsonl", "w", encoding="utf-8") as labels:
            for s in samples:
                name = f"{s.id}.png"
                cv2.imwrite(str(args.out / name), s.frame())
                labels.write(json.dumps({"file": name, "condition": s.condition, "width": s.width,
                                         "height": s.height, "codes": [c.decode() for c in s.expected]}) + "\n")
    counts: dict[str, dict[str, int]] = {}
    for s in samples:
        counts.setdefault(s.condition, {}).setdefault(f"{s.width}x{s.height}", 0)
        counts[s.condition][f"{s.width}x{s.height}"] += 1
    print(f"{'condition':<16}" + "".join(f"{f'{w}x{h}':>12}" for w, h in RESOLUTIONS))
    for cond, per in counts.items():
        print(f"{cond:<16}" + "".join(f"{per.get(f'{w}x{h}', 0):>12}" for w, h in RESOLUTIONS))
    printed = virtual_printer_receipt(b"L1.LD0001.1900000000.ABCDEFGHIJKLMNOP") is not None
    print("RESULT " + json.dumps({"frames": len(samples), "conditions": len(counts), "quick": args.quick,
                                  "virtual_printer_receipts": printed, "out": str(args.out) if args.out else None}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
