"""Desk verbs print JSON and fail with a message naming the file and key."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.content import CONTENT_ROOT


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    rc = main(list(argv))
    return rc, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_find_shop_by_initials(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = _run(capsys, "find-shop", "xbk")
    assert rc == 0 and [s["zh"] for s in out["shops"]] == ["星巴克"]


def test_floor_map_svg_highlights_the_unit(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, out = _run(capsys, "floor-map", "2F-01", "--out", str(tmp_path / "2f.svg"))
    assert rc == 0 and out["highlight"] == "2F-01"
    assert "优衣库" in (tmp_path / "2f.svg").read_text(encoding="utf-8")


def test_broken_content_is_reported_with_file_and_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = tmp_path / "content"
    shutil.copytree(CONTENT_ROOT, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    text = (root / "info.yaml").read_text(encoding="utf-8").replace('number: "12315"', 'number: "call us"')
    (root / "info.yaml").write_text(text, encoding="utf-8")
    rc, out = _run(capsys, "content", "--root", str(root))
    assert rc == 2 and out["ok"] is False
    assert "info.yaml" in out["error"] and "hotlines.0.number" in out["error"]
