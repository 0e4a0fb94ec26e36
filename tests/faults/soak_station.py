"""One soak station process: the real Station (as `kiosk run --headless`) plus a shopper borrowing on its screen.

`python -m tests.faults.soak_station --config FILE [--seed S] [--pause-file PATH]`. The shopper signs member
codes itself (a fresh member per borrow) and borrows through `station.lending.borrow`, so a SIGKILL takes the
screen and the station together, as on a real kiosk. While the pause file exists the shopper stands still.
"""
from __future__ import annotations

import argparse
import json
import logging
import random
import signal
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from kiosk.bootstrap import Part, bootstrap
from kiosk.config import load_config
from kiosk.services.lending import LendingRefused
from kiosk.station import Station

log = logging.getLogger("tests.faults.soak_station")
ITEM_TYPES = ("umbrella", "power_bank")


class Shopper:
    """Borrows one item after another, as a queue of shoppers at one screen would."""

    def __init__(self, station: Station, rng: random.Random, pause_file: Path | None) -> None:
        self.station = station
        self.rng = rng
        self.pause_file = pause_file
        self.outcomes: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shopper", daemon=True)

    def start(self) -> Shopper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _paused(self) -> bool:
        return self.pause_file is not None and self.pause_file.exists()

    def _run(self) -> None:
        sid = self.station.config.station_id
        while not self._stop.is_set():
            if self._paused():
                self._stop.wait(0.2)
                continue
            item_type = self.rng.choice(ITEM_TYPES)
            member_id = f"S{sid}-{self.rng.getrandbits(40):010X}"
            tokens = self.station.tokens
            try:
                member = tokens.verify_member(tokens.member_code(member_id))
                result = self.station.lending.borrow(member, item_type)
            except LendingRefused as exc:
                self.outcomes[exc.code] += 1
                log.info("soak.borrow_refused station=%s type=%s code=%s", sid, item_type, exc.code)
                # nothing to lend or a locker away: a real shopper walks off and the next one comes later
                self._stop.wait(0.3 if exc.code in ("none_available", "locker_offline", "busy") else 0.05)
                continue
            except Exception:
                self.outcomes["error"] += 1
                log.exception("soak.borrow_failed station=%s type=%s", sid, item_type)
                self._stop.wait(0.5)
                continue
            self.outcomes["ok"] += 1
            log.info("soak.borrowed station=%s lending=%s item=%s locker=%s slot=%d", sid,
                     result.lending.lending_id, result.lending.item_id, result.lending.locker_id,
                     result.lending.slot)
            self._stop.wait(self.rng.uniform(0.0, 0.05))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.soak_station", description=__doc__)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pause-file", type=Path, default=None)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.INFO), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # paho/httpx chatter would drown the lines a person searches for
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    config = load_config(args.config)
    station = bootstrap(config, parts=Part.ALL & ~Part.CAMERA)
    station.start(handle_returns=True, background=True)
    shopper = Shopper(station, random.Random(args.seed), args.pause_file).start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print(json.dumps({"ok": True, "station": config.station_id}), flush=True)
    try:
        while not done.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    shopper.stop()
    summary: dict[str, Any] = {"station": config.station_id, "outcomes": dict(shopper.outcomes)}
    log.info("soak.station_stopping %s", " ".join(f"{k}={v}" for k, v in sorted(shopper.outcomes.items())))
    station.stop()
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
