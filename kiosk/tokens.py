"""QR payloads (docs/architecture.md, "Protocols": shopper → station): signing, parsing and verifying member codes, lending tokens, badges, labels.

All payloads are short uppercase ASCII so they fit QR alphanumeric mode. MACs are HMAC-SHA256
truncated to 10 bytes and base32-encoded (16 characters), compared in constant time.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

MAX_PAYLOAD = 128
MEMBER_STEP_S = 30
MAC_BYTES = 10
ID_RE = r"[A-Z0-9][A-Z0-9-]{0,31}"

Clock = Callable[[], float]


class TokenRejected(Exception):
    """A scanned or typed payload that will not be acted on; `reason` is a stable code for the UI."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class MemberCode:
    member_id: str
    timestep: int
    raw: str


@dataclass(frozen=True)
class LendingToken:
    lending_id: str
    expires: int
    raw: str


@dataclass(frozen=True)
class StaffBadge:
    staff_id: str
    raw: str


@dataclass(frozen=True)
class ItemLabel:
    item_id: str
    raw: str


@dataclass(frozen=True)
class SignedCode:
    """A further signed kind (parking voucher, storage receipt, complaint ticket …): prefix + fields."""

    prefix: str
    fields: tuple[str, ...]
    raw: str


Token = MemberCode | LendingToken | StaffBadge | ItemLabel | SignedCode

_PATTERNS = {
    "M1": re.compile(rf"^M1\.({ID_RE})\.(\d{{1,12}})\.([A-Z2-7]{{16}})$"),
    "L1": re.compile(rf"^L1\.({ID_RE})\.(\d{{1,12}})\.([A-Z2-7]{{16}})$"),
    "S1": re.compile(rf"^S1\.({ID_RE})\.([A-Z2-7]{{16}})$"),
    "I1": re.compile(rf"^I1\.({ID_RE})$"),
}
# Other signed kinds: PREFIX.field(.field)*.MAC, registered by the services that own them.
_GENERIC = re.compile(rf"^([A-Z][0-9])((?:\.{ID_RE})+)\.([A-Z2-7]{{16}})$")


def _b32(digest: bytes) -> str:
    return base64.b32encode(digest[:MAC_BYTES]).decode("ascii").rstrip("=")


class TokenKeys:
    """Derives one key per purpose from the site key, so a leaked member secret opens nothing else."""

    def __init__(self, site_key: bytes) -> None:
        if len(site_key) < 16:
            raise ValueError("site key must be at least 16 bytes")
        self._site_key = site_key

    def key(self, purpose: str) -> bytes:
        return hmac.new(self._site_key, purpose.encode(), hashlib.sha256).digest()

    def member_secret(self, member_id: str) -> bytes:
        return self.key(f"member:{member_id}")

    def mac(self, key: bytes, message: str) -> str:
        return _b32(hmac.new(key, message.encode("ascii"), hashlib.sha256).digest())


def _check_text(payload: str | bytes) -> str:
    if isinstance(payload, bytes):
        if len(payload) > MAX_PAYLOAD:
            raise TokenRejected("too_long", "code is too long")
        try:
            payload = payload.decode("ascii")
        except UnicodeDecodeError as exc:
            raise TokenRejected("not_text", "not a code we know") from exc
    if len(payload) > MAX_PAYLOAD:
        raise TokenRejected("too_long", "code is too long")
    if not payload.isascii() or not payload.isprintable():
        raise TokenRejected("not_text", "not a code we know")
    return payload.strip()


def redact(payload: str | bytes) -> str:
    """What may be logged of a scanned payload: its kind prefix and length, never the content."""
    text = payload.decode("ascii", "replace") if isinstance(payload, bytes) else payload
    prefix = text[:2] if re.match(r"^[A-Z][0-9]\.", text[:3]) else "??"
    return f"{prefix}…(len={len(text)})"


class ReplayGuard(Protocol):
    def first_use(self, code: str, now: float) -> bool:
        """True the first time a code is seen (and remember it), False for a replay."""


class MemoryReplayGuard:
    """Per-process memory of accepted codes; the station uses the store-backed guard instead."""

    def __init__(self, window: int = 4096) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self._window = window

    def first_use(self, code: str, now: float) -> bool:
        with self._lock:
            for old, seen_at in list(self._seen.items()):
                if now - seen_at <= 3 * MEMBER_STEP_S:
                    break
                del self._seen[old]
            if code in self._seen:
                return False
            self._seen[code] = now
            while len(self._seen) > self._window:
                self._seen.popitem(last=False)
            return True


