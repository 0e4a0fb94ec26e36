"""Returns are paired by the item's timeline: whatever order the stations' uploads arrive in (and whatever
order each station's own events are numbered in), the centre ends with the same, physically true pairs."""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from server_bridge.central.db import Base, Database
from server_bridge.central.fleet import add_station
from server_bridge.central.ingest import ingest_batch
from server_bridge.central.lending_projection import Return, Start, pair_timeline
from server_bridge.central.models import Lending, LendingReturn
from server_bridge.central.schemas import Batch
from tests.fixtures.central import REGISTRY, envelope

T0 = 1_764_000_000.0
STATIONS = ("K01", "K02", "K03")


@dataclass
class Truth:
    """What physically happened, and therefore what the centre must end up with."""
    events: dict[str, list[dict[str, Any]]]  # station -> event data in the order the station numbered them
    lendings: dict[str, tuple[str, float | None, str | None, str | None]]  # id -> status, returned_at, by, kind
    returns: dict[tuple[str, float], str]  # (station, returned_at) -> outcome


def _start(lid: str, item: str, station: str, at: float) -> dict[str, Any]:
    return {"type": "lending.started", "data": {
        "lending_id": lid, "member_id": None, "item_type": "umbrella", "item_id": item, "station_id": station,
        "locker_id": f"U{station}", "slot": 1, "started_at": at, "due_at": at + 86400, "cmd_id": f"c-{lid}"}}


def _return(item: str, station: str, at: float, named: str | None) -> dict[str, Any]:
    return {"type": "lending.returned", "data": {
        "lending_id": named, "item_id": item, "item_type": "umbrella", "member_id": None, "station_id": station,
        "locker_id": f"U{station}", "slot": 2, "returned_at": at, "fee_cents": 100}}


@st.composite
def histories(draw: st.DrawFn) -> Truth:
    events: dict[str, list[dict[str, Any]]] = {s: [] for s in STATIONS}
    lendings: dict[str, tuple[str, float | None, str | None, str | None]] = {}
    returns: dict[tuple[str, float], str] = {}
    n = 0
    for i in range(draw(st.integers(1, 3))):
        item = f"U-{i}"
        at = T0 + i * 0.25
        if draw(st.booleans()):  # a return of a lending the centre never heard of
            station = draw(st.sampled_from(STATIONS))
            events[station].append(_return(item, station, at, None))
            returns[(station, at)] = "unmatched"
        prev: str | None = None
        for _ in range(draw(st.integers(1, 5))):
            at += draw(st.integers(1, 50))
            n += 1
            lid, station = f"L{n}", draw(st.sampled_from(STATIONS))
            if prev is not None and lendings[prev][0] == "open":  # its return was never reported
                lendings[prev] = ("returned", at, station, "inferred")
            events[station].append(_start(lid, item, station, at))
            lendings[lid] = ("open", None, None, None)
            if draw(st.integers(0, 9)) < 8:
                at += draw(st.integers(1, 50))
                back = draw(st.sampled_from(STATIONS))
                named = draw(st.sampled_from([None, lid, prev]))  # stations may name a stale lending
                events[back].append(_return(item, back, at, named))
                lendings[lid] = ("returned", at, back, "reported")
                returns[(back, at)] = "closed"
                if draw(st.integers(0, 9)) == 0:  # the same return reported by a second station
                    other = next(s for s in STATIONS if s != back)
                    events[other].append(_return(item, other, at, None))
                    first, second = sorted((back, other))  # a fixed tie-break, never arrival, decides
                    lendings[lid] = ("returned", at, first, "reported")
                    returns[(first, at)], returns[(second, at)] = "closed", "duplicate"
            prev = lid
    for station in STATIONS:  # a station numbers its events in the order it handled them, not by time
        events[station] = draw(st.permutations(events[station]))
    return Truth(events, lendings, returns)


def _uploads(draw: st.DrawFn, truth: Truth) -> list[tuple[str, list[dict[str, Any]]]]:
    """Every station's events cut into batches; the batches of all stations shuffled (gaps included)."""
    chunks = []
    for station, evs in truth.events.items():
        numbered = [envelope(seq, ev["type"], ev["data"]) for seq, ev in enumerate(evs, start=1)]
        i = 0
        while i < len(numbered):
            size = draw(st.integers(1, 3))
            chunks.append((station, numbered[i:i + size]))
            i += size
    return draw(st.permutations(chunks))


