"""广播寻人 / 寻物 (issue 17) on the real centre over HTTP: filed at the station, urgent at the console at once,
escalated when nobody acknowledges, announced / found / closed by the desk (audited, CSRF, role), then the
personal details purged at the centre (row and stored event) and at the station (row and outbox)."""
from __future__ import annotations

import json
import random

import httpx
from sqlalchemy import select

from kiosk.services.broadcast import STATUS_PATH, BroadcastDesk
from kiosk.services.complaints import HttpTicketStatusApi
from kiosk.services.retention import Purger, desk_rules
from kiosk.store import Store
from kiosk.tokens import TokenBook
from server_bridge.central import alerts as central_alerts
from server_bridge.central.alerts import AlertSettings
from server_bridge.central.audit import AuditEntry
from server_bridge.central.desk import retention
from server_bridge.central.desk.models import DeskBroadcast, DeskFoundItem, DeskLostReport
from server_bridge.central.models import Alert, Event
from tests.fixtures.central import REGISTRY
from tests.fixtures.console import console_user
from tests.integration.desk.conftest import CentralUnderTest

PHONE = "13912345678"


def _desk(central: CentralUnderTest, store: Store, tokens: TokenBook) -> BroadcastDesk:
    api = HttpTicketStatusApi(central.url, central.tokens["K01"], path=STATUS_PATH)
    return BroadcastDesk(store=store, tokens=tokens, station_id="K01", public_url=central.url, status_api=api,
                         rng=random.Random(5))


def _open_alerts(central: CentralUnderTest, now: float) -> dict[str, Alert]:
    with central.db.session() as session:
        central_alerts.evaluate(session, now, AlertSettings(), REGISTRY.alert_rules)
    with central.db.session() as session:
        return {f"{a.kind}:{a.subject}": a for a in session.scalars(select(Alert).where(Alert.status == "open"))}


def test_missing_child_from_the_station_to_the_console_closed_and_purged(
        central: CentralUnderTest, store: Store, tokens: TokenBook) -> None:
    desk = _desk(central, store, tokens)
    req = desk.file(kind="child", gender="female", colour="red", floor="3F", place="儿童乐园",
                    seen_minutes_ago=5, phone=PHONE)
    bag = desk.file(staff_id="S1", kind="item", item_category="bag", floor="1F", place="=2+3", seen_minutes_ago=30,
                    phone="13700001111")
    assert desk.status(req.code).status == "filed"  # not uploaded yet: the station says so
    central.upload(store)
    central.upload(store)  # a retried batch stores and projects nothing twice

    with central.db.session() as session:
        assert len(session.scalars(select(DeskBroadcast)).all()) == 2
        # urgent at once: the alert exists before any alert pass ran
        assert session.scalars(select(Alert).where(Alert.kind == "broadcast_request",
                                                   Alert.subject == req.request_id)).one().status == "open"
        filed_at = session.get(DeskBroadcast, req.request_id).filed_at

    viewer = console_user(central.url, central.db_url, "vic", "viewer")
    assert viewer.get(f"/desk/ops/requests/{req.request_id}").status_code in (302, 303, 403)
    alice = console_user(central.url, central.db_url, "alice", "desk")
    listing = alice.get("/desk/ops/requests", params={"lang": "en"})
    assert listing.status_code == 200 and req.request_id in listing.text and "Urgent" in listing.text
    page = alice.get(f"/desk/ops/requests/{req.request_id}", params={"lang": "zh"}).text
    assert "广播寻人：一位儿童，女，身穿红色衣服" in page and "3F儿童乐园" in page and "到1F 南门服务台" in page
    assert "we are looking for a child, female, wearing red" in page and "South gate desk (station K01)" in page
    assert "139****5678" in page and PHONE not in page and PHONE not in listing.text

    # nobody acknowledged within the clock (5 min by default): escalated, audited once
    escalated = _open_alerts(central, filed_at + 5 * 60 + 1)
    alert = escalated[f"broadcast_request:{req.request_id}"]
    assert f"alert_escalated:#{alert.id}" in escalated

    no_csrf = httpx.post(f"{central.url}/desk/ops/requests/{req.request_id}/announced", cookies=alice.cookies)
    assert no_csrf.status_code == 403
    assert alice.post(f"/desk/ops/requests/{req.request_id}/announced").status_code == 303
    after = _open_alerts(central, filed_at + 5 * 60 + 2)
    assert f"broadcast_request:{req.request_id}" not in after and f"alert_escalated:#{alert.id}" not in after
    assert desk.status(req.status_url).status == "announced"  # the kiosk's status scan, answered by the centre
    phone_page = httpx.get(req.status_url, params={"lang": "en"})  # the ticket's QR on the shopper's phone
    assert phone_page.status_code == 200 and "Announced" in phone_page.text and "5678" not in phone_page.text
    assert httpx.get(req.status_url[:-4] + "AAAA").status_code == 404  # a code that does not match exactly
    alice.post(f"/desk/ops/requests/{req.request_id}/found")
    assert alice.post(f"/desk/ops/requests/{req.request_id}/closed").status_code == 303

    with central.db.session() as session:
        row = session.get(DeskBroadcast, req.request_id)
        assert (row.status, row.acknowledged_by, row.closed_by) == ("closed", "alice", "alice")
        assert row.purged_at is not None and (row.phone_masked, row.place, row.traits) == (None, "", {})
        stored = {e.data["request_id"]: e.data for e in session.scalars(select(Event).where(
            Event.type == "broadcast.filed"))}
        assert not {"phone_masked", "place", "traits", "description"} & set(stored[req.request_id])
        assert stored[bag.request_id]["place"] == "=2+3"  # still open: kept
        actions = [a.action for a in session.scalars(select(AuditEntry).where(
            AuditEntry.target == f"request:{req.request_id}").order_by(AuditEntry.id))]
        assert actions == ["request.announced", "request.found", "request.closed"]
    closed_page = alice.get(f"/desk/ops/requests/{req.request_id}", params={"lang": "en"}).text
    assert "personal details purged" in closed_page and "儿童乐园" not in closed_page
    assert alice.post(f"/desk/ops/requests/{req.request_id}/found").headers["location"].endswith("error=closed")
    csv = alice.get("/export/requests.csv").text
    assert req.request_id in csv and "'=2+3" in csv and "儿童乐园" not in csv and bag.request_id in csv
    assert viewer.get("/export/requests.csv").status_code == 403
    kpis = alice.get("/kpis", params={"lang": "en"}).text
    assert 'id="kpi-requests"' in kpis and "Announcement requests per day" in kpis
    ops = console_user(central.url, central.db_url, "olga", "ops")
    assert "median_close_min" in ops.get("/export/kpi-requests.csv").text.splitlines()[0]

    # the station learns it closed at the next scan of the ticket; its next retention pass purges its copy
    assert desk.status(req.code).status == "closed"
    assert Purger(store, desk_rules()).run()["request"] == 1
    row = store.query("SELECT * FROM desk_requests")[0]
    assert (row["phone_masked"], row["place"], row["traits"]) == (None, "", "{}")
    outbox = store.query("SELECT data FROM outbox WHERE type='broadcast.filed'")[0]["data"]
    assert "儿童乐园" not in outbox and "5678" not in outbox and json.loads(outbox)["request_id"] == req.request_id
    raw = (store.path.read_bytes() + b"".join(p.read_bytes() for p in store.path.parent.glob("station.db-*")))
    assert PHONE.encode() not in raw  # the full number never stored anywhere at the station


