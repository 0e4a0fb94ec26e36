"""Bag storage on protocol v1.1: a deposit `open`s the empty door it names (the bag's item_inserted carries
that cmd_id); a refused `open` cancels at once; a v1 locker still takes a bag with no command at all."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from device_profiles.locker_schema import LockerProfile
from device_profiles.schema import load_profile_as
from drivers.locker.client import MqttLockerLink
from drivers.locker.models import topic
from drivers.locker.simulator import LockerSimulator
from kiosk.config import ItemPolicy
from kiosk.services.errors import StorageRefused
from kiosk.services.storage import DepositSlot, StorageService
from kiosk.store import Store
from kiosk.tokens import TokenBook, TokenKeys

from .conftest import SITE, Observer, control, wait_until

STORAGE_YAML = """kind: locker
model: SL-4
item_type: storage
slots: 4
layout: {rows: 2, columns: 2}
sensors: {door: true, rfid: false, battery: false}
timeouts: {ack_s: 0.5, take_s: 2, return_s: 1.5, door_open_s: 30}
item_prefix: B
lendable: false
fw: sl4-1.1
"""


def storage_profile(tmp_path: Path) -> LockerProfile:
    path = tmp_path / "storage-4.yaml"
    path.write_text(STORAGE_YAML)
    return load_profile_as(path, LockerProfile)


def service(tmp_path: Path, link: MqttLockerLink, profile: LockerProfile) -> tuple[StorageService, Store]:
    store = Store(tmp_path / "station.db")
    svc = StorageService(store=store, lockers=link, profiles={"S1": profile}, tokens=TokenBook(TokenKeys(b"k" * 32)),
                         policy=ItemPolicy(free_minutes=120, fee_per_hour_cents=200, daily_cap_cents=1000,
                                           loan_hours=24), station_id="K01")
    return svc, store


def put_bag_when_open(sim: LockerSimulator, ctl: Observer, bag: str) -> Callable[[DepositSlot], None]:
    """The shopper puts the bag in once the named door stands open (or at once, on a v1 locker)."""
    def on_slot(spot: DepositSlot) -> None:
        def put() -> None:
            if sim.firmware.v11:
                wait_until(lambda: sim.slots()[spot.slot - 1].state == "open")
            control(sim, ctl, {"op": "insert", "item": bag, "slot": spot.slot})
        threading.Thread(target=put, daemon=True).start()
    return on_slot


def test_deposit_opens_the_empty_door_under_its_cmd_id(make_sim: Callable[..., LockerSimulator],
                                                        make_link: Callable[..., MqttLockerLink],
                                                        observer: Callable[..., Observer], tmp_path: Path) -> None:
    profile = storage_profile(tmp_path)
    sim = make_sim("S1", profile=profile, fill=0)
    link = make_link(("S1",))
    svc, store = service(tmp_path, link, profile)
    o = observer([topic(SITE, "S1", "event")])
    receipt = svc.deposit(on_slot=put_bag_when_open(sim, o, "BAG-1"))
    assert sim.stats().get("commands") == 1, "one `open` went to the locker"
    assert sum(s.opening for s in sim.firmware.slots) == 1
    inserted = o.wait_for(lambda t, d: d.get("type") == "item_inserted")
    assert inserted["slot"] == receipt.slot and inserted["cmd_id"], "the bag went in through the door we opened"
    assert [e.type for e in store.outbox_pending()] == ["storage.deposited"]


def test_a_refused_open_cancels_the_deposit_at_once(make_sim: Callable[..., LockerSimulator],
                                                    make_link: Callable[..., MqttLockerLink],
                                                    observer: Callable[..., Observer], tmp_path: Path) -> None:
    profile = storage_profile(tmp_path)
    sim = make_sim("S1", profile=profile, fill=0)
    link = make_link(("S1",))
    svc, store = service(tmp_path, link, profile)
    o = observer([])
    for slot in range(1, 5):
        control(sim, o, {"op": "jam_door", "slot": slot})
    started = time.monotonic()
    with pytest.raises(StorageRefused) as exc:
        svc.deposit()
    assert exc.value.code == "locker_fault" and time.monotonic() - started < 1.5, "no waiting for a bag"
    assert store.outbox_pending() == []
    assert store.query("SELECT status FROM desk_storage")[0]["status"] == "cancelled"


def test_a_v1_storage_locker_takes_a_bag_without_any_command(make_sim: Callable[..., LockerSimulator],
                                                             make_link: Callable[..., MqttLockerLink],
                                                             observer: Callable[..., Observer],
                                                             tmp_path: Path) -> None:
    profile = storage_profile(tmp_path)
    sim = make_sim("S1", profile=profile, fill=0, proto="1.0")
    link = make_link(("S1",))
    svc, store = service(tmp_path, link, profile)
    receipt = svc.deposit(on_slot=put_bag_when_open(sim, observer([]), "BAG-2"))
    assert sim.stats().get("commands", 0) == 0, "nothing sent to a v1 locker"
    assert sim.slots()[receipt.slot - 1].item == "BAG-2"
    assert [e.type for e in store.outbox_pending()] == ["storage.deposited"]
