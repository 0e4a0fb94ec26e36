"""The desk's central side on the real central service: tickets, 首问负责制, SLA alerts, shopper page, lost & found."""
from __future__ import annotations

import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from kiosk.services.complaints import ComplaintDesk, HttpTicketStatusApi
from kiosk.services.lostfound import LostFound
from kiosk.store import Store
from kiosk.tokens import TokenBook
from server_bridge.central.alerts import AlertSettings, evaluate
from server_bridge.central.deps import get_clock
from server_bridge.central.models import Alert, Complaint
from tests.fixtures.central import REGISTRY
from tests.fixtures.console import console_user
from tests.integration.desk.conftest import CentralUnderTest


def _desk(central: CentralUnderTest, store: Store, tokens: TokenBook) -> ComplaintDesk:
    return ComplaintDesk(store=store, tokens=tokens, station_id="K01", public_url=central.url,
                         status_api=HttpTicketStatusApi(central.url, central.tokens["K01"]), rng=random.Random(3))


def _ops(central: CentralUnderTest, user: str) -> httpx.Client:
    """A desk user logged in to the console (each name its own account)."""
    return console_user(central.url, central.db_url, user, "desk")


def _alerts(central: CentralUnderTest, now: float) -> list[tuple[str, str]]:
    with central.db.session() as session:
        evaluate(session, now, AlertSettings(), REGISTRY.alert_rules)
    with central.db.session() as session:
        return [(a.kind, a.subject) for a in session.scalars(select(Alert).where(Alert.status == "open"))]


