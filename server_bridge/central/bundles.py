"""Remote configuration and content (issue 15, item 6): versioned bundles, rollouts, what each station applied.

A bundle (policy and prices, 公开明示, directory, events and maps, device profiles) is validated here with the
schemas the station uses (`mallcommon.bundle`) and stored under the next version number; nothing invalid is
ever stored. A rollout names the version wanted by all stations (`*`) or by chosen ones. Stations learn it on
the heartbeat answer (`{"config": {"version", "etag"}}`, only while what they applied differs), fetch it with
`GET /api/v1/stations/{id}/config` (ETag / If-None-Match) and report back as outbox events
(`config.applied`, `config.refused`), projected here into `config_status`. docs/central.md, "Remote
configuration".
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Float, Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from mallcommon.bundle import Bundle, bundle_etag
from server_bridge.central.db import Base, Database
from server_bridge.central.errors import CentralError
from server_bridge.central.projections import event_epoch
from server_bridge.central.registry import Registry

log = logging.getLogger(__name__)
ALL = "*"  # the target row every station without its own follows
REFRESH_S = 2.0  # how stale another instance's rollout may be on this instance's heartbeat answers


class UnknownVersion(CentralError):
    code = "unknown_version"
    status = 404


class NoConfig(CentralError):
    code = "no_config"
    status = 404


class ConfigBundle(Base):
    __tablename__ = "config_bundles"
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(200), default="")
    etag: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)  # the bundle's canonical JSON (what stations fetch)


class ConfigTarget(Base):
    """Which version a station should run: its own row, else the `*` row."""
    __tablename__ = "config_targets"
    station_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    set_at: Mapped[float] = mapped_column(Float)
    set_by: Mapped[str] = mapped_column(String(64))


class ConfigStatus(Base):
    """What a station last reported (from its `config.applied` / `config.refused` events)."""
    __tablename__ = "config_status"
    station_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    applied_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    applied_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    refused_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    refused_stage: Mapped[str | None] = mapped_column(String(20), nullable=True)
    refused_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    refused_at: Mapped[float | None] = mapped_column(Float, nullable=True)


# storing and rolling out --------------------------------------------------------------------------------
def store_bundle(session: Session, bundle: Bundle, by: str, note: str = "", at: float | None = None) -> ConfigBundle:
    """Keep a validated bundle as the next version."""
    top = session.scalar(select(ConfigBundle.version).order_by(ConfigBundle.version.desc()).limit(1)) or 0
    version = top + 1
    row = ConfigBundle(version=version, created_at=time.time() if at is None else at, created_by=by[:64],
                       note=note[:200], etag=bundle_etag(version, bundle), body=bundle.canonical_json())
    session.add(row)
    session.flush()
    return row


def roll_out(session: Session, version: int, stations: list[str] | None, by: str, at: float | None = None) -> None:
    """`stations=None`: every station (their own rows go); else only those."""
    if session.get(ConfigBundle, version) is None:
        raise UnknownVersion(f"no bundle version {version}")
    now = time.time() if at is None else at
    if stations is None:
        session.execute(delete(ConfigTarget))
        stations = [ALL]
    for sid in stations:
        row = session.get(ConfigTarget, sid)
        if row is None:
            session.add(ConfigTarget(station_id=sid, version=version, set_at=now, set_by=by[:64]))
        else:
            row.version, row.set_at, row.set_by = version, now, by[:64]


def wanted_version(session: Session, station_id: str) -> int | None:
    row = session.get(ConfigTarget, station_id) or session.get(ConfigTarget, ALL)
    return row.version if row is not None else None


def config_state(wanted: int | None, report: ConfigStatus | None) -> dict[str, Any]:
    """What the console shows of one station: wanted, applied, and ok | pending | refused | none."""
    applied = report.applied_version if report is not None else None
    if report is not None and report.refused_version is not None and report.refused_version == wanted:
        state = "refused"
    elif wanted is None:
        state = "none"
    else:
        state = "ok" if applied == wanted else "pending"
    return {"wanted": wanted, "applied": applied, "state": state, "report": report}


def station_config(session: Session, station_id: str) -> dict[str, Any]:
    return config_state(wanted_version(session, station_id), session.get(ConfigStatus, station_id))


class WantedConfig:
    """The rollout targets in memory for the heartbeat answer (the centre's busiest path: one dict look-up).

    Refreshed from the database every `REFRESH_S` by its own thread, and at once after a rollout made by this
    instance."""

    def __init__(self, db: Database, refresh_s: float = REFRESH_S) -> None:
        self.db = db
        self.refresh_s = refresh_s
        self._targets: dict[str, dict[str, Any]] = {}  # station | "*" -> {"version", "etag"}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> None:
        with self.db.session() as s:
            rows = s.execute(select(ConfigTarget.station_id, ConfigTarget.version, ConfigBundle.etag)
                             .join(ConfigBundle, ConfigBundle.version == ConfigTarget.version)).all()
        self._targets = {sid: {"version": v, "etag": etag} for sid, v, etag in rows}

    def answer(self, station_id: str, applied: int | None) -> dict[str, Any] | None:
        """What the heartbeat answer says about configuration: None while the station runs what it should."""
        targets = self._targets
        want = targets.get(station_id) or targets.get(ALL)
        if want is None or want["version"] == applied:
            return None
        return want

    def start(self) -> WantedConfig:
        try:
            self.refresh()
        except Exception:  # the database may be late at start; the thread tries again
            log.exception("config.refresh_failed")
        self._thread = threading.Thread(target=self._run, name="config-targets", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.refresh_s):
            try:
                self.refresh()
            except Exception:
                log.exception("config.refresh_failed")


# what the stations report (outbox events) ---------------------------------------------------------------
class AppliedData(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    version: int = Field(ge=1)
    previous: int | None = None


class RefusedData(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    version: int = Field(ge=1)
    stage: Literal["validation", "startup", "fetch"]
    reason: Annotated[str, Field(max_length=2000)]
    rolled_back_to: int | None = None


def _status(session: Session, station_id: str) -> ConfigStatus:
    row = session.get(ConfigStatus, station_id)
    if row is None:
        row = ConfigStatus(station_id=station_id)
        session.add(row)
    return row


def project_applied(session: Session, station_id: str, event: Any) -> None:
    data = AppliedData.model_validate(event.data)
    row = _status(session, station_id)
    row.applied_version, row.applied_at = data.version, event_epoch(event)
    if row.refused_version is not None and row.refused_version <= data.version:
        row.refused_version = row.refused_stage = row.refused_reason = None
        row.refused_at = None


def project_refused(session: Session, station_id: str, event: Any) -> None:
    data = RefusedData.model_validate(event.data)
    row = _status(session, station_id)
    row.refused_version, row.refused_stage = data.version, data.stage
    row.refused_reason, row.refused_at = data.reason[:500], event_epoch(event)
    if data.rolled_back_to is not None:
        row.applied_version = data.rolled_back_to


def register(reg: Registry) -> None:
    reg.projection("config.applied", project_applied, AppliedData)
    reg.projection("config.refused", project_refused, RefusedData)
