"""Audio guidance: each screen's heading, the door countdown and errors read aloud (docs/ui.md "Speech").

The engine is espeak-ng from Debian (offline; Mandarin voice `cmn`, English `en-us`), run as a child process
so the UI thread never waits for it. `said` keeps what the engine was asked to say (tests and logs read it);
with `wav_dir` the speech is written to WAV files instead of the sound card (no audio device, tests).
"""
from __future__ import annotations

import logging
import shutil
import subprocess
from collections import deque
from pathlib import Path
from typing import Literal, Protocol

from kiosk.ui.settings import UiSettings

log = logging.getLogger(__name__)

Lang = Literal["zh", "en"]
VOICES: dict[str, str] = {"zh": "cmn", "en": "en-us"}


class Speaker(Protocol):
    said: deque[tuple[str, str]]

    def say(self, text: str, lang: str, *, interrupt: bool = False) -> None: ...

    def stop(self) -> None: ...


class EspeakSpeaker:
    def __init__(self, *, binary: str = "espeak-ng", wav_dir: Path | None = None, words_per_minute: int = 150,
                 keep: int = 50) -> None:
        self.binary = shutil.which(binary) or binary
        self.wav_dir = wav_dir
        self.wpm = words_per_minute
        self.said: deque[tuple[str, str]] = deque(maxlen=keep)
        self._proc: subprocess.Popen[bytes] | None = None
        self._count = 0

    def command(self, text: str, lang: str) -> list[str]:
        argv = [self.binary, "-v", VOICES.get(lang, "en-us"), "-s", str(self.wpm)]
        if self.wav_dir is not None:
            self._count += 1
            argv += ["-w", str(self.wav_dir / f"say-{self._count:04d}.wav")]
        return [*argv, "--", text]

    def say(self, text: str, lang: str, *, interrupt: bool = False) -> None:
        if interrupt:
            self.stop()
        self.said.append((lang, text))
        if self.wav_dir is not None:
            self.wav_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._proc = subprocess.Popen(self.command(text, lang), stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as exc:  # no engine: the screen still shows everything
            log.warning("ui.speech_failed error=%s", exc.strerror)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                proc.kill()

    def wait(self, timeout: float = 10.0) -> None:
        if self._proc is not None:
            self._proc.wait(timeout=timeout)


class SilentSpeaker:
    """Speech off at this station (no engine configured): remembers, says nothing."""

    def __init__(self) -> None:
        self.said: deque[tuple[str, str]] = deque(maxlen=50)

    def say(self, text: str, lang: str, *, interrupt: bool = False) -> None:
        self.said.append((lang, text))

    def stop(self) -> None:
        pass


def make_speaker(settings: UiSettings) -> Speaker:
    if settings.speech_engine == "none":
        return SilentSpeaker()
    return EspeakSpeaker(wav_dir=settings.speech_wav_dir)
