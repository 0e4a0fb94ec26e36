"""The console's accounts in headless Chromium: first login, logout, lockout, roles, an acknowledge under the
login, a form posted from another origin refused, the audit page. Screenshots go to artifacts/central/."""
from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from server_bridge.central.runner import CentralProcess
from tests.fixtures.central import envelope, migrated_sqlite
from tests.fixtures.console import add_console_user
from tests.integration.central.browsing import ARTIFACTS, log_in, wait_for
from tests.integration.central.test_console_http import raise_paper_alert

pytestmark = pytest.mark.browser


def _by() -> object:
    from selenium.webdriver.common.by import By

    return By


def log_out(driver: object) -> None:
    By = _by()
    driver.find_element(By.ID, "logout").click()  # type: ignore[attr-defined]
    wait_for(driver, lambda d: d.find_elements(By.ID, "login-form"))  # type: ignore[attr-defined]


def test_first_login_logout_and_lockout(central: CentralProcess, browser: object) -> None:
    By, driver = _by(), browser
    driver.get(f"{central.url}/?lang=en")  # type: ignore[attr-defined]
    assert "add-user --db URL --user NAME --role admin" in driver.find_element(By.ID, "command").text  # type: ignore[attr-defined]
    driver.save_screenshot(str(ARTIFACTS / "console-no-accounts.png"))  # type: ignore[attr-defined]

    one_time = central.cli("add-user", "--user", "amy", "--role", "admin")
    driver.get(f"{central.url}/alerts?lang=en")  # type: ignore[attr-defined]
    wait_for(driver, lambda d: "/login" in d.current_url)
    driver.find_element(By.ID, "username").send_keys("amy")  # type: ignore[attr-defined]
    driver.find_element(By.ID, "password").send_keys(one_time)  # type: ignore[attr-defined]
    driver.save_screenshot(str(ARTIFACTS / "console-login.png"))  # type: ignore[attr-defined]
    driver.find_element(By.ID, "login-submit").click()  # type: ignore[attr-defined]
    wait_for(driver, lambda d: d.find_elements(By.ID, "must-change"))
    assert not driver.find_elements(By.ID, "nav-alerts")  # type: ignore[attr-defined]  (nothing else until then)
    driver.find_element(By.ID, "current").send_keys(one_time)  # type: ignore[attr-defined]
    for field in ("new", "again"):
        driver.find_element(By.ID, field).send_keys("Harbour-Lights-2026")  # type: ignore[attr-defined]
    driver.find_element(By.ID, "password-submit").click()  # type: ignore[attr-defined]
    wait_for(driver, lambda d: d.find_elements(By.ID, "password-done"))
    who = driver.find_element(By.ID, "who")  # type: ignore[attr-defined]
    assert who.get_attribute("data-user") == "amy" and who.get_attribute("data-role") == "admin"

    log_out(driver)
    driver.get(f"{central.url}/alerts")  # type: ignore[attr-defined]
    wait_for(driver, lambda d: "/login" in d.current_url)  # logged out means logged out

    add_console_user(central.db_url, "vic", "viewer")
    for attempt in range(5):
        log_in(driver, central, "vic", f"not-the-password-{attempt}")
        wait_for(driver, lambda d: d.find_elements(By.ID, "login-error"))
    error = driver.find_element(By.ID, "login-error")  # type: ignore[attr-defined]
    assert error.get_attribute("data-code") == "locked" and "locked" in error.text
    driver.save_screenshot(str(ARTIFACTS / "console-locked.png"))  # type: ignore[attr-defined]
    log_in(driver, central, "vic", "X#QZ%W!KPV@M")  # the right password, still locked
    wait_for(driver, lambda d: d.find_element(By.ID, "login-error").get_attribute("data-code") == "locked")


def test_roles_see_only_what_they_may(central: CentralProcess, browser: object) -> None:
    By, driver = _by(), browser
    token = central.add_station("K01")
    raise_paper_alert(central, token)
    seen: dict[str, dict[str, bool]] = {}
    for role in ("viewer", "desk", "ops", "admin"):
        log_in(driver, central, f"{role}-u", add_console_user(central.db_url, f"{role}-u", role))
        wait_for(driver, lambda d: d.find_elements(By.ID, "who"))
        driver.get(f"{central.url}/alerts?lang=en")  # type: ignore[attr-defined]
        seen[role] = {"tickets": bool(driver.find_elements(By.ID, "nav-tickets")),  # type: ignore[attr-defined]
                      "audit": bool(driver.find_elements(By.ID, "nav-audit")),  # type: ignore[attr-defined]
                      "ack": bool(driver.find_elements(By.CSS_SELECTOR, "button.ack"))}  # type: ignore[attr-defined]
        driver.get(f"{central.url}/audit?lang=en")  # type: ignore[attr-defined]
        seen[role]["audit_page"] = bool(driver.find_elements(By.ID, "audit"))  # type: ignore[attr-defined]
        if role == "ops":
            heading = driver.find_element(By.ID, "message")  # type: ignore[attr-defined]
            assert heading.get_attribute("data-heading") == "forbidden" and "admin" in heading.text
            driver.save_screenshot(str(ARTIFACTS / "console-forbidden.png"))  # type: ignore[attr-defined]
        log_out(driver)
    assert seen == {
        "viewer": {"tickets": False, "audit": False, "ack": False, "audit_page": False},
        "desk": {"tickets": True, "audit": False, "ack": False, "audit_page": False},
        "ops": {"tickets": True, "audit": False, "ack": True, "audit_page": False},
        "admin": {"tickets": True, "audit": True, "ack": True, "audit_page": True},
    }


