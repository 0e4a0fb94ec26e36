"""The station's half of remote configuration (issue 15, item 6): keep, start with, and apply bundles.

A bundle (`mallcommon.bundle`) is kept as files under `<data_dir>/config/v<N>/` — the same YAML files the
station reads without one — and `<data_dir>/config/state.json` says which version is current and which was
before it. The station starts with the current version (`effective`: its `[policy]` and the profiles of the
same name replaced, the content read from the bundle), and falls back to the previous one (or to what its
config file says) when that start fails.

Applying a new version (`Applier`, on its own thread, woken by the heartbeat answer):
1. fetch it with the station's token (`GET …/config`, If-None-Match);
2. check its digest against the ETag the heartbeat named and every file against the shared schemas
   (refused at *validation*: nothing is written);
3. write it next to the current one (`v<N>.tmp` → fsync → rename) and mark it `trying` in state.json;
4. build the parts that depend on it exactly as start-up does (`build_parts`), then swap them into the
   running station (refused at *startup*: the parts are swapped back, the files removed, `trying` cleared);
5. state.json: current = N, previous = the old one (an atomic replace); older versions are removed.
A station that stops during 3–4 finds `trying` at its next start and refuses that version. Every outcome is
an outbox event, `config.applied {version, previous}` or `config.refused {version, stage, reason,
rolled_back_to}`, and the heartbeat carries `config_version`. docs/central.md, "Remote configuration".
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import yaml

from device_profiles import ProfileError, load_profile_as
from device_profiles.camera_schema import CameraProfile
from device_profiles.locker_schema import LockerProfile
from device_profiles.printer_schema import PrinterProfile
from kiosk.config import Policy, StationConfig
from kiosk.content import CONTENT_ROOT, ContentError, load_content
from kiosk.content.routes import Place
from kiosk.services.directory import Directory
from mallcommon.bundle import (
    CONTENT_FILES,
    POLICY_FILE,
    Bundle,
    BundleProblem,
    bundle_etag,
    parse_bundle,
)

if TYPE_CHECKING:
    from kiosk.station import Station

log = logging.getLogger(__name__)
STATE = "state.json"


class StartupRefused(Exception):
    """The station cannot start with this configuration; the message says why."""


# what the station runs ----------------------------------------------------------------------------------
def profile_name(path: Path) -> str:
    """A profile's bundle name: its folder and file (`lockers/umbrella-24.yaml`)."""
    return f"{path.parent.name}/{path.name}"


def bundle_files(config: StationConfig, content_root: Path = CONTENT_ROOT) -> dict[str, str]:
    """This station's configuration as bundle files (`bundle export`; the demo centre's version 1)."""
    policy = config.policy.model_dump(mode="json", exclude_defaults=False)
    files = {POLICY_FILE: "# lending policy and prices (a station config's [policy] table)\n"
                          + yaml.safe_dump(policy, allow_unicode=True, sort_keys=False)}
    for key, name in CONTENT_FILES.items():
        files[name] = (content_root / f"{key}.yaml").read_text(encoding="utf-8")
    paths = [lk.profile for lk in config.lockers]
    paths += [config.printer.profile] if config.printer else []
    paths += [config.camera.profile] if config.camera else []
    for path in paths:
        files[f"profiles/{profile_name(path)}"] = path.read_text(encoding="utf-8")
    return files


@dataclass(frozen=True)
class Effective:
    """The configuration the station runs: its config file with a bundle laid over it."""
    config: StationConfig
    content_root: Path
    version: int | None = None


