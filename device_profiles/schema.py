"""Loading and validating profile files; each kind's model lives in its own module."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

PROFILE_ROOT = Path(__file__).resolve().parent
MAX_PROFILE_BYTES = 256 * 1024

# kind -> "module:Class"; a new kind of device adds one line here and one schema module.
KINDS: dict[str, str] = {
    "locker": "device_profiles.locker_schema:LockerProfile",
    "printer": "device_profiles.printer_schema:PrinterProfile",
    "camera": "device_profiles.camera_schema:CameraProfile",
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
    if len(raw) > MAX_PROFILE_BYTES:
        raise ProfileError(path, "(file)", f"larger than {MAX_PROFILE_BYTES} bytes")
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ProfileError(path, "(file)", f"not valid UTF-8 YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ProfileError(path, "(file)", "expected a mapping at the top level")
    return data


def validation_to_profile_error(path: Path | str, exc: ValidationError) -> ProfileError:
    """Turn pydantic's first error into one that names the file and the dotted key."""
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "(root)"
    expected = err["msg"]
    if err["type"] == "extra_forbidden":
        expected = "unknown key"
    got = err.get("input")
    if err["type"] != "missing" and not isinstance(got, dict | list):
        expected = f"{expected} (got {got!r})"
    return ProfileError(path, key, expected)


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
