"""Service supplies and shift handovers (issue 17), station to centre: the station's store and outbox, the
centre's ingest, projections and alert rules on a real SQLite database."""
from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from device_profiles import PROFILE_ROOT, ProfileError, load_profile, load_profile_as
from device_profiles.supplies_schema import SuppliesProfile
from kiosk.services.handover import HandoverRefused, ShiftHandover
from kiosk.services.staff import StaffSession
from kiosk.services.supplies import CheckLine, SuppliesDesk, SuppliesRefused
from kiosk.store import Store
from server_bridge.central import schema_migrations
from server_bridge.central.alerts import AlertSettings, evaluate
from server_bridge.central.db import Database
from server_bridge.central.desk.duties import DeskHandover, DeskSupplyStock
from server_bridge.central.ingest import ingest_batch
from server_bridge.central.members import add_station
from server_bridge.central.models import Alert, Event
from server_bridge.central.schemas import Batch
from server_bridge.uploader import Uploader
from tests.fixtures.central import REGISTRY
from tests.unit.desk.conftest import FakeClock

PROFILE = load_profile_as(PROFILE_ROOT / "supplies" / "desk-standard.yaml", SuppliesProfile)
SETTINGS = AlertSettings(offline_after_s=60, low_stock_min=3, min_charged_battery=80)


@pytest.fixture
def centre(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'central.db'}"
    schema_migrations.upgrade(url)
    db = Database(url)
    with db.session() as s:
        add_station(s, "K01", time.time())
    yield db
    db.dispose()


def upload(store: Store, db: Database) -> None:
    """What the uploader sends, ingested as the centre's API does."""
    pending = store.outbox_pending()
    if pending:
        with db.session() as s:
            acked = ingest_batch(s, "K01", Batch.model_validate({"events": [e.envelope() for e in pending]}),
                                 time.time(), REGISTRY.projections)
        store.mark_sent(acked)


def live_alerts(db: Database, now: float, kind: str) -> list[tuple[str, str]]:
    with db.session() as s:
        evaluate(s, now, SETTINGS, REGISTRY.alert_rules)
    with db.session() as s:
        return [(a.station_id, a.subject) for a in s.scalars(select(Alert).where(Alert.kind == kind))]


def test_supplies_profile_is_validated(tmp_path: Path) -> None:
    assert PROFILE.items["first_aid_kit"].kind == "returnable"
    text = (PROFILE_ROOT / "supplies" / "desk-standard.yaml").read_text()
    broken = tmp_path / "bad.yaml"
    broken.write_text(text.replace("low_at: 3, full: 20", "low_at: 30, full: 20"))
    with pytest.raises(ProfileError) as exc:
        load_profile(broken)
    assert "low_at (30) must be below full (20)" in str(exc.value)


def test_stock_going_low_raises_one_alert(store: Store, clock: FakeClock, centre: Database) -> None:
    desk = SuppliesDesk(store=store, profile=PROFILE, station_id="K01", clock=clock)
    desk.restock("sewing_kit", 6, "S-001")  # the line is 3
    with pytest.raises(SuppliesRefused) as exc:
        desk.hand_out("sewing_kit")  # a desk item needs staff to hand it over
    assert exc.value.code == "ask_desk"
    for n in range(6):
        desk.hand_out("sewing_kit", staff_id="S-001")
        clock.advance(60)
        upload(store, centre)
        alerts = live_alerts(centre, clock.now, "supplies_low")
        assert alerts == ([] if n < 2 else [("K01", "sewing_kit")]), f"after hand-out {n + 1}"
    with pytest.raises(SuppliesRefused) as exc:
        desk.hand_out("sewing_kit", staff_id="S-001")
    assert exc.value.code == "out_of_stock" and desk.supply("sewing_kit").stock == 0
    with centre.session() as s:
        row = s.get(DeskSupplyStock, ("K01", "sewing_kit"))
        assert row is not None and (row.stock, row.low_at) == (0, 3)
    desk.restock("sewing_kit", 20, "S-001")
    upload(store, centre)
    with centre.session() as s:
        evaluate(s, clock.now + 60, SETTINGS, REGISTRY.alert_rules)
        (alert,) = s.scalars(select(Alert).where(Alert.kind == "supplies_low")).all()
        assert alert.cleared_at is not None  # restocked: the one alert is cleared, never a second raised


