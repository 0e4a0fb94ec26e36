"""The headphone jack: the simulated one's file, finding the kernel's headphone switch in sysfs, settings."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from drivers.audio.jack import EvdevJack, NoJack, SimulatedJack, _eviocgsw, find_headphone_switch, open_jack
from kiosk.config import UiSettings


def test_simulated_jack_reads_plugged_unplugged_and_unknown(tmp_path: Path) -> None:
    jack = SimulatedJack(tmp_path / "headphone")
    assert jack.plugged() is None                     # no file: the hardware does not say
    jack.set(True)
    assert jack.plugged() is True
    jack.set(False)
    assert jack.plugged() is False
    (tmp_path / "headphone").write_text("maybe\n")
    assert jack.plugged() is None                     # nonsense is unknown, never a guess


def _device(root: Path, name: str, sw: str) -> None:
    caps = root / name / "device" / "capabilities"
    caps.mkdir(parents=True)
    (caps / "sw").write_text(sw + "\n")


def test_the_headphone_switch_is_found_by_its_capability_bit(tmp_path: Path) -> None:
    _device(tmp_path, "event0", "0")          # a keyboard: no switches
    _device(tmp_path, "event3", "1")          # lid switch only (SW_LID = 0)
    _device(tmp_path, "event7", "14")         # headphone (0x02) + line out: 0b10100
    assert find_headphone_switch(tmp_path) == "event7"
    assert find_headphone_switch(tmp_path / "nothing") is None
    multi = tmp_path / "multi"
    _device(multi, "event2", "4 0")           # two longs: bit 66 set, not bit 2
    assert find_headphone_switch(multi) is None


def test_evdev_jack_without_a_switch_says_unknown(tmp_path: Path) -> None:
    jack = EvdevJack(sys_root=tmp_path, dev_root=tmp_path)
    assert jack.device is None and jack.plugged() is None and jack.describe() == "evdev:none"
    _device(tmp_path, "event1", "4")
    gone = EvdevJack(sys_root=tmp_path, dev_root=tmp_path / "dev")   # listed but no device node: unknown
    assert gone.device == "event1" and gone.plugged() is None


def test_eviocgsw_matches_linux_input_h() -> None:
    # EVIOCGSW(len) = _IOC(_IOC_READ=2, 'E'=0x45, 0x1b, len); for 3 bytes: 0x8003451b
    assert _eviocgsw(3) == 0x8003451B


@pytest.mark.skipif(not os.path.isdir("/sys/class/input"), reason="no input class in this kernel view")
def test_this_machines_jack_answers_without_error() -> None:
    assert EvdevJack().plugged() in (True, False, None)


def test_settings_pick_the_jack_and_refuse_a_sim_without_file(tmp_path: Path) -> None:
    assert isinstance(open_jack("none"), NoJack)
    assert isinstance(open_jack("sim", tmp_path / "h"), SimulatedJack)
    with pytest.raises(ValidationError, match="headphone_sim_file"):
        UiSettings(headphone_jack="sim")
