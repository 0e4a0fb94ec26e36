"""The heartbeat write path at fleet scale (issue 16): heartbeats answered from memory and written by a background
flusher (group commit), on SQLite and PostgreSQL. What it must keep: every accepted beat's latest state reaches
the database; a crash loses at most the beats since the last flush (stated, and repaired by the next beat);
with several API instances on one database the stored state is the newest beat whichever instance took it, and a
command queued through one instance is heard of by a station beating to another."""
from __future__ import annotations

import json
import threading
import time

from sqlalchemy import func, select

from server_bridge.central.alerts import AlertEngine, AlertSettings
from server_bridge.central.api import heartbeat_answer
from server_bridge.central.auth import StationTokens
from server_bridge.central.bundles import WantedConfig
from server_bridge.central.commands import CommandBoard
from server_bridge.central.db import Database
from server_bridge.central.deps import Central
from server_bridge.central.fleet import HeartbeatBuffer, add_station, health_summary, summary_digest
from server_bridge.central.models import HealthChange, Station, StationHealth
from server_bridge.central.schemas import Heartbeat
from tests.fixtures.central import REGISTRY


def body(uptime: float, depth: int = 0, paper_out: bool = False) -> bytes:
    return json.dumps({"ts": 1.0, "version": "2.0", "uptime_s": uptime, "outbox": {"depth": depth},
                       "printer": {"online": True, "paper_out": paper_out},
                       "lockers": [{"locker_id": "U1", "item_type": "umbrella", "online": True,
                                    "slots": [{"slot": 1, "state": "occupied", "item": "U-1"}]}]}).encode()


def put(buf: HeartbeatBuffer, sid: str, raw: bytes, at: float | None = None) -> None:
    buf.put(sid, Heartbeat.model_validate_json(raw), raw, at=at)


def stored(db: Database, sid: str) -> tuple[float, float, dict, str]:
    with db.session() as s:
        st = s.get(Station, sid)
        assert st is not None and st.last_heartbeat_at is not None and st.uptime_s is not None
        health = s.scalar(select(StationHealth.health).where(StationHealth.station_id == sid))
        return st.last_heartbeat_at, st.uptime_s, health, st.health_digest or ""


