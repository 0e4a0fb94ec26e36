"""Speech mode: espeak-ng (Debian) is asked to read the door-open screen's heading, countdown and door."""
from __future__ import annotations

import shutil
import wave
from pathlib import Path

import pytest

from kiosk.services.lending import BorrowProgress
from kiosk.ui.speech import EspeakSpeaker

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is in the Makefile's APT_PACKAGES")


def test_the_door_open_screen_is_spoken_in_chinese_and_english(make_ui, bare_station, tmp_path: Path) -> None:
    ui = make_ui(bare_station)
    app = ui.app
    speaker = EspeakSpeaker(wav_dir=tmp_path / "speech")
    app.speaker = speaker
    ui.tap_at(540, 900)
    ui.tap_text("语音")                     # the visible toggle
    assert app.speech and ui.button("语音").text.startswith("✓")
    wait = app.go("wait", item_type="umbrella")
    now = app.deadline_clock()
    app.deadline_clock = lambda: now
    wait.show(BorrowProgress("door_open", "U1", 7, "U-0007", None, now + 12))
    ui.step(2)
    lang, text = speaker.said[-1]
    assert lang == "zh" and text == "柜门已打开。请取伞 — 12 秒。U1 柜 7 号门。", text
    argv = speaker.command(text, lang)
    assert argv[:3] == [speaker.binary, "-v", "cmn"] and argv[-1] == text
    speaker.wait()
    wavs = sorted((tmp_path / "speech").glob("*.wav"))
    with wave.open(str(wavs[-1])) as wav:   # the engine really spoke: about a second of audio or more
        assert wav.getnframes() / wav.getframerate() > 1.0

    app.deadline_clock = lambda: now + 7    # 5 s left: the countdown is read again
    ui.settle(0.5)
    assert speaker.said[-1] == ("zh", "还剩 5 秒")

    ui.tap_text("English")                  # switching language reads the screen again, in English
    assert speaker.said[-1] == ("en", "The door is open. Please take your umbrella — 5 s. Door 7 of locker U1.")


def test_errors_are_spoken_and_nothing_is_said_with_speech_off(make_ui, bare_station, tmp_path: Path) -> None:
    ui = make_ui(bare_station, lang="en")
    speaker = EspeakSpeaker(wav_dir=tmp_path / "speech")
    ui.app.speaker = speaker
    ui.tap_at(540, 900)
    screen = ui.app.go("borrow", item_type="umbrella")
    ui.step(2)
    screen.notify("The locker is offline")
    assert list(speaker.said) == []
    ui.tap_text("Speech")
    screen.notify("The locker is offline")
    assert speaker.said[-1] == ("en", "The locker is offline")


def test_a_headphone_plugged_in_turns_guidance_on_and_unplugging_turns_it_off(make_ui, bare_station,
                                                                              tmp_path: Path) -> None:
    from drivers.audio import SimulatedJack
    from kiosk.ui.speech import SilentSpeaker

    ui = make_ui(bare_station)
    app = ui.app
    jack = SimulatedJack(tmp_path / "headphone")
    app.jack, app.speaker = jack, SilentSpeaker()
    ui.tap_at(540, 900)                                   # attract → home
    app.check_jack()
    assert not app.speech                                 # no file: the hardware does not say, nothing changes
    jack.set(True)
    app.check_jack()
    ui.step(2)
    assert app.speech and ui.button("语音").text.startswith("✓")
    assert app.speaker.said and app.speaker.said[-1][0] == "zh"   # the screen was read at once
    wait = app.go("wait", item_type="umbrella")
    now = app.deadline_clock()
    app.deadline_clock = lambda: now
    wait.show(BorrowProgress("door_open", "U1", 7, "U-0007", None, now + 12))
    ui.step(2)
    assert app.speaker.said[-1] == ("zh", "柜门已打开。请取伞 — 12 秒。U1 柜 7 号门。")
    app.end_session("done")                               # still plugged: the next shopper hears it too
    assert app.speech
    jack.set(False)
    app.check_jack()
    assert not app.speech
    ui.tap_at(540, 900)
    ui.tap_text("语音")                                    # turned on by a tap: unplugging does not undo it
    jack.set(True)
    app.check_jack()
    jack.set(False)
    app.check_jack()
    assert app.speech
