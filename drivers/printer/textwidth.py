"""Display width of mixed Chinese/English text (a CJK character takes two columns) and wrapping by it."""
from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=4096)
def char_width(ch: str) -> int:
    """Columns one character takes on a receipt printer: 2 for wide/fullwidth, 0 for combining marks."""
    if unicodedata.combining(ch):
        return 0
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 2
    return 1


def display_width(text: str) -> int:
    return sum(char_width(ch) for ch in text)


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


def _hard_split(token: str, columns: int) -> list[str]:
    pieces, cur, width = [], "", 0
    for ch in token:
        w = char_width(ch)
        if width + w > columns and cur:
            pieces.append(cur)
            cur, width = "", 0
        cur += ch
        width += w
    if cur:
        pieces.append(cur)
    return pieces


def wrap(text: str, columns: int) -> list[str]:
    """Lines no wider than `columns`; breaks between words or CJK characters, never inside a character."""
    if columns < 2:
        raise ValueError("columns must be at least 2 (one CJK character)")
    lines: list[str] = []
    for paragraph in text.split("\n"):
        cur, width = "", 0
        for token in _tokens(paragraph):
            tw = display_width(token.rstrip(" "))
            if width + tw <= columns:
                cur += token
                width += display_width(token)
                continue
            if cur.strip():
                lines.append(cur.rstrip(" "))
            cur, width = "", 0
            if tw > columns:
                *full, token = _hard_split(token.rstrip(" "), columns)
                lines.extend(full)
            cur, width = token, display_width(token)
        lines.append(cur.rstrip(" "))
    return lines


def pad_right(text: str, columns: int) -> str:
    return text + " " * max(0, columns - display_width(text))


def justify(left: str, right: str, columns: int) -> list[str]:
    """`left ... right` on one line when it fits, else left wrapped and right flush on the next line."""
    gap = columns - display_width(left) - display_width(right)
    if gap >= 1:
        return [left + " " * gap + right]
    lines = wrap(left, columns)
    for part in wrap(right, columns):
        lines.append(" " * (columns - display_width(part)) + part)
    return lines
