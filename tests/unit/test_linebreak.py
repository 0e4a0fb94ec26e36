"""Where a wrapped line may not break (kiosk/ui/linebreak.py): pure functions over the lines a label drew."""
from __future__ import annotations

from kiosk.ui.linebreak import NBSP, faults, glue, rewrap


def test_closing_punctuation_at_a_line_start_is_moved_with_the_character_before_it() -> None:
    text = "本服务站暂不提供此项服务\n请使用其他服务站，或咨询服务台。"
    lines = ["本服务站暂不提供此项服务", "请使用其他服务站，或咨询服务台", "。"]
    assert faults(text, lines) == [(2, "the line '。' starts with '。' (避头尾)")]
    assert rewrap(text, lines) == "本服务站暂不提供此项服务\n请使用其他服务站，或咨询服务\n台。"


def test_a_break_the_text_asks_for_is_never_a_fault() -> None:
    assert faults("第一行\n。第二行", ["第一行", "。第二行"]) == []
    assert faults("Done\n✓", ["Done", "✓"]) == []


def test_a_mark_cut_from_its_words_is_a_fault_and_a_leading_one_is_glued() -> None:
    assert faults("✓ Female", ["✓", "Female"]) == [(0, "the mark '✓' stands alone on a line")]
    assert rewrap("✓ Female", ["✓", "Female"]) is None   # no break can help: the screen must give room
    assert faults("Go 3F → shop", ["Go 3F →", "shop"])[0][0] == 0
    assert rewrap("Go 3F → shop", ["Go 3F →", "shop"]) == "Go 3F\n→ shop"
    assert glue("✓ Female") == "✓" + NBSP + "Female" and glue("3F → 5F") == "3F →" + NBSP + "5F"
    assert glue("a✓ b") == "a✓ b"
    # a no-break space counts as a space when checking
    assert faults("✓ Female", ["✓" + NBSP + "Female"]) == []


def test_latin_text_is_not_held_to_chinese_rules() -> None:
    assert faults("Hello there.", ["Hello there", "."]) == []


def test_a_number_stays_with_its_chinese_counter() -> None:
    """"S1 柜 4 号门已打开" broke after "4" at large text: a space beside a Chinese character does not break."""
    assert glue("S1 柜 4 号门已打开") == f"S1{NBSP}柜{NBSP}4{NBSP}号门已打开"
    assert glue("Door 4 of S1") == "Door 4 of S1" and glue("每天最多 ¥10.00") == "每天最多 ¥10.00"
