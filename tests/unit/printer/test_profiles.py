"""Printer profiles: the shipped models validate; mistakes name the file and the key."""
from __future__ import annotations

from pathlib import Path

import pytest

from device_profiles.printer_schema import PrinterProfile
from device_profiles.schema import ProfileError, load_profile
from tests.fixtures.printer import PRINTER_PROFILES, printer_profile


@pytest.mark.parametrize("name", PRINTER_PROFILES)
def test_shipped_profiles_load(name: str) -> None:
    profile = printer_profile(name)
    assert isinstance(profile, PrinterProfile)
    assert profile.dots_per_line // 12 >= profile.columns


def test_the_set_covers_cjk_font_raster_fallback_and_both_widths() -> None:
    profiles = [printer_profile(n) for n in PRINTER_PROFILES]
    assert {p.paper_mm for p in profiles} == {58, 80}
    assert any(p.cjk == "gb18030" and p.qr.native and p.paper_mm == 80 for p in profiles)
    assert any(p.cjk == "none" for p in profiles)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    return path


BASE = Path(printer_profile.__globals__["PROFILE_ROOT"]) / "printers" / "epson-tm-t20ii-cn.yaml"


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE.read_text(encoding="utf-8") + "colour: red\n")
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert err.value.key == "colour" and str(path) in str(err.value)


def test_escpos_profile_must_exist_in_python_escpos(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE.read_text(encoding="utf-8").replace("TM-T20II", "TM-NOPE"))
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert err.value.key == "escpos_profile"


def test_columns_must_fit_the_dots(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE.read_text(encoding="utf-8").replace("dots_per_line: 576", "dots_per_line: 384"))
    with pytest.raises(ProfileError, match="does not fit"):
        load_profile(path)
