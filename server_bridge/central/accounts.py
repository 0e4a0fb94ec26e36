"""Console accounts: users with argon2id password hashes, four roles, lockout, and server-side sessions.

Roles are ranked; each may do what the ones below it may (see docs/central.md "Console accounts"):
  viewer - read the fleet, station, alert, KPI and complaint pages;
  desk   - also handle complaint tickets (take/reply/close), see lost & found, export complaints;
  ops    - also acknowledge/resolve alerts and export every table;
  admin  - also manage users and roles and read/export the audit log.

A session is a random 256-bit id; the browser holds `<id>.<mac>` (HMAC-SHA256 with the centre's session
key), the database only SHA-256(id), so a copy of the database cannot be replayed as a cookie.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, Float, Integer, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from server_bridge.central.db import Base
from server_bridge.central.errors import CentralError

ROLES = ("viewer", "desk", "ops", "admin")
USERNAME_RE = r"^[a-z0-9][a-z0-9._-]{1,31}$"
MIN_PASSWORD, MAX_PASSWORD = 10, 200
MAX_FAILED = 5  # wrong passwords in a row before the account locks
LOCK_S = 15 * 60.0
SESSION_MAX_S = 12 * 3600.0  # a session ends after a working day …
SESSION_IDLE_S = 2 * 3600.0  # … or two idle hours
_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (t=3, m=64 MiB, p=4)


@functools.cache
def _dummy_hash() -> str:
    """Verified against for unknown users so a wrong user name costs the same time as a wrong password.
    Made on first use, not at import: every centre process and CLI verb imports this module, and an
    argon2 hash (64 MiB) costs a few hundred milliseconds of each start."""
    return _hasher.hash(secrets.token_urlsafe(16))


class ConsoleUser(Base):
    __tablename__ = "console_users"
    username: Mapped[str] = mapped_column(String(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    must_change: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    password_changed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_login_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class ConsoleSession(Base):
    __tablename__ = "console_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(32), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    last_seen_at: Mapped[float] = mapped_column(Float)
    ip: Mapped[str] = mapped_column(String(64), default="")


class ConsoleSecret(Base):
    __tablename__ = "console_secrets"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))


class AccountError(CentralError):
    """A refused account action; `code` is stable, the message safe to show."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.status = code, status


@dataclass(frozen=True)
class Operator:
    """The logged-in user of one request."""
    username: str
    role: str
    csrf: str
    must_change: bool = False

    def may(self, role: str) -> bool:
        return rank(self.role) >= rank(role)


def rank(role: str) -> int:
    return ROLES.index(role)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError("bad_role", f"role must be one of {', '.join(ROLES)}")
    return role


def check_username(username: str) -> str:
    if not re.match(USERNAME_RE, username or ""):
        raise AccountError("bad_username", "user names are 2-32 of a-z 0-9 . _ - (lower case)")
    return username


def check_password(username: str, password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccountError("weak_password", f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if username.lower() in password.lower() or len(set(password)) < 5:
        raise AccountError("weak_password", "a password must not contain the user name or repeat a few characters")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def one_time_password() -> str:
    return secrets.token_urlsafe(12)


def select_users() -> Any:
    return select(ConsoleUser).order_by(ConsoleUser.username)


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(ConsoleUser).where(ConsoleUser.disabled.is_(False)))
               or 0)


def add_user(session: Session, username: str, role: str, now: float, reset: bool = False) -> str:
    """A new user (or, with `reset`, a new one-time password for an existing one); returns the one-time
    password, which must be changed at the first login."""
    check_username(username)
    check_role(role)
    password = one_time_password()
    user = session.get(ConsoleUser, username)
    if user is not None and not reset:
        raise AccountError("user_exists", f"user {username} exists (reset their password with --reset)", 409)
    if user is None:
        user = ConsoleUser(username=username, role=role, created_at=now, failed_logins=0, disabled=False)
        session.add(user)
    user.role, user.password_hash, user.must_change = role, hash_password(password), True
    user.failed_logins, user.locked_until, user.disabled = 0, None, False
    end_sessions(session, username)
    return password


def set_password(session: Session, username: str, password: str, now: float, must_change: bool = False) -> None:
    """Used by `make run` for demo logins and by the password page."""
    user = session.get(ConsoleUser, username)
    if user is None:
        raise AccountError("unknown_user", "no such user", 404)
    check_password(username, password)
    user.password_hash, user.must_change, user.password_changed_at = hash_password(password), must_change, now


def change_password(session: Session, username: str, old: str, new: str, now: float) -> None:
    user = session.get(ConsoleUser, username)
    if user is None or not _verify(user.password_hash, old):
        raise AccountError("wrong_password", "the current password is not right", 403)
    if hmac.compare_digest(old.encode(), new.encode()):
        raise AccountError("same_password", "choose a password different from the current one")
    set_password(session, username, new, now)


