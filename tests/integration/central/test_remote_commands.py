"""Remote commands end to end (issue 15.7): the ops console sends, the heartbeat answer says so, the station on
simulated lockers and a virtual printer fetches, records, runs once and reports through its outbox; the audit log
has one entry per command and one per result."""
from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from drivers.printer.virtual import VirtualPrinter
from server_bridge.central.audit import AuditEntry
from server_bridge.central.commands import LIVE, RemoteCommand
from server_bridge.central.db import Database
from server_bridge.central.fleet import add_station
from server_bridge.central.runner import CentralProcess
from tests.fixtures.console import console_user
from tests.fixtures.station import StationStack, make_stack

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Rig:
    central: CentralProcess
    db: Database
    ops: httpx.Client
    token: str

    def send(self, kind: str, *, station: str = "K01", expires_s: int = 600, **form: Any) -> str:
        before = {r.id for r in self.commands(station)}
        answer = self.ops.post(f"/stations/{station}/commands",
                               data={"kind": kind, "expires_s": str(expires_s), **{k: str(v) for k, v in form.items()}})
        assert answer.status_code == 303 and "error" not in answer.headers["location"], answer.headers
        (new,) = [r.id for r in self.commands(station) if r.id not in before]
        return new

    def commands(self, station: str = "K01") -> list[RemoteCommand]:
        with self.db.session() as s:
            rows = list(s.scalars(select(RemoteCommand).where(RemoteCommand.station_id == station)).all())
            s.expunge_all()
        return rows

    def command(self, command_id: str) -> RemoteCommand:
        with self.db.session() as s:
            row = s.get(RemoteCommand, command_id)
            assert row is not None
            s.expunge(row)
        return row

    def settled(self, command_id: str, timeout: float = 15.0) -> RemoteCommand:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = self.command(command_id)
            if row.state not in LIVE:
                return row
            time.sleep(0.05)
        raise AssertionError(f"command {command_id} still {self.command(command_id).state}")

    def audit(self, action: str, target: str) -> list[AuditEntry]:
        with self.db.session() as s:
            rows = list(s.scalars(select(AuditEntry).where(AuditEntry.action == action,
                                                           AuditEntry.target == target)).all())
            s.expunge_all()
        return rows


@pytest.fixture
def rig(central: CentralProcess) -> Iterator[Rig]:
    db = Database(central.db_url)
    with db.session() as s:  # in this process: a CLI subprocess costs seconds on a busy machine
        token = add_station(s, "K01", time.time())
    yield Rig(central, db, console_user(central.url, central.db_url, "olga", "ops"), token)
    db.dispose()


def station_config(tmp: Path, rig: Rig, printer_port: int | None, heartbeat_s: float = 0.3) -> str:
    token_file = tmp / "K01.token"
    token_file.parent.mkdir(parents=True, exist_ok=True)
    token_file.write_text(rig.token)
    text = f'[central]\nurl = "{rig.central.url}"\ntoken_file = "{token_file}"\nheartbeat_s = {heartbeat_s}\n'
    if printer_port is not None:
        text += (f'[printer]\nprofile = "{ROOT / "device_profiles/printers/epson-tm-t20ii-cn.yaml"}"\n'
                 f'connection = {{ type = "network", host = "127.0.0.1", port = {printer_port} }}\n')
    return text


def outbox(station: Any, type_: str) -> list[dict[str, Any]]:
    rows = station.store.query("SELECT data FROM outbox WHERE type=? ORDER BY seq", (type_,))
    return [json.loads(r["data"]) for r in rows]


