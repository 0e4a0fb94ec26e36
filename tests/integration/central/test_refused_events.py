"""One event the centre refuses for its content must not block a station's outbox (issues 12 and 16).

A real centre (FastAPI under uvicorn, SQLite on disk) and the station's real uploader over HTTP. The refused
event is parked in the station's store with the centre's reason and held in the centre's quarantine; the
events after it are stored; `diag` names it; the centre alerts once; after the centre is fixed a staff resend
delivers it exactly once. A refused token, a 5xx, a timeout or an older centre's whole-batch 422 park nothing.
"""
from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from pydantic import Field
from sqlalchemy import text

from kiosk.cli import main as kiosk_main
from kiosk.services.diagnostics import StationHealth, assess, outbox_health
from kiosk.store import Store
from mallcommon.net import free_port
from server_bridge.central.app import create_app
from server_bridge.central.db import Database
from server_bridge.central.fleet import add_station
from server_bridge.central.projections import EventData, ProjectionSpec
from server_bridge.uploader import Uploader
from tests.fixtures.central import envelope, migrated_sqlite, serve_in_thread
from tests.fixtures.console import console_user

ROOT = Path(__file__).resolve().parents[3]


class BuggyRating(EventData):
    """A centre release with a validation bug: it takes only two-letter language codes, so every rating made on
    a zh_CN screen is refused. The fix restores the real model."""
    lang: Annotated[str, Field(pattern=r"^[a-z]{2}$")]


@dataclass
class Centre:
    url: str
    token: str
    db: Database
    app: Any

    def rows(self, sql: str) -> list[tuple]:
        with self.db.session() as s:
            return [tuple(r) for r in s.execute(text(sql)).all()]

    def swap(self, event_type: str, spec: ProjectionSpec) -> ProjectionSpec:
        projections = self.app.state.central.registry.projections
        before = projections[event_type]
        projections[event_type] = spec
        return before

    def break_ratings(self) -> Callable[[], None]:
        """Deploy the buggy release; returns the fix."""
        real = self.swap("survey.rated", ProjectionSpec(
            self.app.state.central.registry.projections["survey.rated"].fn, BuggyRating))
        return lambda: self.swap("survey.rated", real) and None


@contextmanager
def serve_centre(tmp_path: Path) -> Iterator[Centre]:
    app = create_app(migrated_sqlite(tmp_path / "central.db"), eval_every_s=0.2, flush_s=0.2, migrate=False)
    db: Database = app.state.central.db
    with db.session() as s:
        token = add_station(s, "K01", time.time())
    with serve_in_thread(app) as url:
        yield Centre(url, token, db, app)


def uploader(store: Store, url: str, token: str, **kw: Any) -> Uploader:
    return Uploader(store, "K01", url, token, dict, rng=random.Random(5), batch_max=200, batch_max_age_s=0.0,
                    heartbeat_s=3600, timeout_s=kw.pop("timeout_s", 3.0), backoff_max_s=0.2, **kw)


def rate(store: Store, lang: str, score: int = 5) -> int:
    return store.record_event("survey.rated", {"flow": "borrow", "score": score, "lang": lang})


