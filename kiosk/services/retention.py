"""Retention of the desk's personal data at the station: photos deleted, personal fields cleared, on time.

One `PurgeRule` per kind of record says which rows are due (an SQL condition over the row, with `:now` and
`:keep_s`), which columns to clear, which columns hold files to delete, and which outbox events carry copies of
those fields (cleared in the event's `data` too, once it has been uploaded). `Purger.run()` applies every rule
and marks each purged row with `purged_at`, so a row is purged once; a row whose event still waits in the outbox
is left for a later pass (the centre must get the request before the station forgets it).

To add a kind (e.g. storage incidents or lost-tag records): give its table a `purged_at REAL` column (a store
migration) and append a `PurgeRule` to `desk_rules()` — nothing else changes. Housekeeping runs the purger
(`kiosk.lifecycle`); the centre has the same mechanism in `server_bridge.central.desk.retention`.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kiosk.store import Store

log = logging.getLogger(__name__)

DAY = 86_400.0


@dataclass(frozen=True)
class PurgeRule:
    kind: str
    table: str
    key: str  # primary key column (and the key of the event data naming the row)
    due: str  # SQL condition over the row; may use :now and :keep_s
    keep_s: float
    clear: Mapping[str, object]  # column -> value it holds after the purge
    files: tuple[str, ...] = ()  # columns holding paths of files to delete
    file_lists: tuple[str, ...] = ()  # columns holding a JSON list of such paths (a record's several photos)
    events: tuple[str, ...] = ()  # outbox event types carrying copies of the cleared fields
    event_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetentionDays:
    """How long each kind keeps its personal data (a found item leaves the desk earlier: claimed or handed
    over, its photos go with it)."""

    found_item: float = 30
    lost_report: float = 7
    request: float = 2
    storage_incident: float = 90  # lost-tag, overnight and damage records: the station's policy.retention_days


def desk_rules(days: RetentionDays = RetentionDays()) -> list[PurgeRule]:
    return [
        # Photos (the sharp one may show a document) and the description go when the item leaves the desk
        # (claimed by its owner or handed over to security), or when its retention ends.
        PurgeRule("found_item", "desk_found_items", "item_id",
                  "(status IN ('claimed','handed_over') OR found_at <= :now - :keep_s)", days.found_item * DAY,
                  {"photo_path": None, "public_photo_path": None, "description": ""},
                  files=("photo_path", "public_photo_path"), events=("lostfound.registered",),
                  event_fields=("description",)),
        PurgeRule("lost_report", "desk_lost_reports", "report_id", "created_at <= :now - :keep_s",
                  days.lost_report * DAY, {"phone_masked": None, "description": ""},
                  events=("lostfound.reported",), event_fields=("phone_masked", "description")),
        # A request is purged when the centre closed it (learnt from a status scan) or when its time is up.
        PurgeRule("request", "desk_requests", "request_id", "(status = 'closed' OR created_at <= :now - :keep_s)",
                  days.request * DAY, {"phone_masked": None, "description": "", "place": "", "traits": "{}"},
                  events=("broadcast.filed",), event_fields=("phone_masked", "description", "place", "traits")),
        # 存包牌遗失登记 / 过夜存包 / 顾客物品损坏记录: who, what kind and when stay; what was in the bag, the masked
        # ID and the photos go (issue 17).
        PurgeRule("storage_incident", "desk_storage_incidents", "incident_id", "at <= :now - :keep_s",
                  days.storage_incident * DAY, {"contents": None, "id_masked": None, "photos": "[]"},
                  file_lists=("photos",), events=("storage.incident",),
                  event_fields=("contents", "id_masked", "photos_jpeg_b64")),
    ]


class Purger:
    def __init__(self, store: Store, rules: Sequence[PurgeRule], clock: Callable[[], float] = time.time) -> None:
        self.store, self.rules, self.clock = store, list(rules), clock

    def run(self) -> dict[str, int]:
        """One pass; returns how many rows of each kind were purged."""
        now = self.clock()
        done: dict[str, int] = {}
        for rule in self.rules:
            done[rule.kind] = self._run(rule, now)
        if any(done.values()):
            log.info("retention.purged %s", " ".join(f"{k}={n}" for k, n in done.items() if n))
        return done

    def _run(self, rule: PurgeRule, now: float) -> int:
        cols = ", ".join((rule.key, *rule.files, *rule.file_lists))
        rows = self.store.query(f"SELECT {cols} FROM {rule.table} WHERE purged_at IS NULL AND {rule.due}",
                                {"now": now, "keep_s": rule.keep_s})
        count = 0
        for row in rows:
            key = row[rule.key]
            if rule.events and self.store.query(
                    f"SELECT 1 FROM outbox WHERE sent_at IS NULL AND type IN ({','.join('?' * len(rule.events))})"
                    f" AND json_extract(data, '$.{rule.key}') = ?", (*rule.events, key)):
                continue  # not at the centre yet: keep it until it is
            # first: a crash after this leaves a path to nothing, never a stray photo
            files = [row[c] for c in rule.files if row[c]]
            files += [p for c in rule.file_lists for p in json.loads(row[c] or "[]")]
            for file in files:
                Path(file).unlink(missing_ok=True)
            with self.store.transaction() as conn:
                sets = ", ".join(f"{c} = ?" for c in rule.clear)
                conn.execute(f"UPDATE {rule.table} SET {sets}, purged_at = ? WHERE {rule.key} = ?",
                             (*rule.clear.values(), now, key))
                for event_type in rule.events:
                    paths = ", ".join(f"'$.{f}'" for f in rule.event_fields)
                    conn.execute(f"UPDATE outbox SET data = json_remove(data, {paths}) WHERE type = ? "
                                 f"AND json_extract(data, '$.{rule.key}') = ?", (event_type, key))
            count += 1
        return count
