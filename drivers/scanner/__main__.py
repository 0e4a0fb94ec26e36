"""`python -m drivers.scanner decode FILE…` — run the decode pipeline on photos, one JSON line per file."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2

from drivers.scanner import DECODERS, QrPipeline, pipeline_for


def printable(payload: bytes) -> str:
    """A payload as safe text: undecodable bytes escaped; json.dumps escapes the rest."""
    return payload.decode("utf-8", "backslashreplace")


def cmd_decode(args: argparse.Namespace) -> int:
    if args.profile:
        from device_profiles import load_profile

        decoder = pipeline_for(load_profile(args.profile))  # type: ignore[arg-type]
    elif args.decoder == "pipeline":
        decoder = QrPipeline()  # a photo has no framing guide: the whole image
    else:
        decoder = DECODERS[args.decoder]()
    bad = 0
    for name in args.files:
        image = cv2.imread(str(Path(name)), cv2.IMREAD_COLOR)
        if image is None:
            bad += 1
            print(json.dumps({"file": name, "codes": [], "ms": None, "error": "cannot read image"}), flush=True)
            continue
        t0 = time.perf_counter()
        codes = decoder.decode(image)
        ms = round((time.perf_counter() - t0) * 1000, 2)
        print(json.dumps({"file": name, "codes": [printable(c) for c in codes], "ms": ms}), flush=True)
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m drivers.scanner")
    verbs = ap.add_subparsers(dest="verb", required=True)
    d = verbs.add_parser("decode", help="decode QR codes in image files")
    d.add_argument("files", nargs="+")
    d.add_argument("--decoder", choices=sorted(DECODERS), default="pipeline")
    d.add_argument("--profile", help="camera profile: use its framing guide and decode settings")
    d.set_defaults(func=cmd_decode)
    args = ap.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
