"""Locker firmware simulator: speaks protocol v1.1 (or, with proto="1.0", v1) over MQTT exactly as a real locker, and takes control messages.

`python -m drivers.locker.simulator --profile FILE --site S --locker ID --broker HOST:PORT …` or, in-process,
`LockerSimulator(...).start()`. The firmware connection carries the protocol (LWT, retained status with a
growing session, state, events, acks); a second connection listens on the control topic, so `offline` and
`online` can be acted out over MQTT while the firmware connection is down.
"""
from __future__ import annotations

import argparse
import json
import logging
import queue
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from device_profiles.locker_schema import LockerProfile
from device_profiles.schema import ProfileError, load_profile_as
from drivers.locker.firmware import Fill, LockerFirmware, Outgoing, Proto
from drivers.locker.memory import LockerMemory
from drivers.locker.models import (
    PROTOCOL,
    OfflineControl,
    OnlineControl,
    ProtocolError,
    SlotState,
    Status,
    check_id,
    control_topic,
    parse_control,
    parse_status,
    topic,
)
from drivers.locker.transport import new_client, private_client_id

log = logging.getLogger(__name__)


class LockerSimulator:
    """One simulated locker. Decisions are serialised by one lock: commands on paho's thread, the rest
    (control, timers, reconnects) on a worker thread."""

    def __init__(self, profile: LockerProfile, site: str, locker_id: str, host: str, port: int, *,
                 username: str | None = None, password: str | None = None, fill: Fill = "all",
                 auto_take: float | None = None, seed: int = 0, keepalive: int = 5,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 charge_step_s: float = 30.0, state_file: Path | None = None,
                 journal: Path | None = None, proto: Proto = "1.1", fw: str | None = None) -> None:
        self.profile = profile
        self.site = check_id(site, "site")
        self.locker_id = check_id(locker_id, "locker_id")
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.keepalive = keepalive
        self.clock, self.wall = clock, wall
        self.fw_version = fw or profile.fw  # a flashed firmware may differ from the profile's
        self.firmware = LockerFirmware(profile, locker_id, fill=fill, auto_take=auto_take, seed=seed,
                                       wall=wall, charge_step_s=charge_step_s, proto=proto)
        # a real locker keeps its slots in flash: with a state file or journal, a restart resumes where it was
        self.memory = LockerMemory(state_file, journal) if state_file or journal else None
        if self.memory is not None:
            self.memory.load(self.firmware)
        # a fresh process must outrank any session of an earlier one: start from the wall clock in ms
        self.session = int(wall() * 1000)
        self._inbox: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._lock = threading.Lock()
        self._fw: mqtt.Client | None = None
        self._ctl: mqtt.Client | None = None
        self._connected = False
        self._stopping = False
        self._worker: threading.Thread | None = None
        self._online_at: float | None = None
        self._dropped: list[mqtt.Client] = []
        self._wake_at = float("inf")  # when the worker wakes by itself next (clock time)
        self._topic_cmd = topic(site, locker_id, "cmd")
        self._topic_status = topic(site, locker_id, "status")
        self._topic_control = control_topic(site, locker_id)

    # -- life cycle ---------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> LockerSimulator:
        """Connect both connections and publish status and state; returns once the locker is online."""
        self._worker = threading.Thread(target=self._run, name=f"sim-{self.locker_id}", daemon=True)
        self._worker.start()
        ready = threading.Event()
        self._ctl = self._client(private_client_id(f"sim-{self.site}-{self.locker_id}-ctl"))
        self._ctl.on_connect = lambda c, u, f, rc, p: self._safe(self._ctl_connected, c, rc, ready)
        self._ctl.on_message = lambda c, u, m: self._safe(self._on_control, bytes(m.payload))
        self._ctl.connect_async(self.host, self.port, keepalive=self.keepalive)
        self._ctl.loop_start()
        self._go_online()
        deadline = time.monotonic() + timeout  # real time: an injected clock may stand still
        while time.monotonic() < deadline and not (ready.is_set() and self.online):
            time.sleep(0.01)
        if not (ready.is_set() and self.online):
            self.stop()
            raise ConnectionError(f"simulator {self.locker_id} could not connect to {self.host}:{self.port}")
        return self

    def stop(self) -> None:
        """Say offline (retained status with this session), then disconnect cleanly."""
        self._stopping = True
        self._inbox.put(("stop", None))
        if self._fw is not None and self._connected:
            bye = Status(online=False, session=self.session, ts=self.wall())
            info = self._fw.publish(self._topic_status, bye.to_bytes(), qos=1, retain=True)
            info.wait_for_publish(2)
        for client in (self._fw, self._ctl):
            if client is not None:
                client.disconnect()
                client.loop_stop()
        self._fw = self._ctl = None
        if self._worker:
            self._worker.join(5)
        if self.memory is not None:
            self.memory.close()

    @property
    def online(self) -> bool:
        return self._connected

    def slots(self) -> list[SlotState]:
        """What the locker's sensors see right now (for tests and demos)."""
        with self._lock:
            return self.firmware.slot_views()

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self.firmware.counters)

    def poke(self) -> None:
        """Wake the worker so it re-reads an injected clock and runs timers that fell due."""
        self._inbox.put(("tick", None))

    # -- connections --------------------------------------------------------------------------------
    def _client(self, client_id: str) -> mqtt.Client:
        client = new_client(client_id, self.username, self.password)
        client.reconnect_delay_set(1, 5)
        return client

    def _safe(self, fn: Callable[..., None], *args: Any) -> None:
        # paho re-raises callback exceptions into its loop thread; a simulator must never die of one
        try:
            fn(*args)
        except Exception:
            log.exception("sim.callback_failed locker=%s", self.locker_id)

    def _ctl_connected(self, client: mqtt.Client, rc: Any, ready: threading.Event) -> None:
        if not rc.is_failure:
            client.subscribe(self._topic_control, qos=1)
            ready.set()
        else:
            log.warning("sim.control_refused_by_broker locker=%s reason=%s", self.locker_id, rc)

    def _go_online(self) -> None:
        if self._fw is not None:
            return
        client = self._client(private_client_id(f"locker-{self.site}-{self.locker_id}"))
        client.on_pre_connect = lambda c, u: self._safe(self._arm_will, c)
        client.on_connect = lambda c, u, f, rc, p: self._safe(self._fw_connected, c, rc)
        client.on_disconnect = lambda c, u, f, rc, p: self._safe(self._fw_disconnected, rc)
        client.on_message = lambda c, u, m: self._safe(self._on_fw_message, m.topic, bytes(m.payload))
        self._fw = client
        client.connect_async(self.host, self.port, keepalive=self.keepalive)
        client.loop_start()

    def _arm_will(self, client: mqtt.Client) -> None:
        # every connect is a new session; the Will names it so a late Will cannot mark a newer session offline
        self.session += 1
        will = Status(online=False, session=self.session)
        client.will_set(self._topic_status, will.to_bytes(), qos=1, retain=True)

    def _fw_connected(self, client: mqtt.Client, rc: Any) -> None:
        if rc.is_failure:
            log.warning("sim.refused_by_broker locker=%s reason=%s", self.locker_id, rc)
            return
        client.subscribe([(self._topic_cmd, 1), (self._topic_status, 1)])
        self._inbox.put(("connected", self.session))

    def _fw_disconnected(self, rc: Any) -> None:
        self._connected = False
        log.info("sim.disconnected locker=%s reason=%s", self.locker_id, rc)

    def _drop_connection(self) -> None:
        """Vanish without DISCONNECT, as a locker losing power does: the broker publishes our Will.

        Called with the lock held; the socket is killed by `_kill_dropped` after the lock is released,
        because stopping paho's thread waits for it, and it may be waiting for the lock."""
        client, self._fw = self._fw, None
        self._connected = False
        if client is not None:
            self._dropped.append(client)

    def _kill_dropped(self) -> None:
        while self._dropped:
            client = self._dropped.pop()
            sock = client.socket()
            if isinstance(sock, socket.socket):
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # the broker sees the link die and sends the Will
                except OSError:
                    pass
            client.loop_stop()
            if isinstance(sock, socket.socket):
                sock.close()

    # -- worker ---------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping:
            now = self.clock()
            with self._lock:
                delay = self.firmware.next_due(now)
            if self._online_at is not None:
                delay = min(delay if delay is not None else 3600.0, max(0.0, self._online_at - now))
            self._wake_at = now + delay if delay is not None else float("inf")
            try:
                kind, arg = self._inbox.get(timeout=delay)
            except queue.Empty:
                kind, arg = "tick", None
            try:
                self._handle(kind, arg)
            except Exception:
                log.exception("sim.worker_failed locker=%s kind=%s", self.locker_id, kind)

    def _handle(self, kind: str, arg: Any) -> None:
        now = self.clock()
        out: list[Outgoing] = []
        with self._lock:
            if kind == "msg" and arg[0] == self._topic_status:
                self._heal_status(arg[1])
            elif kind == "connected" and arg == self.session:
                self._connected = True
                self._publish_status()
                out = [self.firmware.state()]
            if self._online_at is not None and now >= self._online_at:
                self._online_at = None
                self._go_online()
            out += self.firmware.due(now)
            self._publish_all(out)  # under the lock, so two threads never publish seq numbers out of order
        self._kill_dropped()

    def _on_fw_message(self, name: str, payload: bytes) -> None:
        """Commands are answered on paho's thread: a hop to the worker would cost a GIL hand-off per ack."""
        if name != self._topic_cmd:
            self._inbox.put(("msg", (name, payload)))
            return
        with self._lock:
            now = self.clock()
            # timers already due (an --auto-take 0 take) run here too, right behind the ack
            self._publish_all(self.firmware.handle_cmd(payload, now, run_due=True))
            delay = self.firmware.next_due(now)
        if delay is not None and now + delay < self._wake_at:
            self._inbox.put(("tick", None))  # a timer earlier than the worker's sleep was armed

    def _on_control(self, payload: bytes) -> None:
        """Controls are acted on at once on their connection's thread, so a command sent right after
        a control rarely overtakes it (tests that must be sure wait for stats()["controls"] to grow)."""
        with self._lock:
            self._publish_all(self._control(payload, self.clock()))
        self._kill_dropped()
        self._inbox.put(("tick", None))  # the worker re-reads its timers (a take, an `online` later)

    def _heal_status(self, payload: bytes) -> None:
        # a Will of an earlier session may land after we reconnected (broker takeover order): say we are up
        try:
            status = parse_status(payload)
        except ProtocolError:
            self.firmware.counters["malformed"] = self.firmware.counters.get("malformed", 0) + 1
            return
        if self._connected and not status.online and status.session <= self.session:
            log.info("sim.status_healed locker=%s stale_session=%d", self.locker_id, status.session)
            self._publish_status()

    def _control(self, payload: bytes, now: float) -> list[Outgoing]:
        try:
            ctl = parse_control(payload)
        except ProtocolError as exc:
            self.firmware.counters["malformed_control"] = self.firmware.counters.get("malformed_control", 0) + 1
            log.warning("sim.bad_control locker=%s problem=%s bytes=%d", self.locker_id, exc, len(payload))
            return []
        log.info("sim.control locker=%s op=%s", self.locker_id, ctl.op)
        self.firmware.counters["controls"] = self.firmware.counters.get("controls", 0) + 1
        if isinstance(ctl, OfflineControl):
            self._drop_connection()
            self._online_at = now + ctl.seconds if ctl.seconds else None
            return []
        if isinstance(ctl, OnlineControl):
            self._online_at = None
            self._go_online()
            return []
        return self.firmware.handle_control(ctl, now)

    def _publish_status(self) -> None:
        status = Status(online=True, session=self.session, model=self.profile.model, fw=self.fw_version,
                        ts=self.wall(), proto=PROTOCOL if self.firmware.v11 else None)
        if self._fw is not None:
            self._fw.publish(self._topic_status, status.to_bytes(), qos=1, retain=True)

    def _publish_all(self, batch: list[Outgoing]) -> None:
        if self.memory is not None and batch:
            self.memory.record(self.firmware, batch)  # in flash before anyone hears of it
        for o in batch:
            self._publish(o)

    def _publish(self, out: Outgoing) -> None:
        client = self._fw
        if client is None or not self._connected:
            self.firmware.counters["lost_offline"] = self.firmware.counters.get("lost_offline", 0) + 1
            return
        assert out.message is not None  # settle() built every state marker
        client.publish(topic(self.site, self.locker_id, out.leaf), out.message.to_bytes(), qos=1,
                       retain=out.retain)


