"""A private Xvfb display on a free display number (tests, benches, and `run` on a machine without a screen)."""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)


def _dies_with_us() -> list[str]:
    """A prefix that makes the server get SIGTERM when the process that started it dies, even by SIGKILL (a
    station killed by systemd's watchdog or a test), instead of living on as an orphan holding its display.
    util-linux's setpriv sets the parent-death signal and execs Xvfb; without it the server starts plainly."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM"] if setpriv else []


class XvfbError(Exception):
    code = "no_display"


class Xvfb:
    def __init__(self, width: int = 1080, height: int = 1920, depth: int = 24) -> None:
        self.geometry = f"{width}x{height}x{depth}"
        self.display: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def _free_number(start: int = 90) -> int:
        for n in range(start, start + 400):
            if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
                return n
        raise XvfbError("no free X display number")

    def start(self, timeout: float = 10.0) -> Xvfb:
        exe = shutil.which("Xvfb")
        if exe is None:
            raise XvfbError("Xvfb is not installed (apt package xvfb)")
        for _ in range(5):  # another process may grab the same number between the check and the bind
            number = self._free_number(90 + (os.getpid() % 200))
            proc = subprocess.Popen([*_dies_with_us(), exe, f":{number}", "-screen", "0", self.geometry, "-nolisten",
                                     "tcp", "-noreset"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and proc.poll() is None:
                if Path(f"/tmp/.X11-unix/X{number}").exists():
                    self._proc, self.display = proc, f":{number}"
                    log.info("xvfb.started display=%s geometry=%s", self.display, self.geometry)
                    return self
                time.sleep(0.05)
            proc.kill()
            proc.wait()
        raise XvfbError("Xvfb did not start")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
