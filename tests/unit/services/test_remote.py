"""The station's side of remote commands without a centre process: expiry on the station, what a crash left
(`running` → unknown, `restarting` → the restart's proof), and a second process on the same store."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from kiosk.services.remote import Command, RemoteCommands
from kiosk.store import Store
from tests.fixtures.station import CommandDesk


def results(store: Store) -> dict[str, dict[str, Any]]:
    rows = store.query("SELECT data FROM outbox WHERE type='command.result' ORDER BY seq")
    return {d["command_id"]: d for d in (json.loads(r["data"]) for r in rows)}


def remote(store: Store, centre: CommandDesk, restarts: list[int] | None = None) -> RemoteCommands:
    return RemoteCommands(store=store, api=centre, station_id="K01", lockers=None, profiles={}, version="9.9",
                          request_restart=(lambda: restarts.append(1)) if restarts is not None else None)


def test_held_past_its_expiry_it_is_reported_expired_and_never_run(tmp_path: Path) -> None:
    store, centre = Store(tmp_path / "s.db"), CommandDesk()
    stale = centre.send("reprint", expires_in=-1)  # handed out, but its time is up before it runs
    fresh = centre.send("reprint")
    remote(store, centre).poll()
    got = results(store)
    assert (got[stale]["outcome"], got[stale]["code"]) == ("expired", "expired")
    assert (got[fresh]["outcome"], got[fresh]["code"]) == ("failed", "no_printer"), "the live one ran"
    assert centre.acked == [stale, fresh]


def test_a_restart_is_proven_by_the_next_start_and_an_interrupted_command_is_unknown(tmp_path: Path) -> None:
    store, centre, restarts = Store(tmp_path / "s.db"), CommandDesk(), []
    restart = centre.send("restart")
    first = remote(store, centre, restarts)
    first.poll()
    assert restarts == [1] and restart not in results(store), "reported by the process that comes back"
    with store.transaction() as conn:  # another command was mid-way when the process died
        conn.execute("INSERT INTO remote_commands (command_id, kind, params, expires_at, state, received_at) "
                     "VALUES ('c-1', 'open_slot', '{}', ?, 'running', ?)", (time.time() + 60, time.time()))
    again = remote(store, CommandDesk(), [])
    again.resume()
    again.resume()  # once only
    got = results(store)
    assert got[restart]["outcome"] == "done" and got[restart]["detail"] == {"restarted": True, "version": "9.9"}
    assert (got["c-1"]["outcome"], got["c-1"]["code"]) == ("unknown", "interrupted")
    assert len(store.query("SELECT 1 FROM outbox WHERE type='command.result'")) == 2


def test_two_processes_on_one_store_run_a_command_once(tmp_path: Path) -> None:
    centre = CommandDesk()
    cid = centre.send("reprint")
    a, b = remote(Store(tmp_path / "s.db"), centre), remote(Store(tmp_path / "s.db"), centre)
    a._record(Command.model_validate(centre.waiting[0]))
    seen_by_a = a.store.query("SELECT * FROM remote_commands WHERE command_id=?", (cid,))[0]  # still received
    b.run_pending()  # the other process takes and runs it
    a._run(seen_by_a)  # a acts on what it read before: its take fails, nothing runs twice
    assert len(a.store.query("SELECT 1 FROM outbox WHERE type='command.result'")) == 1


def test_ops_resend_the_events_the_centre_refused_once_it_is_fixed(tmp_path: Path) -> None:
    """The console's `resend_refused` (issues 12/16): parked events go again, under the ops login and the
    command's id (the centre audits the `outbox.resent` record); with nothing parked it says so."""
    store, centre = Store(tmp_path / "s.db"), CommandDesk()
    for lang in ("en", "zh_CN", "en"):
        store.record_event("survey.rated", {"flow": "f", "score": 5, "lang": lang})
    store.mark_sent(3, {2: "event seq 2 (survey.rated): data.lang: …"})
    assert [e.seq for e in store.outbox_pending()] == []
    first = centre.send("resend_refused")
    remote(store, centre).poll()
    second = centre.send("resend_refused")
    remote(store, centre).poll()
    got = results(store)
    resent = [json.loads(r["data"]) for r in store.query("SELECT data FROM outbox WHERE type='outbox.resent'")]
    assert (got[first]["outcome"], got[first]["detail"]) == ("done", {"events": 1, "first_seq": 2})
    assert (got[second]["outcome"], got[second]["code"]) == ("done", "nothing_parked")
    assert resent == [{"by": "olga", "seqs": [2], "command_id": first}]
    assert [e.seq for e in store.outbox_pending()][:1] == [2] and store.outbox_refused() == []