def test_returnable_items_come_back_and_the_check_is_a_scheduled_maintenance_record(
        store: Store, clock: FakeClock, centre: Database) -> None:
    desk = SuppliesDesk(store=store, profile=PROFILE, station_id="K01", clock=clock)
    assert desk.check_overdue()
    desk.restock("first_aid_kit", 2, "S-001")
    desk.hand_out("first_aid_kit", staff_id="S-001")
    assert (desk.supply("first_aid_kit").stock, desk.supply("first_aid_kit").out) == (1, 1)
    desk.take_back("first_aid_kit", "S-002")
    assert (desk.supply("first_aid_kit").stock, desk.supply("first_aid_kit").out) == (2, 0)
    with pytest.raises(SuppliesRefused):
        desk.take_back("sewing_kit", "S-002")  # given away, never comes back
    with pytest.raises(SuppliesRefused) as exc:
        desk.check("S-001", [CheckLine("first_aid_kit", 2)])
    assert exc.value.code == "check_incomplete"
    due = desk.check("S-001", [CheckLine("first_aid_kit", 2), CheckLine("sewing_kit", 18),
                               CheckLine("plasters", 40, "expired"), CheckLine("reading_glasses", 4)])
    assert due == clock.now + 24 * 3600 and not desk.check_overdue()
    assert desk.supply("plasters").stock == 0  # expired ones are not stock
    types = [e.type for e in store.outbox_pending()]
    assert types.count("maintenance.logged") == 1 and types[-1] == "supplies.checked"
    upload(store, centre)
    assert live_alerts(centre, clock.now + 3600, "supplies_check_overdue") == []
    assert live_alerts(centre, clock.now + 25 * 3600, "supplies_check_overdue") == [("K01", "supplies")]


class Link:
    """The two lockers' retained state as the handover reads it."""

    def view(self, locker_id: str):
        from drivers.locker.link import LockerView, SlotView
        states = ["occupied", "occupied", "empty", "fault"] if locker_id == "U1" else ["empty"] * 3
        return LockerView(locker_id, True, slots=tuple(SlotView(i + 1, s) for i, s in enumerate(states)))  # type: ignore[arg-type]


def test_a_handover_is_recorded_durably_and_uploaded_exactly_once(tmp_path: Path, store: Store, clock: FakeClock,
                                                                  centre: Database) -> None:
    desk = SuppliesDesk(store=store, profile=PROFILE, station_id="K01", clock=clock)
    desk.restock("first_aid_kit", 2, "S-001")
    shift = ShiftHandover(store=store, lockers=Link(), locker_ids=["U1", "S1"], station_id="K01", supplies=desk,
                          open_counts={"requests": lambda: 2}, clock=clock)
    out, inc = StaffSession("S-001", "Wang", 0.0), StaffSession("S-002", "Li", 0.0)
    with pytest.raises(HandoverRefused) as exc:
        shift.sign(out, None, "all quiet")
    assert exc.value.code == "incoming_required"
    with pytest.raises(HandoverRefused):
        shift.sign(out, StaffSession("S-001", "Wang", 0.0), "all quiet")  # one person cannot sign twice
    draft = shift.draft()
    assert draft.lockers["U1"] == {"items": 2, "empty": 1, "fault": 1, "online": 1}
    assert draft.desk["first_aid_kit"] == 2 and draft.open["requests"] == 2
    done = shift.sign(out, inc, "U1 门 4 故障已报修", draft)
    store.close()  # durable: a new process reads it back
    again = Store(tmp_path / "station.db", clock=clock)
    (row,) = again.query("SELECT * FROM desk_handovers")
    assert (row["outgoing"], row["incoming"]) == ("S-001", "S-002")
    assert json.loads(row["body"])["note"] == "U1 门 4 故障已报修"

    answers = iter(["lost", "ok", "ok"])

    def api(request: httpx.Request) -> httpx.Response:
        body = Batch.model_validate(json.loads(request.content))
        with centre.session() as s:
            acked = ingest_batch(s, "K01", body, time.time(), REGISTRY.projections)
        if next(answers) == "lost":  # stored at the centre, the answer never reaches the station
            return httpx.Response(503)
        return httpx.Response(200, json={"acked_seq": acked})

    up = Uploader(again, "K01", "http://127.0.0.1:9", "tok", dict, rng=random.Random(3),
                  transport=httpx.MockTransport(api))
    assert up.drain_once() == 0  # the answer was lost: the station sends it again
    assert up.drain_once() >= 1 and again.outbox_depth()[0] == 0
    assert up.drain_once() == 0
    with centre.session() as s:
        handovers = s.scalars(select(DeskHandover)).all()
        assert [h.handover_id for h in handovers] == [done.handover_id]
        assert handovers[0].body["lockers"]["U1"]["items"] == 2 and handovers[0].note == "U1 门 4 故障已报修"
        assert s.scalar(select(func.count()).select_from(Event).where(Event.type == "shift.handover")) == 1
    again.close()