def effective(config: StationConfig, bundle_dir: Path | None, version: int | None = None,
              content_root: Path = CONTENT_ROOT) -> Effective:
    """`config` with the bundle in `bundle_dir` laid over it: its policy, its profiles of the same name,
    its content. None: the config file alone."""
    if bundle_dir is None:
        return Effective(config, content_root)
    policy_path = bundle_dir / POLICY_FILE
    try:
        policy = Policy.model_validate(yaml.safe_load(policy_path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise StartupRefused(f"{policy_path}: cannot be read: {exc}") from exc
    except ValueError as exc:  # pydantic's ValidationError
        raise StartupRefused(f"{policy_path}: {exc}") from exc

    def swap(path: Path) -> Path:
        mine = bundle_dir / "profiles" / profile_name(path)
        return mine if mine.is_file() else path

    update: dict[str, Any] = {"policy": policy,
                              "lockers": [lk.model_copy(update={"profile": swap(lk.profile)}) for lk in config.lockers]}
    if config.printer is not None:
        update["printer"] = config.printer.model_copy(update={"profile": swap(config.printer.profile)})
    if config.camera is not None:
        update["camera"] = config.camera.model_copy(update={"profile": swap(config.camera.profile)})
    return Effective(config.model_copy(update=update), bundle_dir / "content", version)


def build_directory(config: StationConfig, content_root: Path) -> Directory:
    """The directory over the content under `content_root`, the station standing where its config says."""
    place = config.map_place
    here = Place(place.floor, place.x, place.y) if place is not None else None
    return Directory(load_content(content_root), here=here)


@dataclass(frozen=True)
class Parts:
    """What a bundle decides in a running station, built the way start-up builds it."""
    effective: Effective
    profiles: dict[str, LockerProfile]
    directory: Directory | None  # None only for a station running its config file with bad content


def build_parts(eff: Effective) -> Parts:
    """Load every profile and the content, and check the policy prices everything the lockers hold.
    StartupRefused says what a station starting with `eff` would stumble on."""
    config = eff.config
    try:
        profiles = {lk.id: load_profile_as(lk.profile, LockerProfile) for lk in config.lockers}
        if config.printer is not None:
            load_profile_as(config.printer.profile, PrinterProfile)
        if config.camera is not None:
            load_profile_as(config.camera.profile, CameraProfile)
        directory = build_directory(config, eff.content_root)
    except (ProfileError, ContentError, OSError) as exc:
        raise StartupRefused(str(exc)) from exc
    for locker_id, profile in profiles.items():
        if (profile.lendable or profile.item_type == "storage") and profile.item_type not in config.policy.items:
            raise StartupRefused(f"policy.items has no {profile.item_type!r}, which locker {locker_id} holds: "
                                 "its lendings would have no fee rule")
    return Parts(eff, profiles, directory)


# the versions kept on disk ------------------------------------------------------------------------------
class BundleStore:
    """`<data_dir>/config`: one folder per kept version and state.json (current, previous, trying, refused)."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "config"

    def state(self) -> dict[str, Any]:
        try:
            data = json.loads((self.root / STATE).read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def write_state(self, state: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / (STATE + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.root / STATE)
        _fsync_dir(self.root)

    def folder(self, version: int) -> Path:
        return self.root / f"v{version}"

    def write(self, version: int, bundle: Bundle) -> Path:
        final = self.folder(version)
        tmp = self.root / f"v{version}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        for name, text in bundle.files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        _fsync_dir(self.root)
        return final

    def remove(self, version: int) -> None:
        shutil.rmtree(self.folder(version), ignore_errors=True)

    def prune(self, keep: set[int]) -> None:
        for path in self.root.glob("v*"):
            name = path.name.removeprefix("v").removesuffix(".tmp")
            if name.isdigit() and (int(name) not in keep or path.name.endswith(".tmp")):
                shutil.rmtree(path, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


Report = Callable[[str, dict[str, Any]], object]  # (event type, data): the store's record_event


def start_with(config: StationConfig, report: Report, content_root: Path = CONTENT_ROOT) -> Parts | None:
    """The parts the station starts with: the current bundle, else the previous one; None: the config file
    alone (built by bootstrap as before). A version that fails here is refused (reported, not tried again)."""
    store = BundleStore(config.data_dir)
    state = store.state()
    trying = state.pop("trying", None)
    if trying is not None:  # the station stopped while applying it: that version did not come up
        store.remove(trying)
        state["refused"] = trying
        store.write_state(state)
        report("config.refused", {"version": trying, "stage": "startup", "rolled_back_to": state.get("current"),
                                  "reason": "the station stopped while applying it"})
    candidates = [v for v in (state.get("current"), state.get("previous")) if isinstance(v, int)]
    for i, version in enumerate(candidates):
        try:
            parts = build_parts(effective(config, store.folder(version), version, content_root))
        except StartupRefused as exc:
            fallback = candidates[i + 1] if i + 1 < len(candidates) else None
            log.error("config.start_failed version=%s error=%s", version, exc)
            store.write_state({"current": fallback, "previous": None, "refused": version})
            report("config.refused", {"version": version, "stage": "startup", "reason": str(exc)[:2000],
                                      "rolled_back_to": fallback})
            continue
        return parts
    return None


# applying what the centre wants -------------------------------------------------------------------------
Fetch = Callable[[str, str | None], tuple[int, bytes, str | None]]  # Uploader.get


class Applier:
    """Fetches, checks and applies the version the heartbeat answer names, one at a time on its own thread."""

    def __init__(self, station: Station, base_config: StationConfig, fetch: Fetch,
                 content_root: Path = CONTENT_ROOT) -> None:
        self.station = station
        self.base_config = base_config  # the config file as read, before any bundle
        self.fetch = fetch
        self.content_root = content_root
        self.store = BundleStore(base_config.data_dir)
        self._wanted: dict[str, Any] | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one apply at a time (the thread, or a direct `apply_once`)
        self._thread: threading.Thread | None = None

    @property
    def version(self) -> int | None:
        current = self.store.state().get("current")
        return int(current) if isinstance(current, int) else None

    def offer(self, answer: dict[str, Any]) -> None:
        """The heartbeat answer (the uploader's thread): note what is wanted, wake the applier's thread."""
        config = answer.get("config")
        if not isinstance(config, dict) or not isinstance(config.get("version"), int):
            return
        state = self.store.state()
        if config["version"] in (state.get("current"), state.get("refused")):
            return  # running it, or refused it already: asking again would refuse it again
        self._wanted = {"version": config["version"], "etag": str(config.get("etag") or "")}
        self._wake.set()

    def apply_once(self) -> str | None:
        """Apply what was last offered; "applied", "refused", "unchanged", or None (nothing, or no answer)."""
        wanted, self._wanted = self._wanted, None
        if wanted is None:
            return None
        with self._lock:
            return self._apply(wanted["version"], wanted["etag"])

    def _refuse(self, version: int, stage: str, reason: str) -> str:
        state = self.store.state()
        state["refused"] = version
        state.pop("trying", None)
        self.store.write_state(state)
        self.station.store.record_event("config.refused", {
            "version": version, "stage": stage, "reason": reason[:2000], "rolled_back_to": state.get("current")})
        log.warning("config.refused version=%s stage=%s reason=%s", version, stage, reason)
        return "refused"

    def _apply(self, offered: int, etag: str) -> str | None:
        try:
            # If-None-Match with what it runs: the centre answers 304 when that is still what it wants
            status, body, header_etag = self.fetch("config", self.store.state().get("etag"))
        except httpx.HTTPError as exc:
            log.warning("config.fetch_failed version=%s error=%s", offered, exc)
            return None  # the next heartbeat answer offers it again
        if status == 304:
            return "unchanged"
        if status != 200:
            log.warning("config.fetch_refused version=%s status=%s", offered, status)
            return None
        version = offered
        try:
            doc = json.loads(body)
            version = int(doc["version"])  # the centre may have moved on since the heartbeat
            got = parse_bundle(doc["bundle"]["files"])
        except BundleProblem as exc:
            return self._refuse(version, "validation", str(exc))
        except (ValueError, KeyError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
            return self._refuse(version, "validation", f"not a bundle document: {type(exc).__name__}: {exc}")
        digest = bundle_etag(version, got)
        named = {doc.get("etag"), header_etag} | ({etag} if version == offered and etag else set())
        if named - {None} != {digest}:
            return self._refuse(version, "validation", "its digest is not the ETag the centre named: not applied")
        state = self.store.state()
        if version == state.get("current"):
            return "unchanged"
        folder = self.store.write(version, got)
        self.store.write_state({**state, "trying": version})
        old = self.station.running_parts()
        try:
            parts = build_parts(effective(self.base_config, folder, version, self.content_root))
            self.station.use_parts(parts)
        except Exception as exc:
            self.station.use_parts(old)
            self.store.remove(version)
            return self._refuse(version, "startup", str(exc) if isinstance(exc, StartupRefused)
                                else f"{type(exc).__name__}: {exc}")
        previous = state.get("current")
        self.store.write_state({"current": version, "previous": previous, "etag": digest})
        self.store.prune({version} | ({previous} if previous is not None else set()))
        self.station.store.record_event("config.applied", {"version": version, "previous": previous})
        log.info("config.applied version=%s previous=%s", version, previous)
        return "applied"

    def start(self) -> Applier:
        self._thread = threading.Thread(target=self._run, name="config-applier", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(5.0)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.apply_once()
            except Exception:  # the applier must outlive any surprise; the next answer tries again
                log.exception("config.apply_failed")


__all__ = ["Applier", "BundleStore", "Effective", "Parts", "StartupRefused", "build_parts", "bundle_files",
           "effective", "profile_name", "start_with"]
