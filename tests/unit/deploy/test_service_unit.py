"""kiosk.service: systemd accepts it, and it keeps the promises a bolted-in box needs."""
from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
UNIT = ROOT / "kiosk.service"

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")


def installed_copy(tmp_path: Path, text: str | None = None) -> Path:
    """The unit as installed, with the install prefix pointing at this checkout so ExecStart exists."""
    out = tmp_path / "kiosk.service"
    out.write_text((text or UNIT.read_text()).replace("/opt/mall-station", str(ROOT)))
    return out


def verify(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60)


def test_systemd_analyze_verify_passes(tmp_path: Path) -> None:
    result = verify(installed_copy(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "kiosk.service" not in result.stderr, result.stderr


def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    """The checks above can fail: a bad value is reported against the file, a missing binary fails."""
    bad_value = verify(installed_copy(tmp_path, UNIT.read_text().replace("Type=notify", "Type=sometimes")))
    assert "kiosk.service" in bad_value.stderr and "service type" in bad_value.stderr
    no_binary = UNIT.read_text().replace("/opt/mall-station/.venv/bin/python", "/nonexistent/python")
    assert verify(installed_copy(tmp_path, no_binary)).returncode != 0


def test_unit_is_watched_restarted_hardened_and_never_silently_dead() -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT)
    service, unit = parser["Service"], parser["Unit"]
    assert service["Type"] == "notify" and int(service["WatchdogSec"]) > 0
    assert service["Restart"] == "always"
    assert unit["StartLimitAction"] in ("reboot", "reboot-force") or "OnFailure" in unit
    assert service["User"] != "root"
    for group in ("lp", "dialout", "video", "input"):
        assert group in service["SupplementaryGroups"].split()
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                       "PrivateTmp": "yes"}.items():
        assert service[key] == value
    assert "/var/lib/mall-station" in service["ReadWritePaths"]
    assert service["StandardOutput"] == "journal"