@pytest.fixture
def other_origin() -> Iterator[tuple[str, dict[str, str]]]:
    """Another web site on this machine (another port: same site, other origin, so the browser even sends the
    SameSite=Lax cookie) serving a page that posts a form to the centre as soon as it loads."""
    page: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = page.get("html", "").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", page
    server.shutdown()
    thread.join(5)


def test_acknowledge_is_recorded_under_the_login_and_a_cross_origin_post_is_refused(
        central: CentralProcess, browser: object, other_origin: tuple[str, dict[str, str]]) -> None:
    By, driver = _by(), browser
    token = central.add_station("K01")
    alert_id = raise_paper_alert(central, token)
    log_in(driver, central, "opal", add_console_user(central.db_url, "opal", "ops"))
    wait_for(driver, lambda d: d.find_elements(By.ID, "who"))

    evil_url, page = other_origin
    page["html"] = (f'<form id="f" method="post" action="{central.url}/alerts/{alert_id}/resolve">'
                    '<input name="by" value="alice"><input name="csrf" value="guessed"></form>'
                    '<script>document.getElementById("f").submit()</script>')
    driver.get(evil_url)  # type: ignore[attr-defined]
    wait_for(driver, lambda d: "cross-origin request refused" in d.page_source)
    db = central.db_url.split("///", 1)[1]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM alerts WHERE id=?", (alert_id,)).fetchone() == ("open",)
        refused = conn.execute("SELECT detail FROM audit_log WHERE action='csrf_refused'").fetchall()
    assert len(refused) == 1 and evil_url in refused[0][0]

    driver.get(f"{central.url}/alerts?lang=en")  # type: ignore[attr-defined]
    xpath = f"//tr[@id='alert-{alert_id}']"
    driver.find_element(By.XPATH, xpath).find_element(By.CSS_SELECTOR, "button.ack").click()  # type: ignore[attr-defined]
    wait_for(driver, lambda d: d.find_element(By.XPATH, xpath).get_attribute("data-status") == "acknowledged")
    assert "opal" in driver.find_element(By.XPATH, xpath).text  # type: ignore[attr-defined]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT acknowledged_by FROM alerts WHERE id=?", (alert_id,)).fetchone() == ("opal",)
        assert conn.execute("SELECT actor, ip FROM audit_log WHERE action='alert.ack'").fetchall() == [
            ("opal", "127.0.0.1")]
    log_out(driver)

    log_in(driver, central, "adele", add_console_user(central.db_url, "adele", "admin"), lang="zh")
    wait_for(driver, lambda d: d.find_elements(By.ID, "who"))
    driver.get(f"{central.url}/audit?lang=zh")  # type: ignore[attr-defined]
    actions = [r.get_attribute("data-action") for r in driver.find_elements(By.CSS_SELECTOR, "tr.audit-row")]  # type: ignore[attr-defined]
    assert {"login", "logout", "alert.ack", "csrf_refused"} <= set(actions)
    driver.save_screenshot(str(ARTIFACTS / "console-audit-zh.png"))  # type: ignore[attr-defined]
    driver.get(f"{central.url}/audit?lang=en&action=alert.ack")  # type: ignore[attr-defined]
    rows = driver.find_elements(By.CSS_SELECTOR, "tr.audit-row")  # type: ignore[attr-defined]
    assert [r.get_attribute("data-actor") for r in rows] == ["opal"]
    driver.save_screenshot(str(ARTIFACTS / "console-audit-filtered-en.png"))  # type: ignore[attr-defined]


@pytest.fixture
def escalating(tmp_path: Path) -> Iterator[CentralProcess]:
    """A centre where a paper-out alert escalates to admin after 1.2 s (offline after 2 s)."""
    proc = CentralProcess(migrated_sqlite(tmp_path / "central.db"), tmp_path / "central", offline_after_s=2.0,
                          eval_every_s=0.3, extra_env={"CENTRAL_ESCALATE": "printer_paper_out=0.02:admin"})
    proc.start()
    yield proc
    proc.stop()


