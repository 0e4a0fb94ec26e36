"""Staff sign-in (badge QR + PIN on a keypad) and the maintenance log that goes out through the outbox.

PINs live hashed (PBKDF2-SHA256) in a staff file (TOML `[[staff]]` tables, or JSON); 5 wrong PINs in a row lock
the badge for 5 minutes. The count and the lock live in the store, so a restart neither clears them nor resets
the count; the lock is timed on CLOCK_BOOTTIME, which NTP or a hand-set wall clock cannot step. A reboot restarts
that clock, so a lock found from an earlier boot is re-armed for its full time (a reboot never shortens it).
Each lockout goes to the centre as an outbox event `staff.pin_locked` (alert `staff_pin_lockout`).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kiosk.store import Store
from kiosk.tokens import StaffBadge, TokenBook, TokenRejected
from mallcommon.clock import boot_clock, boot_id

log = logging.getLogger(__name__)

Clock = Callable[[], float]
MAX_FAILURES = 5
LOCK_S = 5 * 60
PBKDF2_ITERATIONS = 200_000


@dataclass
class _Lockout:
    failures: int = 0
    locked_until: float | None = None  # on the lock clock, in the boot named below
    boot: str = ""


class StaffError(Exception):
    """A sign-in or maintenance action refused; `code` is what the UI maps to words."""

    def __init__(self, code: str, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after_s = retry_after_s


class StaffEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    staff_id: str = Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,31}$")
    name: str = Field(min_length=1, max_length=64)
    pin_hash: str = Field(pattern=r"^pbkdf2_sha256\$\d+\$[0-9a-f]+\$[0-9a-f]+$")


class StaffFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    staff: list[StaffEntry]


class MaintenanceRecord(BaseModel):
    """One check / service / repair entry as staff typed it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    action: Literal["check", "service", "repair"]
    device: str = Field(min_length=1, max_length=64)
    note: str = Field(default="", max_length=500)


@dataclass(frozen=True)
class StaffSession:
    staff_id: str
    name: str
    started_at: float


def hash_pin(pin: str, *, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """`pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>` for the staff file."""
    salt = os.urandom(16) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def pin_matches(pin: str, stored: str) -> bool:
    _, iterations, salt_hex, digest_hex = stored.split("$")
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt_hex), int(iterations))
    return hmac.compare_digest(digest.hex(), digest_hex)


def write_staff_file(path: Path, staff: dict[str, tuple[str, str]], iterations: int = PBKDF2_ITERATIONS) -> None:
    """Write {staff_id: (name, pin)} with hashed PINs, TOML or JSON by the file's suffix."""
    entries = [{"staff_id": sid, "name": name, "pin_hash": hash_pin(pin, iterations=iterations)}
               for sid, (name, pin) in staff.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".toml":
        text = "".join("[[staff]]\n" + "".join(f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in e.items())
                       + "\n" for e in entries)
    else:
        text = json.dumps({"staff": entries}, ensure_ascii=False, indent=1)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)


def read_staff_file(path: Path) -> StaffFile:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        return StaffFile.model_validate(tomllib.loads(text))
    return StaffFile.model_validate_json(text)


