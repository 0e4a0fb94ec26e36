"""Locker fault codes (protocol v1.1) and their words, zh and en.

A slot in `fault` or `disabled` carries one code in `state` (`"fault": "door_jammed"`), and a `fault` event names
it too. Codes are open-ended, the way real power-bank cabinets report about fifty: a well-formed code this table
does not know is still carried and shown by its code. Diagnostics, the staff screen and the centre's slot grid
all take their words from here.
"""
from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]

FAULT_WORDS: dict[str, tuple[str, str]] = {
    "door_jammed": ("柜门卡住", "door jammed"),
    "lock_stuck": ("锁舌卡死", "lock stuck"),
    "item_not_detected": ("未检测到物品", "item not detected"),
    "rfid_unreadable": ("RFID 无法读取", "RFID tag unreadable"),
    "charging_fault": ("充电故障", "charging fault"),
    "slot_disabled": ("格口已停用", "slot disabled"),
    "door_sensor_fault": ("门磁传感器故障", "door sensor fault"),
    "door_left_open": ("柜门未关", "door left open"),
    "tamper": ("柜门被强行打开", "door forced open"),
    "motor_overcurrent": ("电机过流", "lock motor overcurrent"),
    "battery_overheat": ("充电宝过热", "power bank overheating"),
    "battery_swollen": ("充电宝鼓包", "power bank swollen"),
    "item_mismatch": ("物品与记录不符", "item does not match the record"),
    "power_low": ("柜体供电不足", "cabinet power low"),
    "communication_lost": ("格口通信中断", "slot board not answering"),
    "unknown": ("未知故障", "unknown fault"),
}


def fault_words(code: str | None, lang: Lang = "en") -> str:
    """Words for a fault code; an unknown code is shown as itself, so nothing is hidden."""
    if not code:
        return ""
    words = FAULT_WORDS.get(code)
    if words is None:
        return f"故障 {code}" if lang == "zh" else f"fault {code}"
    return words[0] if lang == "zh" else words[1]


def fault_both(code: str | None) -> str:
    """`柜门卡住 / door jammed`: both languages, for logs, diag and the centre's grid tooltips."""
    return f"{fault_words(code, 'zh')} / {fault_words(code, 'en')}" if code else ""
