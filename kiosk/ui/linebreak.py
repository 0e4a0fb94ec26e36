"""Where a wrapped line may not break (docs/ui.md "Line breaks"), as pure functions over the lines a label drew.

Kivy wraps at spaces, and cuts a run without spaces (all Chinese text) wherever the line is full. Two results
read badly on a kiosk and are fixed by `KLabel`/`KButton` (kiosk/ui/widgets.py `Wrapped`), and reported by the
layout checker (tests/ui/layout.py):
- **a lone mark** — a pictographic mark ("✓", "⚠", "→", "★") at the end of a line while its words go on the
  next one ("✓ / Female"), or alone on a line;
- **避头尾 (kinsoku)** — Chinese punctuation that closes ("。", "，", "）" …) at the start of a line, or
  punctuation that opens ("（", "《" …) at the end of one.

No Kivy here: the widgets and the checker both call `faults()` with the lines Kivy drew.
"""
from __future__ import annotations

import unicodedata

# may not start a line (GB/T 15834 and the usual 避头尾 sets; the ASCII ones for mixed text)
NO_START = set("。，、；：？！）］｝」』】》〉〕〗…‥・·～%’”,.;:!?)]}")   # · separates: never a line start
# may not end a line
NO_END = set("（［｛「『【《〈〔〖‘“([{")


def is_mark(token: str) -> bool:
    """A single pictographic mark drawn as text: ✓ ⚠ ← → ★ ▲ (Unicode symbols)."""
    return len(token) == 1 and unicodedata.category(token) in ("So", "Sm")


def has_cjk(text: str) -> bool:
    return any("\u2e80" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef"
               for ch in text)


NBSP = "\u00a0"


def glue(text: str) -> str:
    """`text` with a no-break space after each mark that leads its words ("✓ Female", "⚠ 打印机…") and between
    a number and the Chinese beside it ("柜 4 号门", "90 分钟"): Kivy never breaks there, so the mark stays on
    the line of its first word and a number with its counter."""
    chars = list(text)
    for i, ch in enumerate(chars[:-1]):
        if is_mark(ch) and chars[i + 1] == " " and (i == 0 or chars[i - 1].isspace()):
            chars[i + 1] = NBSP
    for i in range(1, len(chars) - 1):
        before, after = chars[i - 1], chars[i + 1]
        if chars[i] == " " and ((before.isdigit() and has_cjk(after)) or (has_cjk(before) and after.isdigit())):
            chars[i] = NBSP
    return "".join(chars)


def faults(text: str, lines: list[str]) -> list[tuple[int, str]]:
    """(line index, what is wrong) for every bad break in `lines` (the lines drawn for `text`, in order).

    A break the text asks for ("\\n") is never a fault; a no-break space counts as a space."""
    text = text.replace(NBSP, " ")
    drawn = [line.replace(NBSP, " ").strip() for line in lines]
    kept = [i for i, line in enumerate(drawn) if line]
    hard = _hard_breaks(text, [drawn[i] for i in kept])
    out: list[tuple[int, str]] = []
    words = text.split()
    for n, i in enumerate(kept):
        line = drawn[i]
        tokens = line.split()
        soft_after = n + 1 < len(kept) and not hard[n + 1]
        soft_before = n > 0 and not hard[n]
        if all(is_mark(t) for t in tokens) and len(words) > len(tokens) and (soft_before or soft_after):
            out.append((i, f"the mark {line!r} stands alone on a line"))
        elif is_mark(tokens[-1]) and soft_after:
            out.append((i, f"the line {line!r} ends with the mark {tokens[-1]!r}, cut from its words"))
        if has_cjk(text):
            if soft_before and line[0] in NO_START:
                out.append((i, f"the line {line!r} starts with {line[0]!r} (避头尾)"))
            if soft_after and line[-1] in NO_END:
                out.append((i, f"the line {line!r} ends with {line[-1]!r} (避头尾)"))
    return out


def _hard_breaks(text: str, lines: list[str]) -> list[bool]:
    """For each non-empty drawn line, whether it starts after a "\\n" of the text (or is the first)."""
    spans = line_spans(text, lines)
    out = []
    for n, span in enumerate(spans):
        prev = spans[n - 1] if n else None
        if span is None or prev is None:
            out.append(True)
            continue
        out.append("\n" in text[prev[1]:span[0]])
    return out


def line_spans(text: str, lines: list[str]) -> list[tuple[int, int] | None]:
    """Where each drawn line (stripped, non-empty) is in `text`: (start, end); None once the lines stop
    matching the text (a shortened label)."""
    out: list[tuple[int, int] | None] = []
    pos = 0
    lost = False
    for line in lines:
        start = None
        for ch in line:
            if lost:
                break
            found = text.find(ch, pos)
            if found < 0 or text[pos:found].strip():
                lost = True
                break
            start = found if start is None else start
            pos = found + 1
        out.append(None if lost or start is None else (start, pos))
    return out


def _cjk(ch: str) -> bool:
    return has_cjk(ch)


def rewrap(text: str, lines: list[str]) -> str | None:
    """`text` with one "\\n" inserted so that the first bad break of `lines` does not happen again, or None when
    no break can fix it (the line is too narrow for the words that belong together: the screen must give room)."""
    drawn = [line.strip() for line in lines if line.strip()]
    found = faults(text, drawn)
    if not found:
        return None
    spans = line_spans(text, drawn)
    for i, _why in found:
        cut = _cut(text, drawn, spans, i)
        if cut is not None:
            return text[:cut].rstrip(" ") + "\n" + text[cut:]
    return None


def _cut(text: str, drawn: list[str], spans: list[tuple[int, int] | None], i: int) -> int | None:
    """Where to break instead so that the fault of line `i` goes away, or None."""
    span = spans[i]
    if span is None:
        return None
    line = drawn[i].replace(NBSP, " ")
    floor = span[0]
    if not all(is_mark(t) for t in line.split()) and (is_mark(line.split()[-1]) or line[-1] in NO_END):
        # the mark (or opening bracket) ends line i: carry it down to the next line
        cut = span[1] - 1
    else:
        # line i starts with closing punctuation (or is a lone mark after its word): carry the last character
        # (Chinese) or the last word (other scripts) of the previous line down with it
        prev = spans[i - 1] if i > 0 else None
        if prev is None:
            return None
        floor = prev[0]
        cut = span[0] - 1
        while cut > floor and text[cut].isspace():
            cut -= 1
        while cut > floor and (text[cut] in NO_START or is_mark(text[cut])):
            cut -= 1
        if not _cjk(text[cut]):
            while cut > floor and not text[cut - 1].isspace():
                cut -= 1
    if cut <= floor or text[cut - 1] == "\n":
        return None
    return cut
