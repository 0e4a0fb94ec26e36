"""Member look-ups and points from stations on a real central process: enumeration refused, rate per station,
points outside policy not applied, audited and alerted."""
from __future__ import annotations

import sqlite3
import time

import httpx

from server_bridge.central.members import LookupRefused, MemberLookupGuard
from server_bridge.central.runner import CentralProcess
from tests.fixtures.central import envelope


def rows(central: CentralProcess, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(central.db_url.split("///", 1)[1]) as conn:
        return list(conn.execute(sql, args))


def wait_alert(central: CentralProcess, kind: str, station: str) -> list[tuple]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = rows(central, "SELECT subject FROM alerts WHERE kind=? AND station_id=? AND open_key IS NOT NULL",
                     kind, station)
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {kind} alert for {station}")


def test_lookup_rate_is_bounded_per_station(central: CentralProcess) -> None:
    tokens = {sid: central.add_station(sid) for sid in ("K01", "K02")}
    central.cli("seed-demo")
    k01 = httpx.Client(base_url=central.url, headers={"Authorization": f"Bearer {tokens['K01']}"}, timeout=10)
    started = time.monotonic()
    statuses = [k01.get(f"/api/v1/members/M1000{1 + i % 4}").status_code for i in range(100)]
    took = time.monotonic() - started
    assert statuses[:20] == [200] * 20, statuses[:25]
    # refilled at 20 a minute, so however long the 100 took only a few more get through
    assert statuses.count(200) <= 20 + int(took / 3) + 1 and statuses.count(429) >= 75, (statuses.count(200), took)
    assert k01.get("/api/v1/members/M10001").json()["code"] == "too_many_lookups"
    k02 = httpx.get(f"{central.url}/api/v1/members/M10001", headers={"Authorization": f"Bearer {tokens['K02']}"})
    assert k02.status_code == 200  # each station has its own budget
    refused = rows(central, "SELECT actor, action, outcome FROM audit_log WHERE action='member.lookup_refused'")
    assert refused == [("station:K01", "member.lookup_refused", "refused")]  # one entry a minute, not 80


def test_sequential_guessing_is_refused_audited_and_alerted(central: CentralProcess) -> None:
    token = central.add_station("K02")
    central.cli("seed-demo")
    auth = {"Authorization": f"Bearer {token}"}
    guesses = [httpx.get(f"{central.url}/api/v1/members/M1{n:04d}", headers=auth).status_code
               for n in range(5, 15)]
    assert guesses == [404] * 10
    # the tenth unknown id paused the station: even a real member is refused now
    assert httpx.get(f"{central.url}/api/v1/members/M10001", headers=auth).status_code == 429
    assert rows(central, "SELECT actor, target FROM audit_log WHERE action='member.lookup_refused'")[0] == (
        "station:K02", "enumeration")
    assert wait_alert(central, "member_enumeration", "K02") == [("lookups",)]


def test_points_outside_policy_are_not_applied_and_are_alerted(central: CentralProcess) -> None:
    token = central.add_station("K01")
    central.cli("seed-demo")
    before = rows(central, "SELECT points FROM members WHERE member_id='M10004'")[0][0]
    events = [envelope(1, "points.changed", {"member_id": "M10004", "delta": 1_000_000, "reason": "gift"}),
              envelope(2, "points.changed", {"member_id": "M10004", "delta": -1_000_000, "reason": "wipe"}),
              envelope(3, "points.changed", {"member_id": "M10004", "delta": 50, "reason": "survey"}),
              envelope(4, "parking.redeemed", {"member_id": "M10004", "points": 9_000, "hours": 1}),
              envelope(5, "parking.redeemed", {"member_id": "M10004", "points": 100, "hours": 1})]
    answer = httpx.post(f"{central.url}/api/v1/stations/K01/events", json={"events": events},
                        headers={"Authorization": f"Bearer {token}"})
    assert answer.json() == {"acked_seq": 5}  # stored (the station's record is kept), not all applied
    assert rows(central, "SELECT points FROM members WHERE member_id='M10004'")[0][0] == before + 50 - 100
    assert [r[0] for r in rows(central, "SELECT seq FROM points_ledger ORDER BY seq")] == [3, 5]
    refused = rows(central, "SELECT actor, target, detail FROM audit_log WHERE action='points.refused' ORDER BY id")
    assert [(a, t) for a, t, _ in refused] == [("station:K01", "member:M10004")] * 3
    assert '"seq": 1' in refused[0][2] and '"seq": 4' in refused[2][2]
    assert wait_alert(central, "points_refused", "K01") == [("member:M10004",)]


def test_a_station_cannot_award_more_than_its_daily_cap(central: CentralProcess) -> None:
    token = central.add_station("K01")
    central.cli("seed-demo")
    events = [envelope(i, "points.changed", {"member_id": "M10002", "delta": 200, "reason": "survey"})
              for i in range(1, 31)]
    assert httpx.post(f"{central.url}/api/v1/stations/K01/events", json={"events": events},
                      headers={"Authorization": f"Bearer {token}"}).json() == {"acked_seq": 30}
    applied = rows(central, "SELECT COUNT(*), SUM(delta) FROM points_ledger WHERE station_id='K01'")[0]
    assert applied == (25, 5_000)
    assert rows(central, "SELECT COUNT(*) FROM audit_log WHERE action='points.refused'")[0][0] == 5


def test_guard_refills_and_unblocks_with_time() -> None:
    now = [0.0]
    guard = MemberLookupGuard(per_minute=3, unknown_limit=2, block_s=60, clock=lambda: now[0])
    for _ in range(3):
        guard.admit("K01")
    try:
        guard.admit("K01")
        raise AssertionError("fourth look-up in a minute admitted")
    except LookupRefused:
        pass
    now[0] += 20.0  # one token back
    guard.admit("K01")
    assert not guard.unknown("K09") and guard.unknown("K09")
    now[0] += 59.0
    try:
        guard.admit("K09")
        raise AssertionError("blocked station admitted")
    except LookupRefused:
        pass
    now[0] += 2.0
    guard.admit("K09")
