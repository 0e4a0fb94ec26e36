"""`python -m kiosk printer …` and `sim printer` against a virtual printer, as staff and scripts use them."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from device_profiles.schema import PROFILE_ROOT
from drivers.printer.virtual import VirtualPrinter
from tests.fixtures.printer import wait_for_receipts

ROOT = Path(__file__).resolve().parents[3]


def _config(tmp_path: Path, port: int) -> Path:
    (tmp_path / "site.key").write_text("cli-test-site-key-0123456789abcdef\n", encoding="ascii")
    path = tmp_path / "station.toml"
    path.write_text(f"""
site = "test-mall"
station_id = "K09"
data_dir = "data"
site_key_file = "site.key"
[broker]
port = 1
[[lockers]]
id = "U1"
profile = "{PROFILE_ROOT / 'lockers' / 'umbrella-24.yaml'}"
[printer]
profile = "{PROFILE_ROOT / 'printers' / 'epson-tm-t20ii-cn.yaml'}"
connection = {{ type = "network", host = "127.0.0.1", port = {port}, timeout_s = 1.0 }}
[policy.items.umbrella]
free_minutes = 30
fee_per_hour_cents = 200
daily_cap_cents = 1000
""", encoding="utf-8")
    return path


def _kiosk(*argv: str) -> tuple[int, list[dict]]:
    proc = subprocess.run([sys.executable, "-m", "kiosk", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def test_status_test_page_and_reprint(tmp_path: Path, virtual_printer: VirtualPrinter) -> None:
    config = str(_config(tmp_path, virtual_printer.port))
    code, [status] = _kiosk("--config", config, "printer", "status")
    assert code == 0 and status["online"] and status["queued"] == 0

    code, [page] = _kiosk("--config", config, "printer", "test-page", "--staff", "S-001")
    assert code == 0 and page["printed"]
    code, [again] = _kiosk("--config", config, "printer", "reprint", "1")
    assert code == 0 and [r["printed"] for r in again["reprinted"]] == [True]
    first, second = wait_for_receipts(virtual_printer, 2)
    assert "打印测试页" in first.with_suffix(".txt").read_text(encoding="utf-8")
    assert first.with_suffix(".txt").read_text(encoding="utf-8") == second.with_suffix(".txt").read_text(
        encoding="utf-8")


def test_sim_printer_switches_the_running_virtual_printer(tmp_path: Path, virtual_printer: VirtualPrinter) -> None:
    config = str(_config(tmp_path, virtual_printer.port))
    code, [sim] = _kiosk("sim", "printer", "paper_out", "--out", str(virtual_printer.out_dir))
    assert code == 0 and virtual_printer.status == "paper_out"
    code, [status] = _kiosk("--config", config, "printer", "status")
    assert code == 1 and status["reason"] == "paper_out"
    code, [page] = _kiosk("--config", config, "printer", "test-page")
    assert code == 1 and page["reason"] == "paper_out"
    code, [queue] = _kiosk("--config", config, "printer", "queue")
    assert [j["kind"] for j in queue["jobs"]] == ["test_page"]
