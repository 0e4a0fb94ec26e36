"""广播寻人 / 寻物 requests at the centre: projected from `broadcast.filed`, urgent at once, announced, closed.

A request arrives as an open alert `broadcast_request` (critical, raised by the projection itself, so the
console shows it without waiting for the next alert pass) with its own acknowledgement clock: the escalation
rule (`escalation.py`) escalates it after 5 minutes (`escalation.DEFAULT_BY_KIND`) (`CENTRAL_ESCALATE="broadcast_request=M:ROLE"`
changes it). Any desk action acknowledges it and ends the alert and its escalation. The announcement text is
prepared from a template in Chinese and English; closing purges the personal fields (`desk.retention`).
"""
from __future__ import annotations

import hmac
import logging
import os
import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from mallcommon.privacy import scrub
from mallcommon.vocabulary import COLOUR_WORDS, FOUND_WORDS, GENDER_WORDS, REQUEST_WORDS
from server_bridge.central import alerts, charts, escalation
from server_bridge.central.alerts import Finding, RuleContext
from server_bridge.central.desk import retention
from server_bridge.central.desk.models import DeskBroadcast
from server_bridge.central.desk.tickets import TicketError, code_hash
from server_bridge.central.kpis import KpiWindow, Panel, day_of
from server_bridge.central.models import Alert
from server_bridge.central.schemas import Envelope, Epoch

log = logging.getLogger(__name__)

KIND = "broadcast_request"
SEVERITY = "critical"
CODE_RE = re.compile(r"^R1\.([A-Z0-9][A-Z0-9-]{0,39})\.[A-Z2-7]{16}$")
Action = Literal["ack", "announced", "found", "closed"]
ACTIONS: tuple[str, ...] = ("ack", "announced", "found", "closed")
Short = Annotated[str, Field(max_length=100)]


class BroadcastFiled(BaseModel):
    model_config = ConfigDict(extra="allow")
    request_id: Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,39}$")]
    code: Annotated[str, Field(pattern=CODE_RE.pattern)]
    kind: Literal["child", "elder", "companion", "item"]
    traits: dict[Literal["gender", "colour", "item_category"], Annotated[str, Field(max_length=20)]] = {}
    description: Short = ""
    floor: Annotated[str, Field(pattern=r"^(B[1-9]|[1-9]F)$")]
    place: Short = ""
    last_seen_at: Epoch
    phone_masked: Annotated[str, Field(max_length=20, pattern=r"^[0-9]{3}\*{4}[0-9]{4}$")] | None = None
    lang: Literal["zh_CN", "en"] = "zh_CN"
    filed_by: Annotated[str, Field(max_length=64)] | None = None
    filed_at: Epoch


def ack_step() -> escalation.Step:
    """The acknowledgement clock: the escalation policy's step for requests (one knob for both)."""
    policy = escalation.EscalationPolicy.parse(os.environ.get("CENTRAL_ESCALATE"))
    return policy.step_for(KIND, SEVERITY) or escalation.DEFAULT_BY_KIND[KIND]


def project_filed(session: Session, station_id: str, event: Envelope) -> None:
    d = BroadcastFiled.model_validate(event.data)
    if d.code.split(".")[1] != d.request_id or session.get(DeskBroadcast, d.request_id) is not None:
        return
    session.add(DeskBroadcast(request_id=d.request_id, station_id=station_id, code_hash=code_hash(d.code),
                              kind=d.kind, traits=dict(d.traits), description=scrub(d.description), floor=d.floor,
                              place=scrub(d.place), last_seen_at=d.last_seen_at, phone_masked=d.phone_masked,
                              lang=d.lang, filed_by=d.filed_by, filed_at=d.filed_at, status="open"))
    # Urgent at once: the alert exists when the upload is answered, its clock running from the filing.
    alerts.raise_now(session, KIND, SEVERITY, station_id, {"kind": d.kind, "floor": d.floor}, d.filed_at,
                     subject=d.request_id)
    log.info("broadcast.received request=%s station=%s kind=%s", d.request_id, station_id, d.kind)


def unacknowledged(session: Session, ctx: RuleContext) -> Iterable[Finding]:
    """The alert rule: a request nobody at the desk has acknowledged yet (the escalation rule times it)."""
    for r in session.scalars(select(DeskBroadcast).where(DeskBroadcast.acknowledged_at.is_(None),
                                                         DeskBroadcast.status != "closed")):
        yield Finding(r.station_id, r.request_id, {"kind": r.kind, "floor": r.floor})


def _request(session: Session, request_id: str) -> DeskBroadcast:
    row = session.get(DeskBroadcast, request_id)
    if row is None:
        raise TicketError(404, "request_not_found", "no such request")
    return row


def act(session: Session, request_id: str, user: str, action: str, now: float) -> DeskBroadcast:
    """A desk action; the first one acknowledges the request (its alert and any escalation end)."""
    if action not in ACTIONS:
        raise TicketError(422, "bad_action", "no such action")
    row = _request(session, request_id)
    if row.status == "closed":
        raise TicketError(409, "closed", "this request is closed")
    if row.acknowledged_at is None:
        row.acknowledged_at, row.acknowledged_by = now, user
        for alert in session.scalars(select(Alert).where(Alert.kind == KIND, Alert.subject == request_id,
                                                         Alert.open_key.is_not(None))):
            alerts.resolve(session, alert.id, user, now)
            escalation.end_escalation(session, alert.id, user, now)
    if action == "announced":
        row.announced_at = row.announced_at or now
        row.status = "announced" if row.status == "open" else row.status
    elif action == "found":
        row.found_at, row.status = row.found_at or now, "found"
    elif action == "closed":
        row.closed_at, row.closed_by, row.status = now, user, "closed"
        retention.purge_row(session, retention.rule_for("request"), row, now)
    log.info("broadcast.%s request=%s by=%s", action, request_id, user)
    return row