def _broker(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT")
    return host.strip("[]"), int(port)


def _fill(value: str) -> Fill:
    if value == "all":
        return "all"
    if value.isdigit():
        return int(value)
    raise argparse.ArgumentTypeError("expected a number of slots or 'all'")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drivers.locker.simulator", description=__doc__)
    parser.add_argument("--profile", required=True, type=Path)
    parser.add_argument("--site", required=True)
    parser.add_argument("--locker", required=True)
    parser.add_argument("--broker", required=True, type=_broker, help="HOST:PORT")
    parser.add_argument("--username")
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument("--password")
    secret.add_argument("--password-file", type=Path)
    parser.add_argument("--fill", type=_fill, default="all", help="N slots or 'all' (default)")
    parser.add_argument("--auto-take", type=float, default=None, metavar="SECONDS",
                        help="take the item this long after a door opens (0 = at once)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--state-file", type=Path, default=None,
                        help="slots and recent answers kept here across restarts (--fill only when absent)")
    parser.add_argument("--journal", type=Path, default=None, help="one fsynced JSON line per physical act")
    parser.add_argument("--proto", choices=("1.0", "1.1"), default="1.1",
                        help="protocol the firmware speaks (1.0 acts out an old v1 locker)")
    parser.add_argument("--fw", default=None, help="firmware version in status (default: the profile's fw)")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.WARNING), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())  # before the hello line: a parent may act on it
    try:
        profile = load_profile_as(args.profile, LockerProfile)
        password = args.password_file.read_text().strip() if args.password_file else args.password
        sim = LockerSimulator(profile, args.site, args.locker, *args.broker, username=args.username,
                              password=password, fill=args.fill, auto_take=args.auto_take, seed=args.seed,
                              state_file=args.state_file, journal=args.journal, proto=args.proto, fw=args.fw)
        sim.start()
    except (ProfileError, ValueError, OSError) as exc:
        print(json.dumps({"ok": False, "error": str(exc)}), flush=True)
        return 2
    print(json.dumps({"ok": True, "locker": args.locker, "model": profile.model, "slots": profile.slots,
                      "session": sim.session}), flush=True)
    try:
        while not stopped.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
