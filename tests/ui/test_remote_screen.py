"""The screen a remote screenshot sees (issue 15.7): a shopper's session is never photographed — the result says
so — and from the attract loop the picture is taken on the Kivy thread and handed to the centre."""
from __future__ import annotations

import io
import json
import threading
from typing import Any

from PIL import Image

from kiosk.services.remote import RemoteCommands
from kiosk.ui.display import KivyDisplay
from tests.fixtures.station import CommandDesk


def results(store: Any) -> dict[str, dict[str, Any]]:
    rows = store.query("SELECT data FROM outbox WHERE type='command.result'")
    return {d["command_id"]: d for d in (json.loads(r["data"]) for r in rows)}


def test_no_screenshot_of_a_shopper_s_session_one_from_the_attract_loop(make_ui, bare_station, tmp_path) -> None:
    ui = make_ui(bare_station)
    centre = CommandDesk()
    remote = RemoteCommands(store=bare_station.store, api=centre, station_id="K01", lockers=None, profiles={},
                            spool_dir=tmp_path / "remote")
    display = KivyDisplay(ui.app)
    remote.attach_display(display)
    assert not display.shopper_active()

    ui.tap_at(540, 900)  # a shopper touches the attract loop: home
    assert ui.app.current_screen().name == "home" and display.shopper_active()
    during = centre.screenshot()
    remote.poll()
    assert (results(bare_station.store)[during]["outcome"], results(bare_station.store)[during]["code"]) == (
        "refused", "shopper_active")
    assert centre.pictures == {}

    ui.app.end_session("idle")  # the shopper left: back to the attract loop
    assert not display.shopper_active()
    after = centre.screenshot()
    worker = threading.Thread(target=remote.poll)  # the remote worker's thread; the picture needs Kivy's
    worker.start()
    ui.wait_until(lambda: not worker.is_alive(), 15, "the screenshot")
    done = results(bare_station.store)[after]
    assert done["outcome"] == "done" and done["detail"]["bytes"] == len(centre.pictures[after])
    assert centre.pictures[after].startswith(b"\x89PNG") and len(centre.pictures[after]) > 10_000
    low, high = Image.open(io.BytesIO(centre.pictures[after])).convert("L").getextrema()
    assert high - low > 100, "a blank frame, not the attract loop"
    assert not list((tmp_path / "remote").glob("*.png")), "uploaded, then gone from the station"
    remote.poll()  # both handed out again: neither runs twice
    assert len(results(bare_station.store)) == 2 and set(centre.pictures) == {after}
    assert centre.acked.count(during) == 3 and centre.acked.count(after) == 2
