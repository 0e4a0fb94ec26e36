"""Idempotent event ingest: unique (station, seq), projections applied once and in seq order.

An event refused for its content (its data fails its type's model) is kept in quarantine (`refused_events`)
with the reason; for a station that says it parks refused events (`X-Upload-Refusals: quarantine`) the rest
of its batch is stored and the refused seq counts as received, so nothing behind it waits (docs/central.md,
"Refused events")."""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import Table, func, insert, select, union
from sqlalchemy.orm import Session

from server_bridge.central import alerts, audit
from server_bridge.central.errors import EventInvalid, NotFound, SeqReused
from server_bridge.central.models import Event, ProjectionFailure, RefusedEvent, Station
from server_bridge.central.projections import BatchProjection, Projection, ProjectionSpec
from server_bridge.central.schemas import Batch, Envelope

log = logging.getLogger(__name__)


REFUSALS_HEADER = "X-Upload-Refusals"  # "quarantine": the station parks what the answer lists as refused
REFUSED_ALERT = "upload_refused"


@dataclass(frozen=True)
class Refusal:
    """One event of a batch refused for its content: the answer's `refused` entry."""

    seq: int
    id: str
    code: str
    field: str | None
    message: str


@dataclass
class IngestResult:
    acked_seq: int
    refused: list[Refusal] = field(default_factory=list)


