"""A running ScanService on the simulated camera: scans arrive once, a lost camera shows and recovers,
and `python -m kiosk sim show-qr` from another process reaches the station's camera."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from drivers.scanner import SimulatedCamera
from kiosk.config import load_config
from kiosk.services.scanning import ItemScanned, MemberScanned, ScanRefused, ScanService, StaffScanned
from kiosk.tokens import TokenBook, TokenKeys
from tests.fixtures.scanner import wait_until as _until
from tests.fixtures.scanner import write_station_config

REPO = Path(__file__).resolve().parents[3]


def test_code_held_in_view_is_one_scan(running_scan_service: ScanService, sim_camera: SimulatedCamera,
                                       scan_tokens: TokenBook) -> None:
    seen: list = []
    running_scan_service.subscribe(seen.append)
    sim_camera.show(scan_tokens.member_code("MB0100"), tilt=10, noise=4)
    event = running_scan_service.wait_for(MemberScanned, timeout=5)
    assert event is not None and event.code.member_id == "MB0100"
    start = running_scan_service.frames_decoded
    assert _until(lambda: running_scan_service.frames_decoded >= start + 10)
    assert seen == [event]  # ten more frames of the same phone: still one scan, no replay refusal


def test_junk_code_in_view_is_refused_once(running_scan_service: ScanService, sim_camera: SimulatedCamera) -> None:
    sim_camera.show("WIFI:S:free;T:nopass;;")
    event = running_scan_service.wait_for(ScanRefused, timeout=5)
    assert event is not None and event.reason == "unknown"


def test_camera_unplugged_shows_in_status_and_scanning_recovers(
        running_scan_service: ScanService, sim_camera: SimulatedCamera) -> None:
    assert _until(lambda: running_scan_service.status().connected and running_scan_service.frames_decoded > 0)
    sim_camera.unplug()
    assert _until(lambda: not running_scan_service.status().connected)
    time.sleep(0.1)  # a frame read just before the unplug may still be in the decoder
    frozen = running_scan_service.frames_decoded
    time.sleep(0.3)
    assert running_scan_service.frames_decoded == frozen  # the last frame is not decoded over and over
    sim_camera.show("I1.U-0200")
    sim_camera.plug()
    event = running_scan_service.wait_for(ItemScanned, timeout=5)
    assert event is not None and event.label.item_id == "U-0200"
    assert running_scan_service.status().connected and running_scan_service.status().fps > 0


def test_sim_show_qr_from_another_process_reaches_the_station(tmp_path: Path) -> None:
    cfg_path = write_station_config(tmp_path)
    config = load_config(cfg_path)
    tokens = TokenBook(TokenKeys(config.site_key()))
    cam = SimulatedCamera(640, 480, fps=30, control_dir=config.data_dir / "simcam")
    service = ScanService(cam, tokens)
    seen: list = []
    service.subscribe(seen.append)
    service.start()
    try:
        cmd = [sys.executable, "-m", "kiosk", "--config", str(cfg_path), "sim", "show-qr", "--staff", "ST42",
               "--dark", "--tilt", "12"]
        out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "ST42" not in out.stdout  # the CLI does not echo codes
        assert _until(lambda: bool(seen), timeout=10)
        assert isinstance(seen[0], StaffScanned) and seen[0].badge.staff_id == "ST42"
        subprocess.run([sys.executable, "-m", "kiosk", "--config", str(cfg_path), "sim", "camera", "unplug"],
                       cwd=REPO, check=True, capture_output=True, timeout=60)
        assert _until(lambda: not service.status().connected)
    finally:
        service.stop()
