"""The wall clock jumps ±2 h (NTP correcting a kiosk's RTC after boot) between a borrow and its return
(issue 12): the fee is for the time the item was really out (boot clock), the return never comes before the
start, and the outbox keeps the events in the order they happened (seq, not ts)."""
from __future__ import annotations

import pytest

from tests.unit.services.conftest import World

STEP = 2 * 3600


@pytest.mark.parametrize(("kept_s", "wall_step", "fee"), [
    (10 * 60, +STEP, 0),       # 10 min, inside the free 30: the +2 h step must not charge 2 hours
    (3 * 3600, -STEP, 600),    # 3 h (3 started hours after the free 30 min): the -2 h step must not halve it
])
def test_a_wall_clock_step_changes_neither_the_fee_nor_the_order(make_world, kept_s: int, wall_step: int,
                                                                 fee: int) -> None:
    w: World = make_world({"U1": "umbrella"}, auto_take={"U1": 0.2})
    lending = w.lending.borrow(w.member("M1"), "umbrella").lending
    w.clock.advance(kept_s / 2)
    w.clock.epoch += wall_step  # the wall clock steps; the boot clock (monotonic here) does not
    w.clock.advance(kept_s / 2)
    back = w.put_back("U1", lending.item_id, slot=lending.slot)

    assert back.fee_cents == fee and back.duration_s == pytest.approx(kept_s, abs=0.5)
    [row] = w.lendings()
    assert row["returned_at"] == pytest.approx(row["started_at"] + kept_s, abs=0.5)
    events = w.store.outbox_pending()
    assert [(e.seq, e.type) for e in events] == [(1, "lending.started"), (2, "lending.returned")]


def test_a_loan_from_an_earlier_boot_is_timed_on_the_wall_clock(make_world) -> None:
    w: World = make_world({"U1": "umbrella"}, auto_take={"U1": 0.2})
    lending = w.lending.borrow(w.member("M1"), "umbrella").lending
    w.store.query("UPDATE lendings SET started_boot='an-earlier-boot@5.000'")  # the station rebooted since
    w.clock.advance(3 * 3600)
    assert w.put_back("U1", lending.item_id, slot=lending.slot).fee_cents == 600


def test_member_codes_follow_the_corrected_wall_clock_and_a_replay_stays_refused(world: World) -> None:
    """Member codes are checked on the raw wall clock (the phone's time is the truth): a kiosk 2 h behind refuses
    them as expired until NTP steps it, then takes them, once."""
    from kiosk.store import StoreReplayGuard
    from kiosk.tokens import TokenBook, TokenKeys, TokenRejected

    phone = TokenBook(TokenKeys(b"unit-services-site-key-0123456789"), clock=world.clock.wall)
    kiosk_wall = {"step": -STEP}  # the RTC is 2 h behind until NTP steps it
    kiosk = TokenBook(TokenKeys(b"unit-services-site-key-0123456789"),
                      clock=lambda: world.clock.wall() + kiosk_wall["step"], replay=StoreReplayGuard(world.store))
    code = phone.member_code("M10086")
    with pytest.raises(TokenRejected) as early:
        kiosk.verify_member(code)
    assert early.value.reason == "expired"

    kiosk_wall["step"] = 0.0  # NTP corrects the kiosk
    assert kiosk.verify_member(code).member_id == "M10086"
    with pytest.raises(TokenRejected) as again:
        kiosk.verify_member(code)
    assert again.value.reason == "replayed"