def set_role(session: Session, username: str, role: str) -> ConsoleUser:
    user = session.get(ConsoleUser, username)
    if user is None:
        raise AccountError("unknown_user", "no such user", 404)
    user.role = check_role(role)
    return user


def set_disabled(session: Session, username: str, disabled: bool) -> ConsoleUser:
    user = session.get(ConsoleUser, username)
    if user is None:
        raise AccountError("unknown_user", "no such user", 404)
    user.disabled = disabled
    if disabled:
        end_sessions(session, username)
    return user


def authenticate(session: Session, username: str, password: str, now: float) -> ConsoleUser:
    """The user, or AccountError: `bad_login` (unknown user or wrong password, said the same way),
    `locked` (too many wrong passwords; even the right one is refused until the lock ends)."""
    dummy = _dummy_hash()  # before the lookup: the process's first login pays for it, whichever user it names
    user = session.get(ConsoleUser, username[:32]) if username else None
    if user is None or user.disabled:
        _verify(dummy, password)
        raise AccountError("bad_login", "wrong user name or password", 401)
    if user.locked_until is not None and user.locked_until > now:
        raise AccountError("locked", "too many wrong passwords: this account is locked for a while", 423)
    if not _verify(user.password_hash, password):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= MAX_FAILED:
            user.locked_until, user.failed_logins = now + LOCK_S, 0
            raise AccountError("locked", "too many wrong passwords: this account is locked for a while", 423)
        raise AccountError("bad_login", "wrong user name or password", 401)
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


# sessions -------------------------------------------------------------------------------------------
def session_key(session: Session) -> bytes:
    """The centre's cookie-signing key, made once and shared by every API instance through the database."""
    row = session.get(ConsoleSecret, "session_key")
    if row is None:
        row = ConsoleSecret(name="session_key", value=secrets.token_hex(32))
        session.add(row)
        session.flush()
    return bytes.fromhex(row.value)


def _sign(key: bytes, sid: str) -> str:
    return hmac.new(key, sid.encode(), hashlib.sha256).hexdigest()[:32]


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def start_session(session: Session, user: ConsoleUser, now: float, ip: str) -> str:
    """A new session for a user who just proved their password; returns the cookie value."""
    sid = secrets.token_urlsafe(32)
    session.add(ConsoleSession(id_hash=_hash(sid), username=user.username, csrf=secrets.token_urlsafe(32),
                               created_at=now, last_seen_at=now, ip=ip[:64]))
    session.execute(delete(ConsoleSession).where(ConsoleSession.last_seen_at < now - SESSION_MAX_S))
    return f"{sid}.{_sign(session_key(session), sid)}"


def resolve_session(session: Session, cookie: str | None, now: float) -> Operator | None:
    """The operator a cookie belongs to, or None (missing, forged, expired, idle, or user disabled)."""
    if not cookie or len(cookie) > 120 or "." not in cookie:
        return None
    sid, _, mac = cookie.rpartition(".")
    if not hmac.compare_digest(mac.encode(), _sign(session_key(session), sid).encode()):
        return None
    row = session.get(ConsoleSession, _hash(sid))
    if row is None or row.created_at < now - SESSION_MAX_S or row.last_seen_at < now - SESSION_IDLE_S:
        return None
    user = session.get(ConsoleUser, row.username)
    if user is None or user.disabled:
        return None
    if now - row.last_seen_at > 60:
        row.last_seen_at = now  # at most one write a minute per session
    return Operator(user.username, user.role, row.csrf, user.must_change)


def end_session(session: Session, cookie: str | None) -> None:
    if cookie and "." in cookie:
        session.execute(delete(ConsoleSession).where(ConsoleSession.id_hash == _hash(cookie.rpartition(".")[0])))


def end_sessions(session: Session, username: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.username == username))


class IpThrottle:
    """Failed logins per client address in a sliding window (in memory, per instance): past `limit` the
    address is refused before any password is checked, so guessing across many user names is slow too."""

    def __init__(self, limit: int = 20, window_s: float = 600.0) -> None:
        self.limit, self.window_s = limit, window_s
        self._lock = threading.Lock()
        self._fails: dict[str, deque[float]] = {}

    def blocked(self, ip: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._fails.get(ip)
            while q and q[0] < now - self.window_s:
                q.popleft()
            return q is not None and len(q) >= self.limit

    def failed(self, ip: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._fails) > 10_000:  # bounded memory under a spray of addresses
                self._fails.clear()
            self._fails.setdefault(ip, deque()).append(now)
