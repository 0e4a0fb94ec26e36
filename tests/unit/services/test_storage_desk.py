"""Bag-storage procedures (issue 17) on the in-memory locker link: lost tag, overnight bags, damage, retention."""
from __future__ import annotations

import io
import json
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from kiosk.services.lostfound import LostFound
from kiosk.services.retention import Purger, RetentionDays, desk_rules
from kiosk.services.staff import StaffError, StaffService, write_staff_file
from kiosk.services.storage import DepositSlot, StorageReceipt
from kiosk.services.storage_desk import ProcedureRefused, StorageProcedures
from tests.unit.services.conftest import World

SHANGHAI = ZoneInfo("Asia/Shanghai")


def deposit(w: World, bag: str) -> StorageReceipt:
    def put(spot: DepositSlot) -> None:
        w.link.control(spot.locker_id, {"op": "insert", "item": bag, "slot": spot.slot})
    return w.storage.deposit(on_slot=put)


@pytest.fixture
def s1(make_world) -> World:
    return make_world({"S1": "storage"}, fill={"S1": 0}, auto_take={"S1": 0.2})


@pytest.fixture
def staff(s1: World, tmp_path: Path) -> StaffService:
    write_staff_file(tmp_path / "staff.toml", {"S-001": ("Wang", "2468"), "S-002": ("Li", "1357")}, iterations=1000)
    return StaffService(s1.store, s1.tokens, time.monotonic, tmp_path / "staff.toml")


def procedures(w: World, tmp_path: Path, closing: str = "22:00") -> StorageProcedures:
    lostfound = LostFound(store=w.store, tokens=w.tokens, photo_dir=tmp_path / "lf", station_id="K01",
                          clock=w.clock.wall)
    return StorageProcedures(store=w.store, storage=w.storage, lostfound=lostfound, photo_dir=tmp_path / "inc",
                             closing_time=closing, tz="Asia/Shanghai", clock=w.clock.wall)


def sign_in(staff: StaffService, w: World, staff_id: str, pin: str):
    return staff.sign_in(staff.verify_badge(w.tokens.staff_badge(staff_id)), pin)


def openings(w: World) -> int:
    return sum(slot.opening for slot in w.link.firmware["S1"].slots)


def test_lost_tag_release_is_refused_without_the_staff_badge_and_recorded_with_it(s1: World, staff: StaffService,
                                                                                    tmp_path: Path) -> None:
    proc = procedures(s1, tmp_path)
    bag = deposit(s1, "BAG-L")
    before = s1.events()
    with pytest.raises(ProcedureRefused) as exc:
        proc.release_lost_tag(None, bag.deposit_id, "黑色双肩包，内有雨伞", "110101199003071234")
    assert exc.value.code == "staff_required"
    with pytest.raises(StaffError):
        sign_in(staff, s1, "S-001", "0000")  # a wrong PIN gives no session either
    assert s1.events()[len(before):] == ["staff.pin_attempt"] and openings(s1) == 0
    assert s1.link.slots("S1")[bag.slot - 1].item == "BAG-L"

    session = sign_in(staff, s1, "S-001", "2468")
    with pytest.raises(ProcedureRefused) as exc:
        proc.release_lost_tag(session, bag.deposit_id, "", "110101199003071234")  # contents must be described
    assert exc.value.code == "invalid_contents" and openings(s1) == 0
    incident = proc.release_lost_tag(session, bag.deposit_id, "黑色双肩包，内有雨伞", "1101 0119 9003 07123x")
    assert not s1.link.slots("S1")[bag.slot - 1].item and openings(s1) == 1
    assert (incident.kind, incident.staff_id, incident.contents) == ("lost_tag", "S-001", "黑色双肩包，内有雨伞")
    assert incident.id_masked == "*" * 14 + "123X" and incident.at == s1.clock.wall()
    event = s1.store.outbox_pending()[-1]
    assert event.type == "storage.incident" and event.data["id_masked"] == incident.id_masked
    assert "110101" not in str(event.data) and "110101" not in str(s1.store.query("SELECT * FROM desk_storage_incidents")[0][:])
    assert s1.store.query("SELECT status FROM desk_storage WHERE deposit_id=?", (bag.deposit_id,))[0][0] == "picked_up"
    with pytest.raises(ProcedureRefused) as exc:  # the same bag twice
        proc.release_lost_tag(session, bag.deposit_id, "黑色双肩包", "1234")
    assert exc.value.code == "not_held"


