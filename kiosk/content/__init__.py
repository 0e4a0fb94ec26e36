"""The mall's editable information (shops, floor plans, events, 公开明示 notices), validated at load.

Errors name the file and the key, like device profiles: a bad edit is refused before the kiosk shows it.
The schemas live in `mallcommon.schemas.content` (the centre checks bundles with the same ones).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from device_profiles.schema import ProfileError, validation_to_profile_error
from device_profiles.schema import _read_yaml as read_yaml
from mallcommon.schemas import Strict
from mallcommon.schemas.content import (
    Commitment,
    ContentProblem,
    EventsFile,
    EventText,
    FacilityKind,
    Floor,
    FloorPlan,
    FloorsFile,
    Hotline,
    InfoFile,
    MallContent,
    MallEvent,
    PriceEntry,
    ServiceEntry,
    Shop,
    ShopsFile,
    Text,
    Unit,
    Words,
    assemble,
)

CONTENT_ROOT = Path(__file__).resolve().parent

__all__ = ["CONTENT_ROOT", "Commitment", "ContentError", "EventText", "EventsFile", "FacilityKind", "Floor",
           "FloorPlan", "FloorsFile", "Hotline", "InfoFile", "MallContent", "MallEvent", "PriceEntry",
           "ServiceEntry", "Shop", "ShopsFile", "Text", "Unit", "Words", "load_content"]


class ContentError(ProfileError):
    """A content file the kiosk cannot show; the message names the file and the key."""


def _read(path: Path) -> dict[str, Any]:
    try:
        return read_yaml(path)
    except ProfileError as exc:
        raise ContentError(path, exc.key, exc.problem) from exc


def _validate(path: Path, model: type[Strict]) -> Any:
    try:
        return model.model_validate(_read(path))
    except ValidationError as exc:
        err = validation_to_profile_error(path, exc)
        raise ContentError(path, err.key, err.problem) from exc


def load_content(root: Path | str = CONTENT_ROOT) -> MallContent:
    """Read and cross-check shops.yaml, floors.yaml, events.yaml and info.yaml under `root`."""
    root = Path(root)
    shops: ShopsFile = _validate(root / "shops.yaml", ShopsFile)
    floors: FloorsFile = _validate(root / "floors.yaml", FloorsFile)
    events: EventsFile = _validate(root / "events.yaml", EventsFile)
    info: InfoFile = _validate(root / "info.yaml", InfoFile)
    try:
        return assemble(shops, floors, events, info)
    except ContentProblem as exc:
        raise ContentError(root / exc.file, exc.key, exc.problem) from exc
