"""python -m drivers.printer.virtual --port P --out DIR [--status …] [--width DOTS] [--pty]: run the virtual printer."""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from drivers.printer.virtual import STATUSES, VirtualPrinter
from drivers.printer.virtual.serial_link import PtyLink


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m drivers.printer.virtual", description=__doc__)
    ap.add_argument("--port", type=int, default=9100, help="TCP port on 127.0.0.1 (0 = any free port)")
    ap.add_argument("--out", required=True, help="folder for NNNNNN.png + .txt and the status file")
    ap.add_argument("--status", choices=STATUSES, default="ok")
    ap.add_argument("--width", type=int, default=576, help="dots across the paper (576 = 80 mm, 384 = 58 mm)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--pty", action="store_true", help="also serve a pseudo-terminal (a serial printer)")
    ap.add_argument("--log-level", default="INFO")
    args = ap.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    printer = VirtualPrinter(args.out, port=args.port, status=args.status, width=args.width, host=args.host).start()
    pty = PtyLink(printer) if args.pty else None
    print(json.dumps({"port": printer.port, "out": str(printer.out_dir.resolve()),
                      "status_file": str(printer.status_file.resolve()),
                      "pty": pty.start() if pty else None}), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    if pty:
        pty.stop()
    printer.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
