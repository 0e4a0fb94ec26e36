"""The demo centre's bundle, read from the repository's own files (what `bundle export` makes of station.example.toml)."""
from __future__ import annotations

from pathlib import Path

from kiosk.bundles import bundle_files
from kiosk.config import load_config

ROOT = Path(__file__).resolve().parents[3]


def demo_files() -> dict[str, str]:
    return bundle_files(load_config(ROOT / "station.example.toml"))
