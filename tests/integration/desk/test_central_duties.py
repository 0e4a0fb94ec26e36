"""The desk's written duties on the real central service (issue 17): a handover, a damage record with its photo
and supplies handed out reach the console page per station and day, and the KPI CSV exports."""
from __future__ import annotations

import csv
import io
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image
from sqlalchemy import select

from device_profiles import PROFILE_ROOT, load_profile_as
from device_profiles.supplies_schema import SuppliesProfile
from kiosk.services.handover import ShiftHandover
from kiosk.services.staff import StaffSession
from kiosk.services.storage import DepositSlot
from kiosk.services.storage_desk import StorageProcedures
from kiosk.services.supplies import SuppliesDesk
from server_bridge.central.desk import retention
from server_bridge.central.desk.duties import DeskStorageIncident
from server_bridge.central.models import Event
from tests.fixtures.console import console_user
from tests.integration.desk.conftest import CentralUnderTest
from tests.unit.services.conftest import World


def test_handover_incident_photo_and_supplies_reach_the_console_and_csv(central: CentralUnderTest,
                                                                         tmp_path: Path) -> None:
    # today (the KPI window is the last 14 days), less the doors' waits the virtual clock runs ahead by
    w = World(tmp_path / "station", {"S1": "storage"}, fill={"S1": 0}, auto_take={"S1": 0.2},
              epoch=time.time() - 3600)
    wang, li = StaffSession("S-001", "Wang", 0.0), StaffSession("S-002", "Li", 0.0)
    spot: list[DepositSlot] = []

    def put(s: DepositSlot) -> None:
        spot.append(s)
        w.link.control(s.locker_id, {"op": "insert", "item": "BAG-9", "slot": s.slot})
    receipt = w.storage.deposit(on_slot=put)
    proc = StorageProcedures(store=w.store, storage=w.storage, lostfound=None, photo_dir=tmp_path / "inc",
                             clock=w.clock.wall)
    photo = io.BytesIO()
    Image.new("RGB", (800, 600), (30, 90, 200)).save(photo, "JPEG")
    incident = proc.record_damage(wang, receipt.deposit_id, "拉链损坏", "张主管", [photo.getvalue()])
    supplies = SuppliesDesk(store=w.store, station_id="K01", clock=w.clock.wall,
                            profile=load_profile_as(PROFILE_ROOT / "supplies" / "desk-standard.yaml", SuppliesProfile))
    supplies.restock("sewing_kit", 5, "S-001")
    for _ in range(3):
        supplies.hand_out("sewing_kit", staff_id="S-001")
    shift = ShiftHandover(store=w.store, lockers=w.link, locker_ids=["S1"], station_id="K01", supplies=supplies,
                          clock=w.clock.wall)
    handover = shift.sign(wang, li, "S1 门 3 有划痕")
    central.upload(w.store)

    desk = console_user(central.url, central.db_url, "dora", "desk")
    day = datetime.fromtimestamp(w.clock.wall(), ZoneInfo("Asia/Shanghai")).date().isoformat()
    page = desk.get("/desk/ops/duties", params={"lang": "en", "day": day, "station": "K01"}).text
    assert handover.handover_id not in page  # ids stay internal; what was signed shows
    assert "S-001 → S-002" in page and "S1 门 3 有划痕" in page and "S1 1" in page
    assert "Damage or loss" in page and "拉链损坏" in page and "张主管" in page
    shot = desk.get(f"/desk/ops/duties/incidents/{incident.incident_id}/photo/1.jpg")
    assert shot.status_code == 200 and Image.open(io.BytesIO(shot.content)).size == (640, 480)
    assert "Sewing kit" in page and "⚑ 2" in page  # 2 left, at or below its line of 3
    before = desk.get("/desk/ops/duties", params={"lang": "en", "day": "2020-01-01", "station": "K01"}).text
    assert "S-001 → S-002" not in before  # another day shows another day's handovers

    ops = console_user(central.url, central.db_url, "otto", "ops")
    used = list(csv.DictReader(io.StringIO(ops.get("/export/kpi-supplies_used.csv").text)))
    assert sum(int(r.get("sewing_kit") or 0) for r in used) == 3
    incidents = list(csv.DictReader(io.StringIO(ops.get("/export/kpi-storage_incidents.csv").text)))
    assert sum(int(r["damage"]) for r in incidents) == 1 and sum(int(r["lost_tag"]) for r in incidents) == 0

    # retention: the record stays, what was in the bag and its photos go (the stored event's copy too)
    with central.db.session() as s:
        assert retention.run(s, w.clock.wall() + 89 * 86_400)["storage_incident"] == 0
    with central.db.session() as s:
        assert retention.run(s, w.clock.wall() + 91 * 86_400)["storage_incident"] == 1
    with central.db.session() as s:
        row = s.get(DeskStorageIncident, incident.incident_id)
        assert row is not None and (row.contents, row.photos, row.staff_id) == (None, [], "S-001")
        (stored,) = s.scalars(select(Event).where(Event.type == "storage.incident")).all()
        assert "photos_jpeg_b64" not in stored.data and "contents" not in stored.data
    assert desk.get(f"/desk/ops/duties/incidents/{incident.incident_id}/photo/1.jpg").status_code == 404
    w.store.close()
