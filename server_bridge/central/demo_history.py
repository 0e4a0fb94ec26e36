"""A month of realistic demo history for `seed-demo --days N`, written through the stations' own ingest.

Per demo station and day: lendings with a daily rhythm (lunch and evening peaks, more at weekends and on
rainy days for umbrellas), returns after a plausible time (a few late, with fees; a few bought), ratings
after borrowing, complaints by category and floor answered and closed within (or past) their SLA, and the
odd device repair. Events are enveloped exactly as a station sends them and go through `ingest_batch`
with the centre's projections, so every panel reads what a real fleet would have produced. Seeded
random (repeatable); a station that already holds demo history is skipped (a rerun changes nothing).

The history belongs to two stations of its own (H01, H02, registered without tokens): history written
under K01's seq numbers would collide with the real K01's first upload (`upload_seq_reused`).
"""
from __future__ import annotations

import math
import random
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from mallcommon.vocabulary import COMPLAINT_CATEGORIES
from server_bridge.central.db import Database
from server_bridge.central.desk import broadcasts
from server_bridge.central.desk.models import DeskBroadcast
from server_bridge.central.fleet import register_station
from server_bridge.central.ingest import ingest_batch
from server_bridge.central.models import Event, Station
from server_bridge.central.registry import ProjectionSpec
from server_bridge.central.schemas import Batch

PREFIX = "demo-hist"
HOURLY = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0.3, 0.8, 1.2, 2.2, 2.0, 1.2, 0.9, 1.0, 1.4, 2.3, 2.5, 1.8, 1.0, 0.4, 0]
# The stations' own vocabulary (a category outside it would show raw on the heat map).
CATEGORIES = list(zip(COMPLAINT_CATEGORIES, [4, 5, 3, 2, 3, 1], strict=True))
FLOORS = [("B1", 2), ("1F", 4), ("2F", 3), ("3F", 3), ("4F", 1)]
MEMBERS = ["M10001", "M10002", "M10003", "M10004", None, None]
DEVICES = ["printer", "UL1", "PB1", "camera"]


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([w for w, _ in weighted], [n for _, n in weighted])[0]


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(epoch * 1000) % 1000:03d}Z"


class _Station:
    def __init__(self, station_id: str, first_seq: int) -> None:
        self.station_id, self.seq, self.events = station_id, first_seq - 1, []  # type: ignore[var-annotated]

    def add(self, at: float, type_: str, data: dict[str, Any]) -> None:
        self.seq += 1
        self.events.append({"seq": self.seq, "id": f"{PREFIX}-{self.station_id}-{self.seq:08d}", "type": type_,
                            "ts": _iso(at), "data": data})


