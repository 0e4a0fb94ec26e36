"""Protocol v1 models: strict validation, one ProtocolError naming the field, size checked before parsing."""
from __future__ import annotations

import json

import pytest

from drivers.locker.models import (
    MAX_PAYLOAD,
    ProtocolError,
    Status,
    control_topic,
    kiosk_topic,
    parse_ack,
    parse_cmd,
    parse_control,
    parse_event,
    parse_state,
    parse_status,
    split_topic,
    topic,
)


def raw(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_good_messages_round_trip() -> None:
    st = parse_state(raw({"seq": 3, "ts": 1.5, "slots": [{"slot": 1, "state": "occupied", "item": "U-0001",
                                                         "battery": 87, "charging": True}]}))
    assert st.slots[0].battery == 87 and st.seq == 3
    assert parse_state(st.to_bytes()) == st
    status = Status(online=False, session=12)
    assert parse_status(status.to_bytes()) == status
    ev = parse_event(raw({"seq": 4, "ts": 2, "type": "item_removed", "slot": 3, "item": "U-1", "cmd_id": "c1"}))
    assert (ev.type, ev.ts) == ("item_removed", 2.0)
    assert parse_ack(raw({"cmd_id": "c1", "ok": True, "result": "opened", "slot": 3})).ok


@pytest.mark.parametrize(("payload", "field"), [
    ({"cmd_id": "c", "op": "explode", "slot": 1, "expires_at": 5}, "op"),
    ({"cmd_id": "c", "op": "unlock", "slot": "1", "expires_at": 5}, "slot"),
    ({"cmd_id": "c", "op": "unlock", "slot": 0, "expires_at": 5}, "slot"),
    ({"cmd_id": "c", "op": "unlock", "slot": 300, "expires_at": 5}, "slot"),
    ({"cmd_id": "c", "op": "unlock", "slot": 1, "expires_at": "soon"}, "expires_at"),
    ({"cmd_id": "c", "op": "unlock", "slot": 1, "expires_at": 5, "force": True}, "force"),
    ({"cmd_id": "c/../#", "op": "query", "expires_at": 5}, "cmd_id"),
])
def test_bad_commands_name_the_field(payload: dict[str, object], field: str) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_cmd(raw(payload))
    assert err.value.field == field and err.value.kind == "cmd"
    assert str(err.value).startswith(f"cmd.{field}:")


def test_unlock_needs_a_slot_and_slot_must_exist_on_this_locker() -> None:
    with pytest.raises(ProtocolError, match="needs a slot"):
        parse_cmd(raw({"cmd_id": "c", "op": "unlock", "expires_at": 5}))
    with pytest.raises(ProtocolError, match="12 slots") as err:
        parse_cmd(raw({"cmd_id": "c9", "op": "unlock", "slot": 13, "expires_at": 5}), slots=12)
    assert err.value.cmd_id == "c9", "a bad command with a cmd_id can still be answered bad_request"
    assert parse_cmd(raw({"cmd_id": "c", "op": "unlock", "slot": 12, "expires_at": 5}), slots=12).slot == 12


def test_wrong_types_are_not_coerced() -> None:
    with pytest.raises(ProtocolError, match="online"):
        parse_status(raw({"online": "true", "session": 1}))
    with pytest.raises(ProtocolError, match="seq"):
        parse_state(raw({"seq": "4", "ts": 1, "slots": []}))
    with pytest.raises(ProtocolError, match="ok"):
        parse_ack(raw({"cmd_id": "c", "ok": 1, "result": "opened"}))


def test_oversized_refused_before_parsing() -> None:
    # not even valid JSON: if the size check came after parsing, the error would be about JSON
    payload = b"{" + b"x" * MAX_PAYLOAD
    with pytest.raises(ProtocolError, match="over the 65536 byte limit"):
        parse_state(payload)
    ok = raw({"seq": 1, "ts": 1, "slots": []})
    assert parse_state(ok + b" " * (MAX_PAYLOAD - len(ok))).seq == 1, "exactly 64 KiB is still fine"


@pytest.mark.parametrize("payload", [b"", b"nope", b"\xff\xfe", b"[]", b"null", b"42"])
def test_not_a_json_object(payload: bytes) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_event(payload)
    assert err.value.cmd_id is None


def test_control_messages() -> None:
    insert = parse_control(raw({"op": "insert", "item": "P-9", "battery": 40}))
    assert insert.op == "insert" and insert.battery == 40 and insert.slot is None
    assert parse_control(raw({"op": "drop_acks", "n": 2})).n == 2  # type: ignore[union-attr]
    with pytest.raises(ProtocolError, match="unknown op") as err:
        parse_control(raw({"op": "self_destruct_secret_word"}))
    assert "secret_word" not in str(err.value), "errors never echo what the sender wrote"
    with pytest.raises(ProtocolError, match="battery"):
        parse_control(raw({"op": "insert", "item": "P-9", "battery": 140}))


def test_topics() -> None:
    assert topic("demo-mall", "U1", "cmd") == "mall/v1/demo-mall/locker/U1/cmd"
    assert control_topic("demo-mall", "U1") == "mall/v1/demo-mall/sim/U1/control"
    assert kiosk_topic("demo-mall", "K01") == "mall/v1/demo-mall/kiosk/K01/status"
    assert split_topic("mall/v1/demo-mall/locker/U1/state") == ("demo-mall", "U1", "state")
    assert split_topic("mall/v1/demo-mall/kiosk/K01/status") is None
    for bad in ("U/1", "+", "#", ""):
        with pytest.raises(ValueError):
            topic("demo", bad, "state")
    with pytest.raises(ValueError):
        topic("demo", "U1", "secrets")
