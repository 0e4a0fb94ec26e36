"""Free text typed by shoppers and staff, at the kiosk or on the centre's web form: bounded plain text."""
from __future__ import annotations

import re
import unicodedata

MAX_TEXT = 500
_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z!?]|&#?[a-zA-Z0-9]+;|javascript:", re.IGNORECASE)


class InputRefused(Exception):
    """Input a service will not take; `code` maps to words on screen, the message is safe to show."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def clean_text(text: str, limit: int = MAX_TEXT) -> str:
    """Bounded plain text, no markup, no control characters (newline and tab kept)."""
    text = unicodedata.normalize("NFC", text or "").strip()
    if len(text) > limit:
        raise InputRefused("text_too_long", f"please keep it under {limit} characters (got {len(text)})")
    if _MARKUP.search(text):
        raise InputRefused("text_has_markup", "please write plain text without < > tags or codes")
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
