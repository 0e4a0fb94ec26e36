"""Deposits on a full disk (issue 12): the station's store on a small tmpfs that really fills (SQLITE_FULL), a real
centre and the gateway simulator. A settlement whose row or whose answer could not be written is deferred, never
lost nor made twice (the centre is asked again with the same settle_key), and completes once there is room; a full
disk in the payments step of a housekeeping pass no longer skips the rest of that pass."""
from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.fixtures.disk import SmallDisk
from tests.fixtures.station import StationStack
from tests.integration.payment.conftest import DEPOSIT
from tests.integration.payment.test_station import paid_station


def _station_on(s: StationStack, small_disk: SmallDisk, centre: Any) -> tuple:
    (s.tmp / "station").symlink_to(small_disk.path, target_is_directory=True)  # the station's data dir fills up
    station, pay, order = paid_station(s, centre, "wechat")
    station.payments = pay  # the housekeeping pass settles through it (as `run` builds it)
    done = pay.dispense(order.station_order_id)
    assert done.state == "reported" and done.item_id
    return station, pay, order, done


def _refunds(centre: Any, station_order_id: str) -> list[tuple[int, str]]:
    view = centre.wait_refunds("K01", station_order_id)
    return [(r["amount_fen"], r["state"]) for r in view["refunds"]]


def _tick_failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "tick_failed" in r.getMessage()]


def test_a_return_whose_settlement_cannot_be_written_is_settled_once_when_room_returns(
        paid_stack: StationStack, pay_centre: Any, small_disk: SmallDisk, caplog: pytest.LogCaptureFixture) -> None:
    s = paid_stack
    station, pay, order, done = _station_on(s, small_disk, pay_centre)
    settler = station.lending.returns.settler

    def disk_fills_after_the_return_commits(result: Any) -> Any:
        small_disk.fill(station.store)  # the return is recorded; its settlement row no longer fits
        return settler(result)

    station.lending.returns.settler = disk_fills_after_the_return_commits
    s.control("P1", {"op": "insert", "item": done.item_id, "battery": 90})
    s.wait(lambda: not station.lending.lendings(open_only=True), what="the return")
    assert pay.settlement(done.item_id) is None, "no row could be written"
    assert _refunds(pay_centre, order.station_order_id) == [], "nothing asked of the centre before its row exists"

    caplog.set_level(logging.WARNING)
    station.tick()  # still full: deferred, not failed, not lost
    assert pay.settlement(done.item_id) is None and _tick_failures(caplog) == []
    small_disk.free(station.store)
    station.tick()
    station.tick()  # a second pass changes nothing: one settlement, one refund
    assert (pay.settlement(done.item_id) or {}).get("state") == "done", "the deposit was never settled"
    assert _refunds(pay_centre, order.station_order_id) == [(DEPOSIT, "succeeded")]  # free minutes: all back
    assert pay_centre.gateway.ledger.get("wechat", order.order_id).refunded_fen == DEPOSIT
    assert _tick_failures(caplog) == []


def test_a_settlement_answer_that_cannot_be_written_is_asked_again_and_the_pass_goes_on(
        paid_stack: StationStack, pay_centre: Any, small_disk: SmallDisk, caplog: pytest.LogCaptureFixture) -> None:
    s = paid_stack
    station, pay, order, done = _station_on(s, small_disk, pay_centre)
    pay_centre.proc.stop()  # the return's settlement waits, due, for the centre
    s.control("P1", {"op": "insert", "item": done.item_id, "battery": 90})
    s.wait(lambda: (pay.settlement(done.item_id) or {}).get("state") == "due", what="the due settlement")
    pay_centre.proc.start()

    real_settle = pay.centre.settle
    answers: list[dict[str, Any]] = []

    def disk_fills_before_the_answer_is_written(body: dict[str, Any], timeout_s: float | None = None) -> Any:
        out = real_settle(body, timeout_s=timeout_s)  # the centre refunds now
        answers.append(out)
        small_disk.fill(station.store)
        return out

    pay.centre.settle = disk_fills_before_the_answer_is_written  # type: ignore[method-assign]
    real_retry = station.printing.retry_pending
    receipts_ran: list[bool] = []

    def receipts_step() -> int:  # the next step of the same pass; the disk has room again by then
        receipts_ran.append(True)
        small_disk.free(station.store)
        return real_retry()

    station.printing.retry_pending = receipts_step  # type: ignore[method-assign]
    caplog.set_level(logging.WARNING)
    station.tick()
    assert receipts_ran == [True], "a full disk in the payments step skipped the rest of the pass"
    assert _tick_failures(caplog) == []
    assert pay.settlement(done.item_id)["state"] == "due", "an answer not written is not taken as done"
    assert len(answers) == 1

    pay.centre.settle = real_settle  # type: ignore[method-assign]
    station.tick()  # asked again with the same key: the same settlement, not a second refund
    st = pay.settlement(done.item_id)
    assert st["state"] == "done" and st["out_refund_no"] == answers[0]["out_refund_no"]
    assert _refunds(pay_centre, order.station_order_id) == [(DEPOSIT, "succeeded")]
    assert pay_centre.gateway.ledger.get("wechat", order.order_id).refunded_fen == DEPOSIT


def test_a_paid_borrow_whose_dispense_cannot_be_written_is_reported_without_a_restart(
        paid_stack: StationStack, pay_centre: Any, small_disk: SmallDisk, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills while a paid power bank's door is open: the item left, nothing of it is recorded, the order
    stays `dispensing`. Once there is room, housekeeping records the borrow and the order is reported as dispensed
    (the deposit kept, nothing refunded) on the next pass, not only after a restart."""
    s = paid_stack
    (s.tmp / "station").symlink_to(small_disk.path, target_is_directory=True)
    station, pay, order = paid_station(s, pay_centre, "wechat")
    station.payments = pay
    borrow = station.lending.borrow

    def fill_when_open(p: Any) -> None:
        if p.stage == "door_open":
            small_disk.fill(station.store)

    monkeypatch.setattr(station.lending, "borrow", lambda member, item_type: borrow(member, item_type,
                                                                                     progress=fill_when_open))
    out = pay.dispense(order.station_order_id)
    assert out.state == "dispensing", "the door's outcome could not be written"
    station.tick()  # still full: nothing settles, nothing is refunded
    assert pay.order(order.station_order_id).state == "dispensing"
    small_disk.free(station.store)
    s.clock.advance(60)
    station.tick()
    station.tick()
    done = pay.order(order.station_order_id)
    assert done.state == "reported" and done.item_id and done.lending_id
    assert [lent.item_id for lent in station.lending.lendings(open_only=True)] == [done.item_id]
    assert _refunds(pay_centre, order.station_order_id) == [], "a dispensed deposit is kept, not refunded"
    assert pay_centre.gateway.ledger.get("wechat", order.order_id).refunded_fen == 0
