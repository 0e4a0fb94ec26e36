"""The command board without HTTP: what the heartbeat is told, delivery, expiry (audited once), the result's
projection, screenshot retention; and every audit action has words."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from server_bridge.central import audit, i18n, schema_migrations
from server_bridge.central.audit import AuditEntry
from server_bridge.central.commands import (
    PNG_MAGIC,
    CommandBoard,
    CommandRefused,
    CommandScreenshot,
    RemoteCommand,
    project_result,
)
from server_bridge.central.db import Database
from server_bridge.central.schemas import Envelope


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def board(tmp_path: Path) -> CommandBoard:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    schema_migrations.upgrade(url)
    return CommandBoard(Database(url), clock=Clock(), keep_screenshots_s=3600)


def send(board: CommandBoard, station: str, kind: str, expires_s: float = 60, **params: object) -> RemoteCommand:
    with board.db.session() as s:
        row = board.create(s, station, kind, "olga", expires_s, **params)  # type: ignore[arg-type]
        s.expunge(row)
    board.sent(row)
    return row


def result(command_id: str, outcome: str, seq: int = 1) -> Envelope:
    return Envelope(seq=seq, id=f"00000000-0000-4000-8000-{seq:012d}", type="command.result",
                    ts="2026-11-30T06:40:00.000Z",
                    data={"command_id": command_id, "kind": "reprint", "outcome": outcome, "code": None,
                          "detail": {"job_id": 3}, "at": time.time()})


def test_pending_until_received_and_a_fetch_hands_out_only_live_ones(board: CommandBoard) -> None:
    assert board.pending("K01") == 0
    first = send(board, "K01", "reprint")
    send(board, "K01", "open_slot", locker_id="U1", slot=3)
    assert board.pending("K01") == 2 and board.pending("K02") == 0
    views = board.fetch("K01")
    assert [v["kind"] for v in views] == ["reprint", "open_slot"] and views[1]["params"] == {"locker_id": "U1",
                                                                                             "slot": 3}
    assert board.pending("K01") == 2, "handed out is not yet recorded: the heartbeat keeps saying so"
    assert board.fetch("K01") == views, "handed out again until the station says it has them"
    assert board.fetch("K02") == []
    assert board.received("K02", [first.id]) == 0, "another station cannot acknowledge it"
    assert board.received("K01", [v["id"] for v in views]) == 2
    assert board.pending("K01") == 0 and board.fetch("K01") == []
    board.refresh()
    assert board.pending("K01") == 0


def test_bad_commands_are_refused_before_anything_is_stored(board: CommandBoard) -> None:
    for kind, kw, code in (("open_slot", {"locker_id": "U1"}, "slot_required"), ("slot_out", {}, "locker_required"),
                           ("format_disk", {}, "unknown_kind"), ("reprint", {"expires_s": 0}, "bad_expiry")):
        with pytest.raises(CommandRefused) as err, board.db.session() as s:
            board.create(s, "K01", kind, "olga", kw.pop("expires_s", 60), **kw)  # type: ignore[arg-type]
        assert err.value.code == code
    with board.db.session() as s:
        assert s.scalars(select(RemoteCommand)).all() == []


def test_unfetched_commands_expire_once_and_are_never_handed_out(board: CommandBoard) -> None:
    row = send(board, "K01", "restart", expires_s=30)
    clock = board.clock
    assert isinstance(clock, Clock)
    clock.now += 31
    assert board.fetch("K01") == []
    board.refresh()
    board.refresh()  # a second pass (or instance) does not audit it again
    assert board.pending("K01") == 0
    with board.db.session() as s:
        assert s.get(RemoteCommand, row.id).state == "expired"
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "command.expired")).all()
        assert [(e.target, e.outcome) for e in entries] == [(f"command:{row.id}", "expired")]


def test_a_result_settles_its_own_station_s_command_once_and_is_audited(board: CommandBoard) -> None:
    row = send(board, "K01", "reprint")
    with board.db.session() as s:
        project_result(s, "K02", result(row.id, "done"))  # another station's claim changes nothing
        assert s.get(RemoteCommand, row.id).state == "pending"
        project_result(s, "K01", result(row.id, "done"))
        project_result(s, "K01", result(row.id, "failed", seq=2))  # already settled: stays done
        got = s.get(RemoteCommand, row.id)
        assert (got.state, got.detail()) == ("done", {"job_id": 3})
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "command.result")).all()
        assert [(e.actor, e.outcome) for e in entries] == [("station:K01", "ok")]


def test_screenshots_only_for_their_command_and_purged_after_retention(board: CommandBoard) -> None:
    png = PNG_MAGIC + b"\x00" * 100
    shot = send(board, "K01", "screenshot")
    other = send(board, "K01", "reprint")
    with pytest.raises(CommandRefused):
        board.store_screenshot("K01", shot.id, b"GIF89a")
    assert board.store_screenshot("K02", shot.id, png) is False
    assert board.store_screenshot("K01", other.id, png) is False
    assert board.store_screenshot("K01", shot.id, png) is True
    assert board.store_screenshot("K01", shot.id, png) is True  # a retried upload keeps the first
    clock = board.clock
    assert isinstance(clock, Clock)
    clock.now += 3599
    board.purge_now()
    with board.db.session() as s:
        assert s.get(CommandScreenshot, shot.id) is not None
    clock.now += 2
    board.purge_now()
    with board.db.session() as s:
        assert s.get(CommandScreenshot, shot.id) is None


def test_every_audit_action_has_words_in_both_languages() -> None:
    import server_bridge.central.console  # noqa: F401  (registers the audit words)

    missing = [a for a in audit.ACTIONS if a not in audit.ACTION_WORDS]
    assert missing == [], f"audit actions without words (the audit page would show the raw key): {missing}"
    zh, en = i18n.t("zh"), i18n.t("en")
    for action in audit.ACTIONS:
        assert zh(f"audit.{action}") != f"audit.{action}" and en(f"audit.{action}") != zh(f"audit.{action}")
