"""Station configuration (TOML): site, devices by profile + id + connection, links, lending policy.

Relative paths are resolved against the config file's folder. Errors name the file and the key.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from device_profiles.schema import ProfileError, validation_to_profile_error
from mallcommon.schemas import Strict
from mallcommon.schemas.policy import ItemPolicy, ParkingPolicy, Policy

__all__ = ["ConfigError", "ItemPolicy", "ParkingPolicy", "Policy", "StationConfig", "load_config", "read_secret"]

Id = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,31}$")]
SiteId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]


class ConfigError(ProfileError):
    """A station config that cannot be used; names file and key like profile errors."""


class UiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    idle_s: float = Field(default=60.0, gt=0, le=3600, description="quiet time before 'still there?'")
    countdown_s: float = Field(default=10.0, gt=0, le=120, description="'still there?' countdown")
    dpi: float = Field(default=102.0, ge=50, le=600, description="screen DPI, for 15 mm touch targets")
    min_target_mm: float = Field(default=15.0, ge=7, le=40)
    lang: Literal["zh_CN", "en"] = "zh_CN"
    large_text: bool = False
    high_contrast: bool = False
    low_reach: bool = False
    width: int = Field(default=1080, ge=320)
    height: int = Field(default=1920, ge=320)
    receipts_dir: Path | None = Field(default=None, description="virtual printer output, for diagnostics")
    attract_slide_s: float = Field(default=6.0, gt=0, le=120)
    prewarm: bool = Field(default=True, description="build fresh shopper screens while the attract loop runs")
    multisamples: int = Field(
        default=0, ge=0, le=8, description="GL multisample anti-aliasing of shape edges; text is unaffected. "
        "Off by default: under software GL (Mesa llvmpipe) 2 costs 64 MB of RSS at 1080x1920 (docs/ui.md Memory)")
    speech: bool = Field(default=False, description="audio guidance on at the start of each session")
    speech_engine: Literal["espeak-ng", "none"] = "espeak-ng"
    speech_wav_dir: Path | None = Field(default=None, description="write speech to WAV files, not the sound card")
    # a headphone plugged into the kiosk turns audio guidance on (and unplugging turns off what it turned on)
    headphone_jack: Literal["none", "evdev", "sim"] = Field(
        default="none", description="where the jack's state comes from: evdev (the kernel's headphone switch)")
    headphone_sim_file: Path | None = Field(default=None, description="the simulated jack: 'plugged'/'unplugged'")

    @model_validator(mode="after")
    def _sim_jack_has_a_file(self) -> UiSettings:
        if self.headphone_jack == "sim" and self.headphone_sim_file is None:
            raise ValueError("headphone_jack = 'sim' needs headphone_sim_file")
        return self


class BrokerConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password_file: Path | None = None
    keepalive_s: int = Field(default=15, ge=5, le=600)


class CentralConfig(Strict):
    url: str = Field(pattern=r"^https?://")
    token_file: Path | None = None
    batch_max: int = Field(default=500, ge=1, le=5000)
    batch_max_age_s: float = Field(default=1.0, gt=0, le=60)
    heartbeat_s: float = Field(default=15.0, gt=0, le=3600)
    public_url: str | None = Field(default=None, pattern=r"^https?://",
                                   description="how shoppers' phones reach the centre (complaint status pages)")


class LockerConfig(Strict):
    id: Id
    profile: Path
    username: str | None = None
    password_file: Path | None = None
    simulated: bool = True
    sim_fill: str = Field(default="all", pattern=r"^(all|\d{1,3})$", description="what `make run`'s simulator holds")


class PrinterConnection(Strict):
    type: Literal["network", "serial", "usb", "file"]
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    device: str | None = None
    baudrate: int | None = None
    vid: int | None = None
    pid: int | None = None
    timeout_s: float = Field(default=3.0, gt=0, le=60)


class PrinterConfig(Strict):
    profile: Path
    connection: PrinterConnection


class CameraConfig(Strict):
    profile: Path
    source: str = "sim"  # "sim", a device index ("0") or a path (/dev/video0, file.mp4)


class MapPlace(Strict):
    """Where the station stands on the floor plans (kiosk/content/floors.yaml's 100 x 60 grid), for "您在这里"."""
    floor: Annotated[str, Field(pattern=r"^(B[1-9]|[1-9]F)$")]
    x: int = Field(ge=0, lt=100)
    y: int = Field(ge=0, lt=60)


class DeskConfig(Strict):
    """The desk's written duties (issue 17): service supplies and bag-storage procedures."""

    supplies_profile: Path | None = Field(default=None, description="device_profiles/supplies/*.yaml")
    closing_time: str = Field(default="22:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                              description="bags still held after this (mall's zone) are listed overnight")
    timezone: str = Field(default="Asia/Shanghai", min_length=1, max_length=64)


class StationConfig(Strict):
    site: SiteId
    station_id: Id
    data_dir: Path
    site_key_file: Path
    broker: BrokerConfig
    central: CentralConfig | None = None
    lockers: list[LockerConfig] = Field(min_length=1)
    printer: PrinterConfig | None = None
    camera: CameraConfig | None = None
    policy: Policy
    ui: UiSettings | None = None
    map_place: MapPlace | None = None   # default: beside the service desk on the floor plans
    desk: DeskConfig = DeskConfig()
    source: Path = Path(".")

    @model_validator(mode="after")
    def _unique_lockers(self) -> StationConfig:
        ids = [lk.id for lk in self.lockers]
        if len(ids) != len(set(ids)):
            raise ValueError(f"locker ids must be unique, got {ids}")
        return self

    @property
    def db_path(self) -> Path:
        return self.data_dir / "station.db"

    def site_key(self) -> bytes:
        try:
            key = self.site_key_file.read_bytes().strip()
        except OSError as exc:
            raise ConfigError(self.source, "site_key_file", f"cannot read {self.site_key_file}: {exc.strerror}") from exc
        if len(key) < 16:
            raise ConfigError(self.source, "site_key_file", "the site key must be at least 16 bytes")
        return key


_PATH_KEYS = {"supplies_profile", "data_dir", "site_key_file", "profile", "password_file", "token_file", "receipts_dir",
              "headphone_sim_file"}


def _resolve_paths(node: object, base: Path) -> object:
    if isinstance(node, dict):
        return {k: (str((base / v).resolve()) if k in _PATH_KEYS and isinstance(v, str) else _resolve_paths(v, base))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_paths(v, base) for v in node]
    return node


def load_config(path: Path | str) -> StationConfig:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(path, "(file)", f"cannot read: {exc.strerror}") from exc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(path, "(file)", f"not valid TOML: {exc}") from exc
    resolved = _resolve_paths(data, path.parent.resolve())
    assert isinstance(resolved, dict)
    resolved["source"] = str(path.resolve())
    try:
        return StationConfig.model_validate(resolved)
    except ValidationError as exc:
        err = validation_to_profile_error(path, exc)
        raise ConfigError(path, err.key, err.problem) from exc


def read_secret(path: Path | None) -> str | None:
    """A secret file's text (a password, a token), stripped; None when the config names no file."""
    return path.read_text(encoding="utf-8").strip() if path else None
