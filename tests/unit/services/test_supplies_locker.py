"""Supplies handed out from a locker door (issue 17): counted only when the locker acknowledged the open."""
from __future__ import annotations

import pytest

from device_profiles.supplies_schema import SuppliesProfile
from kiosk.services.supplies import SuppliesDesk, SuppliesRefused
from tests.unit.services.conftest import World

PROFILE = SuppliesProfile.model_validate({
    "kind": "supplies", "model": "locker-kits", "check_every_h": 24,
    "items": {"sewing_kit": {"zh": "针线包", "en": "Sewing kit", "kind": "free", "where": "locker",
                             "locker_id": "U1", "slots": [1, 2], "low_at": 0, "full": 2}}})


def test_a_locker_item_opens_a_door_holding_one_and_is_counted_on_the_ack(make_world) -> None:
    w: World = make_world({"U1": "umbrella"}, fill={"U1": 2}, auto_take={"U1": 0.2})
    desk = SuppliesDesk(store=w.store, profile=PROFILE, station_id="K01", lockers=w.link, clock=w.clock.wall)
    desk.restock("sewing_kit", 2, "S-001")
    done = desk.hand_out("sewing_kit")  # a shopper at the screen: no staff needed for a locker item
    assert done.stock == 1
    event = w.store.outbox_pending()[-1]
    assert (event.data["locker_id"], event.data["slot"], event.data["reason"]) == ("U1", 1, "handout")
    assert sum(slot.opening for slot in w.link.firmware["U1"].slots) == 1

    w.link.control("U1", {"op": "offline"})
    with pytest.raises(SuppliesRefused) as exc:
        desk.hand_out("sewing_kit")
    assert exc.value.code == "locker_offline"
    assert desk.supply("sewing_kit").stock == 1  # nothing opened, nothing counted
