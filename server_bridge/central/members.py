"""Members at the centre: the station's member lookup (rate-limited per station), points changes from
stations (bounded by policy), and the idempotent demo seed.

Why look-ups are rate-limited per station rather than gated on the member's own code: the member code's MAC
is keyed by a secret derived from the *site key every station holds*, so a station that is taken over can mint
a valid code for any member id anyway; checking codes at the centre would stop only a token used away from
its station, at the price of copying the site key to the centre too. What the limit does stop is the bulk
read a stolen token allows today: a kiosk serves one member every half minute or so and caches each answer
for 10 minutes, so 20 look-ups a minute is ample, while 100 ids in 0.1 s is refused after the 20th; a
station that asks for 10 unknown ids within 10 minutes (sequential guessing) is refused all look-ups for
15 minutes, audited, and raises the `member_enumeration` alert.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mallcommon.privacy import mask_phone
from server_bridge.central import audit
from server_bridge.central import projections as core
from server_bridge.central.alerts import Finding, RuleContext
from server_bridge.central.db import Database
from server_bridge.central.errors import CentralError, NotFound
from server_bridge.central.fleet import add_station, register_station
from server_bridge.central.models import Member, MemberVisit, PointsEntry
from server_bridge.central.registry import Registry
from server_bridge.central.schemas import Envelope, MemberView, Visit

DEMO_STATIONS = [("K01", "1F 南门服务台 South gate desk"), ("K02", "B1 停车场入口 Car park entrance")]
DEMO_MEMBERS = [
    ("M10001", "王小明", "13800138000", "gold", 12800),
    ("M10002", "李华", "13912345678", "silver", 3400),
    ("M10003", "Emily Chen", "15000001111", "platinum", 56000),
    ("M10004", "张伟", "18612340000", "regular", 120),
]


def mask_name(name: str) -> str:
    """王小明 → 王**, Emily Chen → E*** C***: enough to greet, not enough to identify."""
    parts = name.split()
    if len(parts) > 1:
        return " ".join(p[0] + "*" * (len(p) - 1) for p in parts)
    return name[:1] + "*" * max(1, len(name) - 1)


def member_view(session: Session, member_id: str, visits: int = 5) -> MemberView:
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound("unknown member")
    recent = session.scalars(select(MemberVisit).where(MemberVisit.member_id == member_id)
                             .order_by(MemberVisit.at.desc()).limit(visits)).all()
    return MemberView(member_id=member.member_id, level=member.level, points=member.points,
                      name_masked=mask_name(member.name),
                      phone_masked=mask_phone(member.phone) if member.phone else None,
                      recent_visits=[Visit(station_id=v.station_id, at=v.at, kind=v.kind) for v in recent])


def seed_demo(session: Session, now: float, issue_tokens: bool = True) -> dict[str, str]:
    """Demo stations and members; a rerun changes nothing. Returns {station: token} for the stations it
    created; with `issue_tokens=False` they get none and `add-station` claims them later (make run)."""
    tokens: dict[str, str] = {}
    for station_id, name in DEMO_STATIONS:
        if register_station(session, station_id, now, name) and issue_tokens:
            tokens[station_id] = add_station(session, station_id, now, name=name)
    for member_id, name, phone, level, points in DEMO_MEMBERS:
        if session.get(Member, member_id) is None:
            session.add(Member(member_id=member_id, name=name, phone=phone, level=level, points=points,
                               created_at=now))
    return tokens


# look-ups ---------------------------------------------------------------------------------------------
class LookupRefused(CentralError):
    code = "too_many_lookups"
    status = 429


@dataclass
class MemberLookupGuard:
    """Per-station token bucket plus an unknown-id counter (in memory, per API instance)."""
    per_minute: int = 20
    unknown_limit: int = 10
    unknown_window_s: float = 600.0
    block_s: float = 900.0
    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _tokens: dict[str, tuple[float, float]] = field(default_factory=dict)  # station -> (tokens, at)
    _unknown: dict[str, deque[float]] = field(default_factory=dict)
    _blocked_until: dict[str, float] = field(default_factory=dict)
    _noted: dict[str, float] = field(default_factory=dict)

    def note_refusal(self, station_id: str) -> bool:
        """True at most once a minute per station, so a flood of refused look-ups is one audit entry a minute."""
        now = self.clock()
        with self._lock:
            if now - self._noted.get(station_id, -1e18) < 60.0:
                return False
            self._noted[station_id] = now
            return True

    def admit(self, station_id: str) -> None:
        """Raises LookupRefused when this station is over its rate or blocked for guessing."""
        now = self.clock()
        with self._lock:
            if self._blocked_until.get(station_id, 0.0) > now:
                raise LookupRefused("member look-ups from this station are paused (too many unknown ids)")
            tokens, at = self._tokens.get(station_id, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - at) * self.per_minute / 60.0)
            if tokens < 1.0:
                self._tokens[station_id] = (tokens, now)
                raise LookupRefused("too many member look-ups from this station; try again in a few seconds")
            self._tokens[station_id] = (tokens - 1.0, now)

    def unknown(self, station_id: str) -> bool:
        """Counts an unknown id; True when this one tips the station into a block."""
        now = self.clock()
        with self._lock:
            q = self._unknown.setdefault(station_id, deque())
            q.append(now)
            while q and q[0] < now - self.unknown_window_s:
                q.popleft()
            if len(q) >= self.unknown_limit:
                q.clear()
                self._blocked_until[station_id] = now + self.block_s
                return True
            return False


def guarded_member_view(db: Database, guard: MemberLookupGuard, station_id: str, member_id: str,
                        now: float) -> MemberView:
    """A station's look-up through the guard; refusals are audited in their own transaction."""
    actor, where = f"station:{station_id}", f"station:{station_id}"
    try:
        guard.admit(station_id)
    except LookupRefused as exc:
        if guard.note_refusal(station_id):
            with db.session() as session:
                audit.record(session, actor, "member.lookup_refused", f"member:{member_id}"[:120], ip=where,
                             outcome="refused", at=now, why=exc.message)
        raise
    try:
        with db.session() as session:
            return member_view(session, member_id)
    except NotFound:
        if guard.unknown(station_id):
            with db.session() as session:
                audit.record(session, actor, "member.lookup_refused", "enumeration", ip=where, outcome="refused",
                             at=now, why=f"{guard.unknown_limit} unknown member ids within "
                                        f"{int(guard.unknown_window_s)} s")
        raise


