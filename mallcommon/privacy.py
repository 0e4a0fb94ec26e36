"""Personal data rules: phone numbers are masked on screens, receipts and logs."""
from __future__ import annotations

import re

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_DIGITS_IN_TEXT = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


class PhoneInvalid(ValueError):
    code = "phone_invalid"


def normalize_phone(raw: str) -> str:
    """A mainland mobile number (11 digits, starting 13–19); spaces and dashes are ignored."""
    digits = re.sub(r"[\s-]", "", raw or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    if not _MOBILE.match(digits):
        raise PhoneInvalid("please enter an 11-digit mobile number")
    return digits


def mask_phone(phone: str) -> str:
    """138****5678 — keeps the first 3 and last 4 digits."""
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def scrub(text: str) -> str:
    """Masks every mobile number inside free text before it is logged or shown."""
    return _DIGITS_IN_TEXT.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)


_ID_CHARS = re.compile(r"^[0-9A-Z]{4,20}$")


class IdInvalid(ValueError):
    code = "id_invalid"


def mask_id(raw: str) -> str:
    """An identity document number as it may be kept (存包牌遗失登记): only its last 4 characters, the rest `*`
    (`1101011990…123X` → `**************123X`). Spaces are ignored; 4–20 letters or digits (an ID card, a
    passport, or just the last 4 that staff read off the card)."""
    text = re.sub(r"\s", "", raw or "").upper()
    if not _ID_CHARS.match(text):
        raise IdInvalid("enter the ID number (4-20 letters or digits)")
    return "*" * (len(text) - 4) + text[-4:]