def test_ticket_travels_to_the_centre_first_taker_owns_it_and_reply_reaches_shopper(
        central: CentralUnderTest, store: Store, tokens: TokenBook) -> None:
    desk = _desk(central, store, tokens)
    ticket = desk.file(category="attitude", shop_unit="2F-01", rating=1, phone="13812345678")
    assert desk.status(ticket.status_url).status == "filed"  # not uploaded yet: the station says so
    central.upload(store)

    page = httpx.get(ticket.status_url, params={"lang": "en"})
    assert page.status_code == 200 and "Received, waiting for a reply" in page.text
    with central.db.session() as session:
        filed = session.get(Complaint, ticket.ticket_id).filed_at
    shanghai = datetime.fromtimestamp(filed, ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert shanghai in page.text  # the mall's time on the shopper's phone, not the server's UTC
    assert datetime.fromtimestamp(filed, UTC).strftime("%Y-%m-%d %H:%M") not in page.text
    assert "13812345678" not in page.text

    alice, bob = _ops(central, "alice"), _ops(central, "bob")
    assert alice.post(f"/desk/ops/tickets/{ticket.ticket_id}/take").status_code == 303
    refused = bob.post(f"/desk/ops/tickets/{ticket.ticket_id}/reply", data={"text": "我来处理"})
    assert "error=owned_by_other" in refused.headers["location"]
    alice.post(f"/desk/ops/tickets/{ticket.ticket_id}/reply", data={"text": "已联系店长，今天内回复您"})

    with central.db.session() as session:
        c = session.get(Complaint, ticket.ticket_id)
        assert (c.owner, c.status) == ("alice", "answered") and c.first_response_at is not None

    seen = desk.status(ticket.code)  # scanned at a station: the centre answers
    assert (seen.source, seen.status) == ("centre", "answered")
    assert [r["text"] for r in seen.replies] == ["已联系店长，今天内回复您"]
    assert "已联系店长" in httpx.get(ticket.status_url).text


def test_shopper_text_from_phone_is_bounded_and_inert(central: CentralUnderTest, store: Store,
                                                      tokens: TokenBook) -> None:
    desk = _desk(central, store, tokens)
    ticket = desk.file(category="goods", floor="B1", rating=2)
    central.upload(store)

    for bad, code in (("<script>alert(1)</script>", "Plain text only"), ("差" * 10_000, "Too long")):
        resp = httpx.post(ticket.status_url, data={"text": bad}, params={"lang": "en"})
        assert resp.status_code == 422 and code in resp.text
        assert "<script>alert" not in resp.text
    ok = httpx.post(ticket.status_url, data={"text": "买的牛奶过期了，小票还在"}, follow_redirects=True)
    assert ok.status_code == 200 and "买的牛奶过期了" in ok.text
    with central.db.session() as session:
        assert session.get(Complaint, ticket.ticket_id).text == "买的牛奶过期了，小票还在"

    forged = ticket.status_url[:-4] + "AAAA"
    assert httpx.get(forged).status_code == 404
    assert httpx.post(forged, data={"text": "hello"}).status_code == 404


def test_sla_clocks_raise_alerts_when_breached(central: CentralUnderTest, store: Store, tokens: TokenBook) -> None:
    desk = _desk(central, store, tokens)
    late = desk.file(category="cleanliness", floor="3F", rating=1)
    answered = desk.file(category="parking", floor="B1", rating=3)
    central.upload(store)
    _ops(central, "carol").post(f"/desk/ops/tickets/{answered.ticket_id}/reply", data={"text": "已处理"})
    with central.db.session() as session:
        filed = session.get(Complaint, late.ticket_id).filed_at

    assert ("complaint_response_sla", late.ticket_id) not in _alerts(central, filed + 3599)
    open_now = _alerts(central, filed + 3601)
    assert ("complaint_response_sla", late.ticket_id) in open_now
    assert ("complaint_response_sla", answered.ticket_id) not in open_now
    after_a_day = _alerts(central, filed + 86_401)
    assert ("complaint_close_sla", late.ticket_id) in after_a_day
    assert ("complaint_close_sla", answered.ticket_id) in after_a_day  # answered is not closed

    central.app.dependency_overrides[get_clock] = lambda: (lambda: filed + 7200)
    page = httpx.get(late.status_url, params={"lang": "en"})
    assert "overdue" in page.text


def test_found_item_unclaimed_for_seven_days_is_flagged_for_handover(
        central: CentralUnderTest, store: Store, tokens: TokenBook, tmp_path: pytest.TempPathFactory) -> None:
    now = [1_795_000_000.0]
    lf = LostFound(store=store, tokens=tokens, photo_dir=tmp_path / "photos", station_id="K01",  # type: ignore[operator]
                   clock=lambda: now[0])
    old = lf.register_found(staff_id="S01", category="bag", floor="2F", place="中庭", found_at=now[0])
    lf.report_lost(category="bag", place="中庭", lost_at=now[0] - 600, floor="2F")
    central.upload(store)

    assert ("lostfound_handover_due", old.item_id) not in _alerts(central, now[0] + 6 * 86_400)
    assert ("lostfound_handover_due", old.item_id) in _alerts(central, now[0] + 7 * 86_400 + 1)
    central.app.dependency_overrides[get_clock] = lambda: (lambda: now[0] + 8 * 86_400)
    dave = _ops(central, "dave")
    page = dave.get("/desk/ops/lostfound", params={"lang": "en"})
    assert "hand over to security" in page.text and old.item_id in page.text

    now[0] += 8 * 86_400
    lf.hand_over(staff_id="S01", receiver="保安部")
    central.upload(store)
    page = dave.get("/desk/ops/lostfound", params={"lang": "en"})
    assert "Handed over" in page.text and "保安部" in page.text


@pytest.mark.postgres
def test_desk_projections_and_ticket_flow_on_postgres(central_pg: CentralUnderTest, store: Store,
                                                      tokens: TokenBook, tmp_path: pytest.TempPathFactory) -> None:
    central = central_pg
    desk = _desk(central, store, tokens)
    ticket = desk.file(category="facilities", floor="3F", rating=1)
    lf = LostFound(store=store, tokens=tokens, photo_dir=tmp_path / "p", station_id="K01")  # type: ignore[operator]
    item = lf.register_found(staff_id="S01", category="keys", place="3F 电梯口", found_at=lf.clock() - 8 * 86_400)
    central.upload(store)
    _ops(central, "erin").post(f"/desk/ops/tickets/{ticket.ticket_id}/reply", data={"text": "已报修"})
    assert (desk.status(ticket.code).status, desk.status(ticket.code).source) == ("answered", "centre")
    assert ("lostfound_handover_due", item.item_id) in _alerts(central, lf.clock())
    assert "已报修" in httpx.get(ticket.status_url).text