# points ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PointsPolicy:
    """What a station may do to a member's points. No station software awards points today (parking is the
    only spend), so awards are small and capped per station per day; anything outside is not applied,
    audited (`points.refused`) and raised as the `points_refused` alert."""
    award_max: int = 200  # per event (e.g. a survey reward)
    deduct_max: int = 5_000  # per event
    station_awards_per_day: int = 5_000
    parking_points_per_hour_max: int = 500
    parking_hours_max: int = 24


POLICY = PointsPolicy()


def _refuse(session: Session, station_id: str, event: Envelope, member_id: str, why: str, **detail: Any) -> None:
    audit.record(session, f"station:{station_id}", "points.refused", f"member:{member_id}", ip=f"station:{station_id}",
                 outcome="refused", seq=event.seq, type=event.type, event_at=core.event_epoch(event), why=why,
                 **detail)  # `at` is when the centre refused it; the alert looks at the last day of refusals


def project_points_bounded(session: Session, station_id: str, event: Envelope, policy: PointsPolicy = POLICY) -> None:
    d = core.PointsChanged.model_validate(event.data)
    if not -policy.deduct_max <= d.delta <= policy.award_max:
        _refuse(session, station_id, event, d.member_id, "delta outside policy", delta=d.delta, reason=d.reason)
        return
    if d.delta > 0:
        since = core.event_epoch(event) - 86_400
        awarded = session.scalar(select(func.coalesce(func.sum(PointsEntry.delta), 0)).where(
            PointsEntry.station_id == station_id, PointsEntry.delta > 0, PointsEntry.at >= since)) or 0
        if awarded + d.delta > policy.station_awards_per_day:
            _refuse(session, station_id, event, d.member_id, "station's daily award cap reached", delta=d.delta,
                    awarded_today=int(awarded))
            return
    core.project_points(session, station_id, event)


def project_parking_bounded(session: Session, station_id: str, event: Envelope,
                            policy: PointsPolicy = POLICY) -> None:
    d = core.ParkingRedeemed.model_validate(event.data)
    if d.hours > policy.parking_hours_max or d.points > d.hours * policy.parking_points_per_hour_max:
        _refuse(session, station_id, event, d.member_id, "parking redemption outside policy", points=d.points,
                hours=d.hours)
        return
    core.project_parking(session, station_id, event)


ALERT_WINDOW_S = 86_400.0


def _refusals(action: str, subject: Callable[[audit.AuditEntry], str]) -> Callable[[Session, RuleContext],
                                                                                    Iterable[Finding]]:
    def rule(session: Session, ctx: RuleContext) -> Iterable[Finding]:
        rows = session.scalars(select(audit.AuditEntry).where(audit.AuditEntry.action == action,
                                                              audit.AuditEntry.at >= ctx.now - ALERT_WINDOW_S))
        for row in rows:
            if row.actor.startswith("station:"):
                yield Finding(row.actor[8:], subject(row), {"detail": row.detail[:200]})
    return rule


def register(reg: Registry) -> None:
    """Points from stations go through the policy; refusals and look-up abuse are alerts for a day."""
    reg.projection("points.changed", project_points_bounded, core.PointsChanged)
    reg.projection("parking.redeemed", project_parking_bounded, core.ParkingRedeemed)
    reg.alert_rule("points_refused", _refusals("points.refused", lambda r: r.target), "critical")
    reg.alert_rule("member_enumeration", _refusals("member.lookup_refused", lambda r: "lookups"), "critical")
