"""Loading and validating profile files; each kind's model lives in its own module."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from mallcommon.bundle import MAX_FILE_BYTES, BundleProblem, first_error, yaml_mapping

PROFILE_ROOT = Path(__file__).resolve().parent
MAX_PROFILE_BYTES = MAX_FILE_BYTES

# kind -> "module:Class"; a new kind of device adds one line here and one schema module.
KINDS: dict[str, str] = {
    "locker": "mallcommon.schemas.locker:LockerProfile",
    "printer": "mallcommon.schemas.printer:PrinterProfile",
    "camera": "mallcommon.schemas.camera:CameraProfile",
    "supplies": "device_profiles.supplies_schema:SuppliesProfile",
}

M = TypeVar("M", bound=BaseModel)


class ProfileError(ValueError):
    """A profile file that cannot be used; the message names the file and the key."""

    def __init__(self, file: Path | str, key: str, problem: str) -> None:
        self.file = str(file)
        self.key = key
        self.problem = problem
        super().__init__(f"{self.file}: {key}: {problem}")


def _model_for(kind: str) -> type[BaseModel]:
    module_name, class_name = KINDS[kind].split(":")
    return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ProfileError(path, "(file)", f"cannot read: {exc.strerror}") from exc
    try:
        return yaml_mapping(str(path), raw)
    except BundleProblem as exc:
        raise ProfileError(path, exc.key, exc.problem) from exc


def validation_to_profile_error(path: Path | str, exc: ValidationError) -> ProfileError:
    """Turn pydantic's first error into one that names the file and the dotted key."""
    return ProfileError(path, *first_error(exc))


def load_profile(path: Path | str) -> BaseModel:
    """Read and validate one profile of any kind."""
    path = Path(path)
    data = _read_yaml(path)
    kind = data.get("kind")
    if kind not in KINDS:
        raise ProfileError(path, "kind", f"expected one of {sorted(KINDS)} (got {kind!r})")
    model = _model_for(kind)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_to_profile_error(path, exc) from exc


def load_profile_as(path: Path | str, model: type[M]) -> M:
    """Load a profile and insist on its kind (a printer profile where a locker is wanted is an error)."""
    profile = load_profile(path)
    if not isinstance(profile, model):
        raise ProfileError(path, "kind", f"expected a {model.__name__} profile")
    return profile


def profile_files(root: Path = PROFILE_ROOT) -> list[Path]:
    return sorted(p for p in root.rglob("*.yaml") if p.is_file())
