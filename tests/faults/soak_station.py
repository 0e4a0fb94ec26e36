"""One soak station process: the real Station (as `kiosk run --headless`) plus a shopper borrowing on its screen.

`python -m tests.faults.soak_station --config FILE [--seed S] [--pause-file PATH] [--pay-gateway URL --paid-share F]
[--fault-dir DIR]`.
The shopper signs member codes itself (a fresh member per borrow) and borrows through `station.lending.borrow`, so
a SIGKILL takes the screen and the station together, as on a real kiosk. With `--pay-gateway`, a share of the
power-bank shoppers are non-members who pay the deposit by QR as the pay screen does (`station.payments`), paying
on the simulator's control API as their phone would; a few walk away from the QR. While the pause file exists
the shopper stands still.

Two faults act inside the process, told by files in `--fault-dir` (`<station>.diskfull`, `<station>.clock`):
- **disk full**: while `<station>.diskfull` exists the station's database may not grow (SQLite's own
  `PRAGMA max_page_count`, on the station's connection): every write that needs a new page fails with a real
  SQLITE_FULL, and `Store.room()` refuses new borrows;
- **clock jump**: `<station>.clock` holds seconds added to the station's wall clock (NTP stepping it ±2 h);
  its boot clock (CLOCK_BOOTTIME) is never moved. The station is built as `kiosk run` builds it: its records
  on `SteadyWall` over this stepped clock, member codes on the stepped clock itself.
"""
from __future__ import annotations

import argparse
import json
import logging
import random
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from kiosk.bootstrap import Part, bootstrap
from kiosk.config import load_config
from kiosk.services.errors import ServiceRefused
from kiosk.services.lending import LendingRefused
from kiosk.station import Station
from kiosk.store import Store
from kiosk.tokens import TokenRejected
from mallcommon.clock import SteadyWall, boot_clock

log = logging.getLogger("tests.faults.soak_station")
ITEM_TYPES = ("umbrella", "power_bank")


class Shopper:
    """Borrows one item after another, as a queue of shoppers at one screen would."""

    def __init__(self, station: Station, rng: random.Random, pause_file: Path | None, pay_gateway: str | None = None,
                 paid_share: float = 0.0) -> None:
        self.station = station
        self.rng = rng
        self.pause_file = pause_file
        self.pay_gateway = pay_gateway if station.payments is not None else None
        self.paid_share = paid_share
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
            if item_type == "power_bank" and self.pay_gateway and self.rng.random() < self.paid_share:
                self._paid_borrow()
                continue
            member_id = f"S{sid}-{self.rng.getrandbits(40):010X}"
            tokens = self.station.tokens
            try:
                member = tokens.verify_member(tokens.member_code(member_id))
                result = self.station.lending.borrow(member, item_type)
            except (LendingRefused, TokenRejected) as exc:
                code = exc.code if isinstance(exc, LendingRefused) else exc.reason
                self.outcomes[code] += 1
                log.info("soak.borrow_refused station=%s type=%s code=%s", sid, item_type, code)
                # nothing to lend or a locker away: a real shopper walks off and the next one comes later
                self._stop.wait(0.3 if code in ("disk_full", "none_available", "locker_offline", "busy") else 0.05)
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

    def _paid_borrow(self) -> None:
        """A non-member at the pay screen: QR → phone pays → door; or walks away from the QR (it is closed)."""
        import httpx

        payments, sid = self.station.payments, self.station.config.station_id
        assert payments is not None and self.pay_gateway
        provider = self.rng.choice(("wechat", "alipay"))
        try:
            order = payments.start_borrow("power_bank", provider)
        except ServiceRefused as exc:  # nothing to lend, the centre or the provider away: the shopper leaves
            self.outcomes[f"pay_{exc.code}"] += 1
            log.info("soak.pay_refused station=%s code=%s", sid, exc.code)
            self._stop.wait(1.0)  # the next shopper comes a little later (not 20 QRs a second into a dead centre)
            return
        soid = order.station_order_id
        if self.rng.random() < 0.1:
            self.outcomes["pay_walked_away"] += 1
            self._give_up(soid)
            return
        try:  # the shopper's phone
            httpx.post(f"{self.pay_gateway}/_sim/{provider}/{order.order_id}/pay", timeout=10)
        except httpx.HTTPError:
            pass  # the phone's own trouble: the order stays unpaid and is closed below
        paid = payments.wait_paid(soid, 12.0)
        if paid.state != "paid":
            self.outcomes["pay_not_paid"] += 1
            self._give_up(soid)
            return
        try:
            done = payments.dispense(soid)
        except ServiceRefused as exc:
            self.outcomes[f"pay_{exc.code}"] += 1
            log.info("soak.pay_dispense_refused station=%s order=%s code=%s", sid, soid, exc.code)
            return
        self.outcomes[f"pay_{done.state}"] += 1
        log.info("soak.pay_borrowed station=%s order=%s state=%s item=%s", sid, soid, done.state, done.item_id)

    def _give_up(self, soid: str) -> None:
        """Leaving the QR: the screen closes it (a payment that raced the close is refunded); the station's
        housekeeping closes what a failed close left behind."""
        payments = self.station.payments
        assert payments is not None
        for _ in range(3):
            try:
                payments.cancel(soid)
                return
            except ServiceRefused:
                time.sleep(0.5)


