"""Remote commands from the centre (issue 15.7): open a slot, a slot or a locker out of service and back,
reprint the last receipt, restart, screenshot. docs/central.md "Remote commands".

    heartbeat answer {"commands": n} ─▶ wake() ─▶ GET …/commands ─▶ each recorded here (INSERT OR IGNORE by id)
    ─▶ POST …/commands/received ─▶ run each once: expired → `expired`, never run; otherwise state `running`
    written first, then the action, then state `done` + a `command.result` outbox event in one transaction.

At most once: a redelivered id is already in `remote_commands` and is not run again; a command found
`running` after a crash is reported `unknown` (`interrupted`), never run twice — except `restart`, whose
`restarting` state found at start-up is its success. Opening a slot goes through the door use case with a
slot hold (an `intents` row of kind `open`), so no borrow takes the slot meanwhile and what leaves is recorded
as taken by staff (`locker.item_lost`, reason `remote_open`), never as anyone's lending.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from device_profiles.locker_schema import LockerProfile
from drivers.locker.link import LockerError, LockerLink
from kiosk.services.decisions import intent_verdict
from kiosk.services.door import Door, DoorJob, command_ttl
from kiosk.services.events import CommandResult, ItemTakenUnlent
from kiosk.services.printing import PrintService
from kiosk.services.repository import UnitOfWork
from kiosk.store import Store

log = logging.getLogger(__name__)

Kind = Literal["open_slot", "slot_out", "slot_back", "locker_out", "locker_back", "reprint", "restart",
               "screenshot", "resend_refused"]
Outcome = Literal["done", "failed", "refused", "expired", "unknown"]
RETRY_S = 5.0  # a failed fetch or screenshot upload is tried again this often (and on every heartbeat answer)
OUT_OF_SERVICE_KEY = "remote.slots_out"  # {"U1": [3, 5]}: slots taken out one by one (a locker's "back" keeps them)
OWNER = "remote"
DISPLAY_WAIT_S = 30.0


class CommandParams(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    locker_id: str | None = Field(default=None, max_length=32)
    slot: int | None = Field(default=None, ge=1, le=1000)


class Command(BaseModel):
    """One command as the centre hands it out (validated at the edge: a malformed one is skipped)."""

    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1, max_length=36, pattern=r"^[0-9a-f-]+$")
    kind: Kind
    params: CommandParams = Field(default_factory=CommandParams)
    created_at: float
    expires_at: float
    by: str = Field(default="", max_length=64)


class Display(Protocol):
    """The station's screen, as remote commands need it (the Kivy UI gives one; a headless station none)."""

    def shopper_active(self) -> bool:
        """A shopper is in a session (anything but the attract loop or staff mode)."""

    def screenshot(self, timeout_s: float) -> bytes:
        """The screen now, as PNG bytes; raises OSError when it cannot be taken."""


class CommandApi(Protocol):
    def fetch(self) -> list[dict[str, Any]]: ...

    def received(self, ids: list[str]) -> None: ...

    def upload_screenshot(self, command_id: str, png: bytes) -> bool:
        """True when the centre kept it; False when it refused it for good (4xx); raises when unreachable."""