def _centre_state(db: Database) -> tuple[dict[str, tuple[Any, ...]], dict[tuple[str, float], str]]:
    with db.session() as s:
        lendings = {lend.lending_id: (lend.status, lend.returned_at, lend.return_station_id, lend.return_kind)
                    for lend in s.scalars(select(Lending))}
        returns = {(r.station_id, r.returned_at): r.outcome for r in s.scalars(select(LendingReturn))}
    return lendings, returns


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_interleaving_of_the_same_events_gives_the_true_pairs(data: st.DataObject) -> None:
    truth = data.draw(histories())
    uploads = _uploads(data.draw, truth)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'c.db'}")
        try:
            Base.metadata.create_all(db.engine)
            with db.session() as s:
                for sid in STATIONS:
                    add_station(s, sid, time.time())
            for station, batch in uploads:
                with db.session() as s:
                    ingest_batch(s, station, Batch.model_validate({"events": batch}), time.time(),
                                 REGISTRY.projections)
            lendings, returns = _centre_state(db)
        finally:
            db.dispose()
    assert lendings == truth.lendings
    assert returns == truth.returns


def test_a_start_at_the_same_instant_as_a_return_comes_first_whatever_the_input_order() -> None:
    a = Start("L1", T0, "K01", None, 1)
    b = Start("L2", T0 + 10, "K02", None, 1)
    r = Return(("K02", 1), T0 + 10, "K02", None, 3, 100)
    one = pair_timeline([a, b], [r])
    two = pair_timeline([b, a], [r])
    assert one == two
    assert one.closes["L1"] is not None and one.closes["L1"].kind == "inferred"
    assert one.returns[("K02", 1)] == ("closed", "L2")


def test_upgrading_an_old_centre_rebuilds_the_returns_log_and_re_pairs_its_items(tmp_path: Path) -> None:
    """Revision 0004 on a centre whose returns were paired by arrival: L1's return (K02, t=200) had arrived
    after K01's (t=400) and was parked as unmatched; after the upgrade each return closes the lending out then."""
    import json

    from alembic import command
    from sqlalchemy import text

    from server_bridge.central import schema_migrations
    from server_bridge.central.db import make_engine

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    with engine.connect() as conn:
        cfg = schema_migrations.alembic_config(url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        conn.commit()
    with engine.begin() as c:
        c.execute(text("INSERT INTO stations (station_id, name, token_hash, created_at, acked_seq)"
                       " VALUES ('K01', '', '', 0, 2), ('K02', '', '', 0, 1)"))
        c.execute(text("INSERT INTO lendings (lending_id, item_type, item_id, station_id, started_at, status,"
                       " returned_at, return_station_id) VALUES ('L1', 'umbrella', 'U1', 'K01', 100, 'returned',"
                       " 400, 'K01'), ('L2', 'umbrella', 'U1', 'K01', 300, 'open', NULL, NULL)"))
        for sid, seq, at, named in (("K01", 2, 400, "L1"), ("K02", 1, 200, None)):
            c.execute(text("INSERT INTO events (station_id, seq, event_id, type, ts, data, received_at)"
                           " VALUES (:s, :q, :e, 'lending.returned', '2026-11-25T10:00:00Z', :d, 0)"),
                      {"s": sid, "q": seq, "e": f"ev-{sid}-{seq}", "d": json.dumps(
                          {"item_id": "U1", "item_type": "umbrella", "station_id": sid, "returned_at": at,
                           "lending_id": named, "fee_cents": 5})})
    engine.dispose()
    schema_migrations.upgrade(url)
    db = Database(url)
    try:
        lendings, returns = _centre_state(db)
    finally:
        db.dispose()
    assert lendings == {"L1": ("returned", 200.0, "K02", "reported"), "L2": ("returned", 400.0, "K01", "reported")}
    assert returns == {("K01", 400.0): "closed", ("K02", 200.0): "closed"}
