"""kiosk.service as systemd runs it: the unit's own ExecStart and Environment, with systemd's notify socket.

There is no systemd (PID 1) on a build machine, so the test plays its part: it listens on NOTIFY_SOCKET with
WATCHDOG_USEC set, as systemd would, and applies the unit's rules to what it hears. A unit enters its start
limit only by starting again and again (the process exits, or misses the watchdog); a station that sends
READY=1 and keeps pinging has started once.
"""
from __future__ import annotations

import configparser
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server_bridge.central.runner import CentralProcess
from tests.fixtures.central import migrated_sqlite
from tests.fixtures.station import StationStack, make_stack
from tests.fixtures.systemd import Systemd
from tests.ui.test_run import SCRIPT as BARE_UI_SCRIPT

ROOT = Path(__file__).resolve().parents[3]
UNIT = ROOT / "kiosk.service"
WATCHDOG_USEC = 1_500_000  # the test's deadline (the unit's is 30 s): a ping every 0.5 s


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT)
    return parser


def service_process(config: Path, tmp: Path, notify: Systemd) -> subprocess.Popen[bytes]:
    """The unit's ExecStart (installed prefix → this checkout, its config → `config`) in its Environment."""
    service = unit()["Service"]
    argv = shlex.split(service["ExecStart"].replace("/opt/mall-station", str(ROOT)))
    argv[argv.index("--config") + 1] = str(config)
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}  # no display: run_ui starts its own Xvfb
    env.update(dict(kv.split("=", 1) for kv in shlex.split(service["Environment"])))
    env.update(KIVY_HOME=str(tmp / "kivy"), NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC=str(WATCHDOG_USEC))
    argv[0] = sys.executable  # the same interpreter as the unit's .venv/bin/python, whatever venv runs the tests
    return subprocess.Popen(argv + ["--screenshot-dir", str(tmp / "shots")], cwd=ROOT, env=env,
                            stdout=open(tmp / "service.log", "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[Systemd]:
    listener = Systemd(tmp_path / "notify.sock")
    yield listener
    listener.close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_broker_down_at_boot_is_a_normal_start_and_diag_names_a_refused_upload_link(
        tmp_path: Path, notify: Systemd) -> None:
    central = CentralProcess(migrated_sqlite(tmp_path / "central.db"), tmp_path / "central")
    central.add_station("K01")
    central.start()
    token = tmp_path / "K01.token"
    token.write_text("not-the-token-the-centre-gave")  # the centre answers 401 to everything this station sends
    stack: StationStack = make_stack(
        tmp_path, lockers=[("U1", "umbrella")],
        extra_toml=f'[central]\nurl = "{central.url}"\ntoken_file = "{token}"\nheartbeat_s = 1\n')
    stack.broker.stop()  # the broker is not up yet at boot
    started = time.monotonic()
    proc = service_process(stack.config_path, tmp_path, notify)
    try:
        ready = notify.first("READY=1", 60)
        assert ready is not None, (tmp_path / "service.log").read_text(errors="replace")[-3000:]
        print(f"READY=1 after {ready - started:.2f} s with the broker down")
        # six watchdog periods' worth of pings (one every 0.5 s), none late, while the broker stays down
        notify.wait_pings(since=ready, count=6, timeout=30)
        assert proc.poll() is None, "the station exited: systemd would restart it, towards the start limit"
        pings = notify.pings(since=ready)
        gaps = [b - a for a, b in zip([ready, *pings], pings, strict=False)]
        assert len(pings) >= 6 and max(gaps) < WATCHDOG_USEC / 1e6, gaps  # the watchdog never fires
        assert (tmp_path / "shots" / "latest.png").stat().st_size > 10_000  # and the screen is drawn

        health = stack.config.data_dir / "health.json"
        stack.wait(lambda: health.exists() and json.loads(health.read_text())["central"]["state"] == "refused",
                   20, "the running station to see its uploads refused")
        out = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(stack.config_path), "diag"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
        report = json.loads(out.stdout.strip().splitlines()[-1])
        problems = {p["code"]: p["message"] for p in report["problems"]}
        assert out.returncode == 1 and report["ok"] is False and report["station_process"] is True
        assert "HTTP 401" in problems["upload_refused"] and "token" in problems["upload_refused"]
        assert "does not answer" in problems["broker_unreachable"]
        assert proc.poll() is None
    finally:
        stop(proc)
        central.stop()
        stack.close()


def test_a_config_that_cannot_work_fails_fast_and_is_not_restarted(tmp_path: Path, notify: Systemd) -> None:
    stack = make_stack(tmp_path, lockers=[("U1", "umbrella")])
    stack.broker.stop()
    bad = tmp_path / "bad.toml"
    bad.write_text(stack.config_path.read_text().replace("keepalive_s = 5", "keepalive_s = 1"))
    started = time.monotonic()
    proc = service_process(bad, tmp_path, notify)
    try:
        rc = proc.wait(30)
    finally:
        stop(proc)
        stack.close()
    log = (tmp_path / "service.log").read_text(errors="replace")
    assert time.monotonic() - started < 15 and notify.first("READY=1", 0) is None
    assert str(bad) in log and "keepalive_s" in log
    prevented = unit()["Service"]["RestartPreventExitStatus"].split()
    assert str(rc) in prevented, f"exit {rc} would be restarted: a reboot loop on a config that cannot work"

    bad.write_text("site = [unclosed")
    out = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(bad), "run"], cwd=ROOT, capture_output=True,
                         text=True, timeout=30)
    assert str(out.returncode) in prevented and str(bad) in out.stdout and "TOML" in out.stdout


RUN_UI = 'run_ui(station, windowed=True, screenshot_dir=tmp / "shots", screenshot_every_s=0.5, stop_after_s=2.5)'
assert RUN_UI in BARE_UI_SCRIPT
# test_run's bare station, whose UI thread hangs 1.5 s into its main loop while every other thread goes on
HANG_SCRIPT = BARE_UI_SCRIPT.replace(RUN_UI, """import time
from kivy.clock import Clock
Clock.schedule_once(lambda _dt: Clock.schedule_once(lambda _dt: time.sleep(30), 1.5), 0)
run_ui(station, windowed=True)""")


def test_the_watchdog_still_catches_a_hung_ui(tmp_path: Path, notify: Systemd) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env.update(KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_HOME=str(tmp_path / "kivy"),
               NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC=str(WATCHDOG_USEC))
    proc = subprocess.Popen([sys.executable, "-c", HANG_SCRIPT.format(root=str(ROOT), tmp=str(tmp_path))],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ready = notify.first("READY=1", 60)
        assert ready is not None
        # the UI thread hangs 1.5 s into its main loop: wait until the pings have been silent for longer than
        # the watchdog allows (or give up: then the assertion below reports how recent the last ping was)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not notify.pings(since=ready) or time.monotonic()
                                               - notify.pings(since=ready)[-1] <= 2 * WATCHDOG_USEC / 1e6):
            time.sleep(0.05)
        assert proc.poll() is None  # alive, but:
        pings = notify.pings(since=ready)
        assert pings, "no pings at all before the hang"
        silent = time.monotonic() - pings[-1]
        assert silent > WATCHDOG_USEC / 1e6, f"pings went on {silent:.1f} s ago: a hung UI would not be caught"
    finally:
        proc.kill()
        proc.wait(10)