class HttpCommandApi:
    """The centre's command endpoints, with the station's bearer token."""

    def __init__(self, central_url: str, station_id: str, token: str, timeout_s: float = 5.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base = f"{central_url.rstrip('/')}/api/v1/stations/{station_id}/commands"
        self._http = httpx.Client(timeout=timeout_s, transport=transport,
                                  headers={"Authorization": f"Bearer {token}"} if token else {})

    def fetch(self) -> list[dict[str, Any]]:
        answer = self._http.get(self.base)
        answer.raise_for_status()
        commands = answer.json().get("commands", [])
        return commands if isinstance(commands, list) else []

    def received(self, ids: list[str]) -> None:
        self._http.post(f"{self.base}/received", json={"ids": ids}).raise_for_status()

    def upload_screenshot(self, command_id: str, png: bytes) -> bool:
        answer = self._http.put(f"{self.base}/{command_id}/screenshot", content=png,
                                headers={"Content-Type": "image/png"})
        if 400 <= answer.status_code < 500:
            log.warning("remote.screenshot_refused command=%s status=%d %s", command_id, answer.status_code,
                        answer.text[:200])
            return False
        answer.raise_for_status()
        return True

    def close(self) -> None:
        self._http.close()


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    code: str | None = None
    detail: dict[str, Any] | None = None


class RemoteCommands:
    """Receives, records and runs the centre's commands; one worker thread, woken by the heartbeat answer."""

    def __init__(self, *, store: Store, api: CommandApi, station_id: str, lockers: LockerLink,
                 profiles: dict[str, LockerProfile], printing: PrintService | None = None,
                 version: str = "", spool_dir: Path | None = None, clock: Callable[[], float] = time.time,
                 request_restart: Callable[[], None] | None = None) -> None:
        self.store = store
        self.api = api
        self.station_id = station_id
        self.lockers = lockers
        self.profiles = profiles
        self.printing = printing
        self.version = version
        self.spool_dir = spool_dir
        self.clock = clock
        self.request_restart = request_restart
        self.display: Display | None = None
        self._display_expected = False
        self._display_ready = threading.Event()
        self.door = Door(lockers)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._run_lock = threading.Lock()

    def expect_display(self) -> None:
        """A screen is coming (the UI is starting): a screenshot waits for it rather than saying `no_screen`."""
        self._display_expected = True

    def attach_display(self, display: Display | None) -> None:
        self.display = display
        if display is not None:
            self._display_ready.set()

    # the channel ------------------------------------------------------------------------------------------
    def wake(self) -> None:
        """The centre said commands wait (heartbeat answer)."""
        self._wake.set()

    def on_heartbeat_answer(self, answer: dict[str, Any]) -> None:
        if isinstance(answer.get("commands"), int) and answer["commands"] > 0:
            self.wake()

    def poll(self) -> int:
        """Fetch, record durably, acknowledge, run. Returns how many new commands were recorded."""
        fresh = 0
        fetched = self.api.fetch()
        ids: list[str] = []
        for raw in fetched:
            try:
                cmd = Command.model_validate(raw)
            except ValidationError as exc:
                log.warning("remote.command_invalid error=%s", str(exc).splitlines()[0])
                continue
            ids.append(cmd.id)
            fresh += self._record(cmd)
        if ids:
            self.api.received(ids)
        self.run_pending()
        return fresh

    def _record(self, cmd: Command) -> int:
        with self.store.transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO remote_commands (command_id, kind, params, expires_at, by, state, received_at)"
                " VALUES (?,?,?,?,?,'received',?)",
                (cmd.id, cmd.kind, cmd.params.model_dump_json(exclude_none=True), cmd.expires_at, cmd.by,
                 self.clock()))
        if cur.rowcount:
            log.info("remote.received command=%s kind=%s by=%s", cmd.id, cmd.kind, cmd.by)
        else:
            log.info("remote.redelivered command=%s (not run again)", cmd.id)
        return cur.rowcount

    # running ----------------------------------------------------------------------------------------------
    def run_pending(self) -> int:
        ran = 0
        with self._run_lock:
            for row in self.store.query("SELECT * FROM remote_commands WHERE state='received' "
                                        "ORDER BY received_at, rowid"):
                self._run(row)
                ran += 1
            for row in self.store.query("SELECT * FROM remote_commands WHERE state='uploading'"):
                self._upload(row)
        return ran

    def _run(self, row: sqlite3.Row) -> None:
        cid, kind = row["command_id"], row["kind"]
        params = CommandParams.model_validate_json(row["params"])
        with self.store.transaction() as conn:  # durable before anything moves: never run twice
            took = conn.execute("UPDATE remote_commands SET state='running', started_at=? WHERE command_id=? "
                                "AND state='received'", (self.clock(), cid)).rowcount
        if not took:
            return  # another process on this store took it first
        if self.clock() >= row["expires_at"]:
            log.info("remote.expired command=%s kind=%s", cid, kind)
            self._finish(cid, kind, Result("expired", "expired", {"expired_at": row["expires_at"]}))
            return
        log.info("remote.running command=%s kind=%s params=%s", cid, kind, row["params"])
        try:
            result = self._execute(cid, kind, params, row["by"])
        except Exception as exc:  # a bug or a device surprise: reported, never retried
            log.exception("remote.failed command=%s kind=%s", cid, kind)
            result = Result("failed", "error", {"error": f"{type(exc).__name__}: {exc}"[:300]})
        if result is not None:
            self._finish(cid, kind, result)

    def _execute(self, cid: str, kind: str, p: CommandParams, by: str | None = None) -> Result | None:
        if kind == "open_slot":
            return self._open_slot(cid, p)
        if kind in ("slot_out", "slot_back"):
            return self._slots(p.locker_id, [p.slot] if p.slot else [], "disable" if kind == "slot_out" else "enable",
                               single=True)
        if kind in ("locker_out", "locker_back"):
            return self._locker(p.locker_id, kind == "locker_out")
        if kind == "reprint":
            return self._reprint()
        if kind == "screenshot":
            return self._screenshot(cid)
        if kind == "restart":
            return self._restart(cid)
        if kind == "resend_refused":
            return self._resend_refused(cid, by or "ops")
        return Result("refused", "unknown_kind")

    def _resend_refused(self, cid: str, by: str) -> Result:
        """Events the centre refused for their content go again (after ops fixed the centre); the store writes
        the `outbox.resent` record naming the ops login and this command."""
        seqs = self.store.resend_refused(by, command_id=cid)
        if not seqs:
            return Result("done", "nothing_parked", {"events": 0})
        return Result("done", None, {"events": len(seqs), "first_seq": seqs[0]})

    def _finish(self, cid: str, kind: str, result: Result, uow: UnitOfWork | None = None) -> None:
        """The command's end and its `command.result` event, in one transaction (exactly once to the centre)."""
        now = self.clock()
        event = CommandResult(cid, kind, result.outcome, result.code, dict(result.detail or {}), now)

        def write(u: UnitOfWork) -> None:
            u.commands.finish(cid, result.outcome, result.code, json.dumps(result.detail or {}), now)
            u.emit(event, now)
        if uow is not None:
            write(uow)
        else:
            with UnitOfWork(self.store) as u:
                write(u)
        log.info("remote.finished command=%s kind=%s outcome=%s code=%s", cid, kind, result.outcome, result.code)

    # the actions ------------------------------------------------------------------------------------------
    def _profile(self, locker_id: str | None) -> LockerProfile | None:
        return self.profiles.get(locker_id) if locker_id else None

    def _open_slot(self, cid: str, p: CommandParams) -> Result | None:
        prof = self._profile(p.locker_id)
        if prof is None or p.locker_id is None or p.slot is None:
            return Result("refused", "unknown_locker")
        view = self.lockers.view(p.locker_id)
        held = view.slot(p.slot) if view is not None else None
        item = held.item if held is not None else None
        hold_id, door_cmd = uuid.uuid4().hex, str(uuid.uuid4())
        try:
            with UnitOfWork(self.store) as uow:  # holds the slot: no borrow reserves it meanwhile
                uow.commands.hold_slot(hold_id, door_cmd, prof.item_type, p.locker_id, p.slot, item, OWNER,
                                       self.clock())
                uow.commands.set_door_cmd(cid, door_cmd)
        except sqlite3.IntegrityError:
            return Result("refused", "slot_busy")
        job = DoorJob.for_profile(prof, p.locker_id, p.slot, "leave", cmd_id=door_cmd)

        def judge(v: Any) -> Any:
            return intent_verdict(v, p.slot or 0, door_cmd, item, command_expired=True)
        outcome = self.door.run(job, judge)
        detail: dict[str, Any] = {"locker_id": p.locker_id, "slot": p.slot, "ack": outcome.ack_status,
                                  "verdict": outcome.verdict}
        if outcome.ack_status in ("offline", "refused"):
            code = "locker_offline" if outcome.ack_status == "offline" else "locker_refused"
            if outcome.ack is not None:
                detail["locker_answer"] = outcome.ack.result
            with UnitOfWork(self.store) as uow:
                uow.lendings.cancel_intent(hold_id, code, self.clock())
                self._finish(cid, "open_slot", Result("failed", code, detail), uow)
            return None
        now = self.clock()
        with UnitOfWork(self.store) as uow:
            if outcome.verdict == "moved" and item:
                # taken by whoever stood at the locker for ops: out of the locker, on nobody's lending
                uow.lendings.item_lost(item, prof.item_type, now)
                uow.lendings.finish_intent(hold_id, item, now)
                uow.emit(ItemTakenUnlent(item, prof.item_type, self.station_id, p.locker_id, p.slot, now,
                                         "remote_open"), now)
                detail["item_id"] = item
            else:
                uow.lendings.cancel_intent(hold_id, f"remote_open_{outcome.verdict}", now)
            self._finish(cid, "open_slot", Result("unknown" if outcome.verdict == "unknown" else "done", None,
                                                  detail), uow)
        return None

    def _slots(self, locker_id: str | None, slots: list[int], op: Literal["enable", "disable"],
               single: bool) -> Result:
        prof = self._profile(locker_id)
        if prof is None or locker_id is None:
            return Result("refused", "unknown_locker")
        answers: dict[str, str] = {}
        for slot in slots:
            try:
                ack = self.lockers.command(locker_id, op, slot, cmd_id=str(uuid.uuid4()), ack_timeout=prof.timeouts.ack_s,
                                           ttl=command_ttl(prof))
                answers[str(slot)] = ack.result
            except LockerError as exc:
                answers[str(slot)] = exc.code
        ok = [int(s) for s, a in answers.items() if a == "ok"]
        if single and ok:
            self._note_out(locker_id, ok, op == "disable")
        failed = {s: a for s, a in answers.items() if a != "ok"}
        detail: dict[str, Any] = {"locker_id": locker_id, "slots": len(ok)}
        if failed:
            detail["not_done"] = failed
            code = "locker_offline" if "locker_offline" in failed.values() else "locker_refused"
            return Result("failed", code, detail)
        return Result("done", None, detail)

    def _note_out(self, locker_id: str, slots: list[int], out: bool) -> None:
        known: dict[str, list[int]] = json.loads(self.store.get_kv(OUT_OF_SERVICE_KEY) or "{}")
        now = set(known.get(locker_id, []))
        now = now | set(slots) if out else now - set(slots)
        known[locker_id] = sorted(now)
        self.store.set_kv(OUT_OF_SERVICE_KEY, json.dumps(known))

    def slots_out(self, locker_id: str) -> set[int]:
        return set(json.loads(self.store.get_kv(OUT_OF_SERVICE_KEY) or "{}").get(locker_id, []))

    def _locker(self, locker_id: str | None, out: bool) -> Result:
        """A whole locker: every slot disabled (borrows and returns there stop: the locker itself refuses);
        back: every slot enabled except those taken out one by one."""
        prof = self._profile(locker_id)
        if prof is None or locker_id is None:
            return Result("refused", "unknown_locker")
        view = self.lockers.view(locker_id)
        if view is None or not view.online:
            return Result("failed", "locker_offline", {"locker_id": locker_id})
        slots = [s.slot for s in view.slots]
        if not out:
            slots = [s for s in slots if s not in self.slots_out(locker_id)]
        return self._slots(locker_id, slots, "disable" if out else "enable", single=False)

    def _reprint(self) -> Result:
        if self.printing is None:
            return Result("failed", "no_printer")
        outcomes = self.printing.reprint_last(1)
        if not outcomes:
            return Result("failed", "nothing_printed")
        o = outcomes[0]
        detail = {"job_id": o.job_id, "printed": o.printed, **({"reason": o.reason} if o.reason else {})}
        # a job that could not print now waits in the print queue like any receipt
        return Result("done", None, detail) if o.printed else Result("failed", "not_printed", detail)

    def _screenshot(self, cid: str) -> Result | None:
        if self.display is None and self._display_expected:
            self._display_ready.wait(DISPLAY_WAIT_S)  # the UI is still starting
        display = self.display
        if display is None:
            return Result("refused", "no_screen")
        if display.shopper_active():
            return Result("refused", "shopper_active")
        try:
            png = display.screenshot(timeout_s=10.0)
        except OSError as exc:
            return Result("failed", "screenshot_failed", {"error": str(exc)[:200]})
        if display.shopper_active():  # someone touched the screen while it was taken: throw it away
            return Result("refused", "shopper_active")
        path = self._spool(cid)
        path.write_bytes(png)
        with self.store.transaction() as conn:
            conn.execute("UPDATE remote_commands SET state='uploading' WHERE command_id=?", (cid,))
        row = self.store.query("SELECT * FROM remote_commands WHERE command_id=?", (cid,))[0]
        self._upload(row)
        return None

    def _spool(self, cid: str) -> Path:
        base = self.spool_dir or self.store.path.parent / "remote"
        base.mkdir(parents=True, exist_ok=True)
        return base / f"{cid}.png"

    def _upload(self, row: sqlite3.Row) -> None:
        """Send a taken screenshot; the result goes out only once the centre has the picture."""
        cid = row["command_id"]
        path = self._spool(cid)
        try:
            png = path.read_bytes()
        except OSError:
            self._finish(cid, "screenshot", Result("failed", "screenshot_lost"))
            return
        try:
            kept = self.api.upload_screenshot(cid, png)
        except (httpx.HTTPError, OSError) as exc:
            log.info("remote.upload_later command=%s error=%s", cid, exc)
            return  # tried again on the next wake or RETRY_S
        self._finish(cid, "screenshot", Result("done", None, {"bytes": len(png)}) if kept
                     else Result("failed", "upload_refused"))
        path.unlink(missing_ok=True)  # never kept on the station

    def _restart(self, cid: str) -> Result | None:
        if self.request_restart is None:
            return Result("refused", "no_restart")
        with self.store.transaction() as conn:
            conn.execute("UPDATE remote_commands SET state='restarting' WHERE command_id=?", (cid,))
        log.warning("remote.restart command=%s: leaving through the life cycle; systemd starts us again", cid)
        self.request_restart()
        return None  # the next start reports it (resume)

    # start-up ---------------------------------------------------------------------------------------------
    def resume(self) -> None:
        """What a previous run left: a restart done (we are its proof), anything `running` interrupted."""
        for row in self.store.query("SELECT * FROM remote_commands WHERE state IN ('restarting', 'running')"):
            if row["state"] == "restarting":
                self._finish(row["command_id"], row["kind"], Result("done", None, {"restarted": True,
                                                                                    "version": self.version}))
                continue
            with UnitOfWork(self.store) as uow:
                for hold in uow.commands.holds_of(row["door_cmd_id"]):
                    uow.lendings.cancel_intent(hold, "interrupted", self.clock())
                self._finish(row["command_id"], row["kind"], Result("unknown", "interrupted"), uow)

    def start(self) -> RemoteCommands:
        self.resume()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="remote-commands", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            woken = self._wake.wait(RETRY_S)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                if woken:
                    self.poll()
                elif self.store.query("SELECT 1 FROM remote_commands WHERE state IN ('received','uploading') "
                                      "LIMIT 1"):
                    self.run_pending()
            except (httpx.HTTPError, OSError, ValueError) as exc:
                log.info("remote.poll_failed error=%s", exc)  # the next heartbeat answer wakes us again
            except Exception:
                log.exception("remote.poll_failed")

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=15)


__all__ = ["Command", "CommandApi", "Display", "HttpCommandApi", "RemoteCommands", "Result"]
