"""Retention of the desk's personal data at the centre: the projected rows and the stored events' copies.

Same shape as the station's `kiosk.services.retention`: one `PurgeRule` per kind says which rows are due, which
columns to clear, and which stored events (`events.data`) carry copies of those fields. `run(session, now)` is a
chore of the alert engine (`Registry.chore`, once a minute); `purge_row` purges one row at once (a request as it
closes). Every purged row gets `purged_at`, so it is purged once.

To add a kind (storage incidents, lost-tag records …): a `purged_at` column on its model (a migration) and a
`PurgeRule` appended to `RULES`.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from server_bridge.central.desk.duties import DeskStorageIncident
from server_bridge.central.desk.models import DeskBroadcast, DeskFoundItem, DeskLostReport
from server_bridge.central.models import Event

log = logging.getLogger(__name__)

DAY = 86_400.0


@dataclass(frozen=True)
class PurgeRule:
    kind: str
    model: Any  # a mapped class with `station_id` and `purged_at`
    key: str  # primary key attribute, also the key naming the row in its events' data
    due: Callable[[float], ColumnElement[bool]]
    clear: Mapping[str, object]
    events: tuple[str, ...] = ()
    event_fields: tuple[str, ...] = ()


FOUND_ITEM_DAYS = 30.0  # as at the station: a found item's description goes when it leaves the desk, or then
LOST_REPORT_DAYS = 7.0
REQUEST_DAYS = 2.0  # a request the desk never closed (closing purges at once)
STORAGE_INCIDENT_DAYS = 90.0  # as the station's policy.retention_days: lost tag, overnight, damage records

RULES: list[PurgeRule] = [
    PurgeRule("found_item", DeskFoundItem, "item_id",
              lambda now: or_(DeskFoundItem.status.in_(("claimed", "handed_over")),
                              DeskFoundItem.found_at <= now - FOUND_ITEM_DAYS * DAY),
              {"description": ""}, ("lostfound.registered",), ("description",)),
    PurgeRule("lost_report", DeskLostReport, "report_id",
              lambda now: DeskLostReport.lost_at <= now - LOST_REPORT_DAYS * DAY,
              {"phone_masked": None, "description": ""}, ("lostfound.reported",), ("phone_masked", "description")),
    PurgeRule("request", DeskBroadcast, "request_id",
              lambda now: or_(DeskBroadcast.status == "closed", DeskBroadcast.filed_at <= now - REQUEST_DAYS * DAY),
              {"phone_masked": None, "description": "", "place": "", "traits": {}}, ("broadcast.filed",),
              ("phone_masked", "description", "place", "traits")),
    PurgeRule("storage_incident", DeskStorageIncident, "incident_id",
              lambda now: DeskStorageIncident.at <= now - STORAGE_INCIDENT_DAYS * DAY,
              {"contents": None, "id_masked": None, "photos": []}, ("storage.incident",),
              ("contents", "id_masked", "photos_jpeg_b64")),
]


def rule_for(kind: str) -> PurgeRule:
    return next(r for r in RULES if r.kind == kind)


def purge_row(session: Session, rule: PurgeRule, row: Any, now: float) -> None:
    """Clear one row's personal fields and their copies in the stored events (in the caller's transaction)."""
    for column, value in rule.clear.items():
        setattr(row, column, value)
    row.purged_at = now
    key = getattr(row, rule.key)
    if rule.events:
        stored = session.scalars(select(Event).where(Event.station_id == row.station_id,
                                                     Event.type.in_(rule.events),
                                                     Event.data[rule.key].as_string() == key))
        for event in stored:
            event.data = {k: v for k, v in event.data.items() if k not in rule.event_fields}


def run(session: Session, now: float, rules: Sequence[PurgeRule] = RULES) -> dict[str, int]:
    """One pass over every rule; returns how many rows of each kind were purged."""
    done: dict[str, int] = {}
    for rule in rules:
        rows = session.scalars(select(rule.model).where(rule.model.purged_at.is_(None), rule.due(now))
                               .limit(1000)).all()
        for row in rows:
            purge_row(session, rule, row, now)
        done[rule.kind] = len(rows)
    if any(done.values()):
        log.info("desk.retention_purged %s", " ".join(f"{k}={n}" for k, n in done.items() if n))
    return done