def test_overnight_list_at_closing_time_with_an_injected_clock(s1: World, staff: StaffService,
                                                               tmp_path: Path) -> None:
    # 20:30 in Shanghai on the clock's day; closing at 22:00
    start = datetime.fromtimestamp(s1.clock.wall(), SHANGHAI)
    evening = datetime(start.year, start.month, start.day, 20, 30, tzinfo=SHANGHAI).timestamp()
    if evening < s1.clock.wall():
        evening += 86_400
    s1.clock.advance(evening - s1.clock.wall())
    proc = procedures(s1, tmp_path)
    early, late = deposit(s1, "BAG-1"), deposit(s1, "BAG-2")
    s1.clock.advance(600)
    s1.storage.pickup(early.code)  # collected before closing: never on the list
    assert proc.overnight() == [] and proc.list_at_closing() == []
    s1.clock.advance(evening + 80 * 60 - s1.clock.wall())  # 21:50 (the doors' waits moved the clock too)
    assert proc.overnight() == []
    s1.clock.advance(evening + 91 * 60 - s1.clock.wall())  # 22:01
    listed = proc.overnight()
    assert [b.deposit_id for b in listed] == [late.deposit_id]
    assert [b.deposit_id for b in proc.list_at_closing()] == [late.deposit_id]
    proc.list_at_closing()  # the next housekeeping tick: the list goes to the centre once per closing
    sent = [e for e in s1.store.outbox_pending() if e.type == "storage.overnight"]
    assert len(sent) == 1 and sent[0].data["count"] == 1 and sent[0].data["bags"][0]["deposit_id"] == late.deposit_id

    first, second = sign_in(staff, s1, "S-001", "2468"), sign_in(staff, s1, "S-002", "1357")
    with pytest.raises(ProcedureRefused) as exc:
        proc.open_overnight(first, first, late.deposit_id, "灰色手提袋：外套一件")  # one person cannot witness
    assert exc.value.code == "witness_required" and openings(s1) == 1
    with pytest.raises(ProcedureRefused):
        proc.open_overnight(first, None, late.deposit_id, "灰色手提袋：外套一件")
    incident = proc.open_overnight(first, second, late.deposit_id, "灰色手提袋：外套一件")
    assert (incident.staff_id, incident.second_staff_id) == ("S-001", "S-002")
    found = s1.store.query("SELECT * FROM desk_found_items WHERE item_id=?", (incident.found_item_id,))[0]
    assert (found["status"], found["category"], found["description"]) == ("held", "bag", "灰色手提袋：外套一件")
    assert proc.overnight() == [] and not s1.link.slots("S1")[late.slot - 1].item


def test_damage_record_keeps_photos_and_supervisor_and_retention_purges_personal_fields(
        s1: World, staff: StaffService, tmp_path: Path) -> None:
    proc = procedures(s1, tmp_path)
    bag = deposit(s1, "BAG-D")
    photo = io.BytesIO()
    Image.new("RGB", (1600, 1200), (200, 40, 40)).save(photo, "JPEG")
    session = sign_in(staff, s1, "S-001", "2468")
    with pytest.raises(ProcedureRefused) as exc:
        proc.record_damage(session, bag.deposit_id, "包带断裂", "张主管", [])
    assert exc.value.code == "invalid_photos"
    incident = proc.record_damage(session, bag.deposit_id, "包带断裂", "张主管", [photo.getvalue()])
    assert incident.second_staff_id == "张主管" and len(incident.photos) == 1 and incident.photos[0].exists()
    event = s1.store.outbox_pending()[-1]
    assert event.type == "storage.incident" and len(event.data["photos_jpeg_b64"]) == 1
    assert len(event.data["photos_jpeg_b64"][0]) < 100_000  # a small copy travels, the full one stays

    purger = Purger(s1.store, desk_rules(RetentionDays(storage_incident=90)), s1.clock.wall)
    s1.clock.advance(91 * 86_400)
    assert purger.run()["storage_incident"] == 0 and incident.photos[0].exists()  # not at the centre yet
    s1.store.mark_sent(s1.store.outbox_pending()[-1].seq)
    assert purger.run()["storage_incident"] == 1 and purger.run()["storage_incident"] == 0
    after = proc.incident(incident.incident_id)
    assert (after.contents, after.id_masked, after.photos, after.purged) == (None, None, (), True)
    assert not incident.photos[0].exists() and after.staff_id == "S-001" and after.kind == "damage"
    (sent,) = [json.loads(r["data"]) for r in s1.store.query("SELECT data FROM outbox WHERE type='storage.incident'")]
    assert not {"contents", "id_masked", "photos_jpeg_b64"} & set(sent) and sent["incident_id"] == incident.incident_id


def test_storage_incidents_keep_their_personal_fields_until_retention_ends(s1: World, staff: StaffService,
                                                                           tmp_path: Path) -> None:
    proc = procedures(s1, tmp_path)
    bag = deposit(s1, "BAG-R")
    incident = proc.release_lost_tag(sign_in(staff, s1, "S-001", "2468"), bag.deposit_id, "红色手袋", "123X")
    s1.store.mark_sent(s1.store.outbox_pending()[-1].seq)
    purger = Purger(s1.store, desk_rules(RetentionDays(storage_incident=90)), s1.clock.wall)
    s1.clock.advance(89 * 86_400)
    assert purger.run()["storage_incident"] == 0 and proc.incident(incident.incident_id).id_masked == "123X"
    s1.clock.advance(2 * 86_400)
    assert purger.run()["storage_incident"] == 1
    assert proc.incident(incident.incident_id).contents is None