def test_the_flusher_writes_every_station_s_latest_beat(central_db: Database) -> None:
    sids = [f"Z{i:03d}" for i in range(60)]
    with central_db.session() as s:
        for sid in sids:
            add_station(s, sid, time.time())
    # snapshot_every_s=0: the snapshot is rewritten with every flush (by default only when the summary changed
    # or once a minute, so fields the rules do not judge, like the outbox depth, may be a minute old)
    buf = HeartbeatBuffer(central_db, flush_s=0.02, snapshot_every_s=0).start()
    last: dict[str, tuple[float, int, bool]] = {}
    lock = threading.Lock()

    def station_group(group: list[str]) -> None:  # beats arrive on several threads while the flusher runs
        for k in range(1, 6):
            for sid in group:
                depth, paper_out = k * 10 + int(sid[1:]) % 7, k % 2 == 0
                put(buf, sid, body(float(k), depth, paper_out))
                with lock:
                    last[sid] = (float(k), depth, paper_out)
            time.sleep(0.01)

    threads = [threading.Thread(target=station_group, args=(sids[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    buf.stop()  # the last flush
    for sid in sids:
        uptime, depth, paper_out = last[sid]
        _at, stored_uptime, health, digest = stored(central_db, sid)
        assert stored_uptime == uptime, sid
        assert health["outbox"]["depth"] == depth and health["printer"]["paper_out"] is paper_out, sid
        beat = Heartbeat.model_validate_json(body(uptime, depth, paper_out))
        assert digest == summary_digest(health_summary(beat, 80)), sid
    assert buf.pending == 0 and buf.flushed >= len(sids)


def test_a_crash_loses_only_the_beats_since_the_last_flush_and_the_next_beat_repairs_it(
        central_db: Database) -> None:
    with central_db.session() as s:
        add_station(s, "Z01", time.time())
        add_station(s, "Z02", time.time())
    buf = HeartbeatBuffer(central_db, flush_s=0.5)  # not started: the test flushes
    put(buf, "Z01", body(1.0, depth=1), at=100.0)
    put(buf, "Z02", body(1.0, depth=1), at=100.0)
    assert buf.flush() == 2
    put(buf, "Z01", body(2.0, depth=2, paper_out=True), at=100.4)  # accepted (answered 204) ...
    assert buf.pending == 1
    del buf  # ... then the process dies before its next flush: no stop(), no flush
    at, uptime, health, _ = stored(central_db, "Z01")
    assert (at, uptime, health["outbox"]["depth"]) == (100.0, 1.0, 1), "lost: the one beat since the flush"
    with central_db.session() as s:
        assert s.scalar(select(func.count()).select_from(HealthChange)) == 2, "the lost change is not logged"
    restarted = HeartbeatBuffer(central_db, flush_s=0.5)
    put(restarted, "Z01", body(32.0, depth=2, paper_out=True), at=130.0)  # the station's next beat, 30 s on
    restarted.flush()
    at, uptime, health, _ = stored(central_db, "Z01")
    assert (at, uptime, health["printer"]["paper_out"]) == (130.0, 32.0, True), "the next beat repairs it"
    with central_db.session() as s:
        assert s.scalar(select(func.count()).select_from(HealthChange)) == 3, "and its change is logged"


def test_two_instances_store_the_newest_beat_whichever_took_it(central_db: Database) -> None:
    with central_db.session() as s:
        add_station(s, "Z01", time.time())
    a, b = HeartbeatBuffer(central_db), HeartbeatBuffer(central_db)  # two API instances, one database
    put(a, "Z01", body(1.0, paper_out=False), at=10.0)
    a.flush()
    put(b, "Z01", body(2.0, paper_out=True), at=20.0)  # the station reconnected through the other instance
    b.flush()
    put(a, "Z01", body(3.0, depth=4, paper_out=False), at=30.0)  # and back: a's memory still holds beat 1's
    a.flush()
    _at, uptime, health, digest = stored(central_db, "Z01")
    assert uptime == 3.0 and health["printer"]["paper_out"] is False and health["outbox"]["depth"] == 4, \
        "the change back is seen against what is stored, not against a's memory"
    assert digest == summary_digest(health_summary(Heartbeat.model_validate_json(body(3.0)), 80))
    with central_db.session() as s:
        papers = [c.summary["printer"][1] for c in s.scalars(select(HealthChange).order_by(HealthChange.at))]
        assert papers == [False, True, False], "each change logged once, by the instance that took it"
    put(b, "Z01", body(2.5, paper_out=True), at=25.0)  # a beat older than the stored one, flushed late
    assert b.flush() == 0
    at, uptime, health, _ = stored(central_db, "Z01")
    assert (at, uptime, health["printer"]["paper_out"]) == (30.0, 3.0, False), "an older beat changes nothing"


def central_for(db: Database, refresh_s: float) -> Central:
    settings = AlertSettings()
    return Central(db=db, tokens=StationTokens(db), heartbeats=HeartbeatBuffer(db), settings=settings,
                   alerts=AlertEngine(db, settings, REGISTRY.alert_rules), registry=REGISTRY,
                   wanted_config=WantedConfig(db), commands=CommandBoard(db, refresh_s=refresh_s))


def test_a_command_queued_through_one_instance_reaches_a_station_beating_to_another(central_db: Database) -> None:
    with central_db.session() as s:
        add_station(s, "Z01", time.time())
    one, other = central_for(central_db, 0.25), central_for(central_db, 0.05)
    assert one.commands is not None and other.commands is not None
    other.commands.start()
    try:
        assert heartbeat_answer(other, "Z01", body(1.0)) == (204, b"")
        with central_db.session() as s:  # ops send it through instance one's console
            row = one.commands.create(s, "Z01", "reprint", "olga", 600)
            s.expunge(row)
        one.commands.sent(row)
        sent = time.monotonic()
        while heartbeat_answer(other, "Z01", body(2.0))[0] == 204:  # the station beats to the other instance
            assert time.monotonic() - sent < 5, "never heard of on the other instance"
            time.sleep(0.01)
        heard = time.monotonic() - sent
        assert heartbeat_answer(other, "Z01", body(3.0)) == (200, b'{"commands":1}')
        assert [v["id"] for v in other.commands.fetch("Z01")] == [row.id]
        assert heard < 30.0, "within one heartbeat interval"  # by construction ≤ its refresh (0.05 s) + a query
    finally:
        other.commands.stop()


def test_the_token_map_reloads_only_when_tokens_changed_and_a_rotated_token_is_refused(central_db: Database) -> None:
    with central_db.session() as s:
        old = add_station(s, "Z01", time.time())
    clock = [0.0]
    tokens = StationTokens(central_db, ttl_s=30, clock=lambda: clock[0], full_every_s=300)
    tokens.refresh()
    assert tokens.station_for(old) == "Z01" and tokens.reloads == 1
    clock[0] = 30.0
    tokens.refresh()  # nothing changed: on PostgreSQL one signature query, no reload (SQLite reloads)
    assert tokens.reloads == (1 if central_db.dialect == "postgresql" else 2)
    with central_db.session() as s:
        new = add_station(s, "Z01", time.time(), rotate=True)
    before = tokens.reloads
    clock[0] = 60.0
    tokens.refresh()
    assert tokens.reloads == before + 1, "the rotation moved the signature"
    assert tokens.station_for(old) is None and tokens.station_for(new) == "Z01"
    clock[0] = 400.0  # past full_every_s: reloaded in full whatever the signature says
    before = tokens.reloads
    tokens.refresh()
    assert tokens.reloads == before + 1
