"""python -m drivers.payment.gateway serve --host 127.0.0.1 --port PORT --state DIR [--max-amount-fen N]"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from drivers.payment.gateway.server import DEFAULT_MAX_AMOUNT_FEN, DEFAULT_NOTIFY_RETRY, Gateway


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m drivers.payment.gateway", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run the simulated WeChat Pay + Alipay gateway")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=0, help="0 = any free port (printed on stdout)")
    s.add_argument("--state", required=True, help="folder for merchant.json, keys and the ledger")
    s.add_argument("--max-amount-fen", type=int, default=DEFAULT_MAX_AMOUNT_FEN)
    s.add_argument("--notify-retry", default=",".join(str(x) for x in DEFAULT_NOTIFY_RETRY),
                   help="seconds between notification attempts until acknowledged")
    s.add_argument("--log-level", default="INFO")
    args = ap.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    retry = tuple(float(x) for x in args.notify_retry.split(",") if x.strip())
    gw = Gateway(args.state, args.host, args.port, max_amount_fen=args.max_amount_fen, notify_retry=retry).start()
    print(json.dumps({"gateway_url": gw.url, "merchant": str(gw.merchant_file.resolve())}), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    gw.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