def test_the_centre_purges_found_items_and_lost_reports_when_their_time_ends(
        central: CentralUnderTest, store: Store, tokens: TokenBook, tmp_path) -> None:
    from kiosk.services.lostfound import LostFound

    lf = LostFound(store=store, tokens=tokens, photo_dir=tmp_path / "photos", station_id="K01")
    import time as _time

    now = _time.time()
    kept = lf.register_found(staff_id="S1", category="wallet", place="1F 东门", found_at=now - 60,
                             description="黑色钱包 张三")
    claimed = lf.register_found(staff_id="S1", category="documents", place="2F", found_at=now - 60,
                                description="身份证 李四")
    lf.hand_back(staff_id="S1", claim_code=claimed.claim_code)
    report, _ = lf.report_lost(category="phone", place="3F", lost_at=now - 600, description="蓝色手机",
                               phone=PHONE)
    central.upload(store)

    with central.db.session() as session:
        assert retention.run(session, now) == {"found_item": 1, "lost_report": 0, "request": 0,
                                               "storage_incident": 0}
    with central.db.session() as session:
        assert session.get(DeskFoundItem, claimed.item_id).description == ""  # left the desk: purged
        assert session.get(DeskFoundItem, kept.item_id).description == "黑色钱包 张三"  # still held
        assert session.get(DeskLostReport, report).phone_masked == "139****5678"
    with central.db.session() as session:
        done = retention.run(session, now + 8 * 86_400)
    assert done == {"found_item": 0, "lost_report": 1, "request": 0, "storage_incident": 0}
    with central.db.session() as session:
        lost = session.get(DeskLostReport, report)
        assert (lost.phone_masked, lost.description) == (None, "")
        data = [e.data for e in session.scalars(select(Event).where(Event.type.in_(
            ("lostfound.reported", "lostfound.registered"))))]
        assert not any("李四" in json.dumps(d, ensure_ascii=False) for d in data)
        assert not any("139****5678" in json.dumps(d) for d in data)
        assert any("张三" in json.dumps(d, ensure_ascii=False) for d in data)  # held under 30 days: kept
