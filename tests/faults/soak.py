"""Fault soak: 2 stations, 4 lockers, a broker and the centre as real processes; shoppers borrow, items come back
anywhere, faults are injected at seeded random moments; then everything recovers and is reconciled.

`python -m tests.faults.soak --lendings N --faults M [--seed S] [--seconds T] [--workdir DIR]`; last line
`RESULT {json}`. Faults: SIGKILL a station (screen + station, restarted), SIGKILL + restart mosquitto on the same
port, SIGKILL a locker simulator (restarted from its state file), centre down and up, dropped and delayed acks,
jammed doors.
"""
from __future__ import annotations

import argparse
import json
import logging
import random
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from device_profiles import load_profile_as
from device_profiles.locker_schema import LockerProfile
from drivers.locker.acl import write_broker_auth
from drivers.locker.broker import Mosquitto, free_port
from drivers.locker.firmware import item_id
from drivers.locker.models import control_topic
from server_bridge.central.runner import CentralProcess
from tests.faults.soak_payments import PaymentSoak
from tests.faults.soak_procs import Child, JournalTail, station_toml
from tests.faults.soak_reconcile import print_table, read_centre, read_journal, read_station, reconcile
from tests.fixtures.station import short_profile

log = logging.getLogger("tests.faults.soak")
ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
SITE = "soak-mall"
LOCKERS = {"U1": "umbrella", "P1": "power_bank", "U2": "umbrella", "P2": "power_bank"}
STATIONS = {"K01": ["U1", "P1"], "K02": ["U2", "P2"]}
MONEY_CHECKS = ("double_refunds", "paid_neither_dispensed_nor_refunded", "dispensed_and_refunded_in_full",
                "refunds_without_payment")
FAULT_WEIGHTS = {"station_kill": 3, "broker_restart": 2, "locker_kill": 3, "centre_down": 2, "drop_acks": 3,
                 "delay_acks": 2, "jam_door": 3, "disk_full": 2, "clock_jump": 2}
# the centre's first answer: ~2 s on an idle box, but over 30 s at load 16 (a disk-heavy run never started:
# "central did not answer ... within 30 s"). A centre that exits fails at once whatever this is; one that
# never answers fails after this long, with its last poll, the load average and its log named.
CENTRE_START_S = 120.0
CLOCK_STEP_S = 2 * 3600  # NTP stepping a kiosk's RTC after boot


