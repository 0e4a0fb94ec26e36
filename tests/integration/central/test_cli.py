"""The central CLI as `make run` uses it: seed the demo, claim a demo station, tokens only when asked."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from server_bridge.central.db import Database
from server_bridge.central.fleet import HeartbeatBuffer
from server_bridge.central.models import Member, Station
from server_bridge.central.runner import CentralProcess
from server_bridge.central.schemas import Heartbeat


def test_seed_demo_then_claim_a_demo_station(tmp_path: Path) -> None:
    cli = CentralProcess(f"sqlite:///{tmp_path / 'c.db'}", tmp_path)
    assert json.loads(cli.cli("seed-demo")) == {"ok": True}
    assert json.loads(cli.cli("seed-demo")) == {"ok": True}  # idempotent
    token = cli.cli("add-station", "--station", "K01")
    assert len(token) >= 40 and "\n" not in token
    with pytest.raises(RuntimeError, match="already has a token"):
        cli.cli("add-station", "--station", "K01")
    rotated = cli.cli("add-station", "--station", "K01", "--rotate")
    assert rotated != token
    db = Database(cli.db_url)
    with db.session() as s:
        assert s.get(Member, "M10003").level == "platinum"
        assert s.get(Station, "K01").token_hash not in ("", token, rotated)  # stored hashed
        assert s.get(Station, "K02").token_hash == ""  # not claimed: nobody can sign in as K02
    db.dispose()


def test_write_through_heartbeat_is_stored_at_once(tmp_path: Path) -> None:
    cli = CentralProcess(f"sqlite:///{tmp_path / 'c.db'}", tmp_path)
    cli.cli("seed-demo")
    db = Database(cli.db_url)
    beat = Heartbeat.model_validate({"ts": 1.0, "version": "7.7", "uptime_s": 1, "outbox": {"depth": 4}})
    HeartbeatBuffer(db, flush_s=0, clock=lambda: 123.0).put("K02", beat)
    with db.session() as s:
        st = s.get(Station, "K02")
        assert st.last_heartbeat_at == 123.0 and st.health["outbox"]["depth"] == 4 and st.version == "7.7"
    db.dispose()


def test_separate_alert_worker_raises_alerts_for_an_api_without_them(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    import httpx
    from sqlalchemy import select

    from server_bridge.central.models import Alert

    api = CentralProcess(f"sqlite:///{tmp_path / 'c.db'}", tmp_path, offline_after_s=3, eval_every_s=0.3,
                         alerts="off")
    api.cli("migrate")
    token = api.add_station("K05")
    api.start()
    worker = subprocess.Popen([sys.executable, "-m", "server_bridge.central", "alerts", "--db", api.db_url,
                               "--eval-every", "0.3", "--offline-after", "3"])
    db = Database(api.db_url)
    try:
        beat = {"ts": 1.0, "version": "1", "uptime_s": 1, "outbox": {"depth": 0},
                "printer": {"online": True, "paper_out": True}}
        kinds: set[str] = set()
        deadline = time.monotonic() + 20
        # the station beats until the worker (slow to start on a busy box) has judged it online and out of
        # paper — device rules judge only online stations — then falls silent and must be raised offline
        while time.monotonic() < deadline and not {"printer_paper_out", "station_offline"} <= kinds:
            if "printer_paper_out" not in kinds:
                assert httpx.post(f"{api.url}/api/v1/stations/K05/heartbeat", json=beat,
                                  headers={"Authorization": f"Bearer {token}"}).status_code == 204
            time.sleep(0.2)
            with db.session() as s:
                kinds = set(s.scalars(select(Alert.kind).where(Alert.station_id == "K05")))
        assert {"printer_paper_out", "station_offline"} <= kinds
    finally:
        worker.terminate()
        worker.wait(10)
        api.stop()
        db.dispose()


def test_a_centre_that_does_not_answer_in_time_is_not_left_running(tmp_path: Path) -> None:
    """A fixture whose start times out never reaches its stop(): the runner itself must not leave an orphan."""
    proc = CentralProcess(f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "central")
    with pytest.raises(TimeoutError, match="did not answer"):
        proc.start(timeout=0.05)  # a Python process cannot import the centre this fast
    assert proc.proc is not None and proc.proc.poll() is not None, "the centre outlived its failed start"
