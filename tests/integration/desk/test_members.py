"""Member centre against the real central service: lookup, offline cache, parking points applied once."""
from __future__ import annotations

import httpx
import pytest

from kiosk.services.members import HttpMemberApi, MemberCentre, MemberError
from kiosk.store import Store
from kiosk.tokens import TokenBook
from tests.integration.desk.conftest import CentralUnderTest, free_port


def _centre(store: Store, tokens: TokenBook, url: str, token: str, **kw: object) -> MemberCentre:
    return MemberCentre(store=store, tokens=tokens, api=HttpMemberApi(url, token, timeout=2.0),
                        station_id="K01", **kw)  # type: ignore[arg-type]


def _points(central: CentralUnderTest, member_id: str) -> int:
    resp = httpx.get(f"{central.url}/api/v1/members/{member_id}",
                     headers={"Authorization": f"Bearer {central.tokens['K01']}"})
    return int(resp.json()["points"])


def test_parking_redemption_moves_points_exactly_once_when_upload_is_retried(
        central: CentralUnderTest, store: Store, tokens: TokenBook) -> None:
    members = _centre(store, tokens, central.url, central.tokens["K01"])
    member = members.verify(tokens.member_code("M10002"))
    view = members.view(member)
    assert view.source == "centre" and view.profile is not None and view.profile.points == 3400
    assert view.profile.name_masked == "李*"

    voucher = members.redeem_parking(member, 2)
    assert voucher.points == 200 and voucher.code.startswith("P1.")
    # before the upload the station already counts the redemption against the balance it shows
    assert members.view(member).points_available == 3200

    events = [e.envelope() for e in store.outbox_pending()]
    central.upload(store)
    # the uploader lost the answer and sends the same batch again
    resp = httpx.post(f"{central.url}/api/v1/stations/K01/events", json={"events": events},
                      headers={"Authorization": f"Bearer {central.tokens['K01']}"})
    assert resp.status_code == 200
    assert _points(central, "M10002") == 3200
    assert members.view(member).points_available == 3200


def test_not_enough_points_is_refused_and_nothing_changes(
        central: CentralUnderTest, store: Store, tokens: TokenBook) -> None:
    members = _centre(store, tokens, central.url, central.tokens["K01"])
    member = members.verify(tokens.member_code("M10004"))  # 120 points
    with pytest.raises(MemberError) as exc:
        members.redeem_parking(member, 2)
    assert exc.value.code == "not_enough_points"
    assert store.outbox_pending() == []


def test_daily_limit(central: CentralUnderTest, store: Store, tokens: TokenBook) -> None:
    members = _centre(store, tokens, central.url, central.tokens["K01"])
    member = members.verify(tokens.member_code("M10001"))
    members.redeem_parking(member, 3)
    with pytest.raises(MemberError) as exc:
        members.redeem_parking(member, 1)
    assert exc.value.code == "parking_daily_limit"


def test_forged_parking_code_is_refused_and_nothing_changes(
        central: CentralUnderTest, store: Store, tokens: TokenBook) -> None:
    members = _centre(store, tokens, central.url, central.tokens["K01"])
    member = members.verify(tokens.member_code("M10003"))
    voucher = members.redeem_parking(member, 1)
    before = len(store.outbox_pending())
    prefix, vid, expires, mac = voucher.code.split(".")
    for forged in (f"{prefix}.{vid}.{int(expires) + 86400}.{mac}",  # a longer validity
                   f"{prefix}.{'A' * 12}.{expires}.{mac}",  # someone else's voucher number
                   voucher.code[:-1] + ("A" if voucher.code[-1] != "A" else "B")):
        with pytest.raises(MemberError) as exc:
            members.check_voucher(forged, use=True)
        assert exc.value.code == "forged"
        assert "not a genuine" in str(exc.value)
    assert len(store.outbox_pending()) == before
    assert store.query("SELECT used_at FROM desk_parking_vouchers")[0]["used_at"] is None
    assert members.check_voucher(voucher.code, use=True).used_at is not None
    with pytest.raises(MemberError) as exc:
        members.check_voucher(voucher.code, use=True)
    assert exc.value.code == "voucher_used"


def test_offline_uses_short_cache_then_says_what_works(
        central: CentralUnderTest, store: Store, tokens: TokenBook) -> None:
    now = [1_795_000_000.0]
    tokens.clock = lambda: now[0]
    online = _centre(store, tokens, central.url, central.tokens["K01"], clock=lambda: now[0], cache_ttl_s=600)
    member = online.verify(tokens.member_code("M10001"))
    assert online.view(member).source == "centre"
    # the centre goes away: nothing listens on this port
    online.api = HttpMemberApi(f"http://127.0.0.1:{free_port()}", "x", timeout=0.5)
    cached = online.view(member)
    assert cached.source == "cache" and cached.profile is not None and cached.can_redeem
    assert "member_offline_cached" in cached.offline_notes
    now[0] += 601
    gone = online.view(member)
    assert gone.source == "none" and gone.profile is None and not gone.can_redeem
    assert "member_offline_lendings_ok" in gone.offline_notes
    with pytest.raises(MemberError) as exc:
        online.redeem_parking(member, 1)
    assert exc.value.code == "centre_offline"


def test_unknown_member_and_replayed_code(central: CentralUnderTest, store: Store, tokens: TokenBook) -> None:
    members = _centre(store, tokens, central.url, central.tokens["K01"])
    code = tokens.member_code("M99999")
    member = members.verify(code)
    with pytest.raises(MemberError) as exc:
        members.view(member)
    assert exc.value.code == "unknown_member"
    with pytest.raises(MemberError) as exc:
        members.verify(code)
    assert exc.value.code == "replayed"