def for_code(session: Session, code: str) -> DeskBroadcast:
    """The request a ticket QR belongs to; a code that does not match exactly is 'not found'."""
    m = CODE_RE.match(code or "")
    row = session.get(DeskBroadcast, m.group(1)) if m else None
    if row is None or not hmac.compare_digest(row.code_hash, code_hash(code)):
        raise TicketError(404, "request_not_found", "no such request (yet)")
    return row


def public(row: DeskBroadcast) -> dict[str, Any]:
    """What a station and the shopper's phone may see: no names, no number, no description."""
    return {"request_id": row.request_id, "status": row.status, "kind": row.kind, "floor": row.floor,
            "created_at": row.filed_at, "acknowledged": row.acknowledged_at is not None}


# The announcement, from a template (zh first, then en): no phone number, no surname; the place to go is the
# station's service desk.
TEMPLATES = {
    "person": ("广播寻人：一位{who}{looks}，约{ago}分钟前在{floor}{place}与家人走散。"
               "请这位{who}或见到的顾客到{desk}，或告知身边的工作人员。谢谢！",
               "Attention please: we are looking for a {who_en}{looks_en}, last seen on {floor}{place_en} about "
               "{ago} minutes ago. If you see them, please bring them to the {desk_en} or tell any "
               "member of staff. Thank you."),
    "item": ("广播寻物：有顾客约{ago}分钟前在{floor}{place}遗失{what}{desc}。拾到者请送至{desk}。谢谢！",
             "Attention please: a {what_en}{desc_en} was lost on {floor}{place_en} about {ago} minutes ago. If you "
             "found it, please bring it to the {desk_en}. Thank you."),
}


@dataclass(frozen=True)
class Announcement:
    zh: str
    en: str


def desk_names(station_id: str, name: str = "") -> tuple[str, str]:
    """Where to go, in each language, from the station's registered name ("1F 南门服务台 South gate desk")."""
    m = re.match(r"^(.*?[^\x00-\x7f].*?)\s+([A-Za-z][\x20-\x7e]*)$", name or "")
    if m:
        return m.group(1), f"{m.group(2)} (station {station_id})"
    return f"{station_id}服务台", f"service desk at {station_id}"


def announcement(row: DeskBroadcast, now: float, station_name: str = "") -> Announcement:
    t = row.traits or {}
    desk, desk_en = desk_names(row.station_id, station_name)
    ago = max(0, round((now - row.last_seen_at) / 60))
    desc = scrub(row.description)
    place = scrub(row.place)
    if row.kind == "item":
        what = FOUND_WORDS.get(t.get("item_category", "other"), ("物品", "item"))
        zh_t, en_t = TEMPLATES["item"]
        return Announcement(
            zh_t.format(ago=ago, floor=row.floor, place=place, what=what[0], desc=f"（{desc}）" if desc else "",
                        desk=desk),
            en_t.format(ago=ago, floor=row.floor, place_en=f", near {place}" if place else "", what_en=what[1].lower(),
                        desc_en=f" ({desc})" if desc else "", desk_en=desk_en))
    who = REQUEST_WORDS[row.kind]
    gender = GENDER_WORDS.get(t.get("gender", ""), ("", ""))
    colour = COLOUR_WORDS.get(t.get("colour", ""), ("", ""))
    looks = "".join(x for x in (f"，{gender[0]}" if gender[0] else "", f"，身穿{colour[0]}衣服" if colour[0] else "",
                                f"，{desc}" if desc else ""))
    looks_en = "".join(x for x in (f", {gender[1].lower()}" if gender[1] else "",
                                   f", wearing {colour[1].lower()}" if colour[1] else "", f" ({desc})" if desc else ""))
    zh_t, en_t = TEMPLATES["person"]
    return Announcement(
        zh_t.format(who=who[0], looks=looks, ago=ago, floor=row.floor, place=place, desk=desk),
        en_t.format(who_en=who[1].lower(), looks_en=looks_en, ago=ago, floor=row.floor,
                    place_en=f", near {place}" if place else "", desk_en=desk_en))


def kpi(session: Session, w: KpiWindow, tr: Callable[..., str]) -> Panel:
    """Requests per day (by kind) and how long they took to close (median minutes per day)."""
    counts: Counter[tuple[str, str]] = Counter()
    to_close: dict[str, list[float]] = {}
    for filed_at, kind, closed_at in session.execute(
            select(DeskBroadcast.filed_at, DeskBroadcast.kind, DeskBroadcast.closed_at)
            .where(DeskBroadcast.filed_at >= w.since)).tuples():
        day = day_of(filed_at)
        counts[(day, kind)] += 1
        if closed_at is not None:
            to_close.setdefault(day, []).append((closed_at - filed_at) / 60)
    labels = w.day_labels()
    kinds = list(REQUEST_WORDS)
    series = {k: [float(counts[(d, k)]) for d in labels] for k in kinds}
    rows = [{"day": d, **{k: counts[(d, k)] for k in kinds}, "closed": len(to_close.get(d, [])),
             "median_close_min": round(statistics.median(to_close[d]), 1) if to_close.get(d) else None}
            for d in labels]
    closed = [m for ms in to_close.values() for m in ms]
    summary = f"{sum(counts.values())}"
    if closed:
        summary += f" · {tr('close_min')} {statistics.median(closed):.0f}"
    return Panel("requests", "kpi.requests", charts.stacked_bars(labels, series, {k: tr(f"req.{k}") for k in kinds}),
                 rows, summary)
