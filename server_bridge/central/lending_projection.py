"""Lendings, returns, purchases and ratings projected a batch at a time with set-based statements.

Returns are paired by the item's timeline, not by arrival: every start (a `lendings` row) and every return
(a `lending_returns` row) of an item is kept with its event time, and the pairing is a pure function of
those events (`pair_timeline`). When an event arrives, the item's timeline is re-paired from the last start
before that event on, so whatever order the stations' uploads arrive in, the pairs end up the same.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server_bridge.central.models import Lending, LendingReturn, MemberVisit, Rating
from server_bridge.central.projections import (
    EventData,
    LendingBought,
    LendingReturned,
    LendingStarted,
    SurveyRated,
    event_epoch,
)
from server_bridge.central.schemas import Envelope

log = logging.getLogger(__name__)
LENDINGS = cast(Table, Lending.__table__)
RETURNS = cast(Table, LendingReturn.__table__)
RATINGS = cast(Table, Rating.__table__)
VISITS = cast(Table, MemberVisit.__table__)

_BUY = (update(LENDINGS).where(LENDINGS.c.lending_id == bindparam("lid"))
        .values(status="bought", price_cents=bindparam("price_cents")))


def _insert_ignoring_duplicates(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(postgresql.insert(table).on_conflict_do_nothing(), rows)
    elif dialect == "sqlite":
        conn.execute(sqlite.insert(table).on_conflict_do_nothing(), rows)
    else:  # pragma: no cover - the centre runs on SQLite or PostgreSQL
        raise NotImplementedError(dialect)


# The pairing -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Start:
    lending_id: str
    at: float
    station_id: str
    locker_id: str | None
    slot: int | None


@dataclass(frozen=True)
class Return:
    key: tuple[str, int]  # (station_id, seq): unique per reported return
    at: float
    station_id: str
    locker_id: str | None
    slot: int | None
    fee_cents: int | None


@dataclass(frozen=True)
class Close:
    returned_at: float
    station_id: str
    locker_id: str | None
    slot: int | None
    fee_cents: int | None
    kind: str  # reported | inferred


@dataclass(frozen=True)
class Pairing:
    closes: dict[str, Close | None]  # lending_id -> how it ended (None: still out)
    returns: dict[tuple[str, int], tuple[str, str | None]]  # return key -> (outcome, lending_id)


def _order(ev: Start | Return) -> tuple[float, int, str, str]:
    # At the same instant a start comes first; ties between stations are broken by fixed keys, never arrival.
    if isinstance(ev, Start):
        return (ev.at, 0, ev.station_id, ev.lending_id)
    return (ev.at, 1, ev.key[0], f"{ev.key[1]:020d}")


def pair_timeline(starts: Iterable[Start], returns: Iterable[Return]) -> Pairing:
    """Walk one item's events in time order: a return ends the lending out at that moment; a start while an
    earlier lending is still out ends that one (its return was never reported: the item was back by then);
    a return with nothing out is a duplicate (same instant as the return just before) or unmatched."""
    closes: dict[str, Close | None] = {}
    outcomes: dict[tuple[str, int], tuple[str, str | None]] = {}
    out: Start | None = None
    last: tuple[str, float] | None = None  # (lending_id, returned_at) of the latest reported return
    timeline: list[Start | Return] = [*starts, *returns]
    for ev in sorted(timeline, key=_order):
        if isinstance(ev, Start):
            if out is not None:
                closes[out.lending_id] = Close(ev.at, ev.station_id, ev.locker_id, ev.slot, None, "inferred")
            closes[ev.lending_id] = None
            out, last = ev, None
        elif out is not None:
            closes[out.lending_id] = Close(ev.at, ev.station_id, ev.locker_id, ev.slot, ev.fee_cents, "reported")
            outcomes[ev.key] = ("closed", out.lending_id)
            last, out = (out.lending_id, ev.at), None
        elif last is not None and last[1] == ev.at:
            outcomes[ev.key] = ("duplicate", last[0])
        else:
            outcomes[ev.key] = ("unmatched", None)
    return Pairing(closes, outcomes)


# Re-pairing stored timelines -----------------------------------------------------------------------------
_SET_LENDING = (update(LENDINGS).where(LENDINGS.c.lending_id == bindparam("lid"))
                .values(status=bindparam("status"), returned_at=bindparam("returned_at"),
                        return_station_id=bindparam("rs"), return_locker_id=bindparam("rl"),
                        return_slot=bindparam("rslot"), fee_cents=bindparam("fee"), return_kind=bindparam("kind")))
_SET_RETURN = (update(RETURNS).where(RETURNS.c.id == bindparam("rid"))
               .values(outcome=bindparam("outcome"), lending_id=bindparam("lid")))

# PostgreSQL: one statement for the whole set (executemany would be one round trip per row).
_SET_LENDING_PG = text("""
    UPDATE lendings AS l SET status = v.status, returned_at = v.returned_at, return_station_id = v.rs,
           return_locker_id = v.rl, return_slot = v.rslot, fee_cents = v.fee, return_kind = v.kind
    FROM unnest(CAST(:lid AS text[]), CAST(:status AS text[]), CAST(:returned_at AS float8[]),
                CAST(:rs AS text[]), CAST(:rl AS text[]), CAST(:rslot AS int[]), CAST(:fee AS int[]),
                CAST(:kind AS text[])) AS v(lid, status, returned_at, rs, rl, rslot, fee, kind)
    WHERE l.lending_id = v.lid""")
_SET_RETURN_PG = text("""
    UPDATE lending_returns AS r SET outcome = v.outcome, lending_id = v.lid
    FROM unnest(CAST(:rid AS bigint[]), CAST(:outcome AS text[]), CAST(:lid AS text[])) AS v(rid, outcome, lid)
    WHERE r.id = v.rid""")


def _execute_set(conn: Connection, generic: Any, pg: Any, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(pg, {k: [r[k] for r in rows] for k in rows[0]})
    else:
        conn.execute(generic, rows)


def repair_items(conn: Connection, since: dict[str, float] | None = None) -> int:
    """Re-pair the timelines of the given items from just before `since[item]` (the earliest new event's
    time) on; `since=None` re-pairs every item from its first event. Returns the rows changed.

    Everything before the item's last start earlier than `since` keeps its pairing: a start resets the walk
    (whatever was out before it is closed by then), so the walk from that start on is the whole answer."""
    if since is not None and not since:
        return 0
    q = select(LENDINGS.c.lending_id, LENDINGS.c.item_id, LENDINGS.c.started_at, LENDINGS.c.station_id,
               LENDINGS.c.locker_id, LENDINGS.c.slot, LENDINGS.c.status, LENDINGS.c.returned_at,
               LENDINGS.c.return_station_id, LENDINGS.c.return_locker_id, LENDINGS.c.return_slot,
               LENDINGS.c.fee_cents, LENDINGS.c.price_cents, LENDINGS.c.return_kind)
    if since is not None:
        q = q.where(LENDINGS.c.item_id.in_(list(since)))
    starts_of: dict[str, list[Any]] = {}
    for row in conn.execute(q):
        starts_of.setdefault(row.item_id, []).append(row)
    cut: dict[str, float] = {}
    for item in (since if since is not None else starts_of):
        before = [r.started_at for r in starts_of.get(item, []) if since is None or r.started_at < since[item]]
        cut[item] = max(before) if since is not None and before else float("-inf")
    rq = select(RETURNS.c.id, RETURNS.c.station_id, RETURNS.c.seq, RETURNS.c.item_id, RETURNS.c.returned_at,
                RETURNS.c.locker_id, RETURNS.c.slot, RETURNS.c.fee_cents, RETURNS.c.outcome, RETURNS.c.lending_id)
    if since is not None:
        lowest = min(cut.values())
        rq = rq.where(RETURNS.c.item_id.in_(list(since)))
        if lowest != float("-inf"):
            rq = rq.where(RETURNS.c.returned_at >= lowest)
    returns_of: dict[str, list[Any]] = {}
    for row in conn.execute(rq):
        returns_of.setdefault(row.item_id, []).append(row)
    lending_rows: list[dict[str, Any]] = []
    return_rows: list[dict[str, Any]] = []
    for item in set(starts_of) | set(returns_of):
        lo = cut.get(item, float("-inf"))
        starts = {r.lending_id: r for r in starts_of.get(item, []) if r.started_at >= lo}
        rets = {(r.station_id, r.seq): r for r in returns_of.get(item, []) if r.returned_at >= lo}
        pairing = pair_timeline(
            [Start(r.lending_id, r.started_at, r.station_id, r.locker_id, r.slot) for r in starts.values()],
            [Return(k, r.returned_at, r.station_id, r.locker_id, r.slot, r.fee_cents) for k, r in rets.items()])
        for lid, close in pairing.closes.items():
            row = starts[lid]
            status = "bought" if row.price_cents is not None else ("open" if close is None else "returned")
            want = (status, None, None, None, None, None, None) if close is None else (
                status, close.returned_at, close.station_id, close.locker_id, close.slot, close.fee_cents,
                close.kind)
            have = (row.status, row.returned_at, row.return_station_id, row.return_locker_id, row.return_slot,
                    row.fee_cents, row.return_kind)
            if want != have:
                if row.return_kind is not None and have[1:] != want[1:]:
                    log.info("projection.repaired lending=%s item=%s was=%s now=%s", lid, item, have, want)
                lending_rows.append(dict(zip(("lid", "status", "returned_at", "rs", "rl", "rslot", "fee", "kind"),
                                             (lid, *want), strict=True)))
        for key, (outcome, paired) in pairing.returns.items():
            ret = rets[key]
            if (ret.outcome, ret.lending_id) != (outcome, paired):
                if outcome == "unmatched":
                    log.info("projection.return_unmatched station=%s seq=%d item=%s", key[0], key[1], item)
                return_rows.append({"rid": ret.id, "outcome": outcome, "lid": paired})
    _execute_set(conn, _SET_LENDING, _SET_LENDING_PG, lending_rows)
    _execute_set(conn, _SET_RETURN, _SET_RETURN_PG, return_rows)
    return len(lending_rows) + len(return_rows)


_LOCK_PG = text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k")


def _lock_items(conn: Connection, items: Iterable[str]) -> None:
    """Two stations' batches touching one item must not re-pair it at once (each would write a timeline
    without the other's uncommitted events). PostgreSQL: a transaction lock per item, taken in one order;
    SQLite: writers are serialised already (BEGIN IMMEDIATE)."""
    if conn.dialect.name != "postgresql":
        return
    keys = sorted({int.from_bytes(hashlib.blake2b(i.encode(), digest_size=8).digest(), "big", signed=True)
                   for i in items})
    if keys:
        conn.execute(_LOCK_PG, {"keys": keys})


def project_lending_batch(session: Session, station_id: str, events: list[Envelope]) -> None:
    conn = session.connection()
    starts: list[dict[str, Any]] = []
    returns: list[dict[str, Any]] = []
    buys: list[dict[str, Any]] = []
    ratings: list[dict[str, Any]] = []
    visits: list[dict[str, Any]] = []
    since: dict[str, float] = {}  # item -> its earliest event in this batch: re-paired from there on
    for ev in events:
        if ev.type == "lending.started":
            s = LendingStarted.model_validate(ev.data)
            starts.append({"lending_id": s.lending_id, "member_id": s.member_id, "item_type": s.item_type,
                           "item_id": s.item_id, "station_id": station_id, "locker_id": s.locker_id,
                           "slot": s.slot, "started_at": s.started_at, "due_at": s.due_at, "status": "open",
                           "cmd_id": s.cmd_id})
            since[s.item_id] = min(since.get(s.item_id, s.started_at), s.started_at)
            if s.member_id:
                visits.append({"member_id": s.member_id, "station_id": station_id, "at": s.started_at,
                               "kind": "lending"})
        elif ev.type == "lending.returned":
            r = LendingReturned.model_validate(ev.data)
            returns.append({"station_id": station_id, "seq": ev.seq, "item_id": r.item_id,
                            "returned_at": r.returned_at, "named_lending_id": r.lending_id,
                            "member_id": r.member_id, "locker_id": r.locker_id, "slot": r.slot,
                            "fee_cents": r.fee_cents, "cmd_id": r.cmd_id, "lending_id": None,
                            "outcome": "unmatched"})
            since[r.item_id] = min(since.get(r.item_id, r.returned_at), r.returned_at)
            if r.member_id:
                visits.append({"member_id": r.member_id, "station_id": station_id, "at": r.returned_at,
                               "kind": "return"})
        elif ev.type == "lending.bought":
            b = LendingBought.model_validate(ev.data)
            buys.append({"lid": b.lending_id, "price_cents": b.price_cents})
        elif ev.type == "survey.rated":
            v = SurveyRated.model_validate(ev.data)
            ratings.append({"station_id": station_id, "flow": v.flow, "score": v.score, "lang": v.lang,
                            "at": event_epoch(ev)})
    _lock_items(conn, since)
    if starts:
        _insert_ignoring_duplicates(conn, LENDINGS, starts)
    if returns:
        _insert_ignoring_duplicates(conn, RETURNS, returns)
    if buys:
        conn.execute(_BUY, buys)
    repair_items(conn, since)
    if ratings:
        conn.execute(insert(RATINGS), ratings)
    if visits:
        conn.execute(insert(VISITS), visits)


def project_one(session: Session, station_id: str, event: Envelope) -> None:
    project_lending_batch(session, station_id, [event])


MODELS: dict[str, type[EventData]] = {"lending.started": LendingStarted, "lending.returned": LendingReturned,
                                       "lending.bought": LendingBought, "survey.rated": SurveyRated}