def test_each_command_runs_once_on_a_running_station_and_is_audited(tmp_path: Path, rig: Rig) -> None:
    from kiosk.bootstrap import Part, bootstrap

    printer = VirtualPrinter(tmp_path / "paper", port=0).start()
    stack: StationStack = make_stack(tmp_path / "stack", lockers=[("U1", "umbrella")],
                                     extra_toml=station_config(tmp_path, rig, printer.port))
    try:
        stack.start_sim("U1", auto_take=0.1)  # whoever stands at the locker takes what a door offers
        station = bootstrap(stack.config, clock=stack.clock, parts=Part.ALL & ~Part.CAMERA)
        stack.station = station
        station.start(background=False)
        assert station.remote is not None and station.remote.display is None
        stack.wait(lambda: "U1" in rig.ops.get("/stations/K01/commands").text, 10, "the station's lockers at the centre")

        # who may: a viewer is refused, a post without the session's CSRF token is refused; neither is sent
        viewer = console_user(rig.central.url, rig.central.db_url, "vera", "viewer")
        assert viewer.post("/stations/K01/commands", data={"kind": "restart"}).status_code == 403
        no_token = httpx.Client(base_url=rig.central.url, cookies=rig.ops.cookies)
        assert no_token.post("/stations/K01/commands", data={"kind": "restart"}).status_code == 403
        assert rig.commands() == []

        # reprint the last receipt: a borrow printed one, the reprint prints the same again
        borrowed = station.lending.borrow(stack.member_code("M10086"), "umbrella")
        stack.wait(lambda: len(printer.receipts()) == 1, what="the lending receipt")
        reprint = rig.settled(rig.send("reprint"))
        assert reprint.state == "done", reprint.result
        stack.wait(lambda: len(printer.receipts()) == 2, what="the reprint")
        first, again = sorted(p.with_suffix(".txt") for p in printer.receipts())
        assert first.read_text() == again.read_text() and borrowed.lending.item_id in again.read_text()

        # open a slot (stuck item): through the door use case; what leaves is nobody's lending
        view = station.lockers.view("U1")
        slot = next(s for s in view.slots if s.item and s.slot != borrowed.lending.slot)
        opened = rig.settled(rig.send("open_slot", locker_id="U1", slot=slot.slot))
        assert opened.state == "done" and opened.detail()["item_id"] == slot.item and opened.detail()["verdict"] == "moved"
        assert station.store.query("SELECT status FROM items WHERE item_id=?", (slot.item,))[0]["status"] == "lost"
        lost = outbox(station, "locker.item_lost")
        assert [(e["item_id"], e["reason"]) for e in lost] == [(slot.item, "remote_open")]
        assert [lending.item_id for lending in station.lending.lendings()] == [borrowed.lending.item_id]
        assert station.store.query("SELECT COUNT(*) AS n FROM intents WHERE kind='open' AND state='done'")[0]["n"] == 1

        def state_of(slot_no: int) -> str:
            v = station.lockers.view("U1")
            s = v.slot(slot_no) if v else None
            return s.state if s else "?"

        # a slot out of service and back; a locker out and back keeps the slot taken out on its own
        assert rig.settled(rig.send("slot_out", locker_id="U1", slot=7)).state == "done"
        stack.wait(lambda: state_of(7) == "disabled", what="slot 7 disabled")
        locker_out = rig.settled(rig.send("locker_out", locker_id="U1"))
        assert locker_out.state == "done" and locker_out.detail()["slots"] == 24
        stack.wait(lambda: all(s.state == "disabled" for s in station.lockers.view("U1").slots), what="U1 out")
        assert station.lending.availability("umbrella").count == 0
        assert rig.settled(rig.send("locker_back", locker_id="U1")).state == "done"
        stack.wait(lambda: state_of(8) != "disabled", what="U1 back")
        assert state_of(7) == "disabled", "the locker's return keeps a slot taken out on its own"
        assert rig.settled(rig.send("slot_back", locker_id="U1", slot=7)).state == "done"
        stack.wait(lambda: state_of(7) != "disabled", what="slot 7 back")

        # a screenshot from a station without a screen says so
        shot = rig.settled(rig.send("screenshot"))
        assert (shot.state, shot.code) == ("refused", "no_screen")

        # an unknown locker is refused at the console, nothing sent
        answer = rig.ops.post("/stations/K01/commands", data={"kind": "open_slot", "locker_id": "Z9", "slot": "1"})
        assert answer.headers["location"].endswith("error=unknown_locker")

        # redelivered (the station's acknowledgement lost): recorded once, never run again
        with rig.db.session() as s:
            row = s.get(RemoteCommand, reprint.id)
            row.state = "pending"
        stack.wait(lambda: rig.command(reprint.id).state == "received", what="the redelivery acknowledged")
        assert rig.command(reprint.id).deliveries == 2
        time.sleep(0.5)
        assert len(printer.receipts()) == 2, "a redelivered reprint printed again"
        assert [e["command_id"] for e in outbox(station, "command.result")].count(reprint.id) == 1

        # one audit entry per command sent, one per result; the actor of the send is the login
        sent = [c for c in rig.commands()]
        assert len(sent) == 7
        for c in sent:
            (entry,) = rig.audit("command.sent", f"command:{c.id}")
            assert entry.actor == "olga" and entry.role == "ops"
            (result,) = rig.audit("command.result", f"command:{c.id}")
            assert result.actor == "station:K01"
        # the console shows them in words
        page = rig.ops.get("/stations/K01?lang=en").text
        assert "Remote commands" in page and "Put a slot back in service" in page and "the station runs without a screen" in page
        zh = rig.ops.get("/stations/K01/commands?lang=zh").text
        assert "打开格口" in zh and "已完成" in zh
    finally:
        stack.close()
        printer.stop()


