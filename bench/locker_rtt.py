"""Unlock→ack round trip through mosquitto to the locker simulator, beside the bare paho QoS 1 round trip, with the
station's share measured apart from the simulator's.

Three paths run in alternating blocks in one process, so a noisy machine hits all of them alike:
- bare paho echo: request published QoS 1, an echo client answers QoS 1, the requester waits (same TCP_NODELAY);
- station → null locker: `MqttLockerLink.command` against a responder (its own process) that answers every
  command with an `opened` ack and does nothing else: the station's whole share (validation, JSON, locks, thread
  hand-offs) on top of the two broker hops the echo also has. The goal (p99 ≤ 2× bare) is judged on this path;
- station → simulator: the same command against the full firmware simulator (door, events, state), so
  (simulator − null locker) is the simulator's own work.
Each station command is also stamped at its hops (call → publish → ack in → ack handled → command returns).
Slots are refilled between blocks with `insert` control messages (outside the timed window).
Beside them, whole borrows through the lending service (intent → ack → item_removed → commit, fsyncs included).
Usage: .venv/bin/python bench/locker_rtt.py [--commands 2000] [--block 200] [--borrows 500]
"""
from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from device_profiles.locker_schema import LockerProfile  # noqa: E402
from device_profiles.schema import load_profile_as  # noqa: E402
from drivers.locker.broker import Mosquitto  # noqa: E402
from drivers.locker.client import MqttLockerLink  # noqa: E402
from drivers.locker.firmware import item_id  # noqa: E402
from drivers.locker.models import control_topic, topic  # noqa: E402
from drivers.locker.simulator import LockerSimulator  # noqa: E402
from drivers.locker.transport import new_client  # noqa: E402

SITE = "bench-mall"
LOCKER = "U1"
NULL_LOCKER = "N1"  # answers acks and nothing else: the station's share alone
PROFILE = ROOT / "device_profiles" / "lockers" / "umbrella-24.yaml"