def history_for(station_id: str, first_seq: int, days: int, now: float, rng: random.Random,
                busy: float = 1.0) -> list[dict[str, Any]]:
    """Envelopes for one station, in time order, seq from `first_seq`."""
    st = _Station(station_id, first_seq)
    planned: list[tuple[float, str, dict[str, Any]]] = []
    start_day = math.floor(now / 86_400) - days  # whole UTC days; the mall's day shifts by 8 h, harmless here
    n = 0
    for d in range(days):
        day0 = (start_day + d) * 86_400
        weekday = datetime.fromtimestamp(day0, UTC).weekday()
        rainy = rng.random() < 0.3
        scale = busy * (1.5 if weekday >= 5 else 1.0)
        for hour, weight in enumerate(HOURLY):
            local_hour_start = day0 + (hour - 8) * 3600  # HOURLY is in Shanghai time (UTC+8)
            for _ in range(_poisson(rng, weight * scale * 1.6)):
                n += 1
                started = local_hour_start + rng.uniform(0, 3600)
                if started > now - 600:
                    continue
                kind = "umbrella" if rng.random() < (0.7 if rainy else 0.35) else "power_bank"
                lid, item = f"DL{station_id}{n:05d}", f"{'U' if kind == 'umbrella' else 'P'}-{rng.randint(1, 24):03d}"
                member = rng.choice(MEMBERS)
                due = started + (86_400 if kind == "umbrella" else 4 * 3600)
                planned.append((started, "lending.started", {
                    "lending_id": lid, "member_id": member, "item_type": kind, "item_id": item,
                    "station_id": station_id, "started_at": started, "due_at": due}))
                fate = rng.random()
                if fate < 0.03:
                    planned.append((started + 3 * 86_400, "lending.bought", {
                        "lending_id": lid, "item_id": item, "member_id": member,
                        "price_cents": 3900 if kind == "umbrella" else 9900}))
                else:
                    late = fate > 0.93
                    held = (due - started) * (rng.uniform(1.05, 2.0) if late else rng.uniform(0.05, 0.9))
                    back = started + held
                    if back < now:
                        planned.append((back, "lending.returned", {
                            "lending_id": lid, "item_id": item, "item_type": kind, "member_id": member,
                            "station_id": station_id, "returned_at": back, "duration_s": held,
                            "fee_cents": 500 if late else 0}))
                if rng.random() < 0.35:
                    score = rng.choices([5, 4, 3, 2, 1], [62, 24, 8, 4, 2])[0]
                    planned.append((started + 20, "survey.rated", {"flow": "borrow", "score": score,
                                                                   "lang": rng.choice(["zh_CN", "zh_CN", "en"])}))
        for c in range(_poisson(rng, 1.1 * busy)):
            filed = day0 + rng.uniform(2 * 3600, 13 * 3600)  # 10:00-21:00 in Shanghai
            if filed > now - 600:
                continue
            cid = f"DC{station_id}{d:03d}{c}"
            planned.append((filed, "complaint.filed", {
                "complaint_id": cid, "category": _pick(rng, CATEGORIES), "floor": _pick(rng, FLOORS),
                "text": "演示投诉 demo complaint", "rating": rng.randint(1, 3), "filed_at": filed}))
            answered = filed + rng.choice([rng.uniform(300, 3000)] * 4 + [rng.uniform(3700, 9000)])
            if answered < now:
                planned.append((answered, "complaint.answered", {"complaint_id": cid, "at": answered,
                                                                 "by": rng.choice(["ops-li", "ops-wang", "desk-zhao"])}))
                closed = answered + rng.choice([rng.uniform(1800, 20_000)] * 5 + [rng.uniform(90_000, 150_000)])
                if closed < now:
                    planned.append((closed, "complaint.closed", {"complaint_id": cid, "at": closed}))
        if rng.random() < 0.12:
            at = day0 + rng.uniform(1 * 3600, 12 * 3600)
            if at < now:
                planned.append((at, "maintenance.logged", {
                    "staff_id": "S-001", "action": rng.choice(["repair", "service", "check"]),
                    "device": rng.choice(DEVICES), "note": "演示记录 demo record"}))
    planned += requests_for(station_id, start_day, days, now)
    planned += duties_for(station_id, start_day, days, now)
    for at, type_, data in sorted(planned, key=lambda p: p[0]):
        st.add(at, type_, data)
    return st.events


REQUEST_KINDS = [("child", 5), ("elder", 2), ("companion", 1), ("item", 3)]


def requests_for(station_id: str, start_day: int, days: int, now: float) -> list[tuple[float, str, dict[str, Any]]]:
    """A few 广播寻人 / 寻物 requests (about one every three days; a random stream of their own, so the rest of
    the history stays what it was). `close_history_requests` closes them afterwards, as the desk would."""
    rng = random.Random(f"{station_id}-requests")
    out: list[tuple[float, str, dict[str, Any]]] = []
    for d in range(days):
        if rng.random() > 0.35:
            continue
        filed = (start_day + d) * 86_400 + rng.uniform(2 * 3600, 13 * 3600)
        if filed > now - 3600:
            continue
        kind = _pick(rng, REQUEST_KINDS)
        rid = f"{station_id}-RD{d:03d}"
        traits = ({"item_category": rng.choice(["bag", "phone", "wallet", "keys"])} if kind == "item" else
                  {"gender": rng.choice(["male", "female"]), "colour": rng.choice(["red", "blue", "yellow"])})
        out.append((filed, "broadcast.filed", {
            "request_id": rid, "code": f"R1.{rid}.DEMODEMODEMODEMO", "kind": kind, "traits": traits,
            "floor": _pick(rng, FLOORS), "place": "", "last_seen_at": filed - rng.choice([300, 900, 1800]),
            "phone_masked": "138****0000", "lang": "zh_CN", "filed_by": None, "filed_at": filed}))
    return out


SUPPLIES = {"first_aid_kit": ("returnable", 1, 2), "sewing_kit": ("free", 3, 20), "plasters": ("consumable", 10, 50)}