def test_a_station_offline_when_sent_gets_its_commands_when_back_unless_expired(tmp_path: Path, rig: Rig) -> None:
    """The station runs as kiosk.service does (its ExecStart, the UI on its own Xvfb, systemd's notify socket),
    started only after the commands were sent: the expired one is never run, the screenshot is taken from the
    attract loop and shown at the centre, the restart exits 75 and the started-again station reports it."""
    from tests.fixtures.systemd import Systemd
    from tests.integration.station.test_unit_start import service_process, stop, unit

    service = unit()["Service"]
    assert service["Restart"] == "always" and "75" in service["SuccessExitStatus"].split()
    stack = make_stack(tmp_path / "stack", lockers=[("U1", "umbrella")],
                       extra_toml=station_config(tmp_path, rig, None, heartbeat_s=0.5))
    notify = Systemd(tmp_path / "notify.sock")
    procs: list[Any] = []
    try:
        stack.start_sim("U1")
        stale = rig.send("reprint", expires_s=1)
        shot = rig.send("screenshot")
        restart = rig.send("restart")
        assert rig.settled(stale, timeout=10).state == "expired"  # nobody fetched it in time
        assert [rig.command(c).state for c in (shot, restart)] == ["pending", "pending"]

        procs.append(service_process(stack.config_path, tmp_path, notify))  # the station comes back
        rc = procs[0].wait(120)  # screenshot, then the restart: out through the life cycle
        assert rc == 75, (tmp_path / "service.log").read_text(errors="replace")[-3000:]
        procs.append(service_process(stack.config_path, tmp_path, notify))  # Restart=always
        taken = rig.settled(shot, timeout=90)  # its result may have waited in the outbox across the restart
        assert taken.state == "done", (taken.code, taken.result)
        restarted = rig.settled(restart, timeout=90)
        assert restarted.state == "done" and restarted.detail()["restarted"] is True

        png = rig.ops.get(f"/stations/K01/screenshots/{shot}.png")
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG") and len(png.content) > 10_000
        low, high = Image.open(io.BytesIO(png.content)).convert("L").getextrema()
        assert high - low > 100, "a blank frame, not the attract loop"
        assert png.headers["cache-control"] == "no-store"
        assert f'src="/stations/K01/screenshots/{shot}.png"' in rig.ops.get("/stations/K01").text
        assert not list((stack.config.data_dir / "remote").glob("*.png")), "the picture stays on the station"
        with rig.db.session() as s:
            assert s.get(RemoteCommand, stale).deliveries == 0
        (expired,) = rig.audit("command.expired", f"command:{stale}")
        assert expired.actor == "system" and rig.audit("command.result", f"command:{stale}") == []
        for c in (shot, restart):
            assert len(rig.audit("command.result", f"command:{c}")) == 1
    finally:
        for proc in procs:
            stop(proc)
        notify.close()
        stack.close()