@dataclass
class LockerRig:
    """A broker, one simulator (--auto-take 0) and a station link: what a full-borrow bench also needs."""

    broker: Mosquitto
    link: MqttLockerLink
    control: mqtt.Client
    profile: LockerProfile

    def refill(self, slots: list[int], timeout: float = 10.0) -> None:
        """Put the original item back into each emptied slot and wait until the cached state shows it."""
        for slot in slots:
            body = {"op": "insert", "item": item_id(self.profile, LOCKER, slot), "slot": slot}
            self.control.publish(control_topic(SITE, LOCKER), json.dumps(body), qos=1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            view = self.link.view(LOCKER)
            if view and all((s := view.slot(n)) is not None and s.state == "occupied" for n in slots):
                return
            time.sleep(0.002)
        raise TimeoutError("slots were not refilled")


@contextmanager
def simulator(mq: Mosquitto, profile: LockerProfile, auto_take: float, in_process: bool) -> Iterator[None]:
    """The locker: by default its own process, like the separate device it stands for."""
    if in_process:
        sim = LockerSimulator(profile, SITE, LOCKER, mq.host, mq.port, auto_take=auto_take).start()
        try:
            yield
        finally:
            sim.stop()
        return
    proc = subprocess.Popen([sys.executable, "-m", "drivers.locker.simulator", "--profile", str(PROFILE),
                             "--site", SITE, "--locker", LOCKER, "--broker", mq.address,
                             "--auto-take", str(auto_take)], cwd=ROOT, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        if not json.loads(proc.stdout.readline() or "{}").get("ok"):
            raise RuntimeError("locker simulator did not start")
        yield
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def locker_rig(workdir: Path, auto_take: float = 0.0, in_process: bool = False) -> Iterator[LockerRig]:
    profile = load_profile_as(PROFILE, LockerProfile)
    mq = Mosquitto(workdir / "mosquitto").start()
    try:
        with simulator(mq, profile, auto_take, in_process):
            link = MqttLockerLink(SITE, "K01", [LOCKER, NULL_LOCKER], mq.host, mq.port)
            link.start()
            control = new_client("")
            control.connect(mq.host, mq.port)
            control.loop_start()
            try:
                if link.wait_for_state(LOCKER, 10) is None:
                    raise RuntimeError("no state from the simulator")
                yield LockerRig(mq, link, control, profile)
            finally:
                control.disconnect()
                control.loop_stop()
                link.close()
    finally:
        mq.stop()


def state_count(link: MqttLockerLink) -> int:
    with link._cond:
        return link._state_version[LOCKER]


def measure_command_rtt(rig: LockerRig, n: int, stamps: HopStamps | None = None, settle: bool = True) -> list[float]:
    """n unlock→ack round trips (seconds), cycling over the slots and refilling them untimed.

    With `settle` each command starts from a quiet line, as a shopper's would: the messages the locker sends
    behind its ack (door_opened, item_removed, door_closed, state) are in before the next command (untimed).
    Without it commands go back to back and each one queues behind the previous one's trailing messages."""
    samples: list[float] = []
    slots = list(range(1, rig.profile.slots + 1))
    while len(samples) < n:
        batch = slots[: n - len(samples)]
        for slot in batch:
            states = state_count(rig.link)
            started = stamps.start() if stamps else time.perf_counter()
            ack = rig.link.command(LOCKER, "unlock", slot, cmd_id=str(uuid.uuid4()), ack_timeout=2, retries=0)
            samples.append(time.perf_counter() - started)
            if stamps:
                stamps.done(started)
            deadline = time.monotonic() + 2
            while settle and state_count(rig.link) == states and time.monotonic() < deadline:
                time.sleep(0.0002)
            if ack.result != "opened":
                raise RuntimeError(f"slot {slot} answered {ack.result}")
        rig.refill(batch)
    return samples


HOPS = ("prepare", "publish", "network", "ack_handled", "wake")


class HopStamps:
    """Per-command timestamps on the station side: call → publish() → publish returned → ack received on the
    network thread → ack handled there → command() returned in the caller's thread."""

    def __init__(self, link: MqttLockerLink) -> None:
        self.samples: dict[str, list[float]] = {h: [] for h in HOPS}
        self.now: dict[str, float] = {}
        client = link._client
        publish, on_ack = client.publish, link._on_ack

        def timed_publish(*a: object, **kw: object) -> object:
            self.now.setdefault("pub_in", time.perf_counter())
            try:
                return publish(*a, **kw)  # type: ignore[arg-type]
            finally:
                self.now.setdefault("pub_out", time.perf_counter())

        def timed_ack(locker_id: str, payload: bytes) -> None:
            self.now.setdefault("ack_in", time.perf_counter())
            on_ack(locker_id, payload)
            self.now.setdefault("ack_done", time.perf_counter())

        client.publish = timed_publish  # type: ignore[method-assign,assignment]
        link._on_ack = timed_ack  # type: ignore[method-assign]

    def start(self) -> float:
        self.now = {}
        return time.perf_counter()

    def done(self, started: float) -> None:
        end = time.perf_counter()
        n = self.now
        if {"pub_in", "pub_out", "ack_in", "ack_done"} <= n.keys():
            for hop, a, b in (("prepare", started, n["pub_in"]), ("publish", n["pub_in"], n["pub_out"]),
                              ("network", n["pub_out"], n["ack_in"]), ("ack_handled", n["ack_in"], n["ack_done"]),
                              ("wake", n["ack_done"], end)):
                self.samples[hop].append(max(0.0, b - a))


def measure_null_rtt(link: MqttLockerLink, n: int, stamps: HopStamps | None = None) -> list[float]:
    """n unlock→ack round trips against the null locker (it keeps no state: every unlock is `opened`)."""
    samples: list[float] = []
    for _ in range(n):
        started = stamps.start() if stamps else time.perf_counter()
        ack = link.command(NULL_LOCKER, "unlock", 1, cmd_id=str(uuid.uuid4()), ack_timeout=2, retries=0)
        samples.append(time.perf_counter() - started)
        if stamps:
            stamps.done(started)
        if ack.result != "opened":
            raise RuntimeError(f"null locker answered {ack.result}")
    return samples


def run_null_locker(address: str) -> None:
    """The null locker: retained online status + one-slot state, then an `opened` ack for every command."""
    host, _, port = address.rpartition(":")
    client = new_client("")

    def connected(c: mqtt.Client, u: object, f: object, rc: object, p: object) -> None:
        c.publish(topic(SITE, NULL_LOCKER, "status"), json.dumps(
            {"online": True, "session": 1, "model": "NULL", "fw": "null-0", "proto": "1.1"}), qos=1, retain=True)
        c.publish(topic(SITE, NULL_LOCKER, "state"), json.dumps(
            {"seq": 1, "ts": time.time(), "slots": [{"slot": 1, "state": "occupied", "item": "N-1"}]}),
            qos=1, retain=True)
        c.subscribe(topic(SITE, NULL_LOCKER, "cmd"), qos=1)

    def answer(c: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
        cmd = json.loads(m.payload)
        c.publish(topic(SITE, NULL_LOCKER, "ack"), json.dumps(
            {"cmd_id": cmd["cmd_id"], "ok": True, "result": "opened", "slot": cmd.get("slot")}), qos=1)

    client.on_connect = connected
    client.on_subscribe = lambda *a: print("ready", flush=True)
    client.on_message = answer
    client.connect(host, int(port))
    client.loop_forever()


@contextmanager
def null_locker(mq: Mosquitto) -> Iterator[None]:
    proc = subprocess.Popen([sys.executable, __file__, "--null-locker", mq.address], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        yield
    finally:
        proc.terminate()
        proc.wait(10)


def _pong(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
    client.publish("bench/pong", msg.payload, qos=1)


def run_echo(address: str) -> None:
    """The baseline's responder: republish every ping as a pong (QoS 1), until killed."""
    host, _, port = address.rpartition(":")
    echo = new_client("")
    echo.on_connect = lambda c, u, f, rc, p: c.subscribe("bench/ping", qos=1)
    echo.on_subscribe = lambda *a: print("ready", flush=True)
    echo.on_message = _pong
    echo.connect(host, int(port))
    echo.loop_forever()


class BareEcho:
    """The baseline: publish QoS 1 → echo client republishes QoS 1 → requester receives."""

    def __init__(self, mq: Mosquitto, in_process: bool = False) -> None:
        self.got = threading.Event()
        self.proc: subprocess.Popen[bytes] | None = None
        self.echo: mqtt.Client | None = None
        self.req = new_client("")  # same socket options (TCP_NODELAY) as the locker path
        ready = threading.Semaphore(0)
        if in_process:
            self.echo = new_client("")
            self.echo.on_connect = lambda c, u, f, rc, p: c.subscribe("bench/ping", qos=1)
            self.echo.on_subscribe = lambda *a: ready.release()
            self.echo.on_message = _pong
            self.echo.connect(mq.host, mq.port)
            self.echo.loop_start()
        else:
            self.proc = subprocess.Popen([sys.executable, __file__, "--echo", mq.address], stdout=subprocess.PIPE)
            assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == b"ready"
            ready.release()
        self.req.on_connect = lambda c, u, f, rc, p: c.subscribe("bench/pong", qos=1)
        self.req.on_subscribe = lambda *a: ready.release()
        self.req.on_message = lambda c, u, m: self.got.set()
        self.req.connect(mq.host, mq.port)
        self.req.loop_start()
        for _ in range(2):
            ready.acquire(timeout=10)

    def measure(self, n: int) -> list[float]:
        samples = []
        payload = json.dumps({"cmd_id": str(uuid.uuid4()), "op": "unlock", "slot": 1, "expires_at": 0})
        for _ in range(n):
            self.got.clear()
            started = time.perf_counter()
            self.req.publish("bench/ping", payload, qos=1)
            if not self.got.wait(2):
                raise TimeoutError("bare echo lost a message")
            samples.append(time.perf_counter() - started)
        return samples

    def close(self) -> None:
        for c in (self.echo, self.req):
            if c is not None:
                c.disconnect()
                c.loop_stop()
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)


def measure_full_borrow(rig: LockerRig, workdir: Path, n: int) -> list[float]:
    """n whole borrows through the lending service (seconds): member check, durable intent (fsync),
    unlock → ack → item_removed, lending + outbox commit (fsync). Items come back untimed between batches."""
    from kiosk.config import ItemPolicy, Policy
    from kiosk.services.lending import LendingService
    from kiosk.store import Store
    from kiosk.tokens import TokenBook, TokenKeys

    store = Store(workdir / "bench-station.db")
    tokens = TokenBook(TokenKeys(b"bench-site-key-0123456789abcdef"))
    policy = Policy(items={"umbrella": ItemPolicy(free_minutes=30, fee_per_hour_cents=200, daily_cap_cents=1000)})
    lending = LendingService(store=store, lockers=rig.link, profiles={LOCKER: rig.profile}, policy=policy,
                             station_id="K01", tokens=tokens)
    lending.start(handle_returns=True)
    samples: list[float] = []
    slots = list(range(1, rig.profile.slots + 1))
    try:
        while len(samples) < n:
            taken = []
            for _ in slots[: n - len(samples)]:
                member = tokens.verify_member(tokens.member_code(f"B{len(samples)}"))
                started = time.perf_counter()
                result = lending.borrow(member, "umbrella")
                samples.append(time.perf_counter() - started)
                taken.append(result.lending.slot)
            rig.refill(taken)
            deadline = time.monotonic() + 10
            while store.query("SELECT COUNT(*) FROM items WHERE status != 'in_locker'")[0][0]:
                if time.monotonic() > deadline:
                    raise TimeoutError("returns were not recorded")
                time.sleep(0.002)
    finally:
        lending.stop()
        store.close()
    return samples


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--block", type=int, default=200)
    parser.add_argument("--borrows", type=int, default=500, help="whole borrows through the lending service")
    parser.add_argument("--in-process", action="store_true",
                        help="run the simulator and the echo client in this process (one GIL for all)")
    parser.add_argument("--ab-yield", action="store_true",
                        help="also time the simulator path without the link's GIL hand-off after an ack")
    parser.add_argument("--echo", metavar="HOST:PORT", help=argparse.SUPPRESS)
    parser.add_argument("--null-locker", metavar="HOST:PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.echo:
        run_echo(args.echo)
        return 0
    if args.null_locker:
        run_null_locker(args.null_locker)
        return 0
    logging.basicConfig(level=logging.ERROR)
    cmd: list[float] = []
    bare: list[float] = []
    station: list[float] = []
    no_yield: list[float] = []  # the simulator path without the link's GIL hand-off after an ack (A/B)
    back_to_back: list[float] = []  # the simulator path with no pause between commands
    with tempfile.TemporaryDirectory() as tmp, locker_rig(Path(tmp), in_process=args.in_process) as rig, \
            null_locker(rig.broker):
        if rig.link.wait_for_state(NULL_LOCKER, 10) is None:
            raise RuntimeError("no state from the null locker")
        echo = BareEcho(rig.broker, in_process=args.in_process)
        measure_command_rtt(rig, 48)  # warm-up, not counted
        measure_null_rtt(rig.link, 48)
        echo.measure(48)
        sim_hops = HopStamps(rig.link)
        sim_split: dict[str, list[float]] = {h: [] for h in HOPS}
        null_split: dict[str, list[float]] = {h: [] for h in HOPS}
        while len(cmd) < args.commands:
            block = min(args.block, args.commands - len(cmd))
            bare += echo.measure(block)
            sim_hops.samples = null_split
            station += measure_null_rtt(rig.link, block, sim_hops)
            sim_hops.samples = sim_split
            cmd += measure_command_rtt(rig, block, sim_hops)
            sim_hops.samples = {h: [] for h in HOPS}
            back_to_back += measure_command_rtt(rig, block, sim_hops, settle=False)
            if args.ab_yield:
                rig.link.yield_after_ack = False
                sim_hops.samples = {h: [] for h in HOPS}
                no_yield += measure_command_rtt(rig, block, sim_hops)
                rig.link.yield_after_ack = True
        echo.close()
        borrow = measure_full_borrow(rig, Path(tmp), args.borrows)
        link_stats = rig.link.stats()
    rows = [("bare paho QoS1 echo", bare), ("station → null locker", station), ("station → simulator", cmd),
            ("  same, back to back", back_to_back),
            *([("  same, no GIL hand-off", no_yield)] if no_yield else []), ("full borrow (auto-take 0)", borrow)]
    print(f"{'path':<26}{'n':>7}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for name, s in rows:
        print(f"{name:<26}{len(s):>7}{pct(s, .5):>10.3f}{pct(s, .9):>10.3f}{pct(s, .99):>10.3f}"
              f"{max(s) * 1000:>10.3f}")
    print(f"\nstation hops (ms){'':<9}{'null p50':>10}{'null p99':>10}{'sim p50':>10}{'sim p99':>10}")
    for hop in HOPS:
        print(f"  {hop:<24}{pct(null_split[hop], .5):>10.3f}{pct(null_split[hop], .99):>10.3f}"
              f"{pct(sim_split[hop], .5):>10.3f}{pct(sim_split[hop], .99):>10.3f}")
    ratio99 = pct(cmd, .99) / pct(bare, .99)
    ratio50 = pct(cmd, .5) / pct(bare, .5)
    station99 = pct(station, .99) / pct(bare, .99)
    station50 = pct(station, .5) / pct(bare, .5)
    print(f"station share (null locker): p50 ratio {station50:.2f}x, p99 ratio {station99:.2f}x (goal p99 ≤ 2.00x)")
    print(f"with the simulator: p50 ratio {ratio50:.2f}x, p99 ratio {ratio99:.2f}x; "
          f"link resends={link_stats.get('resends', 0)} malformed={link_stats.get('malformed', 0)}")
    result = {"bench": "locker_rtt", "responders": "in-process" if args.in_process else "processes",
              "commands": len(cmd), "cmd_p50_ms": round(pct(cmd, .5), 3),
              "cmd_p99_ms": round(pct(cmd, .99), 3), "bare_p50_ms": round(pct(bare, .5), 3),
              "bare_p99_ms": round(pct(bare, .99), 3), "p50_ratio": round(ratio50, 2),
              "p99_ratio": round(ratio99, 2), "goal_p99_ratio": 2.0, "meets_goal": ratio99 <= 2.0,
              "station_p50_ms": round(pct(station, .5), 3), "station_p99_ms": round(pct(station, .99), 3),
              "station_p50_ratio": round(station50, 2), "station_p99_ratio": round(station99, 2),
              "meets_station_goal": station99 <= 2.0,
              "back_to_back_p50_ms": round(pct(back_to_back, .5), 3),
              "back_to_back_p99_ms": round(pct(back_to_back, .99), 3),
              "back_to_back_p99_ratio": round(pct(back_to_back, .99) / pct(bare, .99), 2),
              "borrows": len(borrow), "borrow_p50_ms": round(pct(borrow, .5), 3),
              "borrow_p99_ms": round(pct(borrow, .99), 3), "goal_borrow_p99_ms": 150.0,
              "meets_borrow_goal": pct(borrow, .99) <= 150.0}
    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
