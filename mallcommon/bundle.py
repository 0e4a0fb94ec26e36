"""A configuration bundle (issue 15, item 6): what the centre sends a station, and how both sides check it.

A bundle is a complete set of YAML files, by name:

    policy.yaml                      lending policy and prices (the station config's [policy] table)
    content/shops.yaml               directory: shops and categories
    content/floors.yaml              floor plans (maps)
    content/events.yaml              events and promotions
    content/info.yaml                公开明示: commitments, services, prices, hotlines
    profiles/lockers/NAME.yaml       device profiles (optional; lockers/, printers/, cameras/), replacing the
                                     station's profile of the same name

Every version is whole, so a station never runs half of one and half of another. `parse_bundle` validates
every file with the schemas the station loads them with (`mallcommon.schemas`) and the content's
cross-checks; the centre stores nothing it refuses and the station applies nothing it refuses.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mallcommon.schemas.camera import CameraProfile
from mallcommon.schemas.content import (
    FILES,
    ContentProblem,
    EventsFile,
    FloorsFile,
    InfoFile,
    MallContent,
    ShopsFile,
    assemble,
)
from mallcommon.schemas.locker import LockerProfile
from mallcommon.schemas.policy import Policy
from mallcommon.schemas.printer import PrinterProfile

FORMAT = 1
MAX_FILE_BYTES = 256 * 1024
MAX_FILES = 64
POLICY_FILE = "policy.yaml"
CONTENT_FILES = {key: f"content/{name}" for key, name in FILES.items()}
REQUIRED = (POLICY_FILE, *CONTENT_FILES.values())
PROFILE_NAME = re.compile(r"^profiles/(lockers|printers|cameras)/[a-z0-9][a-z0-9._-]{0,63}\.yaml$")
PROFILE_KINDS: dict[str, type[BaseModel]] = {"lockers": LockerProfile, "printers": PrinterProfile,
                                             "cameras": CameraProfile}


class BundleProblem(ValueError):
    """Why a bundle is refused: the file and the dotted key inside it (or `(file)`, `(bundle)`)."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        self.file, self.key, self.problem = file, key, problem
        super().__init__(f"{file}: {key}: {problem}")


def first_error(exc: ValidationError) -> tuple[str, str]:
    """pydantic's first error as (dotted key, what was expected and what came)."""
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "(root)"
    expected = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
    got = err.get("input")
    if err["type"] != "missing" and not isinstance(got, dict | list):
        expected = f"{expected} (got {got!r})"
    return key, expected


def yaml_mapping(name: str, raw: bytes) -> dict[str, Any]:
    """One YAML file's top-level mapping; BundleProblem(name, "(file)", …) when it is not one."""
    if len(raw) > MAX_FILE_BYTES:
        raise BundleProblem(name, "(file)", f"larger than {MAX_FILE_BYTES} bytes")
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BundleProblem(name, "(file)", f"not valid UTF-8 YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise BundleProblem(name, "(file)", "expected a mapping at the top level")
    return data


def _model(name: str, text: str, model: type[BaseModel]) -> Any:
    data = yaml_mapping(name, text.encode("utf-8"))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BundleProblem(name, *first_error(exc)) from exc


@dataclass(frozen=True)
class Bundle:
    """A bundle that passed every check: its files as sent, and what they mean."""

    files: Mapping[str, str]
    policy: Policy
    content: MallContent
    profiles: Mapping[str, BaseModel]  # "lockers/umbrella-24.yaml" -> its profile

    def canonical_json(self) -> str:
        return json.dumps({"format": FORMAT, "files": dict(sorted(self.files.items()))}, ensure_ascii=False,
                          separators=(",", ":"))


def parse_bundle(files: Mapping[str, Any]) -> Bundle:
    """Validate a bundle's files (name -> YAML text); BundleProblem names the first thing wrong."""
    if not isinstance(files, Mapping):
        raise BundleProblem("(bundle)", "files", "expected a mapping of file name to YAML text")
    if len(files) > MAX_FILES:
        raise BundleProblem("(bundle)", "files", f"more than {MAX_FILES} files")
    for name, text in files.items():
        if not isinstance(name, str) or not isinstance(text, str):
            raise BundleProblem(str(name), "(file)", "expected YAML text")
        if name not in REQUIRED and not PROFILE_NAME.match(name):
            raise BundleProblem(name, "(file)", f"not a bundle file: expected one of {', '.join(REQUIRED)} "
                                                "or profiles/lockers|printers|cameras/NAME.yaml")
    for name in REQUIRED:
        if name not in files:
            raise BundleProblem(name, "(file)", "missing: every bundle carries the whole configuration")
    policy: Policy = _model(POLICY_FILE, files[POLICY_FILE], Policy)
    models: tuple[type[BaseModel], ...] = (ShopsFile, FloorsFile, EventsFile, InfoFile)
    parts = {key: _model(name, files[name], model)
             for (key, name), model in zip(CONTENT_FILES.items(), models, strict=True)}
    try:
        content = assemble(parts["shops"], parts["floors"], parts["events"], parts["info"])
    except ContentProblem as exc:
        raise BundleProblem(f"content/{exc.file}", exc.key, exc.problem) from exc
    profiles: dict[str, BaseModel] = {}
    for name in sorted(files):
        match = PROFILE_NAME.match(name)
        if match is None:
            continue
        data = yaml_mapping(name, files[name].encode("utf-8"))
        expected = match.group(1)[:-1]  # lockers -> locker
        if data.get("kind") != expected:
            raise BundleProblem(name, "kind", f"a profile under {match.group(1)}/ must be kind {expected!r} "
                                              f"(got {data.get('kind')!r})")
        profiles[name.removeprefix("profiles/")] = _model(name, files[name], PROFILE_KINDS[match.group(1)])
    return Bundle(files=dict(files), policy=policy, content=content, profiles=profiles)


def bundle_from_json(text: str | bytes) -> Bundle:
    """A bundle as stored and sent: `{"format": 1, "files": {...}}`."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise BundleProblem("(bundle)", "(json)", f"not JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BundleProblem("(bundle)", "format", f"expected a JSON object with format {FORMAT}")
    extra = set(doc) - {"format", "files"}
    if extra:
        raise BundleProblem("(bundle)", sorted(extra)[0], "unknown key")
    return parse_bundle(doc.get("files"))  # type: ignore[arg-type]


def bundle_etag(version: int, bundle: Bundle) -> str:
    """The version's ETag: SHA-256 over the version and the canonical JSON. The station recomputes it from
    what it fetched and applies nothing whose digest differs from the ETag the heartbeat answer named."""
    return hashlib.sha256(f"{version}\n{bundle.canonical_json()}".encode()).hexdigest()