class SteppedWall:
    """The station's wall clock: the machine's plus the step the soak put in `<station>.clock`."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.offset = 0.0
        self.poll()

    def __call__(self) -> float:
        return time.time() + self.offset

    def poll(self) -> None:
        if self.path is None:
            return
        try:
            offset = float(self.path.read_text().strip() or 0)
        except (OSError, ValueError):
            offset = 0.0
        if offset != self.offset:
            log.warning("soak.clock_step station_wall_offset_s=%+.0f (was %+.0f)", offset, self.offset)
            self.offset = offset


class DiskFull:
    """While `<station>.diskfull` exists the store's database may not grow (real SQLITE_FULL)."""

    UNLIMITED = 1_073_741_823

    def __init__(self, path: Path | None, store: Store) -> None:
        self.path, self.store, self.full = path, store, False

    def poll(self) -> None:
        want = self.path is not None and self.path.exists()
        if want == self.full:
            return
        if want:
            pages = self.store.query("PRAGMA page_count")[0][0]
            self.store.query(f"PRAGMA max_page_count={int(pages)}")
        else:
            self.store.query(f"PRAGMA max_page_count={self.UNLIMITED}")
        self.full = want
        room = self.store.room(max_age_s=0)
        log.warning("soak.disk_full=%s room_ok=%s", want, room.ok)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.soak_station", description=__doc__)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pause-file", type=Path, default=None)
    parser.add_argument("--pay-gateway", default=None, help="the payment simulator (its control API is the phone)")
    parser.add_argument("--paid-share", type=float, default=0.0)
    parser.add_argument("--fault-dir", type=Path, default=None)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.INFO), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # paho/httpx chatter would drown the lines a person searches for
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    config = load_config(args.config)
    fault = (lambda name: args.fault_dir / f"{config.station_id}.{name}") if args.fault_dir else (lambda _: None)
    wall = SteppedWall(fault("clock"))
    # as `kiosk run` builds it: records on SteadyWall over the (stepped) system wall clock, fees on the boot clock
    station = bootstrap(config, parts=Part.ALL & ~Part.CAMERA, clock=SteadyWall(wall=wall), boottime=boot_clock)
    disk = DiskFull(fault("diskfull"), station.store)
    disk.poll()
    station.start(handle_returns=True, background=True)
    if station.payments is not None:
        station.payments.abandoned_after_s = 20.0  # the soak's shoppers wait 12 s at most, not the screen's 300 s
    shopper = Shopper(station, random.Random(args.seed), args.pause_file, args.pay_gateway, args.paid_share).start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print(json.dumps({"ok": True, "station": config.station_id}), flush=True)
    try:
        while not done.wait(0.2):
            wall.poll()
            disk.poll()
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
