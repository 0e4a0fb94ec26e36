"""SteadyWall: the station's record clock follows the wall clock but believes a step only once it has held."""
from __future__ import annotations

import pytest

from mallcommon.clock import SteadyWall, boot_elapsed, boot_stamp


class Clocks:
    def __init__(self) -> None:
        self.boot, self.step = 100.0, 0.0

    def wall(self) -> float:
        return 1_800_000_000.0 + self.boot + self.step


@pytest.mark.parametrize("step", [-7200.0, 7200.0])
def test_a_wall_clock_glitch_never_reaches_a_record_and_a_lasting_step_is_believed_after_stepout(step: float) -> None:
    c = Clocks()
    steady = SteadyWall(wall=c.wall, boot=lambda: c.boot, stepout_s=300.0)
    start = steady()
    c.step = step  # the wall clock jumps
    c.boot += 5
    assert steady() == pytest.approx(start + 5)  # not believed: time goes on from where it was
    c.step = 0.0  # and comes back 8 s later
    c.boot += 3
    assert steady() == pytest.approx(start + 8)

    c.step = step  # a step that holds (NTP correcting the RTC)
    c.boot += 1
    assert steady() == pytest.approx(start + 9)
    c.boot += 299
    assert steady() == pytest.approx(start + 308)
    c.boot += 1
    assert steady() == pytest.approx(c.wall())  # held for the stepout: taken, once
    c.boot += 10
    assert steady() == pytest.approx(c.wall())


def test_drift_and_slewing_are_followed() -> None:
    c = Clocks()
    steady = SteadyWall(wall=c.wall, boot=lambda: c.boot)
    for _ in range(10):
        c.boot += 60
        c.step += 0.5  # NTP slewing: half a second a minute
        assert steady() == c.wall()


def test_boot_stamps_measure_only_within_their_boot() -> None:
    stamp = boot_stamp("boot-a", 100.0)
    assert boot_elapsed(stamp, "boot-a", 700.0) == 600.0
    assert boot_elapsed(stamp, "boot-b", 700.0) is None and boot_elapsed(None, "boot-a", 1.0) is None


def test_a_process_restarted_during_a_glitch_goes_on_from_the_offset_believed_before(tmp_path) -> None:
    """A station killed and restarted while the wall clock is 2 h off (same boot) must not take the glitch as
    the time: it goes on from the offset the earlier process kept in its store."""
    from kiosk.bootstrap import keep_steady_wall
    from kiosk.store import Store

    c = Clocks()
    store = Store(tmp_path / "station.db")
    first = SteadyWall(wall=c.wall, boot=lambda: c.boot)
    keep_steady_wall(first, store)
    before = first()
    c.step, c.boot = 7200.0, c.boot + 10  # the glitch, and the station restarts in it
    second = SteadyWall(wall=c.wall, boot=lambda: c.boot)
    keep_steady_wall(second, store)
    assert second() == pytest.approx(before + 10)
    store.close()
