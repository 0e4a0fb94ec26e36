"""Member centre: profile from the centre's member API (short offline cache), points for parking vouchers.

Offline: a profile seen within `cache_ttl_s` is shown with its age, and parking can be redeemed against
it; without one only the station's own data (open lendings) is shown. Points move through the outbox and
the centre applies each redemption once, keyed by its redemption_id.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kiosk.config import ParkingPolicy
from kiosk.store import Store
from kiosk.tokens import MemberCode, TokenBook, TokenRejected

log = logging.getLogger(__name__)

VOUCHER_PREFIX = "P1"


class MemberError(Exception):
    """`code` maps to words on screen; the message is safe to show."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class CentreUnreachable(OSError):
    pass


class MemberProfile(BaseModel):
    """The centre's answer to `GET /api/v1/members/{member_id}`, validated at the edge."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    member_id: str = Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,31}$")
    level: str = Field(max_length=32)
    points: int = Field(ge=0)
    name_masked: str = Field(max_length=64)
    phone_masked: str | None = Field(default=None, max_length=20)
    recent_visits: list[Any] = []


class MemberApi(Protocol):
    def member(self, member_id: str) -> MemberProfile:
        """Raises MemberError("unknown_member") or CentreUnreachable."""


class HttpMemberApi:
    """The centre's member API over HTTP with the station's bearer token; short timeouts, no retries here."""

    def __init__(self, base_url: str, token: str, timeout: float = 2.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport,
                                    headers={"Authorization": f"Bearer {token}"})

    def member(self, member_id: str) -> MemberProfile:
        try:
            resp = self._client.get(f"/api/v1/members/{member_id}")
        except httpx.HTTPError as exc:
            raise CentreUnreachable(f"centre unreachable: {type(exc).__name__}") from exc
        if resp.status_code == 404:
            raise MemberError("unknown_member", "this member is not known to the mall")
        if resp.status_code != 200:
            raise CentreUnreachable(f"centre answered {resp.status_code}")
        try:
            return MemberProfile.model_validate(resp.json())
        except (ValueError, ValidationError) as exc:
            raise CentreUnreachable("centre answered something unreadable") from exc

    def close(self) -> None:
        self._client.close()


@dataclass(frozen=True)
class MemberView:
    member_id: str
    profile: MemberProfile | None
    source: Literal["centre", "cache", "none"]
    age_s: float | None  # how old the shown profile is
    open_lendings: tuple[Any, ...]
    points_available: int | None  # profile points less redemptions the centre has not seen yet
    can_redeem: bool
    offline_notes: tuple[str, ...]  # message ids the screen shows when working from cache


@dataclass(frozen=True)
class ParkingVoucher:
    voucher_id: str
    redemption_id: str
    member_id: str
    hours: int
    points: int
    code: str
    created_at: float
    expires_at: float
    used_at: float | None = None


class MemberCentre:
    def __init__(self, *, store: Store, tokens: TokenBook, api: MemberApi, station_id: str,
                 open_lendings: Callable[[str], list[Any]] | None = None, parking: ParkingPolicy | None = None,
                 cache_ttl_s: float = 600.0, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.tokens = tokens
        self.api = api
        self.station_id = station_id
        self.open_lendings = open_lendings or (lambda member_id: [])
        self.parking = parking or ParkingPolicy()
        self.cache_ttl_s = cache_ttl_s
        self.clock = clock
        self._cache: dict[str, tuple[MemberProfile, float]] = {}
        tokens.register_kind(VOUCHER_PREFIX)

    # looking up ------------------------------------------------------------------------------
    def verify(self, payload: str | bytes) -> MemberCode:
        """A scanned dynamic member code, checked and consumed (a replayed code is refused)."""
        try:
            return self.tokens.verify_member(payload)
        except TokenRejected as exc:
            raise MemberError(exc.reason, str(exc)) from exc

    def _profile(self, member_id: str) -> tuple[MemberProfile | None, float | None, bool]:
        """(profile, fetched_at, live)."""
        try:
            profile = self.api.member(member_id)
        except CentreUnreachable as exc:
            log.warning("member.centre_offline member=%s error=%s", member_id, exc)
            cached = self._cache.get(member_id)
            if cached and self.clock() - cached[1] <= self.cache_ttl_s:
                return cached[0], cached[1], False
            return None, None, False
        now = self.clock()
        self._cache[member_id] = (profile, now)
        return profile, now, True

    def _unseen_points(self, member_id: str, fetched_at: float) -> int:
        """Points this station redeemed that the profile cannot reflect yet (not acknowledged before it)."""
        row = self.store.query(
            "SELECT COALESCE(SUM(v.points), 0) AS p FROM desk_parking_vouchers v JOIN outbox o ON o.seq = v.event_seq "
            "WHERE v.member_id=? AND (o.sent_at IS NULL OR o.sent_at > ?)", (member_id, fetched_at))
        return int(row[0]["p"])

    def view(self, member: MemberCode) -> MemberView:
        """Everything the member centre screen shows for a verified member."""
        profile, fetched_at, live = self._profile(member.member_id)
        lendings = tuple(self.open_lendings(member.member_id))
        if profile is None or fetched_at is None:
            return MemberView(member.member_id, None, "none", None, lendings, None, False,
                              ("member_offline_no_profile", "member_offline_lendings_ok"))
        available = max(0, profile.points - self._unseen_points(member.member_id, fetched_at))
        age = self.clock() - fetched_at
        notes = () if live else ("member_offline_cached", "member_offline_points_as_of")
        return MemberView(member.member_id, profile, "centre" if live else "cache", age, lendings, available,
                          available >= self.parking.points_per_hour, notes)

    # parking ---------------------------------------------------------------------------------
    def hours_today(self, member_id: str) -> int:
        now = self.clock()
        row = self.store.query("SELECT COALESCE(SUM(hours), 0) AS h FROM desk_parking_vouchers "
                               "WHERE member_id=? AND created_at > ?", (member_id, now - 86_400))
        return int(row[0]["h"])

    def redeem_parking(self, member: MemberCode, hours: int) -> ParkingVoucher:
        """Spend points for parking hours: voucher row + points event in one transaction, or nothing."""
        if not isinstance(hours, int) or hours < 1:
            raise MemberError("invalid_hours", "choose at least one hour")
        used = self.hours_today(member.member_id)
        if used + hours > self.parking.max_hours_per_day:
            raise MemberError("parking_daily_limit",
                              f"at most {self.parking.max_hours_per_day} hours a day ({used} already today)")
        view = self.view(member)
        if view.points_available is None:
            raise MemberError("centre_offline", "points cannot be checked right now, please try again later")
        points = hours * self.parking.points_per_hour
        if points > view.points_available:
            raise MemberError("not_enough_points", f"{points} points needed, {view.points_available} available")
        now = self.clock()
        voucher_id = uuid.uuid4().hex[:12].upper()
        redemption_id = str(uuid.uuid4())
        expires = int(now + self.parking.voucher_valid_hours * 3600)
        code = self.tokens.sign(VOUCHER_PREFIX, voucher_id, str(expires))
        with self.store.transaction() as conn:
            seq = self.store.append_event(conn, "parking.redeemed", {
                "redemption_id": redemption_id, "member_id": member.member_id, "points": points,
                "reason": "parking", "hours": hours, "voucher_id": voucher_id, "station_id": self.station_id,
                "at": now}, at=now)
            conn.execute("INSERT INTO desk_parking_vouchers (voucher_id, redemption_id, member_id, hours, points, "
                         "event_seq, created_at, expires_at) VALUES (?,?,?,?,?,?,?,?)",
                         (voucher_id, redemption_id, member.member_id, hours, points, seq, now, expires))
        log.info("parking.redeemed member=%s hours=%d points=%d voucher=%s", member.member_id, hours,
                 points, voucher_id)
        return ParkingVoucher(voucher_id, redemption_id, member.member_id, hours, points, code, now, expires)

    def check_voucher(self, payload: str | bytes, use: bool = False) -> ParkingVoucher:
        """Verify a voucher code (car park exit or staff); with use=True it is spent, once."""
        try:
            signed = self.tokens.verify_signed(payload, VOUCHER_PREFIX)
        except TokenRejected as exc:
            raise MemberError(exc.reason, "this is not a genuine parking voucher") from exc
        voucher_id, expires = signed.fields[0], int(signed.fields[1])
        now = self.clock()
        with self.store.transaction() as conn:
            row = conn.execute("SELECT * FROM desk_parking_vouchers WHERE voucher_id=?", (voucher_id,)).fetchone()
            if row is None:
                raise MemberError("unknown_voucher", "this voucher was not issued here")
            if expires < now:
                raise MemberError("expired", "this parking voucher has expired")
            if row["used_at"] is not None:
                raise MemberError("voucher_used", "this parking voucher was already used")
            if use:
                conn.execute("UPDATE desk_parking_vouchers SET used_at=? WHERE voucher_id=?", (now, voucher_id))
                self.store.append_event(conn, "member.voucher_used", {"voucher_id": voucher_id,
                                                                     "station_id": self.station_id}, at=now)
        return ParkingVoucher(voucher_id, row["redemption_id"], row["member_id"], row["hours"], row["points"],
                              signed.raw, row["created_at"], row["expires_at"], now if use else None)

    def voucher_receipt(self, voucher: ParkingVoucher) -> Any:
        """The printed voucher (receipts.ParkingVoucher) for the printing service."""
        from kiosk.services.receipts import ParkingVoucher as VoucherReceipt

        return VoucherReceipt(station_id=self.station_id, voucher_id=voucher.voucher_id,
                              free_minutes=voucher.hours * 60, valid_until=voucher.expires_at,
                              voucher_token=voucher.code)
