"""Lendings, returns, purchases and ratings projected a batch at a time with set-based statements.

Within one station's batch the effects commute (a return names its own lending, which the same batch or an
earlier one opened), except returns without a lending id (cross-station), which are matched one by one.
"""
from __future__ import annotations

import logging
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, bindparam, delete, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server_bridge.central.models import Lending, MemberVisit, Rating, UnmatchedReturn
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
UNMATCHED = cast(Table, UnmatchedReturn.__table__)
RATINGS = cast(Table, Rating.__table__)
VISITS = cast(Table, MemberVisit.__table__)

_CLOSE = (update(LENDINGS).where(and_(LENDINGS.c.lending_id == bindparam("lid"), LENDINGS.c.status == "open"))
          .values(status="returned", returned_at=bindparam("returned_at"),
                  return_station_id=bindparam("return_station_id"), return_locker_id=bindparam("return_locker_id"),
                  return_slot=bindparam("return_slot"), fee_cents=bindparam("fee_cents")))
_BUY = (update(LENDINGS).where(LENDINGS.c.lending_id == bindparam("lid"))
        .values(status="bought", price_cents=bindparam("price_cents")))


def _insert_ignoring_duplicates(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(postgresql.insert(table).on_conflict_do_nothing(), rows)
    elif dialect == "sqlite":
        conn.execute(sqlite.insert(table).on_conflict_do_nothing(), rows)
    else:
        existing = set(conn.scalars(select(table.c.lending_id).where(
            table.c.lending_id.in_([r["lending_id"] for r in rows]))))
        fresh = [r for r in rows if r["lending_id"] not in existing]
        if fresh:
            conn.execute(insert(table), fresh)


# PostgreSQL: one statement for the whole batch (executemany would be one round trip per row).
_CLOSE_PG = text("""
    UPDATE lendings AS l SET status = 'returned', returned_at = v.returned_at, return_station_id = v.rs,
           return_locker_id = v.rl, return_slot = v.rslot, fee_cents = v.fee
    FROM unnest(CAST(:lid AS text[]), CAST(:returned_at AS float8[]), CAST(:rs AS text[]), CAST(:rl AS text[]),
                CAST(:rslot AS int[]), CAST(:fee AS int[])) AS v(lid, returned_at, rs, rl, rslot, fee)
    WHERE l.lending_id = v.lid AND l.status = 'open'""")


def _close_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if conn.dialect.name != "postgresql":
        conn.execute(_CLOSE, rows)
        return
    conn.execute(_CLOSE_PG, {"lid": [r["lid"] for r in rows], "returned_at": [r["returned_at"] for r in rows],
                             "rs": [r["return_station_id"] for r in rows], "rl": [r["return_locker_id"] for r in rows],
                             "rslot": [r["return_slot"] for r in rows], "fee": [r["fee_cents"] for r in rows]})


def _close_params(lending_id: str, d: LendingReturned) -> dict[str, Any]:
    return {"lid": lending_id, "returned_at": d.returned_at, "return_station_id": d.station_id,
            "return_locker_id": d.locker_id, "return_slot": d.slot, "fee_cents": d.fee_cents}


def _unmatched(conn: Connection, station_id: str, d: LendingReturned) -> None:
    conn.execute(insert(UNMATCHED), [{"item_id": d.item_id, "station_id": station_id, "returned_at": d.returned_at,
                                      "data": d.model_dump(mode="json")}])
    log.info("projection.return_unmatched station=%s item=%s", station_id, d.item_id)


def _item_timelines(conn: Connection, items: set[str]) -> dict[str, list[Any]]:
    rows = conn.execute(select(LENDINGS.c.lending_id, LENDINGS.c.item_id, LENDINGS.c.started_at, LENDINGS.c.status,
                               LENDINGS.c.returned_at).where(LENDINGS.c.item_id.in_(list(items)))
                        .order_by(LENDINGS.c.started_at)).all()
    timelines: dict[str, list[Any]] = {}
    for row in rows:
        timelines.setdefault(row.item_id, []).append(row._asdict())
    return timelines


def _pair_returns(conn: Connection, station_id: str, returns: list[LendingReturned]) -> None:
    """Pair each return with the lending that was out at that moment: the item's latest start before it.

    The item's timeline decides, not the lending id the station names: a station that missed a
    cross-station return still names its stale lending on the item's next return."""
    timelines = _item_timelines(conn, {r.item_id for r in returns})
    closing: list[dict[str, Any]] = []
    for r in sorted(returns, key=lambda x: x.returned_at):
        out = [lending for lending in timelines.get(r.item_id, []) if lending["started_at"] <= r.returned_at]
        if not out:
            _unmatched(conn, station_id, r)  # its start has not arrived yet (matched when it does)
            continue
        lending = out[-1]
        if lending["status"] == "open":
            closing.append(_close_params(lending["lending_id"], r))
            lending.update(status="returned", returned_at=r.returned_at)
        elif lending["returned_at"] != r.returned_at:
            _unmatched(conn, station_id, r)  # a second return with no lending in between
    if closing:
        _close_many(conn, closing)


def _close_superseded(conn: Connection, starts: list[dict[str, Any]]) -> None:
    """An item lent again was back in a locker by then: an earlier lending still open missed its return."""
    timelines = _item_timelines(conn, {s["item_id"] for s in starts})
    closing = []
    for start in starts:
        for lending in timelines.get(start["item_id"], []):
            if lending["status"] == "open" and lending["started_at"] < start["started_at"]:
                closing.append({"lid": lending["lending_id"], "returned_at": start["started_at"],
                                "return_station_id": start["station_id"], "return_locker_id": start["locker_id"],
                                "return_slot": start["slot"], "fee_cents": None})
                lending["status"] = "returned"
                log.info("projection.return_inferred lending=%s item=%s", lending["lending_id"], start["item_id"])
    if closing:
        _close_many(conn, closing)


def _match_early_returns(conn: Connection, starts: list[dict[str, Any]]) -> None:
    """Returns uploaded (by another station) before the start they close."""
    table = UNMATCHED
    items = {r["item_id"]: r for r in starts}
    early = conn.execute(select(table.c.id, table.c.item_id, table.c.returned_at, table.c.data)
                         .where(table.c.item_id.in_(list(items))).order_by(table.c.returned_at)).all()
    for row in early:
        start = items[row.item_id]
        if row.returned_at >= start["started_at"]:
            d = LendingReturned.model_validate(row.data)
            conn.execute(_CLOSE, [_close_params(start["lending_id"], d)])
            conn.execute(delete(table).where(table.c.id == row.id))


def project_lending_batch(session: Session, station_id: str, events: list[Envelope]) -> None:
    conn = session.connection()
    starts: list[dict[str, Any]] = []
    returns: list[LendingReturned] = []
    buys: list[dict[str, Any]] = []
    ratings: list[dict[str, Any]] = []
    visits: list[dict[str, Any]] = []
    for ev in events:
        if ev.type == "lending.started":
            s = LendingStarted.model_validate(ev.data)
            starts.append({"lending_id": s.lending_id, "member_id": s.member_id, "item_type": s.item_type,
                           "item_id": s.item_id, "station_id": station_id, "locker_id": s.locker_id,
                           "slot": s.slot, "started_at": s.started_at, "due_at": s.due_at, "status": "open"})
            if s.member_id:
                visits.append({"member_id": s.member_id, "station_id": station_id, "at": s.started_at,
                               "kind": "lending"})
        elif ev.type == "lending.returned":
            r = LendingReturned.model_validate(ev.data)
            returns.append(r)
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
    if starts:
        _insert_ignoring_duplicates(conn, LENDINGS, starts)
    if returns:
        _pair_returns(conn, station_id, returns)
    if starts:  # after the batch's own returns have closed what they close
        _close_superseded(conn, starts)
        _match_early_returns(conn, starts)
    if buys:
        conn.execute(_BUY, buys)
    if ratings:
        conn.execute(insert(RATINGS), ratings)
    if visits:
        conn.execute(insert(VISITS), visits)


def project_one(session: Session, station_id: str, event: Envelope) -> None:
    project_lending_batch(session, station_id, [event])


MODELS: dict[str, type[EventData]] = {"lending.started": LendingStarted, "lending.returned": LendingReturned,
                                       "lending.bought": LendingBought, "survey.rated": SurveyRated}