def duties_for(station_id: str, start_day: int, days: int, now: float) -> list[tuple[float, str, dict[str, Any]]]:
    """The desk's written duties (issue 17): supplies handed out and restocked, the daily count-and-condition
    check (missed now and then), a shift handover each afternoon and a storage incident every few days — a random
    stream of their own, so the rest of the history stays what it was."""
    rng = random.Random(f"{station_id}-duties")
    out: list[tuple[float, str, dict[str, Any]]] = []
    stock = {item: full for item, (_kind, _low, full) in SUPPLIES.items()}
    n = 0

    def move(at: float, item: str, delta: int, reason: str) -> None:
        nonlocal n
        n += 1
        kind, low, full = SUPPLIES[item]
        stock[item] += delta
        out.append((at, "supplies.moved", {
            "move_id": f"{station_id}-SM{n:05d}", "item": item, "kind": kind, "where": "desk", "delta": delta,
            "reason": reason, "stock": stock[item], "out": 0, "low_at": low, "full": full, "by": "S-001",
            "at": at}))

    for d in range(days):
        day0 = (start_day + d) * 86_400
        if day0 + 14 * 3600 > now:
            break
        for item, (_kind, low, full) in SUPPLIES.items():
            for _ in range(_poisson(rng, {"first_aid_kit": 0.3, "sewing_kit": 1.2, "plasters": 2.5}[item])):
                if stock[item] > 0:
                    move(day0 + rng.uniform(2 * 3600, 12 * 3600), item, -1, "handout")
            if stock[item] <= low and rng.random() < 0.6:
                move(day0 + 12.5 * 3600, item, full - stock[item], "restock")
        if rng.random() < 0.85:  # the 充足与完好 check, 09:30 in Shanghai
            at = day0 + 1.5 * 3600
            out.append((at, "supplies.checked", {
                "staff_id": "S-001", "at": at, "next_due_at": at + 86_400,
                "items": [{"item": i, "count": stock[i], "condition": "ok"} for i in SUPPLIES]}))
        at = day0 + 6 * 3600 + rng.uniform(0, 900)  # 14:00 in Shanghai: the early shift hands over
        out.append((at, "shift.handover", {
            "handover_id": f"{station_id}-HO{d:03d}", "outgoing": "S-001", "incoming": "S-002", "at": at,
            "lockers": {"UL1": {"items": rng.randint(8, 24), "empty": rng.randint(0, 8), "fault": 0, "online": 1}},
            "desk": dict(stock), "supplies_used": {}, "open": {"found_held": rng.randint(0, 4)},
            "problems": [], "note": "演示交接 demo handover"}))
        if rng.random() < 0.2:
            at = day0 + rng.uniform(3 * 3600, 12 * 3600)
            kind = rng.choice(["lost_tag", "lost_tag", "damage", "overnight"])
            out.append((at, "storage.incident", {
                "incident_id": f"{station_id}-SI{d:03d}", "kind": kind, "deposit_id": f"{station_id}-DP{d:03d}",
                "locker_id": "SL1", "slot": rng.randint(1, 12), "staff_id": "S-001",
                "second_staff_id": "S-002" if kind != "lost_tag" else None,
                "contents": "演示记录 demo record", "id_masked": "**************1234" if kind == "lost_tag" else None,
                "at": at}))
    return out


def close_history_requests(db: Database, station_ids: list[str]) -> int:
    """The desk's answers to the history's requests: acknowledged in minutes, announced, mostly found, closed
    (which purges their personal details, as for live ones)."""
    rng = random.Random(20261130)
    with db.session() as s:
        rows = s.scalars(select(DeskBroadcast).where(DeskBroadcast.station_id.in_(station_ids),
                                                     DeskBroadcast.status != "closed")).all()
        for r in rows:
            at = r.filed_at + rng.uniform(40, 420)
            broadcasts.act(s, r.request_id, "desk-zhao", "announced", at)
            if rng.random() < 0.9:
                at += rng.uniform(300, 2400)
                broadcasts.act(s, r.request_id, "desk-zhao", "found", at)
            broadcasts.act(s, r.request_id, "desk-zhao", "closed", at + rng.uniform(60, 900))
    return len(rows)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


HISTORY_STATIONS = [("H01", "演示历史 · 1F 中庭 Demo history, atrium"), ("H02", "演示历史 · B1 Demo history, car park")]


def seed_history(db: Database, projections: Mapping[str, ProjectionSpec], days: int, now: float,
                 seed: int = 20261130) -> dict[str, int]:
    """Ingests `days` of history for each history station that has none yet; returns {station: events}."""
    rng = random.Random(seed)
    done: dict[str, int] = {}
    with db.session() as s:
        for station_id, name in HISTORY_STATIONS:
            register_station(s, station_id, now, name)
        stations = [(sid, s.get(Station, sid).acked_seq) for sid, _ in HISTORY_STATIONS]  # type: ignore[union-attr]
    for i, (station_id, acked) in enumerate(stations):
        with db.session() as s:
            if s.scalar(select(Event.id).where(Event.station_id == station_id,
                                               Event.event_id.like(f"{PREFIX}-%")).limit(1)) is not None:
                continue
        events = history_for(station_id, acked + 1, days, now, rng, busy=1.0 if i % 2 == 0 else 0.6)
        for chunk in range(0, len(events), 2000):
            with db.session() as s:
                ingest_batch(s, station_id, Batch.model_validate({"events": events[chunk:chunk + 2000]}), now,
                             projections)
        done[station_id] = len(events)
    close_history_requests(db, [sid for sid, _ in HISTORY_STATIONS])
    return done
