"""广播寻人 by touch under Xvfb (issue 17): the screen files it, the real centre shows it to the desk at once, the
desk closes it, the kiosk reads the ticket's status and the station's copy of the personal details is purged."""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from kiosk.services.broadcast import STATUS_PATH, BroadcastDesk
from kiosk.services.complaints import HttpTicketStatusApi
from kiosk.services.retention import Purger, desk_rules
from kiosk.services.scanning import SignedScanned
from tests.fixtures.console import console_user
from tests.integration.desk.conftest import CentralUnderTest
from tests.ui.desk.test_desk_screens import shows, tap_exact


def test_missing_child_by_touch_to_the_console_closed_and_purged(make_ui, bare_station, central: CentralUnderTest,
                                                                 screenshot_dir: Path) -> None:
    tokens = bare_station.tokens
    bare_station.broadcast = BroadcastDesk(
        store=bare_station.store, tokens=tokens, station_id="K01", public_url=central.url, rng=random.Random(2),
        status_api=HttpTicketStatusApi(central.url, central.tokens["K01"], path=STATUS_PATH))
    ui: Any = make_ui(bare_station)
    ui.tap_at(540, 900)  # attract → home
    ui.wait_screen("home")
    ui.tap_text("更多服务")
    ui.wait_screen("desk_menu")
    ui.tap_text("广播寻人寻物")
    ui.wait_screen("request")
    for choice in ("儿童", "女", "红色", "3F", "15 分钟"):  # five touches: who, looks, where, when
        tap_exact(ui, choice)
    assert shows(ui, "✓ 儿童") and shows(ui, "✓ 红色") and shows(ui, "✓ 女")
    ui.screenshot(screenshot_dir / "desk-request-zh_CN.png")
    ui.tap_text("下一步")
    ui.wait_screen("request_phone")
    for digit in "13812345678":
        tap_exact(ui, digit)
    assert shows(ui, "138****5678") and not shows(ui, "13812345678")
    tap_exact(ui, ui.app.t("OK"))
    ticket = ui.wait_screen("request_ticket")
    row = bare_station.store.query("SELECT * FROM desk_requests")[0]
    assert (row["kind"], row["floor"], json.loads(row["traits"]), row["phone_masked"]) == (
        "child", "3F", {"gender": "female", "colour": "red"}, "138****5678")
    assert shows(ui, row["request_id"]) and shows(ui, "138****5678") and ticket.url.endswith(row["code"])
    ui.screenshot(screenshot_dir / "desk-request-ticket-zh_CN.png")

    central.upload(bare_station.store)
    desk = console_user(central.url, central.db_url, "dora", "desk")
    page = desk.get(f"/desk/ops/requests/{row['request_id']}").text
    assert "广播寻人：一位儿童，女，身穿红色衣服" in page and "13812345678" not in page
    for action in ("announced", "found", "closed"):
        assert desk.post(f"/desk/ops/requests/{row['request_id']}/{action}").status_code == 303

    ui.tap_text(ui.app.t("Done"))
    ui.wait_screen("home")
    ui.app.go("ticket")  # "Complaint status" reads a request's ticket too
    ui.step(2)
    ui.app.on_scan(SignedScanned(tokens.verify_signed(row["code"], "R1")))
    ui.wait_until(lambda: shows(ui, "已办结"), what="the request's status from the centre")
    assert Purger(bare_station.store, desk_rules()).run()["request"] == 1
    purged = bare_station.store.query("SELECT * FROM desk_requests")[0]
    assert (purged["phone_masked"], purged["traits"], purged["purged_at"] is not None) == (None, "{}", True)