def drain(up: Uploader, store: Store, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while store.outbox_depth()[0]:
        assert time.monotonic() < deadline, f"outbox not drained: {up.status()}"
        if not up.drain_once():
            time.sleep(0.02)


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (got := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return got


def test_a_refused_event_is_parked_with_its_reason_and_the_events_after_it_flow(tmp_path: Path) -> None:
    with serve_centre(tmp_path) as centre:
        centre.break_ratings()
        store = Store(tmp_path / "station.db")
        rate(store, "en")
        refused = rate(store, "zh_CN")
        for _ in range(3):
            rate(store, "en", 4)
        up = uploader(store, centre.url, centre.token)
        drain(up, store)
        later = rate(store, "en", 3)  # a later batch, on its own, is taken as usual
        drain(up, store)
        alerts = wait_until(lambda: centre.rows("SELECT station_id, params FROM alerts WHERE kind='upload_refused'"),
                            10, "the upload_refused alert")
        # the same event sent again while the centre still refuses it: parked again, no second alert
        store.resend_refused("S-001")
        drain(up, store)
        time.sleep(0.5)  # two alert passes
        status = up.status()
        shown = assess(StationHealth(ts=time.time(), version="t", uptime_s=1.0, outbox=outbox_health(store)))
        events = centre.rows("SELECT seq FROM events WHERE type='survey.rated' ORDER BY seq")
        acked = centre.rows("SELECT acked_seq FROM stations WHERE station_id='K01'")[0][0]
        held = centre.rows("SELECT seq, type, field, reason, refusals, accepted_at FROM refused_events")
        all_alerts = centre.rows("SELECT COUNT(*), SUM(cleared_at IS NULL) FROM alerts WHERE kind='upload_refused'")
        audited = centre.rows("SELECT actor, target, outcome FROM audit_log WHERE action='upload.refused'")
        parked = store.outbox_refused()
        ops = console_user(centre.url, centre.db.url, "ops1", "ops")  # what ops see, in English
        alerts_page = ops.get("/alerts?lang=en").text
        station_page = ops.get("/stations/K01?lang=en").text
        ops.close()
    assert [seq for (seq,) in events] == [1, 3, 4, 5, later], "the events after the refused one are stored"
    assert acked == 7, "the centre's run passes the refused seq (and the resend record, seq 7)"
    assert len(held) == 1 and held[0][:3] == (refused, "survey.rated", "data.lang") and held[0][4] == 2
    assert "lang" in held[0][3] and held[0][5] is None
    assert [p.event.seq for p in parked] == [refused] and "data.lang" in parked[0].reason
    assert store.outbox_depth()[0] == 0 and status["outbox_refused"] == 1 and status["link"] == "up"
    assert status["failures"] == 0, "a refused event is not a link failure"
    assert alerts[0][0] == "K01" and all_alerts == [(1, 1)], "one alert, still raised"
    assert audited == [("station:K01", "event:K01#2", "refused")], "the refusal is audited once"
    assert 'data-kind="upload_refused" data-station="K01"' in alerts_page
    assert "Station event refused for its content" in alerts_page
    assert 'id="refused-events"' in station_page and f'data-seq="{refused}"' in station_page
    assert "String should match pattern" in station_page
    problems = [p for p in shown if p.code == "upload_event_refused"]
    assert len(problems) == 1, shown
    assert problems[0].message.startswith("1 event refused by the centre: ")
    assert "data.lang" in problems[0].message and "kept in the store" in problems[0].message
    assert "outbox refused" in problems[0].message and "outbox resend" in problems[0].message


def test_after_the_centre_is_fixed_a_staff_resend_delivers_the_event_exactly_once(tmp_path: Path,
                                                                                 capsys: pytest.CaptureFixture[str]
                                                                                 ) -> None:
    config = tmp_path / "station.toml"
    config.write_text((ROOT / "station.example.toml").read_text().replace(
        'data_dir = "var/K01"', f'data_dir = "{tmp_path / "data"}"').replace('"device_profiles/', f'"{ROOT}/device_profiles/'))
    with serve_centre(tmp_path) as centre:
        fix = centre.break_ratings()
        store = Store(tmp_path / "data" / "station.db")
        rate(store, "en")
        refused = rate(store, "zh_CN", 2)
        rate(store, "en", 4)
        up = uploader(store, centre.url, centre.token)
        drain(up, store)
        assert [p.event.seq for p in store.outbox_refused()] == [refused]
        wait_until(lambda: centre.rows("SELECT 1 FROM alerts WHERE kind='upload_refused'"), 10, "the alert")
        fix()  # the centre's fixed release is deployed
        assert kiosk_main(["--config", str(config), "outbox", "refused"]) == 0
        listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert kiosk_main(["--config", str(config), "outbox", "resend", "--all", "--by", "S-001"]) == 0
        answer = json.loads(capsys.readouterr().out)
        drain(up, store)
        # the same batch again (a lost answer): still exactly once
        with store.transaction() as conn:
            conn.execute("UPDATE outbox SET sent_at=NULL")
        drain(up, store)
        cleared = wait_until(lambda: centre.rows(
            "SELECT cleared_at FROM alerts WHERE kind='upload_refused' AND cleared_at IS NOT NULL"), 10,
            "the alert to clear")
        again = kiosk_main(["--config", str(config), "outbox", "resend", "--all", "--by", "S-001"])
        capsys.readouterr()
        stored = centre.rows(f"SELECT COUNT(*) FROM events WHERE seq={refused}")[0][0]
        ratings = centre.rows("SELECT score FROM ratings ORDER BY score")
        accepted = centre.rows("SELECT accepted_at IS NOT NULL, refusals FROM refused_events")
        audit = centre.rows("SELECT action, actor FROM audit_log WHERE action LIKE 'upload.%' ORDER BY id")
    assert [(e["seq"], e["type"]) for e in listed] == [(refused, "survey.rated")] and "lang" in listed[0]["reason"]
    assert answer == {"ok": True, "resent": [refused], "still_parked": []}
    assert stored == 1 and [s for (s,) in ratings] == [2, 4, 5], "delivered and projected exactly once"
    assert accepted == [(True, 1)] and cleared
    assert store.outbox_refused() == [] and store.outbox_depth()[0] == 0
    assert again == 2, "nothing left to resend"
    assert audit == [("upload.refused", "station:K01"), ("upload.accepted", "station:K01"),
                     ("upload.resent", "staff:S-001@K01")]


def test_a_station_that_does_not_park_still_gets_the_whole_batch_refused_and_the_centre_alerts(tmp_path: Path
                                                                                              ) -> None:
    with serve_centre(tmp_path) as centre:
        centre.break_ratings()
        batch = {"events": [envelope(1, "survey.rated", {"flow": "f", "score": 5, "lang": "en"}),
                            envelope(2, "survey.rated", {"flow": "f", "score": 5, "lang": "zh_CN"})]}
        auth = {"Authorization": f"Bearer {centre.token}"}
        old = [httpx.post(f"{centre.url}/api/v1/stations/K01/events", json=batch, headers=auth, timeout=10)
               for _ in range(2)]
        stored_before = centre.rows("SELECT COUNT(*) FROM events")[0][0]
        wait_until(lambda: centre.rows("SELECT 1 FROM alerts WHERE kind='upload_refused'"), 10, "the alert")
        new = httpx.post(f"{centre.url}/api/v1/stations/K01/events", json=batch, timeout=10,
                         headers={**auth, "X-Upload-Refusals": "quarantine"})
        held = centre.rows("SELECT seq, refusals FROM refused_events")
        n_alerts = centre.rows("SELECT COUNT(*) FROM alerts WHERE kind='upload_refused'")[0][0]
    assert [r.status_code for r in old] == [422, 422] and old[0].json()["field"] == "data.lang"
    assert old[0].json()["seq"] == 2 and stored_before == 0, "as before: nothing of the batch stored"
    assert new.status_code == 200 and new.json()["acked_seq"] == 2
    assert [(r["seq"], r["field"]) for r in new.json()["refused"]] == [(2, "data.lang")]
    assert held == [(2, 3)] and n_alerts == 1


@contextmanager
def fake_centre(answer: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[str]:
    """Something at the centre's address that is not a working centre (a proxy's 503, an older centre)."""
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer(self)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def reply(status: int, body: dict[str, Any]) -> Callable[[BaseHTTPRequestHandler], None]:
    def send(h: BaseHTTPRequestHandler) -> None:
        raw = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(raw)))
        h.end_headers()
        h.wfile.write(raw)
    return send


# Every failure answer names seq 2 as refused, as a real quarantine answer would: none of them may park it.
REFUSED = {"acked_seq": 3, "refused": [{"seq": 2, "id": "x", "code": "event_invalid", "message": "m"}]}


@pytest.mark.parametrize("kind", ["401", "503", "422_older_centre", "timeout"])
def test_a_refused_token_a_5xx_a_timeout_or_an_older_centre_retries_and_parks_nothing(tmp_path: Path,
                                                                                      kind: str) -> None:
    store = Store(tmp_path / "station.db")
    for lang in ("en", "zh_CN", "en"):
        rate(store, lang)
    if kind == "401":
        with serve_centre(tmp_path) as centre:
            up = uploader(store, centre.url, "not-the-token")
            results = [up.drain_once() for _ in range(3)]
            status = up.status()
    elif kind == "timeout":
        with socket.socket() as silent:  # accepts the connection (the kernel does) and never answers
            silent.bind(("127.0.0.1", free_port()))
            silent.listen(8)
            up = uploader(store, f"http://127.0.0.1:{silent.getsockname()[1]}", "tok", timeout_s=0.3)
            results = [up.drain_once() for _ in range(2)]
            status = up.status()
    else:
        answer = reply(503, REFUSED) if kind == "503" else reply(422, {
            "code": "event_invalid", "message": "event seq 2 (survey.rated): data.lang: …", "field": "data.lang"})
        with fake_centre(answer) as url:
            up = uploader(store, url, "tok")
            results = [up.drain_once() for _ in range(3)]
            status = up.status()
    up.stop()
    assert results == [0] * len(results)
    assert store.outbox_refused() == [], "nothing parked"
    assert store.outbox_depth()[0] == 3, "nothing marked sent: everything is retried"
    assert status["link"] == "down" and status["failures"] == len(results) and status["backoff_s"] > 0
    assert status["outbox_refused"] == 0
