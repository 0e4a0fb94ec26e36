"""Console accounts over HTTP against a real central process: no open mode, add-user, lockout, roles, CSRF,
origin checks, security headers, the audit log (an entry per action kind) and CSV injection with TAB and CR."""
from __future__ import annotations

import csv
import io
import sqlite3
import time

import httpx
import pytest

from server_bridge.central.dashboard import csv_cell
from server_bridge.central.runner import CentralProcess
from tests.fixtures.central import envelope
from tests.fixtures.console import add_console_user, console_user, csrf_token


def audit_rows(central: CentralProcess) -> list[tuple[str, str, str, str, str]]:
    with sqlite3.connect(central.db_url.split("///", 1)[1]) as conn:
        return list(conn.execute("SELECT actor, action, target, outcome, ip FROM audit_log ORDER BY id"))


def raise_paper_alert(central: CentralProcess, token: str) -> int:
    beat = {"ts": time.time(), "version": "1.0", "uptime_s": 1,
            "printer": {"online": True, "paper_out": True}, "lockers": [],
            "outbox": {"depth": 0, "oldest_age_s": 0}}
    assert httpx.post(f"{central.url}/api/v1/stations/K01/heartbeat", json=beat,
                      headers={"Authorization": f"Bearer {token}"}).status_code == 204
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with sqlite3.connect(central.db_url.split("///", 1)[1]) as conn:
            row = conn.execute("SELECT id FROM alerts WHERE kind='printer_paper_out' AND open_key IS NOT NULL"
                               ).fetchone()
        if row:
            return int(row[0])
        time.sleep(0.2)
    raise AssertionError("no paper-out alert")


def test_no_accounts_means_closed_and_add_user_prints_a_one_time_password(central: CentralProcess) -> None:
    for path in ("/", "/alerts", "/export/lendings.csv", "/desk/ops/tickets", "/login", "/audit"):
        page = httpx.get(central.url + path)
        assert page.status_code == 503, path
        assert "add-user --db URL --user NAME --role admin" in page.text
    refused = httpx.post(f"{central.url}/alerts/1/ack", data={"by": "mallory"})
    assert refused.status_code == 503

    out = central.cli("add-user", "--user", "root", "--role", "admin")
    assert len(out.splitlines()) == 1 and len(out) >= 16 and " " not in out  # the password, alone
    with pytest.raises(RuntimeError, match="user_exists"):
        central.cli("add-user", "--user", "root", "--role", "admin")
    with pytest.raises(RuntimeError):
        central.cli("add-user", "--user", "x", "--role", "superuser")

    client = console_client_first_login(central, "root", out)
    assert client.get("/alerts").status_code == 200
    again = central.cli("add-user", "--user", "root", "--role", "admin", "--reset")
    assert again != out
    assert client.get("/alerts").status_code == 303  # a reset ends the user's sessions