class TokenBook:
    """Signs and verifies every QR payload kind of the station."""

    def __init__(self, keys: TokenKeys, clock: Clock = time.time, replay: ReplayGuard | None = None) -> None:
        self.keys = keys
        self.clock = clock
        self.replay = replay or MemoryReplayGuard()
        self._generic: set[str] = set()

    # member codes ------------------------------------------------------------------------------
    def member_code(self, member_id: str, at: float | None = None) -> str:
        step = int((self.clock() if at is None else at) // MEMBER_STEP_S)
        body = f"M1.{member_id}.{step}"
        return f"{body}.{self.keys.mac(self.keys.member_secret(member_id), body)}"

    def verify_member(self, payload: str | bytes, consume: bool = True) -> MemberCode:
        """Signature, ±1 time step, once per station (unless consume=False, for a preview)."""
        text = _check_text(payload)
        m = _PATTERNS["M1"].match(text)
        if not m:
            raise TokenRejected("malformed", "not a member code")
        member_id, step_s, mac = m.group(1), m.group(2), m.group(3)
        body = f"M1.{member_id}.{step_s}"
        if not hmac.compare_digest(mac, self.keys.mac(self.keys.member_secret(member_id), body)):
            raise TokenRejected("forged", "member code is not genuine")
        now_step = int(self.clock() // MEMBER_STEP_S)
        if abs(int(step_s) - now_step) > 1:
            raise TokenRejected("expired", "member code has expired, please refresh it")
        if consume:
            self._consume(text)
        return MemberCode(member_id, int(step_s), text)

    def _consume(self, text: str) -> None:
        if not self.replay.first_use(text, self.clock()):
            raise TokenRejected("replayed", "this member code was already used, please refresh it")

    # lending tokens ----------------------------------------------------------------------------
    def lending_token(self, lending_id: str, expires: int) -> str:
        body = f"L1.{lending_id}.{expires}"
        return f"{body}.{self.keys.mac(self.keys.key('lending'), body)}"

    def verify_lending(self, payload: str | bytes, allow_expired: bool = False) -> LendingToken:
        text = _check_text(payload)
        m = _PATTERNS["L1"].match(text)
        if not m:
            raise TokenRejected("malformed", "not a lending receipt")
        body = f"L1.{m.group(1)}.{m.group(2)}"
        if not hmac.compare_digest(m.group(3), self.keys.mac(self.keys.key("lending"), body)):
            raise TokenRejected("forged", "receipt code is not genuine")
        if not allow_expired and int(m.group(2)) < self.clock():
            raise TokenRejected("expired", "receipt code has expired")
        return LendingToken(m.group(1), int(m.group(2)), text)

    # staff badges ------------------------------------------------------------------------------
    def staff_badge(self, staff_id: str) -> str:
        body = f"S1.{staff_id}"
        return f"{body}.{self.keys.mac(self.keys.key('staff'), body)}"

    def verify_staff(self, payload: str | bytes) -> StaffBadge:
        text = _check_text(payload)
        m = _PATTERNS["S1"].match(text)
        if not m:
            raise TokenRejected("malformed", "not a staff badge")
        if not hmac.compare_digest(m.group(2), self.keys.mac(self.keys.key("staff"), f"S1.{m.group(1)}")):
            raise TokenRejected("forged", "staff badge is not genuine")
        return StaffBadge(m.group(1), text)

    # further signed kinds ----------------------------------------------------------------------
    def register_kind(self, prefix: str) -> None:
        if not re.fullmatch(r"[A-Z][0-9]", prefix) or prefix in _PATTERNS:
            raise ValueError(f"bad or reserved prefix {prefix!r}")
        self._generic.add(prefix)

    def sign(self, prefix: str, *fields: str) -> str:
        if prefix not in self._generic:
            raise ValueError(f"unregistered code kind {prefix!r}")
        for f in fields:
            if not re.fullmatch(ID_RE, f):
                raise ValueError(f"field {f!r} is not an ID")
        body = ".".join((prefix, *fields))
        return f"{body}.{self.keys.mac(self.keys.key('code:' + prefix), body)}"

    def verify_signed(self, payload: str | bytes, prefix: str) -> SignedCode:
        text = _check_text(payload)
        m = _GENERIC.match(text)
        if not m or m.group(1) != prefix or prefix not in self._generic:
            raise TokenRejected("malformed", "not a code we know")
        body = m.group(1) + m.group(2)
        if not hmac.compare_digest(m.group(3), self.keys.mac(self.keys.key("code:" + prefix), body)):
            raise TokenRejected("forged", "code is not genuine")
        return SignedCode(prefix, tuple(m.group(2)[1:].split(".")), text)

    # any payload -------------------------------------------------------------------------------
    def classify(self, payload: str | bytes) -> Token:
        """Verify whatever was scanned by its prefix; raises TokenRejected for anything not ours."""
        text = _check_text(payload)
        if text.startswith(("https://", "http://")):
            # a printed ticket's QR opens a status page on phones; its last path segment is our code
            text = text.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
            if text[:2] not in self._generic:
                raise TokenRejected("unknown", "not a code we know")
        prefix = text[:2]
        if prefix == "M1":
            return self.verify_member(text)
        if prefix == "L1":
            return self.verify_lending(text, allow_expired=True)
        if prefix == "S1":
            return self.verify_staff(text)
        if prefix == "I1":
            m = _PATTERNS["I1"].match(text)
            if not m:
                raise TokenRejected("malformed", "not a code we know")
            return ItemLabel(m.group(1), text)
        if prefix in self._generic:
            return self.verify_signed(text, prefix)
        raise TokenRejected("unknown", "not a code we know")
