"""Display width of mixed Chinese/English text (a CJK character takes two columns) and wrapping by it."""
from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=8192)
def char_width(ch: str, cjk_font: bool = False) -> int:
    """Columns one character takes on a receipt printer: 2 for wide/fullwidth, 0 for combining marks."""
    if unicodedata.combining(ch):
        return 0
    if unicodedata.east_asian_width(ch) in ("W", "F") or (cjk_font and ord(ch) > 0x7F):
        return 2
    return 1


def display_width(text: str, cjk_font: bool = False) -> int:
    return sum(char_width(ch, cjk_font) for ch in text)


def _is_wide(ch: str) -> bool:
    return char_width(ch) == 2


def _tokens(text: str) -> list[str]:
    """Break opportunities: a Latin word (with its trailing spaces) or a single wide character."""
    out: list[str] = []
    word = ""
    for ch in text:
        if _is_wide(ch):
            if word:
                out.append(word)
                word = ""
            out.append(ch)
        elif ch == " ":
            word += ch
            out.append(word)
            word = ""
        else:
            if word.endswith(" "):
                out.append(word)
                word = ""
            word += ch
    if word:
        out.append(word)
    return out


def _hard_split(token: str, columns: int, cjk_font: bool) -> list[str]:
    pieces, cur, width = [], "", 0
    for ch in token:
        w = char_width(ch, cjk_font)
        if width + w > columns and cur:
            pieces.append(cur)
            cur, width = "", 0
        cur += ch
        width += w
    if cur:
        pieces.append(cur)
    return pieces


def wrap(text: str, columns: int, cjk_font: bool = False) -> list[str]:
    """Lines no wider than `columns`; breaks between words or CJK characters, never inside a character."""
    if columns < 2:
        raise ValueError("columns must be at least 2 (one CJK character)")
    lines: list[str] = []
    for paragraph in text.split("\n"):
        cur, width = "", 0
        for token in _tokens(paragraph):
            tw = display_width(token.rstrip(" "), cjk_font)
            if width + tw <= columns:
                cur += token
                width += display_width(token, cjk_font)
                continue
            if cur.strip():
                lines.append(cur.rstrip(" "))
            cur, width = "", 0
            if tw > columns:
                *full, token = _hard_split(token.rstrip(" "), columns, cjk_font)
                lines.extend(full)
            cur, width = token, display_width(token, cjk_font)
        lines.append(cur.rstrip(" "))
    return lines


def justify(left: str, right: str, columns: int, cjk_font: bool = False) -> list[str]:
    """`left ... right` on one line when it fits, else left wrapped and right flush on the next line."""
    gap = columns - display_width(left, cjk_font) - display_width(right, cjk_font)
    if gap >= 1:
        return [left + " " * gap + right]
    lines = wrap(left, columns, cjk_font)
    for part in wrap(right, columns, cjk_font):
        lines.append(" " * (columns - display_width(part, cjk_font)) + part)
    return lines