class StaffService:
    """Badge check, PIN check with lockout, maintenance records and audited slot commands."""

    def __init__(self, store: Store, tokens: TokenBook, clock: Clock = boot_clock,
                 staff_file: Path | None = None, *, boot: Callable[[], str] = boot_id) -> None:
        """`clock` times the lockout: leave it at boot_clock (never a wall clock, which NTP steps)."""
        self.store = store
        self.tokens = tokens
        self.clock = clock
        self.staff_file = staff_file
        self._boot = boot()
        self._lock = threading.Lock()

    # the lockout record, one per badge, in the store ----------------------------------------------
    @staticmethod
    def _key(staff_id: str) -> str:
        return f"staff.lockout.{staff_id}"

    def _load(self, staff_id: str) -> _Lockout:
        raw = self.store.get_kv(self._key(staff_id))
        try:
            rec = _Lockout(**json.loads(raw)) if raw else _Lockout(boot=self._boot)
        except (TypeError, ValueError):
            log.warning("staff.lockout_record_unreadable staff_id=%s", staff_id)
            rec = _Lockout(failures=MAX_FAILURES - 1, boot=self._boot)  # unreadable: one more wrong PIN locks
        now = self.clock()
        if rec.locked_until is not None and (rec.boot != self._boot or rec.locked_until - now > LOCK_S):
            # taken in another boot (or on a clock that went away): how long ago cannot be known, so re-arm
            rec.locked_until = now + LOCK_S
            rec.boot = self._boot
            self._save(staff_id, rec)
        return rec

    def _save(self, staff_id: str, rec: _Lockout) -> None:
        rec.boot = self._boot
        self.store.set_kv(self._key(staff_id), json.dumps(asdict(rec)))

    def _staff(self) -> dict[str, StaffEntry]:
        if self.staff_file is None or not self.staff_file.exists():
            raise StaffError("no_staff_file", "staff sign-in is not set up on this station")
        try:
            parsed = read_staff_file(self.staff_file)
        except (OSError, ValidationError, tomllib.TOMLDecodeError) as exc:
            log.error("staff.file_invalid file=%s error=%s", self.staff_file, str(exc).splitlines()[0])
            raise StaffError("no_staff_file", "staff sign-in is not set up on this station") from exc
        return {e.staff_id: e for e in parsed.staff}

    def verify_badge(self, payload: str | bytes) -> StaffBadge:
        """A genuine badge of a known staff member that is not locked out."""
        try:
            badge = self.tokens.verify_staff(payload)
        except TokenRejected as exc:
            raise StaffError("bad_badge", "this is not a staff badge we know") from exc
        if badge.staff_id not in self._staff():
            log.warning("staff.unknown_badge staff_id=%s", badge.staff_id)
            raise StaffError("unknown_staff", "this badge is not registered at this station")
        self._check_not_locked(badge.staff_id)
        return badge

    def locked_for(self, staff_id: str) -> float:
        """Seconds left in the lockout (0 when not locked)."""
        with self._lock:
            until = self._load(staff_id).locked_until
        return 0.0 if until is None else max(0.0, until - self.clock())

    def _check_not_locked(self, staff_id: str) -> None:
        left = self.locked_for(staff_id)
        if left > 0:
            raise StaffError("locked", "too many wrong PINs, try again later", retry_after_s=left)

    def sign_in(self, badge: StaffBadge, pin: str) -> StaffSession:
        """Check the PIN; the 5th wrong one in a row locks the badge for 5 minutes."""
        staff = self._staff()
        entry = staff.get(badge.staff_id)
        if entry is None:
            raise StaffError("unknown_staff", "this badge is not registered at this station")
        self._check_not_locked(badge.staff_id)
        ok = bool(pin) and pin.isdigit() and pin_matches(pin, entry.pin_hash)
        with self._lock:
            rec = self._load(badge.staff_id)
            if ok:
                failures = 0
                rec = _Lockout()
            else:
                failures = rec.failures + 1
                rec.failures = failures
                if failures >= MAX_FAILURES:
                    rec = _Lockout(locked_until=self.clock() + LOCK_S)
            self._save(badge.staff_id, rec)
        locked = failures >= MAX_FAILURES
        log.info("staff.pin_attempt staff_id=%s ok=%s failures=%d locked=%s", badge.staff_id, ok, failures, locked)
        self.store.record_event("staff.pin_attempt", {"staff_id": badge.staff_id, "ok": ok, "locked": locked})
        if locked:
            log.warning("staff.pin_locked staff_id=%s failures=%d lock_s=%d", badge.staff_id, failures, LOCK_S)
            self.store.record_event("staff.pin_locked", {"staff_id": badge.staff_id, "failures": failures,
                                                         "lock_s": LOCK_S})
            raise StaffError("locked", "too many wrong PINs, try again later", retry_after_s=LOCK_S)
        if not ok:
            raise StaffError("wrong_pin", "wrong PIN", retry_after_s=None)
        return StaffSession(entry.staff_id, entry.name, self.clock())

    def log_maintenance(self, session: StaffSession, action: str, device: str, note: str = "") -> int:
        """Validate and record a maintenance entry; returns its outbox seq."""
        try:
            rec = MaintenanceRecord(action=action, device=device, note=note)  # type: ignore[arg-type]
        except ValidationError as exc:
            field = ".".join(str(p) for p in exc.errors()[0]["loc"])
            raise StaffError(f"invalid_{field}", f"please check the {field}") from exc
        data: dict[str, Any] = {"staff_id": session.staff_id, **rec.model_dump()}
        seq = self.store.record_event("maintenance.logged", data)
        log.info("maintenance.logged staff_id=%s action=%s device=%s seq=%d", session.staff_id, rec.action,
                 rec.device, seq)
        return seq

    def slot_command(self, session: StaffSession, lockers: Any, locker_id: str, op: str, slot: int,
                     ack_timeout: float = 3.0) -> str:
        """Open or self-test one slot on staff's behalf (BLOCKING); audited in the outbox; returns the result."""
        if op not in ("unlock", "selftest"):
            raise StaffError("bad_op", "only open and self-test are allowed here")
        cmd_id = str(uuid.uuid4())
        self.store.record_event("staff.slot_command", {"staff_id": session.staff_id, "locker_id": locker_id,
                                                       "slot": slot, "op": op, "cmd_id": cmd_id})
        try:
            ack = lockers.command(locker_id, op, slot, cmd_id=cmd_id, ack_timeout=ack_timeout)
        except Exception as exc:  # LockerError and subclasses; drivers are not imported here
            code = getattr(exc, "code", "locker_error")
            log.warning("staff.slot_command_failed locker=%s slot=%d op=%s code=%s", locker_id, slot, op, code)
            return str(code)
        log.info("staff.slot_command locker=%s slot=%d op=%s result=%s", locker_id, slot, op, ack.result)
        return str(ack.result)
