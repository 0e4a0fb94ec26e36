"""The station's MQTT adapter for its lockers (protocol v1.1, and v1 lockers): `MqttLockerLink` implements `LockerLink`.

One paho-mqtt connection (QoS 1, its own network thread) keeps a cache from retained status/state, matches
acks to waiting commands by cmd_id, re-queries on seq gaps and streams events; nothing that arrives from the
network can raise into paho's thread.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import paho.mqtt.client as mqtt
from pydantic import ValidationError

from drivers.locker.link import (
    CommandOp,
    LockerAck,
    LockerError,
    LockerEvent,
    LockerOffline,
    LockerView,
    OutcomeUnknown,
    SlotView,
    Unsupported,
)
from drivers.locker.models import (
    Cmd,
    KioskStatus,
    ProtocolError,
    check_id,
    kiosk_topic,
    parse_ack,
    parse_event,
    parse_state,
    parse_status,
    split_topic,
    topic,
)
from drivers.locker.transport import new_client, private_client_id

log = logging.getLogger(__name__)

SUBSCRIBED_LEAVES = ("status", "state", "event", "ack")
GAP_QUERY_INTERVAL_S = 1.0  # one re-query per locker per second is enough; a burst of gaps needs one answer
# a seq this far from the last one is not messages lost but a corrupt counter (a firmware bit-flip sends 10^12):
# adopting it would make every genuine later state look stale, so the station re-queries and resynchronises
SEQ_MAX_JUMP = 100_000
RECENT_EVENTS = 256


class BrokerRefused(LockerError):
    code = "broker_refused"


@dataclass
class _Pending:
    locker_id: str
    done: threading.Event = field(default_factory=threading.Event)
    ack: LockerAck | None = None
    went_offline: bool = False


class _Stream:
    """Events from every locker since the stream opened (a queue fed by the network thread)."""

    def __init__(self, owner: MqttLockerLink) -> None:
        self._owner = owner
        self._queue: queue.Queue[LockerEvent] = queue.Queue()

    def put(self, event: LockerEvent) -> None:
        self._queue.put(event)

    def get(self, timeout: float) -> LockerEvent | None:
        try:
            return self._queue.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    def close(self) -> None:
        with self._owner._cond:
            self._owner._streams.discard(self)

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MqttLockerLink:
    """Protocol v1.1 over paho-mqtt 2.x; see `drivers.locker.link.LockerLink` for the promises."""

    yield_after_ack = True

    def __init__(self, site: str, station_id: str, locker_ids: Iterable[str], host: str, port: int,
                 username: str | None = None, password: str | None = None,
                 clock: Callable[[], float] = time.monotonic, keepalive: int = 15, *,
                 wall: Callable[[], float] = time.time, connect_timeout: float = 10.0,
                 announce: bool = True) -> None:
        self.site = check_id(site, "site")
        self.station_id = check_id(station_id, "station_id")
        self.locker_ids = tuple(check_id(i, "locker_id") for i in locker_ids)
        self.host, self.port = host, port
        self.clock, self.wall = clock, wall
        self.keepalive = keepalive
        self.connect_timeout = connect_timeout
        self.session = int(wall() * 1000)  # grows per connect, like a locker's
        self._cond = threading.Condition()
        self._views: dict[str, LockerView] = {}
        self._state_version: Counter[str] = Counter()
        self._last_seq: dict[str, int] = {}
        # (the locker's ts, our monotonic clock) of its last live message: a command's expires_at is written on
        # the locker's clock, so a station whose wall clock NTP steps (±2 h) neither sends commands that are
        # already expired nor ones that stay valid for hours (docs/protocol.md, "Expiry")
        self._locker_clock: dict[str, tuple[float, float]] = {}
        self._recent: dict[str, deque[int]] = {i: deque(maxlen=RECENT_EVENTS) for i in self.locker_ids}
        self._resync: set[str] = set()
        self._last_gap_query: dict[str, float] = {}
        self._pending: dict[str, _Pending] = {}
        self._streams: set[_Stream] = set()
        self._counters: Counter[str] = Counter()
        self._connected = False
        self._ever_connected = False
        self._refused: str | None = None
        self._first_connect = threading.Event()
        self._kiosk_topic = kiosk_topic(site, station_id)
        # Only the station's main process says the station is up or down (retained + Will); tools that
        # run beside it (lend, diag, status) must not. Each connection has its own client id, or the
        # broker would drop the running station whenever a tool connects with the same one.
        self.announce = announce
        client_id = private_client_id(f"station-{site}-{station_id}-{os.getpid()}")
        self._client = new_client(client_id, username, password)
        self._client.reconnect_delay_set(1, 10)
        self._client.on_pre_connect = self._guard(self._on_pre_connect)
        self._client.on_connect = self._guard(self._on_connect)
        self._client.on_connect_fail = self._guard(self._on_connect_fail)
        self._client.on_disconnect = self._guard(self._on_disconnect)
        self._client.on_message = self._guard(self._on_message)

    # -- life cycle -----------------------------------------------------------------------------------
    def start(self, wait: bool = True) -> None:
        """Connect; from then on paho reconnects by itself with backoff (1 s growing to 10 s).

        `wait=True` (tools): raise BrokerRefused unless the first try succeeds. `wait=False` (the station): return
        at once, keep trying in the background, and let `link_state()` say how it goes."""
        self._refused = None
        self._first_connect.clear()
        self._client.connect_async(self.host, self.port, keepalive=self.keepalive)
        self._client.loop_start()
        if not wait:
            return
        if not self._first_connect.wait(self.connect_timeout) or self._refused:
            self._client.loop_stop()
            why = self._refused or f"no answer from {self.host}:{self.port}"
            raise BrokerRefused(f"cannot connect to the locker broker: {why}")

    def close(self) -> None:
        if self._connected and self.announce:
            bye = KioskStatus(online=False, session=self.session, station=self.station_id, ts=self.wall())
            self._client.publish(self._kiosk_topic, bye.to_bytes(), qos=1, retain=True).wait_for_publish(2)
        self._client.disconnect()
        self._client.loop_stop()
        self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected

    def link_state(self) -> tuple[str, str | None]:
        """("up" | "connecting" | "refused" | "unreachable", what the broker or the network said)."""
        if self._connected:
            return "up", None
        if self._refused:
            return "refused", self._refused
        if self._counters.get("connect_failures") or self._ever_connected:
            return "unreachable", f"no answer from {self.host}:{self.port}"
        return "connecting", None

    # -- reading the cache ----------------------------------------------------------------------------
    def view(self, locker_id: str) -> LockerView | None:
        with self._cond:
            v = self._views.get(locker_id)
        if v is not None and not self._connected:
            return replace(v, online=False)  # cut off from the broker, nothing is reachable
        return v

    def wait_for_state(self, locker_id: str, timeout: float) -> LockerView | None:
        deadline = self.clock() + timeout
        with self._cond:
            while True:
                v = self._views.get(locker_id)
                if v is not None and v.session is not None and v.seq is not None:
                    return self.view(locker_id)
                left = deadline - self.clock()
                if left <= 0:
                    return None
                self._cond.wait(min(left, 0.5))

    def stats(self) -> dict[str, int]:
        with self._cond:
            return dict(self._counters)

    def events(self) -> _Stream:
        stream = _Stream(self)
        with self._cond:
            self._streams.add(stream)
        return stream

    # -- commands -------------------------------------------------------------------------------------
    def locker_now(self, locker_id: str) -> float:
        """The locker's clock now: its last live message's ts plus the time since on our monotonic clock; our
        wall clock until it has sent one (a retained message may be hours old)."""
        with self._cond:
            anchor = self._locker_clock.get(locker_id)
        return self.wall() if anchor is None else anchor[0] + (self.clock() - anchor[1])

    def _heard_clock(self, locker_id: str, ts: float | None, live: bool) -> None:
        if live and ts is not None:
            with self._cond:
                self._locker_clock[locker_id] = (ts, self.clock())

    def command(self, locker_id: str, op: CommandOp, slot: int | None = None, *, cmd_id: str,
                ack_timeout: float, retries: int = 2, ttl: float = 10.0) -> LockerAck:
        self._check_known(locker_id)
        try:
            payload = Cmd(cmd_id=cmd_id, op=op, slot=slot, expires_at=self.locker_now(locker_id) + ttl).to_bytes()
        except ValidationError as exc:
            raise ProtocolError("cmd", exc.errors()[0]["msg"], field=str(exc.errors()[0]["loc"])) from None
        pending = _Pending(locker_id)
        with self._cond:  # checked with the pending entry in place: a Will arriving after this wakes us
            v = self._views.get(locker_id)
            if not self._connected:
                raise LockerOffline("the station is not connected to the locker broker", locker_id)
            if v is None or not v.online:
                raise LockerOffline(f"locker {locker_id} is offline", locker_id)
            if op == "open" and not v.speaks_v11:
                raise Unsupported(f"locker {locker_id} runs protocol v1 firmware ({v.fw or 'unknown'}), "
                                  "which cannot open an empty door", locker_id)
            if cmd_id in self._pending:
                raise LockerError(f"command {cmd_id} is already in flight", locker_id)
            self._pending[cmd_id] = pending
        name = topic(self.site, locker_id, "cmd")
        try:
            for attempt in range(1 + retries):
                if attempt:
                    self._count("resends")
                    log.info("locker.cmd_resend locker=%s cmd_id=%s op=%s attempt=%d",
                             locker_id, cmd_id, op, attempt + 1)
                self._client.publish(name, payload, qos=1)
                if pending.done.wait(ack_timeout):
                    break  # an ack, or the locker's Will
            if pending.ack is not None:
                return pending.ack
            why = "went offline before answering" if pending.went_offline else "did not answer"
            log.warning("locker.no_answer locker=%s cmd_id=%s op=%s why=%s", locker_id, cmd_id, op, why)
            raise OutcomeUnknown(f"locker {locker_id} {why}; the outcome is unknown", locker_id)
        finally:
            with self._cond:
                self._pending.pop(cmd_id, None)

    def refresh(self, locker_id: str, timeout: float) -> LockerView:
        deadline = self.clock() + timeout
        with self._cond:
            before = self._state_version[locker_id]
            self._resync.add(locker_id)
        self.command(locker_id, "query", cmd_id=str(uuid.uuid4()), ack_timeout=timeout / 2, retries=1)
        with self._cond:
            while self._state_version[locker_id] == before:
                left = deadline - self.clock()
                if left <= 0:
                    raise OutcomeUnknown(f"locker {locker_id} answered the query but sent no state", locker_id)
                self._cond.wait(min(left, 0.5))
        v = self.view(locker_id)
        assert v is not None
        return v

    def _check_known(self, locker_id: str) -> None:
        if locker_id not in self.locker_ids:
            raise LockerError(f"locker {locker_id} is not one of this station's lockers", locker_id)

    # -- paho callbacks (network thread) --------------------------------------------------------------
    def _guard(self, fn: Callable[..., None]) -> Callable[..., None]:
        def safe(*args: Any) -> None:
            try:
                fn(*args)
            except Exception:
                self._count("callback_errors")
                log.exception("locker.callback_failed callback=%s", fn.__name__)
        return safe

    def _count(self, name: str, n: int = 1) -> None:
        with self._cond:
            self._counters[name] += n

    def _on_pre_connect(self, client: mqtt.Client, userdata: Any) -> None:
        self.session += 1
        if self.announce:
            will = KioskStatus(online=False, session=self.session, station=self.station_id)
            client.will_set(self._kiosk_topic, will.to_bytes(), qos=1, retain=True)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            self._refused = str(rc)
            log.warning("locker.broker_refused station=%s reason=%s", self.station_id, rc)
            self._first_connect.set()
            return
        self._refused = None
        subs = [(topic(self.site, i, leaf), 1) for i in self.locker_ids for leaf in SUBSCRIBED_LEAVES]
        client.subscribe(subs)
        if self.announce:
            hello = KioskStatus(online=True, session=self.session, station=self.station_id, ts=self.wall())
            client.publish(self._kiosk_topic, hello.to_bytes(), qos=1, retain=True)
        with self._cond:
            self._resync.update(self.locker_ids)  # retained state comes again; take it whatever its seq
            if self._ever_connected:
                self._counters["reconnects"] += 1
            self._connected = self._ever_connected = True
            self._cond.notify_all()
        log.info("locker.link_connected station=%s session=%d", self.station_id, self.session)
        self._first_connect.set()

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self._count("connect_failures")

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        with self._cond:
            self._connected = False
            self._cond.notify_all()
        log.warning("locker.link_lost station=%s reason=%s", self.station_id, rc)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        where = split_topic(msg.topic)
        payload = bytes(msg.payload)
        if where is None or where[0] != self.site or where[1] not in self.locker_ids:
            self._count("foreign")
            return
        _, locker_id, leaf = where
        try:
            if leaf == "status":
                self._on_status(locker_id, payload)
            elif leaf == "state":
                self._heard_clock(locker_id, self._on_state(locker_id, payload), not msg.retain)
            elif leaf == "event":
                self._heard_clock(locker_id, self._on_event(locker_id, payload), not msg.retain)
            elif leaf == "ack":
                self._on_ack(locker_id, payload)
                if self.yield_after_ack:
                    # Hand the GIL to the command woken by this ack now: the messages a locker sends right behind
                    # its ack (door_opened, the new state) would otherwise be parsed on this thread first while
                    # the woken waiter queues for the GIL (bench/locker_rtt.py, the `wake` hop).
                    time.sleep(0)
        except ProtocolError as exc:
            with self._cond:
                self._counters["malformed"] += 1
                self._counters[f"malformed.{leaf}"] += 1
            log.warning("locker.malformed locker=%s leaf=%s problem=%s bytes=%d", locker_id, leaf, exc,
                        len(payload))

    def _on_status(self, locker_id: str, payload: bytes) -> None:
        st = parse_status(payload)
        with self._cond:
            v = self._views.get(locker_id) or LockerView(locker_id=locker_id, online=False)
            if v.session is not None and st.session < v.session:
                self._counters["stale_status"] += 1  # a late Will of an earlier connection
                return
            new_session = st.online and st.session != v.session
            if new_session:
                self._resync.add(locker_id)  # a new session may have restarted its seq
                if v.fw is not None and st.fw != v.fw:  # a reboot into other firmware: say so, trust only it
                    self._counters["firmware_changes"] += 1
                    log.warning("locker.firmware_changed locker=%s was=%s now=%s proto=%s", locker_id, v.fw,
                                st.fw, st.proto or "1.0")
                # a rebooted locker's status is its whole truth: a v1 firmware has no proto, maybe no fw
                v = replace(v, model=st.model, fw=st.fw, proto=st.proto)
            self._views[locker_id] = replace(v, online=st.online, session=st.session,
                                             model=st.model or v.model, fw=st.fw or v.fw)
            if not st.online:
                for p in self._pending.values():
                    if p.locker_id == locker_id:
                        p.went_offline = True
                        p.done.set()
            self._cond.notify_all()
        log.info("locker.status locker=%s online=%s session=%d", locker_id, st.online, st.session)

    def _on_state(self, locker_id: str, payload: bytes) -> float | None:
        """Take a state; returns its ts when it was believed (not stale, not implausible)."""
        st = parse_state(payload)
        with self._cond:
            last = self._last_seq.get(locker_id)
            if locker_id in self._resync or last is None:
                self._resync.discard(locker_id)
            elif abs(st.seq - last) > SEQ_MAX_JUMP:
                self._implausible(locker_id, last, st.seq)
                return None
            elif st.seq <= last:
                self._counters["stale_state"] += 1
                return None
            elif st.seq > last + 1:
                self._gap(locker_id, last, st.seq)
            self._last_seq[locker_id] = st.seq
            v = self._views.get(locker_id) or LockerView(locker_id=locker_id, online=False)
            slots = tuple(SlotView(s.slot, s.state, s.item, s.battery, s.charging, s.taken_by, s.fault,
                                   bool(s.left_open)) for s in st.slots)
            self._views[locker_id] = replace(v, seq=st.seq, slots=slots, state_ts=st.ts)
            self._state_version[locker_id] += 1
            self._cond.notify_all()
        return st.ts

    def _on_event(self, locker_id: str, payload: bytes) -> float | None:
        """Deliver an event; returns its ts when it was new and its seq believed."""
        ev = parse_event(payload)
        with self._cond:
            recent = self._recent[locker_id]
            if ev.seq in recent:
                self._counters["duplicate_events"] += 1
                return None
            recent.append(ev.seq)
            last = self._last_seq.get(locker_id)
            if last is not None and abs(ev.seq - last) > SEQ_MAX_JUMP:
                # the event itself is delivered (losing an item_removed is worse), its seq is not believed
                self._implausible(locker_id, last, ev.seq)
                believed = False
            else:
                believed = True
                if last is not None and ev.seq > last + 1 and locker_id not in self._resync:
                    self._gap(locker_id, last, ev.seq)
                if last is None or ev.seq > last:
                    self._last_seq[locker_id] = ev.seq
            self._counters["events"] += 1
            streams = list(self._streams)
        event = LockerEvent(locker_id=locker_id, seq=ev.seq, ts=ev.ts, type=ev.type, slot=ev.slot,
                            item=ev.item, cmd_id=ev.cmd_id, battery=ev.battery, received_mono=time.monotonic(),
                            fault=ev.fault)
        for s in streams:
            s.put(event)
        return ev.ts if believed else None

    def _on_ack(self, locker_id: str, payload: bytes) -> None:
        ack = parse_ack(payload)
        with self._cond:
            self._counters["acks"] += 1
            p = self._pending.get(ack.cmd_id)
            if p is None or p.locker_id != locker_id:
                self._counters["late_acks"] += 1
                return
            p.ack = LockerAck(locker_id=locker_id, cmd_id=ack.cmd_id, ok=ack.ok, result=ack.result, slot=ack.slot)
            p.done.set()

    def _implausible(self, locker_id: str, last: int, got: int) -> None:
        """A seq that no loss explains (lock held): keep the last believable one and ask for the whole state;
        the answer is taken whatever its seq, so a locker whose counter really jumped is followed too."""
        self._counters["seq_implausible"] += 1
        log.warning("locker.seq_implausible locker=%s last=%d got=%d", locker_id, last, got)
        self._query(locker_id, force=True)

    def _gap(self, locker_id: str, last: int, got: int) -> None:
        """Messages were lost (called with the lock held): ask the locker for its whole state again."""
        self._counters["seq_gaps"] += 1
        log.warning("locker.seq_gap locker=%s last=%d got=%d", locker_id, last, got)
        self._query(locker_id)

    def _query(self, locker_id: str, force: bool = False) -> None:
        """Resynchronise: at most one query per locker per GAP_QUERY_INTERVAL_S (lock held). With force, the
        next state is taken whatever its seq even when no query goes out now."""
        if force:
            self._resync.add(locker_id)
        now = self.clock()
        if now - self._last_gap_query.get(locker_id, float("-inf")) < GAP_QUERY_INTERVAL_S:
            return
        self._last_gap_query[locker_id] = now
        self._resync.add(locker_id)
        query = Cmd(cmd_id=str(uuid.uuid4()), op="query", expires_at=self.locker_now(locker_id) + 10)
        self._client.publish(topic(self.site, locker_id, "cmd"), query.to_bytes(), qos=1)
