"""A bad locker profile stops the simulator with a message naming the file and the key."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from drivers.locker.simulator import main

GOOD = (Path(__file__).resolve().parents[3] / "device_profiles" / "lockers" / "umbrella-24.yaml").read_text()


@pytest.mark.parametrize(("change", "key"), [
    (("slots: 24", "slots: lots"), "slots"),
    (("take_s: 20", "take_s: -1"), "timeouts.take_s"),
    (("item_prefix: U", "item_prefix: umbrella"), "item_prefix"),
    (("fw: ul24-2.3.0", "fw: ul24-2.3.0\ncolour: red"), "colour"),
])
def test_bad_profile_names_file_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        change: tuple[str, str], key: str) -> None:
    path = tmp_path / "broken-locker.yaml"
    assert change[0] in GOOD
    path.write_text(GOOD.replace(*change))
    code = main(["--profile", str(path), "--site", "demo", "--locker", "U1", "--broker", "127.0.0.1:1"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 2 and out["ok"] is False
    assert out["error"].startswith(f"{path}: {key}:"), out["error"]
