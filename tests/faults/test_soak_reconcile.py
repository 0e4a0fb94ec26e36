"""The soak's verdict catches what it claims to: a dispense nobody recorded, one recorded twice, a door opened
twice for one command or for a command nobody sent, and a lending for an item that never left."""
from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

import pytest

from tests.faults.soak import fault_weights
from tests.faults.soak_reconcile import CentreRecord, StationRecord, reconcile

LOCKERS_OF = {"K01": ["U1"]}


def opened(cmd: str, slot: int, ts: float) -> dict[str, Any]:
    return {"act": "door_opened", "ts": ts, "slot": slot, "item": None, "cmd_id": cmd}


def removed(cmd: str, slot: int, item: str, ts: float) -> dict[str, Any]:
    return {"act": "item_removed", "ts": ts, "slot": slot, "item": item, "cmd_id": cmd}


def station(*lent: tuple[str, str, str]) -> StationRecord:
    """(cmd_id, lending_id, item) per recorded lending."""
    st = StationRecord("K01")
    for cmd, lid, item in lent:
        st.intents[cmd] = {"intent_id": f"i-{cmd}", "state": "done", "item_id": item}
        row = {"lending_id": lid, "intent_id": f"i-{cmd}", "item_id": item, "status": "open"}
        st.lendings.append(row)
        st.lendings_by_intent[f"i-{cmd}"].append(row)
    return st


def centre(*lending_ids: str) -> CentreRecord:
    c = CentreRecord(started=Counter(lending_ids))
    c.lendings = {lid: {"lending_id": lid, "item_id": "?", "status": "open"} for lid in lending_ids}
    return c


def test_everything_once_is_clean() -> None:
    journal = {"U1": [opened("c1", 1, 1.0), removed("c1", 1, "U-1", 1.1)]}
    report = reconcile(journal, [station(("c1", "L1", "U-1"))], centre("L1"), LOCKERS_OF)
    assert (report["lost"], report["duplicated"], report["double_dispensed"], report["phantom"]) == (0, 0, 0, 0)
    assert report["operations"]["dispensed"] == 1


def test_a_dispense_missing_at_the_station_or_the_centre_is_lost() -> None:
    journal = {"U1": [opened("c1", 1, 1.0), removed("c1", 1, "U-1", 1.1),
                      opened("c2", 2, 2.0), removed("c2", 2, "U-2", 2.1)]}
    st = station(("c2", "L2", "U-2"))
    st.intents["c1"] = {"intent_id": "i-c1", "state": "cancelled", "item_id": "U-1"}
    report = reconcile(journal, [st], centre(), LOCKERS_OF)
    assert report["lost"] == 2, "c1 never became a lending, L2 never reached the centre"


def test_twice_recorded_and_twice_opened_are_counted() -> None:
    journal = {"U1": [opened("c1", 1, 1.0), opened("c1", 1, 1.5), removed("c1", 1, "U-1", 1.6),
                      opened("ghost", 3, 2.0)]}
    c = centre("L1")
    c.started["L1"] = 2
    report = reconcile(journal, [station(("c1", "L1", "U-1"))], c, LOCKERS_OF)
    assert report["duplicated"] == 1 and report["double_dispensed"] == 2


def test_a_lending_for_an_item_that_never_left_is_phantom() -> None:
    journal = {"U1": [opened("c1", 1, 1.0)]}
    report = reconcile(journal, [station(("c1", "L1", "U-1"))], centre("L1", "L9"), LOCKERS_OF)
    assert report["phantom"] == 2, "L1 at the station (nothing left) and L9 at the centre (no station has it)"


def test_the_fault_mix_can_be_narrowed_to_make_one_kind_frequent() -> None:
    """`--fault-weights disk_full=10,station_kill=1` (how the lost lending of docs/soak.md was made frequent);
    a kind the soak does not know, or no kind at all, is refused before anything starts."""
    assert fault_weights("disk_full=10, station_kill=1") == {"disk_full": 10, "station_kill": 1}
    for bad in ("disk_ful=10", "disk_full=x", "disk_full=0"):
        with pytest.raises(argparse.ArgumentTypeError):
            fault_weights(bad)
