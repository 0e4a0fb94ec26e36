"""Events refused for their content (issues 12/16): the alert while a station has any in quarantine, and the
station's own record of a staff resend (`outbox.resent`), audited here. Ingest keeps them (`ingest.py`,
`refused_events`); docs/central.md, "Refused events". Registered by `register(reg)` from `wiring`."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server_bridge.central import audit
from server_bridge.central.alerts import UPLOAD_SEVERITY, Finding, RuleContext
from server_bridge.central.ingest import REFUSED_ALERT
from server_bridge.central.models import RefusedEvent
from server_bridge.central.projections import EventData, Id
from server_bridge.central.registry import Registry
from server_bridge.central.schemas import Envelope


def refused_events(session: Session, ctx: RuleContext) -> Iterable[Finding]:
    """One alert per station while any of its events is held in quarantine (one indexed read of a table that
    is empty when all is well). Ingest raises it the moment it refuses one; it clears once they are accepted."""
    rows = session.execute(select(RefusedEvent.station_id, func.count(), func.min(RefusedEvent.seq))
                           .where(RefusedEvent.accepted_at.is_(None)).group_by(RefusedEvent.station_id))
    for station_id, count, first in rows:
        yield Finding(station_id, "", {"events": int(count), "first_seq": int(first)})


class OutboxResent(EventData):
    by: Id
    seqs: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(min_length=1, max_length=5000)
    command_id: Id | None = None  # sent by ops as the remote command `resend_refused`: `by` is their login


def project_resent(session: Session, station_id: str, event: Envelope) -> None:
    data = OutboxResent.model_validate(event.data)
    actor = data.by if data.command_id else f"staff:{data.by}@{station_id}"
    audit.record(session, actor, "upload.resent", f"station:{station_id}", seqs=data.seqs[:50],
                 events=len(data.seqs), seq=event.seq, command_id=data.command_id)


def register(reg: Registry) -> None:
    reg.alert_rule(REFUSED_ALERT, refused_events, UPLOAD_SEVERITY)
    reg.projection("outbox.resent", project_resent, OutboxResent)