def test_escalated_alerts_come_first_and_bulk_acknowledge_ends_them(escalating: CentralProcess,
                                                                    browser: object) -> None:
    By, driver, central = _by(), browser, escalating
    token = central.add_station("K01")
    paper = raise_paper_alert(central, token)
    db = central.db_url.split("///", 1)[1]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # the station falls silent: offline, and paper-out escalates
        with sqlite3.connect(db) as conn:
            kinds = {k for (k,) in conn.execute("SELECT kind FROM alerts WHERE open_key IS NOT NULL")}
        if {"alert_escalated", "station_offline"} <= kinds:
            break
        time.sleep(0.3)
    log_in(driver, central, "olly", add_console_user(central.db_url, "olly", "ops"))
    wait_for(driver, lambda d: d.find_elements(By.ID, "who"))
    driver.get(f"{central.url}/alerts?lang=en")  # type: ignore[attr-defined]
    first = driver.find_elements(By.CSS_SELECTOR, "#live-alerts tbody tr")[0]  # type: ignore[attr-defined]
    assert first.get_attribute("id") == f"alert-{paper}" and first.get_attribute("data-escalated") == "admin"
    driver.save_screenshot(str(ARTIFACTS / "alerts-escalated-en.png"))  # type: ignore[attr-defined]
    picks = driver.find_elements(By.CSS_SELECTOR, "input.pick")  # type: ignore[attr-defined]
    assert len(picks) >= 3  # paper-out, station offline, the escalation itself
    for pick in picks:
        pick.click()
    driver.find_element(By.ID, "bulk-ack-submit").click()  # type: ignore[attr-defined]
    wait_for(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "input.pick"))
    with sqlite3.connect(db) as conn:
        statuses = dict(conn.execute("SELECT kind, status FROM alerts WHERE kind != 'alert_escalated'"))
        acked_by = {b for (b,) in conn.execute("SELECT acknowledged_by FROM alerts")}
        audited = conn.execute("SELECT COUNT(*) FROM audit_log WHERE action='alert.ack' AND actor='olly'").fetchone()
        escalations = conn.execute("SELECT status FROM alerts WHERE kind='alert_escalated'").fetchall()
    assert statuses == {"printer_paper_out": "acknowledged", "station_offline": "acknowledged"}
    assert acked_by == {"olly"} and audited[0] >= 2 and escalations == [("resolved",)]


def test_desk_pages_share_the_console_and_times_are_the_malls(central: CentralProcess, browser: object) -> None:
    By, driver = _by(), browser
    token = central.add_station("K01")
    filed = 1_796_016_900.0  # 2026-11-30 05:35 UTC = 13:35 in Shanghai
    events = [envelope(1, "complaint.filed", {"complaint_id": "C-77", "category": "service", "floor": "2F",
                                               "text": "slow", "filed_at": filed}, ts="2026-11-30T05:35:00.000Z")]
    assert httpx.post(f"{central.url}/api/v1/stations/K01/events", json={"events": events},
                      headers={"Authorization": f"Bearer {token}"}).json() == {"acked_seq": 1}
    log_in(driver, central, "dana", add_console_user(central.db_url, "dana", "desk"), lang="zh")
    wait_for(driver, lambda d: d.find_elements(By.ID, "who"))

    driver.get(f"{central.url}/desk/ops/tickets")  # type: ignore[attr-defined]
    assert driver.find_element(By.ID, "nav-fleet").text == "站点总览"  # type: ignore[attr-defined]
    assert driver.find_element(By.ID, "who").get_attribute("data-user") == "dana"  # type: ignore[attr-defined]
    assert driver.find_elements(By.CSS_SELECTOR, "table.grid")  # type: ignore[attr-defined]  (the same table)
    driver.save_screenshot(str(ARTIFACTS / "console-tickets-zh.png"))  # type: ignore[attr-defined]
    driver.find_element(By.ID, "lang-toggle").click()  # type: ignore[attr-defined]
    wait_for(driver, lambda d: d.find_element(By.ID, "nav-fleet").text == "Fleet")
    driver.get(f"{central.url}/desk/ops/lostfound")  # type: ignore[attr-defined]  (the choice is remembered)
    assert driver.find_element(By.ID, "nav-fleet").text == "Fleet"  # type: ignore[attr-defined]
    driver.get(f"{central.url}/stations/K01")  # type: ignore[attr-defined]
    assert "2026-11-30 13:35:00" in driver.page_source  # type: ignore[attr-defined]  (the event's stamp, not UTC)
    assert "2026-11-30T05:35" not in driver.page_source  # type: ignore[attr-defined]
    driver.get(f"{central.url}/desk/ops/tickets/C-77")  # type: ignore[attr-defined]
    assert "2026-11-30 13:35" in driver.page_source  # type: ignore[attr-defined]
    driver.find_element(By.CSS_SELECTOR, "form[action$='/take'] button").click()  # type: ignore[attr-defined]
    wait_for(driver, lambda d: d.find_element(By.ID, "owner").text == "dana")
    driver.save_screenshot(str(ARTIFACTS / "console-ticket-en.png"))  # type: ignore[attr-defined]
