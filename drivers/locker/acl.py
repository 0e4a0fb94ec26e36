"""Broker credentials and ACL: each locker and station gets its own user, confined to its own topics.

Writes a mosquitto 2 password file (PBKDF2-SHA512, the `$7$` format `mosquitto_passwd` writes), an ACL file,
and one plain password per user in `creds/<user>.pw` (0600). Re-running keeps every existing password.
"""
from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from drivers.locker.models import ROOT, check_id, control_topic, kiosk_topic, topic

SIM_CONTROL_USER = "sim-control"
PBKDF2_ITERATIONS = 101  # what mosquitto_passwd 2.0.x writes; the broker reads the count from each line
SALT_BYTES = 12


def station_user(station_id: str) -> str:
    return f"station-{check_id(station_id, 'station_id')}"


def locker_user(locker_id: str) -> str:
    return f"locker-{check_id(locker_id, 'locker_id')}"


@dataclass(frozen=True)
class BrokerAuth:
    """Where the broker's files and each user's password were written."""

    password_file: Path
    acl_file: Path
    creds_dir: Path
    users: tuple[str, ...]

    def password_path(self, user: str) -> Path:
        return self.creds_dir / f"{user}.pw"

    def password(self, user: str) -> str:
        return self.password_path(user).read_text().strip()


def hash_password(password: str, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """One password-file hash in mosquitto's `$7$<iterations>$<salt b64>$<sha512 b64>` form."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


Stations = Iterable[str] | Mapping[str, Iterable[str]]


def station_lockers(stations: Stations, lockers: Iterable[str]) -> dict[str, list[str]]:
    """Which lockers each station may command: as given by a mapping, or all `lockers` for a plain list
    (one station per broker, the usual case)."""
    if isinstance(stations, Mapping):
        return {check_id(s, "station_id"): [check_id(lk, "locker_id") for lk in own] for s, own in stations.items()}
    every = list(lockers)
    return {check_id(s, "station_id"): every for s in stations}


def acl_text(site: str, station_ids: Stations, lockers: Iterable[str], sim_control: bool = True) -> str:
    """Mosquitto ACL: anything not granted here is refused (publishes silently dropped, reads withheld).

    Every grant names one locker: a station reads and commands only its own lockers (no `+` wildcard), a
    locker only its own topics. The simulator's control topic and user exist only with `sim_control`."""
    check_id(site, "site")
    lockers = list(lockers)
    parts = [f"# written by drivers.locker.acl for site {site}; regenerate rather than edit"]
    for sid, own in station_lockers(station_ids, lockers).items():
        parts += ["", f"user {station_user(sid)}"]
        for lid in own:
            parts += [f"topic read {topic(site, lid, leaf)}" for leaf in ("status", "state", "event", "ack")]
            parts.append(f"topic write {topic(site, lid, 'cmd')}")
        parts.append(f"topic readwrite {kiosk_topic(site, sid)}")
    for lid in lockers:
        parts += ["", f"user {locker_user(lid)}",
                  # a locker reads its own status to notice a late Will of an earlier session and re-announce
                  f"topic readwrite {topic(site, lid, 'status')}",
                  f"topic write {topic(site, lid, 'state')}",
                  f"topic write {topic(site, lid, 'event')}",
                  f"topic write {topic(site, lid, 'ack')}",
                  f"topic read {topic(site, lid, 'cmd')}"]
        if sim_control:
            parts.append(f"topic read {control_topic(site, lid)}")
    if sim_control:
        parts += ["", f"user {SIM_CONTROL_USER}", f"topic write {ROOT}/{site}/sim/#"]
    return "\n".join(parts) + "\n"


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def write_broker_auth(site: str, station_ids: Stations, lockers: Iterable[str], out_dir: Path | str,
                      sim_control: bool = True) -> BrokerAuth:
    """Write passwd, acl and creds/<user>.pw under out_dir; existing passwords are kept.

    `station_ids` is a list (each station may command all `lockers`) or {station: its lockers}; lockers named
    only in the mapping get users too. Production passes sim_control=False (no simulator control user)."""
    out = Path(out_dir)
    creds = out / "creds"
    creds.mkdir(parents=True, exist_ok=True)
    lockers = list(lockers)
    scoped = station_lockers(station_ids, lockers)
    lockers += [lk for own in scoped.values() for lk in own if lk not in lockers]
    users = [station_user(s) for s in scoped] + [locker_user(lid) for lid in dict.fromkeys(lockers)]
    if sim_control:
        users.append(SIM_CONTROL_USER)
    lines = []
    for user in users:
        pw_file = creds / f"{user}.pw"
        password = pw_file.read_text().strip() if pw_file.exists() else ""
        if not password:
            password = secrets.token_urlsafe(24)
            _write_private(pw_file, password + "\n")
        lines.append(f"{user}:{hash_password(password)}")
    auth = BrokerAuth(password_file=out / "passwd", acl_file=out / "acl", creds_dir=creds, users=tuple(users))
    _write_private(auth.password_file, "\n".join(lines) + "\n")
    _write_private(auth.acl_file, acl_text(site, scoped, dict.fromkeys(lockers), sim_control))
    return auth
