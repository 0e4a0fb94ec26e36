"""Wrapping mixed Chinese/English by display width: a CJK character is two columns and is never split."""
from __future__ import annotations

import pytest

from drivers.printer.textwidth import display_width, justify, wrap

MIXED = "借用雨伞Umbrella U-0007，请于2025-11-26 00:00前归还 return before due, 超时每小时2元 then ¥2 per hour"


def test_display_width_counts_cjk_as_two_columns() -> None:
    assert display_width("中文AB12") == 8
    assert display_width("，") == 2  # fullwidth punctuation


@pytest.mark.parametrize("columns", [32, 42, 48])
def test_mixed_line_wraps_within_columns_without_losing_characters(columns: int) -> None:
    lines = wrap(MIXED, columns)
    assert len(lines) > 1
    assert all(display_width(line) <= columns for line in lines)
    assert "".join(lines).replace(" ", "") == MIXED.replace(" ", "")
    # greedy: the first word of the next line would not have fitted on this one
    for line, nxt in zip(lines, lines[1:], strict=False):
        head = nxt.split(" ")[0]
        first = head[0] if display_width(head[0]) == 2 else head
        assert display_width(line) + 1 + display_width(first) > columns or display_width(first) == 2 and (
            display_width(line) + display_width(first) > columns)


def test_latin_words_are_not_broken_but_overlong_ones_are_cut_at_characters() -> None:
    assert wrap("return before due", 10) == ["return", "before due"]
    assert wrap("中" * 7, 6) == ["中中中", "中中中", "中"]
    assert wrap("ABCDEFGHIJKL", 5) == ["ABCDE", "FGHIJ", "KL"]


def test_justify_puts_value_flush_right_or_on_its_own_line() -> None:
    assert justify("物品 Item", "雨伞", 20) == ["物品 Item" + " " * 7 + "雨伞"]
    narrow = justify("答复期限 Reply by", "2025-11-27 00:00", 32)
    assert len(narrow) == 2 and narrow[1].endswith("2025-11-27 00:00") and display_width(narrow[1]) == 32


def test_in_chinese_mode_every_non_ascii_character_is_a_kanji_cell() -> None:
    assert display_width("¥2·3") == 4
    assert display_width("¥2·3", cjk_font=True) == 6
    assert wrap("at most ¥10 a day", 11) == ["at most ¥10", "a day"]
    assert wrap("at most ¥10 a day", 11, cjk_font=True) == ["at most", "¥10 a day"]