def refusals(batch: Batch, projections: Mapping[str, ProjectionSpec]) -> dict[int, EventInvalid]:
    """Every known event whose data fails its model, by seq (each error names the event's seq and the field).
    A seq twice with different ids is the batch's fault, not one event's: raised at once."""
    seen: dict[int, str] = {}
    bad: dict[int, EventInvalid] = {}
    for ev in batch.events:
        if seen.setdefault(ev.seq, ev.id) != ev.id:
            raise EventInvalid(f"seq {ev.seq} appears twice with different ids", field=f"events.seq={ev.seq}")
        spec = projections.get(ev.type)
        if spec is None or spec.data_model is None:
            continue
        try:
            spec.data_model.model_validate(ev.data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            bad.setdefault(ev.seq, EventInvalid(f"event seq {ev.seq} ({ev.type}): data.{where}: {err['msg']}",
                                                field=f"data.{where}", extra={"seq": ev.seq}))
    return bad


def validate_batch(batch: Batch, projections: Mapping[str, ProjectionSpec]) -> None:
    """Known event types must carry well-formed data; the error names the event's seq and the field."""
    bad = refusals(batch, projections)
    if bad:
        raise bad[next(ev.seq for ev in batch.events if ev.seq in bad)]


def ingest_batch(session: Session, station_id: str, batch: Batch, now: float,
                 projections: Mapping[str, ProjectionSpec]) -> int:
    """Store what is new, project newly contiguous events (with `registry.projections`), answer the highest
    contiguous seq stored. A batch with an event refused for its content is refused whole (422)."""
    return ingest(session, station_id, batch, now, projections).acked_seq


def ingest(session: Session, station_id: str, batch: Batch, now: float,
           projections: Mapping[str, ProjectionSpec], *, quarantine: bool = False) -> IngestResult:
    """`ingest_batch`; with `quarantine` an event refused for its content is kept in `refused_events`, listed in
    the result and counted as received, and the rest of the batch is stored and projected as usual. A
    quarantined event sent again (same seq and id) that now passes is stored and projected then, once."""
    bad = refusals(batch, projections)
    if bad and not quarantine:
        raise bad[next(ev.seq for ev in batch.events if ev.seq in bad)]
    station = session.scalars(select(Station).where(Station.station_id == station_id)
                              .with_for_update()).first()
    if station is None:
        raise NotFound("unknown station")
    by_seq = {ev.seq: ev for ev in batch.events}
    existing = dict(session.execute(select(Event.seq, Event.event_id).where(
        Event.station_id == station_id, Event.seq.in_(list(by_seq)))).tuples().all())
    held = {r.seq: r for r in session.scalars(select(RefusedEvent).where(
        RefusedEvent.station_id == station_id, RefusedEvent.seq >= min(by_seq), RefusedEvent.seq <= max(by_seq),
        RefusedEvent.accepted_at.is_(None)))}
    reused = sorted([seq for seq, event_id in existing.items() if by_seq[seq].id != event_id]
                    + [seq for seq, row in held.items() if seq not in existing and by_seq[seq].id != row.event_id])
    if reused:  # a replay carries the same ids; other ids under known seqs are new events (a re-imaged station)
        top = int(session.scalar(select(func.max(Event.seq)).where(Event.station_id == station_id)) or 0)
        log.warning("ingest.seq_reused station=%s seqs=%d first=%d acked=%d max=%d", station_id, len(reused),
                    reused[0], station.acked_seq, top)
        raise SeqReused(f"seq {reused[0]} is stored with another event id ({len(reused)} such in this batch):"
                        " number new events after max_seq", field=f"events.seq={reused[0]}",
                        extra={"acked_seq": station.acked_seq, "max_seq": top, "reused": len(reused)})
    first = min(by_seq)
    if first > station.acked_seq + 1 and station.upload_problem != "gap":
        # A station sends from its lowest unconfirmed seq: starting past ours means it had our ack for events
        # we no longer have (the database was restored from an older backup). Its uploader resends them.
        _set_problem(session, station, "gap", now, {"acked_seq": station.acked_seq, "first_seq": first})
    fresh: list[Envelope] = []
    late: list[Envelope] = []  # quarantined at or below acked_seq, accepted now: projected here, out of order
    refused: list[Refusal] = []
    quarantined: set[int] = set()
    for seq, ev in sorted(by_seq.items()):
        if seq in existing:
            continue
        if seq in bad:
            refused.append(_quarantine(session, station_id, ev, bad[seq], held.get(seq), now))
            quarantined.add(seq)
        elif seq in held:
            held[seq].accepted_at = now
            audit.record(session, f"station:{station_id}", "upload.accepted", f"event:{station_id}#{seq}", at=now,
                         type=ev.type, refusals=held[seq].refusals)
            log.info("ingest.refused_accepted station=%s seq=%d type=%s", station_id, seq, ev.type)
            (late if seq <= station.acked_seq else fresh).append(ev)
        elif seq > station.acked_seq:
            fresh.append(ev)
    if fresh or late:
        session.connection().execute(insert(cast(Table, Event.__table__)), [
            {"station_id": station_id, "seq": ev.seq, "event_id": ev.id, "type": ev.type, "ts": ev.ts,
             "data": ev.data, "received_at": now} for ev in [*late, *fresh]])
    for ev in late:
        _project_late(session, station_id, ev, projections)
    old = station.acked_seq
    new = _contiguous(session, station_id, old, {ev.seq for ev in fresh} | {q for q in quarantined if q > old})
    if new > old:
        _project(session, station_id, old, new, {ev.seq: ev for ev in fresh}, projections)
        station.acked_seq = new
        if station.upload_problem is not None and first <= old + 1:
            log.info("ingest.upload_recovered station=%s problem=%s acked=%d", station_id,
                     station.upload_problem, new)
            _set_problem(session, station, None, now, None)
    log.debug("ingest.batch station=%s got=%d new=%d acked=%d refused=%d", station_id, len(batch.events),
              len(fresh), new, len(refused))
    return IngestResult(new, refused)


def _quarantine(session: Session, station_id: str, ev: Envelope, why: EventInvalid, row: RefusedEvent | None,
                now: float) -> Refusal:
    """Keep the refused event with its reason (once per seq; a resend still refused counts up) and alert."""
    if row is None:
        session.add(RefusedEvent(station_id=station_id, seq=ev.seq, event_id=ev.id, type=ev.type, ts=ev.ts,
                                 data=ev.data, code=why.code, field=why.field, reason=why.message[:2000],
                                 refusals=1, first_refused_at=now, last_refused_at=now))
        session.flush()
        audit.record(session, f"station:{station_id}", "upload.refused", f"event:{station_id}#{ev.seq}", at=now,
                     outcome="refused", type=ev.type, field=why.field, reason=why.message[:500])
        alerts.raise_now(session, REFUSED_ALERT, alerts.UPLOAD_SEVERITY, station_id,
                         {"seq": ev.seq, "type": ev.type, "reason": why.message[:500]}, now)
        log.warning("ingest.refused station=%s seq=%d type=%s reason=%s", station_id, ev.seq, ev.type, why.message)
    else:
        row.refusals += 1
        row.last_refused_at, row.reason, row.field = now, why.message[:2000], why.field
    return Refusal(ev.seq, ev.id, why.code, why.field, why.message)


def record_refusal(session: Session, station_id: str, batch: Batch, error: EventInvalid, now: float) -> None:
    """A station that does not park refused events (no `X-Upload-Refusals`) got the whole batch refused, as
    before; the event is still quarantined and alerted, in a transaction of its own, so ops see why that
    station's uploads stand still."""
    seq = error.extra.get("seq")
    ev = next((e for e in batch.events if e.seq == seq), None)
    if ev is None or session.get(Station, station_id) is None or session.scalar(
            select(Event.seq).where(Event.station_id == station_id, Event.seq == ev.seq)) is not None:
        return
    row = session.get(RefusedEvent, (station_id, ev.seq))
    if row is not None and (row.accepted_at is not None or row.event_id != ev.id):
        return
    _quarantine(session, station_id, ev, error, row, now)


def _project_late(session: Session, station_id: str, ev: Envelope, projections: Mapping[str, ProjectionSpec]) -> None:
    """A quarantined event accepted after the station's later events were projected (returns pair by the
    item's timeline, so a late one lands where it belongs)."""
    spec = projections.get(ev.type)
    if spec is None:
        return
    if spec.batch is not None:
        _apply_run(session, station_id, spec.batch, [ev], projections)
    else:
        _apply_one(session, station_id, spec.fn, ev)


def _set_problem(session: Session, station: Station, kind: str | None, now: float,
                 detail: dict[str, Any] | None) -> None:
    if kind is not None:
        log.warning("ingest.upload_problem station=%s kind=%s detail=%s", station.station_id, kind, detail)
    station.upload_problem, station.upload_problem_at, station.upload_problem_detail = kind, now, detail
    if kind is not None:
        alerts.raise_now(session, f"upload_{kind}", alerts.UPLOAD_SEVERITY, station.station_id, detail or {}, now)


def record_seq_reused(session: Session, station_id: str, error: SeqReused, now: float) -> None:
    """The refused batch's transaction is rolled back; the problem is written in one of its own."""
    station = session.get(Station, station_id)
    if station is not None:
        _set_problem(session, station, "seq_reused", now, {**error.extra, "field": error.field})


def _received_above(station_id: str, seq: int) -> Any:
    """The station's seqs above `seq` the centre has: stored events and events held in quarantine."""
    return union(select(Event.seq.label("seq")).where(Event.station_id == station_id, Event.seq > seq),
                 select(RefusedEvent.seq.label("seq")).where(RefusedEvent.station_id == station_id,
                                                             RefusedEvent.seq > seq,
                                                             RefusedEvent.accepted_at.is_(None))).subquery()


def _contiguous(session: Session, station_id: str, acked: int, fresh: set[int]) -> int:
    # Fast path: the batch itself continues the run and nothing was parked beyond it before.
    run = acked
    while run + 1 in fresh:
        run += 1
    if run != acked and run - acked == len(fresh):
        beyond = session.scalar(select(func.min(_received_above(station_id, run).c.seq)))
        if beyond is None or beyond != run + 1:
            return run
    above = _received_above(station_id, acked)
    stored = session.scalars(select(above.c.seq).order_by(above.c.seq)).all()
    run = acked
    for seq in stored:
        if seq != run + 1:
            break
        run = seq
    return run


def _project(session: Session, station_id: str, old: int, new: int, fresh: dict[int, Envelope],
             projections: Mapping[str, ProjectionSpec]) -> None:
    missing = [seq for seq in range(old + 1, new + 1) if seq not in fresh]
    parked: dict[int, Envelope] = {}
    if missing:
        rows = session.execute(select(Event.seq, Event.event_id, Event.type, Event.ts, Event.data).where(
            Event.station_id == station_id, Event.seq > old, Event.seq <= new)).all()
        parked = {r.seq: Envelope.model_construct(seq=r.seq, id=r.event_id, type=r.type, ts=r.ts, data=r.data)
                  for r in rows if r.seq not in fresh}
    run: list[Envelope] = []
    run_fn: BatchProjection | None = None
    for seq in range(old + 1, new + 1):
        ev = fresh.get(seq) or parked.get(seq)
        if ev is None:  # held in quarantine (refused_events): never projected while refused
            continue
        spec = projections.get(ev.type)
        if spec is None:
            continue
        if spec.batch is not None and spec.batch is run_fn:
            run.append(ev)
            continue
        if run_fn is not None:
            _apply_run(session, station_id, run_fn, run, projections)
        run, run_fn = ([ev], spec.batch) if spec.batch is not None else ([], None)
        if spec.batch is None:
            _apply_one(session, station_id, projections[ev.type].fn, ev)
    if run_fn is not None:
        _apply_run(session, station_id, run_fn, run, projections)


def _apply_run(session: Session, station_id: str, fn: BatchProjection, run: list[Envelope],
               projections: Mapping[str, ProjectionSpec]) -> None:
    try:
        with session.begin_nested():
            fn(session, station_id, run)
    except Exception:  # one bad event must not wedge a station's uploads: retry the run event by event
        log.exception("projection.batch_failed station=%s first_seq=%d", station_id, run[0].seq)
        for ev in run:
            _apply_one(session, station_id, projections[ev.type].fn, ev)


def _apply_one(session: Session, station_id: str, fn: Projection, ev: Envelope) -> None:
    try:
        with session.begin_nested():
            fn(session, station_id, ev)
    except Exception as exc:  # stored, recorded and alerted instead of failing every later upload
        log.exception("projection.failed station=%s seq=%d type=%s", station_id, ev.seq, ev.type)
        session.add(ProjectionFailure(station_id=station_id, seq=ev.seq, type=ev.type,
                                      error=f"{type(exc).__name__}: {exc}"[:1000], at=time.time()))


def station_events(session: Session, station_id: str, limit: int = 100) -> list[dict[str, Any]]:
    rows = session.scalars(select(Event).where(Event.station_id == station_id)
                           .order_by(Event.seq.desc()).limit(limit)).all()
    return [{"seq": e.seq, "id": e.event_id, "type": e.type, "ts": e.ts, "data": e.data} for e in rows]
