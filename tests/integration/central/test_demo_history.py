"""`seed-demo --days 30`: a month of history through the stations' ingest, so every KPI panel and the heat
map show something; a rerun adds nothing; the live demo stations' seq numbers are left alone."""
from __future__ import annotations

import json
import re
import sqlite3

from mallcommon.vocabulary import COMPLAINT_CATEGORIES
from server_bridge.central.runner import CentralProcess
from tests.fixtures.console import console_user


def test_a_month_of_history_fills_the_panels_and_a_rerun_adds_nothing(central: CentralProcess) -> None:
    first = json.loads(central.cli("seed-demo", "--days", "30"))
    assert set(first["history_events"]) == {"H01", "H02"} and sum(first["history_events"].values()) > 2000
    assert json.loads(central.cli("seed-demo", "--days", "30"))["history_events"] == {}
    with sqlite3.connect(central.db_url.split("///", 1)[1]) as conn:
        assert conn.execute("SELECT COUNT(*) FROM events WHERE station_id IN ('K01', 'K02')").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM projection_failures").fetchone() == (0,)
        days = conn.execute("SELECT COUNT(DISTINCT CAST(started_at / 86400 AS INT)) FROM lendings").fetchone()[0]
        cells = conn.execute("SELECT COUNT(DISTINCT category || floor) FROM complaints").fetchone()[0]
        categories = {c for (c,) in conn.execute("SELECT DISTINCT category FROM complaints")}
        requests = conn.execute("SELECT COUNT(*), SUM(status = 'closed' AND purged_at IS NOT NULL) "
                                "FROM desk_broadcasts").fetchone()
        handovers = conn.execute("SELECT COUNT(DISTINCT station_id), COUNT(*) FROM desk_handovers").fetchone()
        by_hour = dict(conn.execute("SELECT CAST(((started_at / 3600) + 8) % 24 AS INT), COUNT(*) FROM lendings "
                                    "GROUP BY 1"))
    assert days >= 29 and cells >= 12 and categories <= set(COMPLAINT_CATEGORIES)  # words for every one
    assert by_hour.get(19, 0) > 3 * by_hour.get(10, 0) > 0 and not by_hour.get(4)  # evening peak, nights empty
    page = console_user(central.url, central.db_url, "vera", "viewer").get("/kpis?days=30&lang=en").text
    assert handovers[0] == 2 and handovers[1] >= 50  # a shift handover a day at each history station
    assert requests[0] >= 5 and requests[0] == requests[1]  # 广播寻人 history: closed, personal details purged
    for panel in ("lendings", "satisfaction", "complaint_times", "complaint_heatmap", "requests", "supplies_used",
                  "storage_incidents"):
        section = page.split(f'id="kpi-{panel}"', 1)[1].split("</section>", 1)[0]
        assert "<svg" in section and "No data yet" not in section, panel
    lendings = page.split('id="kpi-lendings"', 1)[1].split("</section>", 1)[0]
    assert len(re.findall(r"<rect", lendings)) > 40
