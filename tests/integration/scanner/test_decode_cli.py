"""`python -m drivers.scanner decode FILE…`: one JSON line per file, payloads escaped, bad files reported."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2

from drivers.scanner import Scene, render

REPO = Path(__file__).resolve().parents[3]


def test_decode_prints_one_json_line_per_file(tmp_path: Path) -> None:
    files = {
        "phone.png": Scene(tilt=20, seed=1).with_payloads("I1.U-0001"),
        "dark.jpg": Scene(dark_mode=True, seed=2).with_payloads("L1.LD01.1900000000.ABCDEFGHIJKLMNOP"),
        "empty.png": Scene(seed=3),
        "junk.png": Scene(seed=4).with_payloads(b"\x1b[31mred\xff"),
    }
    for name, scene in files.items():
        cv2.imwrite(str(tmp_path / name), render(scene, 640, 480))
    (tmp_path / "broken.png").write_bytes(b"not an image")
    names = [str(tmp_path / n) for n in [*files, "broken.png"]]
    out = subprocess.run([sys.executable, "-m", "drivers.scanner", "decode", *names], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert out.returncode == 1  # one file could not be read
    assert [Path(r["file"]).name for r in lines] == [*files, "broken.png"]
    by_name = {Path(r["file"]).name: r for r in lines}
    assert by_name["phone.png"]["codes"] == ["I1.U-0001"]
    assert by_name["dark.jpg"]["codes"] == ["L1.LD01.1900000000.ABCDEFGHIJKLMNOP"]
    assert by_name["empty.png"]["codes"] == []
    assert by_name["broken.png"]["error"] == "cannot read image"
    assert all(isinstance(r["ms"], float) for r in lines[:-1])
    junk = by_name["junk.png"]["codes"]
    assert len(junk) == 1 and "\x1b" not in out.stdout  # control bytes never reach the terminal raw
