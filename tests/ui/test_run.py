"""`run_ui` as the `run` verb calls it: no display → its own Xvfb, says where screenshots go, writes them."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from kiosk.services.staff import StaffService
from kiosk.services.survey import SurveyService
from kiosk.store import Store
from kiosk.tokens import TokenBook, TokenKeys
from kiosk.ui.app import run_ui
from tests.fixtures.ui import BareStation

tmp = Path({tmp!r})
store = Store(tmp / "station.db")
tokens = TokenBook(TokenKeys(b"run-test-site-key-0123456789"))
station = BareStation(store=store, tokens=tokens, staff=StaffService(store, tokens), survey=SurveyService(store))
run_ui(station, windowed=True, screenshot_dir=tmp / "shots", screenshot_every_s=0.5, stop_after_s=2.5)
print("stopped")
"""


def test_run_ui_without_a_display_uses_xvfb_and_writes_screenshots(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env.update(KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_HOME=str(tmp_path / "kivy-home"))
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(root=str(ROOT), tmp=str(tmp_path))],
                         capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "no display: the UI runs on Xvfb" in out.stdout and str(tmp_path / "shots") in out.stdout
    assert out.stdout.strip().endswith("stopped")
    shots = tmp_path / "shots"
    assert (shots / "latest.png").stat().st_size > 10_000
    assert (shots / "attract.png").exists()


ORPHAN_SCRIPT = """
import sys, time
sys.path.insert(0, {root!r})
from kiosk.ui.xvfb import Xvfb
xvfb = Xvfb(64, 64).start()
print(xvfb._proc.pid, xvfb.display, flush=True)
time.sleep(60)
"""


def running_xvfb(pid: int) -> bool:
    """The process is an Xvfb and not yet gone (a zombie waiting for a reaper counts as gone)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return b"Xvfb" in cmdline and state != "Z"


def test_an_xvfb_dies_with_the_process_that_started_it_even_by_sigkill() -> None:
    """A station SIGKILLed by systemd's watchdog (or a test) must not leave its private display running."""
    proc = subprocess.Popen([sys.executable, "-c", ORPHAN_SCRIPT.format(root=str(ROOT))], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        pid_text, display = proc.stdout.readline().split()
        xvfb_pid = int(pid_text)
        assert running_xvfb(xvfb_pid)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and running_xvfb(xvfb_pid):
        time.sleep(0.02)
    alive = running_xvfb(xvfb_pid)
    if alive:
        os.kill(xvfb_pid, signal.SIGTERM)
    assert not alive, f"Xvfb {display} (pid {xvfb_pid}) outlived the SIGKILLed process that started it"