class Soak:
    def __init__(self, workdir: Path, *, lendings: int, faults: int, seed: int, seconds: float | None,
                 auto_take: float = 0.05, take_s: float = 2.0, ack_s: float = 0.5, recover_s: float = 120.0,
                 paid_share: float = 0.3, pay_faults: int | None = None,
                 weights: dict[str, int] | None = None) -> None:
        self.dir = workdir
        self.target, self.fault_count, self.seed, self.seconds = lendings, faults, seed, seconds
        self.auto_take, self.take_s, self.ack_s, self.recover_s = auto_take, take_s, ack_s, recover_s
        self.rng = random.Random(seed)
        self.weights = weights or FAULT_WEIGHTS
        self.faults: Counter[str] = Counter()
        self.thresholds = sorted(self.rng.uniform(0.03, 0.92) for _ in range(faults))
        # payments (issue 14): a share of the power-bank shoppers pay a QR deposit; gateway faults on their own count
        self.paid_share = paid_share
        self.payments = PaymentSoak(workdir, random.Random(seed + 1)) if paid_share > 0 else None
        n_pay = (pay_faults if pay_faults is not None else max(8, faults // 2)) if self.payments else 0
        self.pay_thresholds = sorted(self.rng.uniform(0.03, 0.92) for _ in range(n_pay))
        self.later: list[tuple[float, str, Any]] = []  # (monotonic time, action, argument)
        self.children: dict[str, Child] = {}
        self.tails: dict[str, JournalTail] = {}
        self.slots: dict[str, dict[int, str | None]] = {}
        self.out: dict[str, tuple[str, float]] = {}  # item -> (type, when it left)
        self.pending: dict[str, tuple[str, int, float, int]] = {}  # item -> (locker, slot, sent, attempts)
        self.dispensed = 0
        self.returned = 0
        self.control_client: mqtt.Client | None = None

    # setup ------------------------------------------------------------------------------------
    def setup(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "logs").mkdir(exist_ok=True)
        self.auth = write_broker_auth(SITE, list(STATIONS), list(LOCKERS), self.dir / "mqtt")
        self.broker = Mosquitto(self.dir / "mosquitto", password_file=self.auth.password_file,
                                acl_file=self.auth.acl_file).start()
        self.central = CentralProcess(f"sqlite:///{self.dir / 'central.db'}", self.dir / "logs", port=free_port(),
                                      offline_after_s=10.0, eval_every_s=2.0, sample_every_s=5.0)
        self.central.cli("migrate")
        if self.payments is not None:
            self.central.env.update(self.payments.start().centre_env(self.central.url))
        site_key = self.dir / "site.key"
        site_key.write_text(secrets.token_hex(32))
        profiles = {t: short_profile(self.dir, t, self.take_s, self.ack_s) for t in set(LOCKERS.values())}
        for sid, lockers in STATIONS.items():
            token = self.dir / f"{sid}.token"
            token.write_text(self.central.add_station(sid))
            cfg = self.dir / f"{sid}.toml"
            toml = station_toml(SITE, sid, self.dir / sid, site_key, self.broker.port, self.auth.creds_dir,
                                [(lid, profiles[LOCKERS[lid]]) for lid in lockers], self.central.url, token)
            pay: list[str] = []
            if self.payments is not None:  # power banks take a QR deposit at these stations
                toml = toml.replace("price_cents = 9900", "price_cents = 9900\ndeposit_cents = 9900", 1)
                pay = ["--pay-gateway", self.payments.url, "--paid-share", str(self.paid_share)]
            cfg.write_text(toml)
            self.children[sid] = Child(sid, [PY, "-m", "tests.faults.soak_station", "--config", str(cfg),
                                             "--pause-file", str(self.dir / "shoppers.pause"),
                                             "--fault-dir", str(self.dir), *pay],
                                       self.dir / "logs" / f"{sid}.log", seed_flag=True)
        for lid, item_type in LOCKERS.items():
            prof = profiles[item_type]
            self.children[lid] = Child(lid, [
                PY, "-m", "drivers.locker.simulator", "--profile", str(prof), "--site", SITE, "--locker", lid,
                "--broker", self.broker.address, "--username", f"locker-{lid}",
                "--password-file", str(self.auth.password_path(f"locker-{lid}")), "--fill", "all",
                "--auto-take", str(self.auto_take), "--state-file", str(self.dir / f"{lid}.state.json"),
                "--journal", str(self.dir / f"{lid}.journal"), "--log-level", "INFO"],
                self.dir / "logs" / f"locker-{lid}.log", seed_flag=True)
            self.tails[lid] = JournalTail(self.dir / f"{lid}.journal")
            lp = load_profile_as(prof, LockerProfile)
            self.slots[lid] = {s: item_id(lp, lid, s) for s in range(1, lp.slots + 1)}  # --fill all

    def start(self) -> None:
        self.central.start(timeout=CENTRE_START_S)
        for lid in LOCKERS:
            self.children[lid].start(self.rng.randrange(1 << 30))
        time.sleep(0.5)
        for sid in STATIONS:
            self.children[sid].start(self.rng.randrange(1 << 30))
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"soak-ctl-{secrets.token_hex(3)}")
        client.username_pw_set("sim-control", self.auth.password("sim-control"))
        client.reconnect_delay_set(0.2, 2)
        client.connect_async("127.0.0.1", self.broker.port)
        client.loop_start()
        self.control_client = client

    def control(self, locker_id: str, message: dict[str, Any]) -> None:
        assert self.control_client is not None
        self.control_client.publish(control_topic(SITE, locker_id), json.dumps(message), qos=1)

    # physical truth ---------------------------------------------------------------------------
    def read_journals(self, now: float) -> None:
        for lid, tail in self.tails.items():
            for act in tail.new_acts():
                kind, slot, item = act["act"], act.get("slot"), act.get("item")
                if kind == "item_removed" and item:
                    self.slots[lid][slot] = None
                    self.out[item] = (LOCKERS[lid], now)
                    self.dispensed += 1
                elif kind == "item_inserted" and item:
                    self.slots[lid][slot] = item
                    self.out.pop(item, None)
                    self.pending.pop(item, None)
                    self.returned += 1

    def return_items(self, now: float) -> None:
        """Shoppers bring items back after a while, into any empty slot of the right type at either station."""
        reserved = {(lk, s) for lk, s, _, _ in self.pending.values()}
        for item, (item_type, since) in list(self.out.items()):
            pend = self.pending.get(item)
            if pend is not None:
                lk, s, sent, tries = pend
                if now - sent < 3.0:
                    continue
                if tries < 4 and self.children[lk].alive:
                    self.pending[item] = (lk, s, now, tries + 1)
                    self.insert(lk, s, item)
                    continue
                if not self.children[lk].alive:
                    self.pending[item] = (lk, s, now, tries)
                    continue
                del self.pending[item]  # refused several times: that slot was not as empty as we thought
                reserved.discard((lk, s))
            if now - since < self.rng.uniform(0.2, 1.5):
                continue
            lockers = [lid for lid, t in LOCKERS.items() if t == item_type]
            self.rng.shuffle(lockers)
            for lk in lockers:
                empty = [s for s, it in self.slots[lk].items() if it is None and (lk, s) not in reserved]
                if empty:
                    slot = self.rng.choice(empty)
                    self.pending[item] = (lk, slot, now, 1)
                    reserved.add((lk, slot))
                    self.insert(lk, slot, item)
                    break

    def insert(self, locker_id: str, slot: int, item: str) -> None:
        msg: dict[str, Any] = {"op": "insert", "item": item, "slot": slot}
        if LOCKERS[locker_id] == "power_bank":
            msg["battery"] = self.rng.randint(70, 100)
        self.control(locker_id, msg)

    # faults -----------------------------------------------------------------------------------
    def inject(self, now: float) -> None:
        kinds = [k for k, w in self.weights.items() if w > 0]
        for _ in range(20):
            kind = self.rng.choices(kinds, weights=[self.weights[k] for k in kinds])[0]
            if getattr(self, f"_fault_{kind}")(now):
                self.faults[kind] += 1
                log.info("soak.fault kind=%s total=%d dispensed=%d", kind, sum(self.faults.values()),
                         self.dispensed)
                return

    def _down(self, name: str, now: float, pause: float) -> bool:
        child = self.children[name]
        if not child.alive:
            return False
        child.kill()
        self.later.append((now + pause, "start", name))
        return True

    def _fault_station_kill(self, now: float) -> bool:
        return self._down(self.rng.choice(list(STATIONS)), now, self.rng.uniform(0.3, 2.0))

    def _fault_locker_kill(self, now: float) -> bool:
        return self._down(self.rng.choice(list(LOCKERS)), now, self.rng.uniform(0.3, 2.0))

    def _fault_broker_restart(self, now: float) -> bool:
        assert self.broker.proc is not None
        self.broker.proc.kill()
        self.broker.proc.wait()
        time.sleep(self.rng.uniform(0.2, 1.5))
        self.broker.start()
        return True

    def _fault_centre_down(self, now: float) -> bool:
        if any(a == "centre_up" for _, a, _ in self.later):
            return False
        self.central.kill()
        self.later.append((now + self.rng.uniform(1.0, 6.0), "centre_up", None))
        return True

    def _fault_drop_acks(self, now: float) -> bool:
        self.control(self.rng.choice(list(LOCKERS)), {"op": "drop_acks", "n": self.rng.randint(1, 3)})
        return True

    def _fault_delay_acks(self, now: float) -> bool:
        lid = self.rng.choice(list(LOCKERS))
        self.control(lid, {"op": "delay_acks", "ms": self.rng.randint(300, 1500)})
        self.later.append((now + self.rng.uniform(2.0, 6.0), "control", (lid, {"op": "delay_acks", "ms": 0})))
        return True

    def _fault_jam_door(self, now: float) -> bool:
        lid = self.rng.choice(list(LOCKERS))
        full = [s for s, it in self.slots[lid].items() if it is not None]
        if not full:
            return False
        slot = self.rng.choice(full)
        self.control(lid, {"op": "jam_door", "slot": slot})
        self.later.append((now + self.rng.uniform(2.0, 8.0), "repair", (lid, slot)))
        return True

    def _fault_disk_full(self, now: float) -> bool:
        """The station's disk fills up for 1-5 s (soak_station.DiskFull: real SQLITE_FULL)."""
        sid = self.rng.choice(list(STATIONS))
        flag = self.dir / f"{sid}.diskfull"
        if flag.exists():
            return False
        flag.touch()
        self.later.append((now + self.rng.uniform(1.0, 5.0), "disk_room", sid))
        return True

    def _fault_clock_jump(self, now: float) -> bool:
        """The station's wall clock steps ±2 h, and NTP steps it back 2-8 s later (soak_station.SteppedWall)."""
        sid = self.rng.choice(list(STATIONS))
        if any(action == "clock_back" and arg == sid for _, action, arg in self.later):
            return False
        (self.dir / f"{sid}.clock").write_text(str(self.rng.choice((-CLOCK_STEP_S, CLOCK_STEP_S))))
        self.later.append((now + self.rng.uniform(2.0, 8.0), "clock_back", sid))
        return True

    def run_later(self, now: float, everything: bool = False) -> None:
        due = [x for x in self.later if everything or x[0] <= now]
        self.later = [x for x in self.later if x not in due]
        for _, action, arg in due:
            if action == "disk_room":
                (self.dir / f"{arg}.diskfull").unlink(missing_ok=True)
            elif action == "clock_back":
                (self.dir / f"{arg}.clock").write_text("0")
            elif action == "start":
                self.children[arg].start(self.rng.randrange(1 << 30))
            elif action == "centre_up":
                self.start_centre()
            elif not self.children[arg[0]].alive or not self.control_client_up():
                self.later.append((now + 1.0, action, arg))  # a control to a dead locker is lost: try later
            elif action == "control":
                self.control(*arg)
            elif action == "repair":
                self.control(arg[0], {"op": "repair", "slot": arg[1]})
                self.later.append((now + 2.0, "repair_check", arg))
            elif action == "repair_check" and self.slot_faulty(*arg):
                self.later.append((now, "repair", arg))

    def control_client_up(self) -> bool:
        return self.control_client is not None and self.control_client.is_connected()

    def slot_faulty(self, locker_id: str, slot: int) -> bool:
        """What the locker's flash says (a repair sent while it or the broker was down never arrived)."""
        try:
            data = json.loads((self.dir / f"{locker_id}.state.json").read_text())
        except (OSError, ValueError):
            return True
        s = data["slots"][slot - 1]
        return bool(s.get("jammed") or s.get("fault"))

    def start_centre(self) -> None:
        for _ in range(5):
            try:
                self.central.start(timeout=CENTRE_START_S)
                return
            except (RuntimeError, TimeoutError):
                log.warning("soak.centre_restart_failed port=%d", self.central.port)
                time.sleep(1.0)

    def supervise(self) -> None:
        """A process that died on its own is restarted, as systemd's Restart=always would (and counted)."""
        scheduled = {arg for _, a, arg in self.later if a == "start"}
        for name, child in self.children.items():
            if child.wanted and not child.alive and name not in scheduled:
                child.crashes += 1
                log.warning("soak.unplanned_exit name=%s code=%s", name, child.returncode)
                child.start(self.rng.randrange(1 << 30))

    # run --------------------------------------------------------------------------------------
    def progress(self, elapsed: float) -> float:
        by_time = elapsed / self.seconds if self.seconds else 0.0
        return max(self.dispensed / max(1, self.target), by_time)

    def run(self) -> dict[str, Any]:
        self.setup()
        t0 = time.monotonic()
        self.start()
        last_progress, last_count = t0, 0
        while True:
            now = time.monotonic()
            self.read_journals(now)
            self.return_items(now)
            self.run_later(now)
            self.supervise()
            progress = self.progress(now - t0)
            while self.thresholds and progress >= self.thresholds[0]:
                self.thresholds.pop(0)
                self.inject(now)
            while self.pay_thresholds and progress >= self.pay_thresholds[0] and self.payments is not None:
                self.pay_thresholds.pop(0)
                if (kind := self.payments.inject()) is not None:
                    log.info("soak.payment_fault kind=%s", kind)
            if progress >= 1.0 and not self.thresholds:
                break
            if self.dispensed != last_count:
                last_progress, last_count = now, self.dispensed
            elif now - last_progress > 120:
                log.error("soak.stalled dispensed=%d", self.dispensed)
                break
            time.sleep(0.05)
        run_s = time.monotonic() - t0
        recovery_s = self.recover()
        self.stop()
        report = self.verdict()
        report.update(run_s=round(run_s, 1), recovery_s=round(recovery_s, 1),
                      lendings_per_s=round(report["operations"]["dispensed"] / run_s, 2))
        return report

    def recover(self) -> float:
        """No more faults or shoppers: bring everything up and wait until stations settled and uploaded."""
        t = time.monotonic()
        (self.dir / "shoppers.pause").touch()
        self.run_later(t, everything=True)
        for lid in LOCKERS:
            self.control(lid, {"op": "delay_acks", "ms": 0})
            self.control(lid, {"op": "drop_acks", "n": 0})
        if self.payments is not None:
            self.payments.clear()
        deadline = t + self.recover_s
        while time.monotonic() < deadline:
            self.run_later(time.monotonic())
            self.supervise()
            self.read_journals(time.monotonic())
            if self.settled():
                break
            time.sleep(0.5)
        else:
            log.error("soak.not_settled after=%.0fs", self.recover_s)
        return time.monotonic() - t

    def settled(self) -> bool:
        """Intents settled, outboxes drained, and every item back in a locker known as back by its station
        (a return made while a station was down is recovered by its housekeeping a few seconds later)."""
        try:
            stations = [read_station(sid, self.dir / sid / "station.db") for sid in STATIONS]
            for rec in stations:
                if rec.outbox_unsent or any(i["state"] in ("pending", "opened") for i in rec.intents.values()):
                    return False
            journals = {lid: read_journal(self.dir / f"{lid}.journal") for lid in LOCKERS}
            report = reconcile(journals, stations, read_centre(self.dir / "central.db"), STATIONS)
            money = self.payments.unsettled([self.dir / sid / "station.db" for sid in STATIONS],
                                            self.dir / "central.db") if self.payments is not None else 0
        except Exception:  # a store being created or migrated right now
            return False
        return report["stranded_items"] == 0 and money == 0

    def stop(self) -> None:
        for name in [*STATIONS, *LOCKERS]:  # stations first: they should see their lockers to the end
            if name in self.children:
                self.children[name].terminate()
        if self.control_client is not None:
            self.control_client.loop_stop()
            self.control_client.disconnect()
            self.control_client = None
        if hasattr(self, "central"):
            self.central.stop()
        if hasattr(self, "broker"):
            self.broker.stop()
        if self.payments is not None:
            self.payments.stop()

    def verdict(self) -> dict[str, Any]:
        journals = {lid: read_journal(self.dir / f"{lid}.journal") for lid in LOCKERS}
        stations = [read_station(sid, self.dir / sid / "station.db") for sid in STATIONS]
        report = reconcile(journals, stations, read_centre(self.dir / "central.db"), STATIONS)
        refused: Counter[str] = Counter()
        errors = 0
        for sid in STATIONS:
            text = (self.dir / "logs" / f"{sid}.log").read_text(errors="replace")
            refused.update(re.findall(r"soak\.borrow_refused .* code=(\w+)", text))
            errors += text.count("Traceback")
        report.update(seed=self.seed, target_lendings=self.target, faults=sum(self.faults.values()),
                      faults_by_kind=dict(sorted(self.faults.items())),
                      unplanned_restarts={n: c.crashes for n, c in self.children.items() if c.crashes},
                      borrows_refused=dict(refused), station_tracebacks=errors, workdir=str(self.dir))
        if self.payments is not None:
            report["payments"] = self.payments.verdict([self.dir / sid / "station.db" for sid in STATIONS],
                                                       self.dir / "central.db")
        return report


def fault_weights(text: str) -> dict[str, int]:
    """`disk_full=10,station_kill=1` → weights of those kinds (the others never happen)."""
    weights: dict[str, int] = {}
    for part in text.split(","):
        kind, _, weight = part.partition("=")
        if kind.strip() not in FAULT_WEIGHTS or not weight.strip().isdigit():
            raise argparse.ArgumentTypeError(f"{part!r}: expected KIND=N with KIND one of {', '.join(FAULT_WEIGHTS)}")
        weights[kind.strip()] = int(weight)
    if not any(weights.values()):
        raise argparse.ArgumentTypeError("at least one fault kind needs a weight above 0")
    return weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.soak", description=__doc__)
    parser.add_argument("--lendings", type=int, default=300)
    parser.add_argument("--faults", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=None, help="end by this time even if short of lendings")
    parser.add_argument("--workdir", type=Path, default=None, help="kept afterwards (default: a temp dir, removed)")
    parser.add_argument("--paid-share", type=float, default=0.3,
                        help="share of power-bank shoppers who pay a QR deposit (0 = no payments)")
    parser.add_argument("--pay-faults", type=int, default=None, help="gateway faults (default: max(8, faults/2))")
    parser.add_argument("--fault-weights", type=fault_weights, default=None, metavar="KIND=W,…",
                        help="relative weights of the fault kinds, e.g. disk_full=10,station_kill=1 to make one kind "
                             f"frequent (unnamed kinds: 0; default {','.join(f'{k}={w}' for k, w in FAULT_WEIGHTS.items())})")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.INFO), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="soak-"))
    soak = Soak(workdir, lendings=args.lendings, faults=args.faults, seed=args.seed, seconds=args.seconds,
                paid_share=args.paid_share, pay_faults=args.pay_faults, weights=args.fault_weights)
    try:
        report = soak.run()
    finally:
        soak.stop()
    print_table(report)
    print("RESULT " + json.dumps(report, sort_keys=True), flush=True)
    if args.workdir is None and report["lost"] == report["duplicated"] == report["double_dispensed"] == 0:
        shutil.rmtree(workdir, ignore_errors=True)
    ok = report["lost"] == report["duplicated"] == report["double_dispensed"] == report["phantom"] == 0
    pay = report.get("payments") or {}
    ok = ok and all(pay.get(k, 0) == 0 for k in MONEY_CHECKS)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
