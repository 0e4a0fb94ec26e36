"""Protocol v1.1 is a superset of v1: v1 messages parse unchanged, new fields are optional and strict."""
from __future__ import annotations

import pytest

from drivers.locker.models import ProtocolError, parse_ack, parse_cmd, parse_event, parse_state, parse_status
from mallcommon.faults import FAULT_WORDS, fault_both, fault_words

V1_MESSAGES = {  # verbatim from the v1 protocol page
    "status": b'{"online": true, "session": 1795649108989, "model": "UL-24", "fw": "ul24-2.3.0", "ts": 1795649108.99}',
    "state": b'{"seq": 41, "ts": 1795649109.05, "slots": [{"slot": 1, "state": "occupied", "item": "P-P1-01", '
             b'"battery": 87, "charging": true}, {"slot": 2, "state": "empty", "taken_by": "9d2"}]}',
    "event": b'{"seq": 42, "ts": 1795649109.06, "type": "item_removed", "slot": 3, "item": "P-P1-03", "cmd_id": "0b6"}',
    "cmd": b'{"cmd_id": "6f1c", "op": "unlock", "slot": 3, "expires_at": 1795649119.0}',
    "ack": b'{"cmd_id": "6f1c", "ok": true, "result": "opened", "slot": 3}',
}


def test_v1_messages_still_parse_and_mean_the_same() -> None:
    status = parse_status(V1_MESSAGES["status"])
    assert status.proto is None and status.fw == "ul24-2.3.0"
    state = parse_state(V1_MESSAGES["state"])
    assert [s.fault for s in state.slots] == [None, None] and state.slots[1].taken_by == "9d2"
    assert parse_event(V1_MESSAGES["event"]).fault is None
    assert parse_cmd(V1_MESSAGES["cmd"]).op == "unlock"
    assert parse_ack(V1_MESSAGES["ack"]).result == "opened"


def test_v11_fields_parse_and_stay_strict() -> None:
    assert parse_status(b'{"online": true, "session": 1, "fw": "x-2", "proto": "1.1"}').proto == "1.1"
    st = parse_state(b'{"seq": 1, "ts": 1, "slots": [{"slot": 1, "state": "fault", "fault": "door_jammed"},'
                     b'{"slot": 2, "state": "open", "left_open": true}]}')
    assert (st.slots[0].fault, st.slots[1].left_open) == ("door_jammed", True)
    ev = parse_event(b'{"seq": 2, "ts": 1, "type": "door_left_open", "slot": 2}')
    assert ev.type == "door_left_open"
    assert parse_cmd(b'{"cmd_id": "a", "op": "open", "slot": 2, "expires_at": 1}').op == "open"
    assert parse_ack(b'{"cmd_id": "a", "ok": false, "result": "occupied", "slot": 2}').result == "occupied"
    for bad in (b'{"cmd_id": "a", "op": "open", "expires_at": 1}',  # open needs a slot
                b'{"seq": 1, "ts": 1, "slots": [{"slot": 1, "state": "fault", "fault": "Door Jammed!"}]}',
                b'{"online": true, "session": 1, "proto": "v1.1"}'):
        with pytest.raises(ProtocolError):
            (parse_cmd if b"op" in bad else parse_state if b"slots" in bad else parse_status)(bad)


def test_fault_words_in_both_languages_and_unknown_codes_shown_as_code() -> None:
    for code in ("door_jammed", "lock_stuck", "item_not_detected", "rfid_unreadable", "charging_fault",
                 "slot_disabled"):
        zh, en = FAULT_WORDS[code]
        assert zh and en and zh != en
    assert fault_words("door_jammed", "zh") == "柜门卡住"
    assert fault_words("door_jammed") == "door jammed"
    assert fault_words("vendor_e42") == "fault vendor_e42" and fault_words("vendor_e42", "zh") == "故障 vendor_e42"
    assert fault_both("lock_stuck") == "锁舌卡死 / lock stuck" and fault_both(None) == ""


def test_an_infinite_timestamp_is_refused() -> None:
    with pytest.raises(ProtocolError):
        parse_state(b'{"seq": 7, "ts": 1e400, "slots": []}')
