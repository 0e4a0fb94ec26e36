"""Members at the centre: the station's member lookup and the idempotent demo seed."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallcommon.privacy import mask_phone
from server_bridge.central.errors import NotFound
from server_bridge.central.fleet import add_station, register_station
from server_bridge.central.models import Member, MemberVisit
from server_bridge.central.schemas import MemberView, Visit

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