def console_client_first_login(central: CentralProcess, username: str, one_time: str) -> httpx.Client:
    """Log in with a one-time password: every page leads to the password form until a new one is set."""
    client = httpx.Client(base_url=central.url, follow_redirects=False, timeout=10)
    token = csrf_token(client.get("/login").text)
    answer = client.post("/login", data={"username": username, "password": one_time, "csrf": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/account/password"
    assert client.get("/alerts").headers["location"] == "/account/password"
    form = client.get("/account/password")
    assert "First login" in form.text or "首次登录" in form.text
    token = csrf_token(form.text)
    weak = client.post("/account/password", data={"current": one_time, "new": "short", "again": "short",
                                                   "csrf": token})
    assert weak.headers["location"].endswith("error=weak_password")
    new = "Plum-Tea-Rain-1987"
    done = client.post("/account/password", data={"current": one_time, "new": new, "again": new, "csrf": token})
    assert done.headers["location"] == "/account/password?done=1"
    client.headers["X-CSRF-Token"] = csrf_token(client.get("/account/password").text)
    # the one-time password is spent
    assert console_login_status(central, username, one_time) == 401
    return client


def console_login_status(central: CentralProcess, username: str, password: str) -> int:
    with httpx.Client(base_url=central.url, follow_redirects=False, timeout=10) as c:
        token = csrf_token(c.get("/login").text)
        return c.post("/login", data={"username": username, "password": password, "csrf": token}).status_code


def test_wrong_passwords_lock_the_account_and_the_session_cookie_is_guarded(central: CentralProcess) -> None:
    password = add_console_user(central.db_url, "lucy", "viewer")
    assert [console_login_status(central, "lucy", "wrong-password-x") for _ in range(4)] == [401] * 4
    assert console_login_status(central, "lucy", "wrong-password-x") == 423  # the fifth locks
    assert console_login_status(central, "lucy", password) == 423  # even the right one, for 15 minutes
    assert console_login_status(central, "nobody", "wrong-password-x") == 401  # unknown: said the same way

    ok_password = add_console_user(central.db_url, "lena", "viewer")
    with httpx.Client(base_url=central.url, follow_redirects=False) as c:
        token = csrf_token(c.get("/login").text)
        no_cookie = httpx.post(f"{central.url}/login", data={"username": "lena", "password": ok_password,
                                                              "csrf": token})
        assert no_cookie.status_code == 403  # the login form's double-submit token needs its cookie
        answer = c.post("/login", data={"username": "lena", "password": ok_password, "csrf": token})
        assert answer.status_code == 303
        cookie = answer.headers["set-cookie"].lower()
        assert "central_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
        value = c.cookies["central_session"]
        forged = value[:-1] + ("0" if value[-1] != "0" else "1")
        assert httpx.get(f"{central.url}/alerts", cookies={"central_session": forged}).status_code == 303
        assert httpx.get(f"{central.url}/alerts", cookies={"central_session": value}).status_code == 200
    kinds = [(a, o) for actor, a, _t, o, _ip in audit_rows(central) if actor == "lucy"]
    assert kinds.count(("login_failed", "refused")) == 4 and kinds.count(("login_locked", "refused")) == 2


def test_each_role_sees_only_what_it_may(central: CentralProcess) -> None:
    token = central.add_station("K01")
    alert_id = raise_paper_alert(central, token)
    clients = {role: console_user(central.url, central.db_url, f"{role}-1", role)
               for role in ("viewer", "desk", "ops", "admin")}
    # (method, path, lowest role allowed)
    matrix = [("GET", "/", "viewer"), ("GET", "/alerts", "viewer"), ("GET", "/kpis", "viewer"),
              ("GET", "/complaints", "viewer"), ("GET", "/stations/K01", "viewer"),
              ("GET", "/desk/ops/tickets", "desk"), ("GET", "/desk/ops/lostfound", "desk"),
              ("GET", "/export/complaints.csv", "desk"), ("GET", "/export/lendings.csv", "ops"),
              ("GET", "/export/kpi-lendings.csv", "ops"), ("GET", "/audit", "admin"),
              ("GET", "/admin/users", "admin"), ("GET", "/export/audit.csv", "admin")]
    order = ["viewer", "desk", "ops", "admin"]
    for method, path, lowest in matrix:
        for role, client in clients.items():
            status = client.request(method, path).status_code
            expected = 200 if order.index(role) >= order.index(lowest) else 403
            assert status == expected, (role, path, status)
    for role in ("viewer", "desk"):
        assert clients[role].post(f"/alerts/{alert_id}/ack").status_code == 403
        assert 'class="ack"' not in clients[role].get("/alerts").text
    assert 'class="ack"' in clients["ops"].get("/alerts").text
    assert clients["ops"].post(f"/alerts/{alert_id}/ack", data={"by": "somebody-else"}).status_code == 303
    with sqlite3.connect(central.db_url.split("///", 1)[1]) as conn:
        assert conn.execute("SELECT acknowledged_by FROM alerts WHERE id=?", (alert_id,)).fetchone() == ("ops-1",)
    admin = clients["admin"]
    assert admin.post("/admin/users/admin-1/role", data={"role": "viewer"}).headers["location"].endswith("error=self")
    assert admin.post("/admin/users/viewer-1/role", data={"role": "desk"}).status_code == 303
    assert clients["viewer"].get("/desk/ops/tickets").status_code == 200  # the new role counts at once
    assert admin.post("/admin/users/viewer-1/disable").status_code == 303
    assert clients["viewer"].get("/").status_code == 303  # disabled: sessions gone


def test_csrf_token_and_origin_are_checked_and_headers_sent(central: CentralProcess) -> None:
    token = central.add_station("K01")
    alert_id = raise_paper_alert(central, token)
    ops = console_user(central.url, central.db_url, "otto", "ops")
    page = ops.get("/alerts")
    for header in ("content-security-policy", "x-frame-options", "x-content-type-options"):
        assert header in page.headers
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"

    session_only = httpx.Client(base_url=central.url, cookies=ops.cookies, follow_redirects=False)
    assert session_only.post(f"/alerts/{alert_id}/ack").status_code == 403  # the cookie alone is not enough
    assert session_only.post(f"/alerts/{alert_id}/ack", data={"csrf": "guess"}).status_code == 403
    cross = ops.post(f"/alerts/{alert_id}/resolve", headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403 and "cross-origin" in cross.text
    cross_site = ops.post(f"/alerts/{alert_id}/resolve", headers={"Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 403
    with sqlite3.connect(central.db_url.split("///", 1)[1]) as conn:
        assert conn.execute("SELECT status FROM alerts WHERE id=?", (alert_id,)).fetchone() == ("open",)
    same = ops.post(f"/alerts/{alert_id}/ack", headers={"Origin": central.url})
    assert same.status_code == 303
    refused = [r for r in audit_rows(central) if r[1] == "csrf_refused"]
    assert len(refused) == 4 and all(r[3] == "refused" for r in refused)
    # the station API is not a console path: bearer tokens, no origin rule
    assert httpx.post(f"{central.url}/api/v1/stations/K01/heartbeat", json={"ts": time.time(), "version": "1", "uptime_s": 1, "outbox": {"depth": 0}},
                      headers={"Authorization": f"Bearer {token}", "Origin": "http://evil.example"}
                      ).status_code == 204


def test_audit_log_has_an_entry_for_every_action_kind(central: CentralProcess) -> None:
    token = central.add_station("K01")
    now = time.time()
    events = [envelope(1, "complaint.filed", {"complaint_id": "C-9", "category": "service", "floor": "2F",
                                               "text": "slow", "filed_at": now}),
              envelope(2, "lostfound.registered", {"item_id": "F-1", "category": "bag", "place": "atrium",
                                                    "floor": "1F", "found_at": now - 9 * 86400,
                                                    "registered_by": "S-001"}),
              envelope(3, "lostfound.handed_over", {"item_id": "F-1", "by": "S-001", "receiver": "保安部",
                                                     "at": now})]
    answer = httpx.post(f"{central.url}/api/v1/stations/K01/events", json={"events": events},
                        headers={"Authorization": f"Bearer {token}"})
    assert answer.json() == {"acked_seq": 3}, answer.text
    alert_id = raise_paper_alert(central, token)

    one_time = central.cli("add-user", "--user", "ada", "--role", "admin")
    admin = console_client_first_login(central, "ada", one_time)
    assert console_login_status(central, "ada", "not-her-password") == 401
    for _ in range(5):
        console_login_status(central, "zed", "nope-nope-nope")  # unknown user: failures only
    assert admin.post("/admin/users", data={"username": "dora", "role": "desk"}).status_code == 200
    assert admin.post("/admin/users/dora/role", data={"role": "ops"}).status_code == 303
    assert admin.post("/admin/users/dora/reset").status_code == 200
    assert admin.post("/admin/users/dora/disable").status_code == 303
    assert admin.post("/admin/users/dora/enable").status_code == 303
    assert admin.post(f"/alerts/{alert_id}/ack").status_code == 303
    assert admin.post(f"/alerts/{alert_id}/resolve").status_code == 303
    assert admin.post("/desk/ops/tickets/C-9/take").status_code == 303
    assert admin.post("/desk/ops/tickets/C-9/reply", data={"text": "on it"}).status_code == 303
    assert admin.post("/desk/ops/tickets/C-9/close", data={"text": "done"}).status_code == 303
    assert admin.get("/export/lendings.csv").status_code == 200
    assert admin.post("/alerts/1/ack", headers={"Origin": "http://evil.example"}).status_code == 403
    add_console_user(central.db_url, "lisa", "viewer")
    for _ in range(5):
        console_login_status(central, "lisa", "wrong-password-x")
    assert admin.post("/logout").status_code == 303

    rows = audit_rows(central)
    kinds = {r[1] for r in rows}
    expected = {"login", "login_failed", "login_locked", "logout", "password_changed", "alert.ack", "alert.resolve",
                "ticket.take", "ticket.reply", "ticket.close", "lostfound.handed_over", "user.added",
                "user.password_reset", "user.role_changed", "user.disabled", "user.enabled", "export",
                "csrf_refused"}
    assert expected <= kinds, expected - kinds
    by_kind = {r[1]: r for r in rows}
    assert by_kind["alert.ack"][:3] == ("ada", "alert.ack", f"alert:{alert_id}")
    assert by_kind["alert.ack"][4] == "127.0.0.1"
    assert by_kind["lostfound.handed_over"][:3] == ("staff:S-001@K01", "lostfound.handed_over", "found:F-1")
    assert by_kind["export"][2] == "export:lendings"

    # the page searches; its CSV export is itself audited
    admin2 = console_user(central.url, central.db_url, "root2", "admin")
    page = admin2.get("/audit", params={"action": "ticket.reply", "lang": "en"})
    assert page.text.count('data-action="ticket.reply"') == 1 and 'data-action="login"' not in page.text
    assert "<td title=\"ticket.reply\">Replied to a ticket</td>" in page.text  # actions in words, not keys
    page = admin2.get("/audit", params={"actor": "staff:S-001@K01"})
    assert "found:F-1" in page.text and "保安部" in page.text
    exported = admin2.get("/export/audit.csv").text.lstrip("\ufeff")
    assert exported.startswith("id,at,actor") and "ticket.close" in exported


def test_csv_export_neutralises_formula_starts_including_tab_and_cr(central: CentralProcess) -> None:
    for bad in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1+1", "\r=1+1"):
        assert csv_cell(bad) == "'" + bad
    assert csv_cell("plain") == "plain" and csv_cell(5) == 5
    token = central.add_station("K01")
    texts = ["\t=HYPERLINK(\"http://evil\")", "\r=cmd|' /C calc'!A0", "=2+5", "fine"]
    events = [envelope(i + 1, "complaint.filed", {"complaint_id": f"C-{i}", "category": "service", "floor": "2F",
                                                   "text": text, "filed_at": time.time()})
              for i, text in enumerate(texts)]
    assert httpx.post(f"{central.url}/api/v1/stations/K01/events", json={"events": events},
                      headers={"Authorization": f"Bearer {token}"}).status_code == 200
    desk = console_user(central.url, central.db_url, "dina", "desk")
    body = desk.get("/export/complaints.csv").text.lstrip("\ufeff")
    cells = {row["complaint_id"]: row["text"] for row in csv.DictReader(io.StringIO(body, newline=""))}
    assert cells["C-0"].startswith("'\t=") and cells["C-1"].startswith("'\r=") and cells["C-2"] == "'=2+5"
    assert cells["C-3"] == "fine"
