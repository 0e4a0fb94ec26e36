"""The station API of a real central process: auth, validation, bounds, idempotence, inert text."""
from __future__ import annotations

import sqlite3
import time

import httpx
import pytest

from server_bridge.central.runner import CentralProcess
from tests.fixtures.central import envelope
from tests.fixtures.console import console_user


def stored(central: CentralProcess) -> int:
    path = central.db_url.split("///", 1)[1]
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])


@pytest.fixture
def tokens(central: CentralProcess) -> dict[str, str]:
    return {sid: central.add_station(sid) for sid in ("K01", "K02")}


def post(central: CentralProcess, station: str, body: object, token: str | None, **kw: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{central.url}/api/v1/stations/{station}/events", json=body, headers=headers,
                      timeout=10, **kw)  # type: ignore[arg-type]


GOOD = {"events": [envelope(1, "survey.rated", {"flow": "borrow", "score": 5, "lang": "en"})]}


def test_refused_requests_store_nothing(central: CentralProcess, tokens: dict[str, str]) -> None:
    assert post(central, "K01", GOOD, None).status_code == 401
    assert post(central, "K01", GOOD, "not-a-token").status_code == 401
    assert post(central, "K01", GOOD, tokens["K02"]).status_code == 403
    assert post(central, "k01", GOOD, tokens["K01"]).status_code in (403, 422)
    bad_shapes = [{"events": []}, {"events": [{"seq": 0, "id": "x", "type": "t", "ts": "x", "data": {}}]},
                  {"events": [{**GOOD["events"][0], "ts": "yesterday"}]},
                  {"events": [{**GOOD["events"][0], "extra": 1}]}, {"evts": []}, [1, 2]]
    for body in bad_shapes:
        answer = post(central, "K01", body, tokens["K01"])
        assert answer.status_code == 422, body
        assert answer.json()["code"] == "invalid_request"
    garbage = httpx.post(f"{central.url}/api/v1/stations/K01/events", content=b"{not json",
                         headers={"Authorization": f"Bearer {tokens['K01']}", "Content-Type": "application/json"})
    assert garbage.status_code == 422
    huge = {"events": [envelope(1, "x.big", {"blob": "x" * 5_000_000})]}
    assert post(central, "K01", huge, tokens["K01"]).status_code == 413
    assert stored(central) == 0
    assert post(central, "K01", GOOD, tokens["K01"]).json() == {"acked_seq": 1}
    assert stored(central) == 1


def test_duplicate_and_out_of_order_batches(central: CentralProcess, tokens: dict[str, str]) -> None:
    rate = [envelope(i, "survey.rated", {"flow": "borrow", "score": 4, "lang": "en"}) for i in range(1, 7)]
    assert post(central, "K01", {"events": rate[3:]}, tokens["K01"]).json() == {"acked_seq": 0}
    assert post(central, "K01", {"events": rate[:2]}, tokens["K01"]).json() == {"acked_seq": 2}
    assert post(central, "K01", {"events": rate[:3]}, tokens["K01"]).json() == {"acked_seq": 6}
    assert post(central, "K01", {"events": rate}, tokens["K01"]).json() == {"acked_seq": 6}
    assert stored(central) == 6


def test_complaint_markup_is_shown_inert(central: CentralProcess, tokens: dict[str, str]) -> None:
    text = "<script>document.title='pwned'</script><b>bold</b> '; DROP TABLE complaints; --"
    body = {"events": [envelope(1, "complaint.filed", {"complaint_id": "C-1", "category": "service",
                                                        "floor": "2F", "text": text, "filed_at": time.time()})]}
    assert post(central, "K01", body, tokens["K01"]).status_code == 200
    page = console_user(central.url, central.db_url, "olivia", "viewer").get("/complaints?lang=en").text
    assert "&lt;script&gt;document.title=" in page and "<script>" not in page and "<b>bold" not in page
    assert "DROP TABLE complaints" in page


def test_member_lookup_needs_a_station_token(central: CentralProcess, tokens: dict[str, str]) -> None:
    central.cli("seed-demo")
    auth = {"Authorization": f"Bearer {tokens['K02']}"}
    member = httpx.get(f"{central.url}/api/v1/members/M10001", headers=auth).json()
    assert member["level"] == "gold" and member["phone_masked"] == "138****8000" and "13800138000" not in str(member)
    assert httpx.get(f"{central.url}/api/v1/members/NOPE", headers=auth).status_code == 404
    assert httpx.get(f"{central.url}/api/v1/members/M10001").status_code == 401


def test_heartbeat_shows_on_the_fleet_page(central: CentralProcess, tokens: dict[str, str]) -> None:
    beat = {"ts": time.time(), "version": "1.2.3", "uptime_s": 5, "printer": {"online": True, "paper_out": True},
            "camera": {"connected": True, "fps": 12, "decode_rate": 0.8},
            "lockers": [{"locker_id": "UL1", "item_type": "umbrella", "online": True,
                         "slots": [{"slot": 1, "state": "occupied", "item": "U-1"}], "faults": []}],
            "outbox": {"depth": 3, "oldest_age_s": 1.5}}
    answer = httpx.post(f"{central.url}/api/v1/stations/K01/heartbeat", json=beat,
                        headers={"Authorization": f"Bearer {tokens['K01']}"})
    assert answer.status_code == 204
    bad = httpx.post(f"{central.url}/api/v1/stations/K01/heartbeat", json={**beat, "uptime_s": -1},
                     headers={"Authorization": f"Bearer {tokens['K01']}"})
    assert bad.status_code == 422
    ops = console_user(central.url, central.db_url, "oscar", "ops")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        page = ops.get("/?lang=en").text
        if "1.2.3" in page:
            break
        time.sleep(0.2)
    row = page.split('id="station-K01"', 1)[1].split("</tr>", 1)[0]
    assert 'data-status="online"' in page.split('id="station-K01"', 1)[1][:40]
    assert "Paper out" in row and "1.2.3" in row
    csv = ops.get("/export/alerts.csv")
    assert csv.status_code == 200 and csv.text.lstrip("\ufeff").startswith("id,kind")
    assert "openapi" in httpx.get(f"{central.url}/openapi.json").json()
