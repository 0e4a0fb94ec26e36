"""The centre's side of 广播寻人 in small: the acknowledgement clock's setting, a full number refused at the edge,
the item announcement from its template."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from server_bridge.central.desk import broadcasts
from server_bridge.central.desk.models import DeskBroadcast

DATA = {"request_id": "K01-R261130-AB2C", "code": "R1.K01-R261130-AB2C.AAAAAAAAAAAAAAAA", "kind": "item",
        "traits": {"item_category": "wallet"}, "floor": "B1", "place": "停车场电梯口", "last_seen_at": 1000.0,
        "phone_masked": "138****5678", "filed_at": 1900.0}


def test_the_acknowledgement_clock_is_five_minutes_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CENTRAL_ESCALATE", raising=False)
    assert broadcasts.ack_step().minutes == 5
    monkeypatch.setenv("CENTRAL_ESCALATE", "broadcast_request=2:ops,warning=30:ops")
    assert (broadcasts.ack_step().minutes, broadcasts.ack_step().role) == (2, "ops")


@pytest.mark.parametrize("phone", ["13812345678", "138 1234 5678", "138****567"])
def test_a_number_that_is_not_masked_is_refused(phone: str) -> None:
    broadcasts.BroadcastFiled.model_validate(DATA)
    with pytest.raises(ValidationError):
        broadcasts.BroadcastFiled.model_validate({**DATA, "phone_masked": phone})


def test_the_item_announcement_names_the_desk_and_not_the_number() -> None:
    d = broadcasts.BroadcastFiled.model_validate(DATA)
    row = DeskBroadcast(request_id=d.request_id, station_id="K02", kind=d.kind, traits=dict(d.traits),
                        description="", floor=d.floor, place=d.place, last_seen_at=d.last_seen_at,
                        phone_masked=d.phone_masked, filed_at=d.filed_at)
    text = broadcasts.announcement(row, 1900.0, "B1 停车场入口 Car park entrance")
    assert text.zh == "广播寻物：有顾客约15分钟前在B1停车场电梯口遗失钱包。拾到者请送至B1 停车场入口。谢谢！"
    assert "a wallet was lost on B1, near 停车场电梯口 about 15 minutes ago" in text.en
    assert "Car park entrance (station K02)" in text.en and "5678" not in text.zh + text.en
