"""Catalogs: every msgid the UI uses is translated in zh_CN and en, and the font has every glyph shown."""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from PIL import ImageFont

from kiosk.ui.fonts import ensure_fonts
from kiosk.ui.i18n import LANGS, all_catalog_text, build_mo, parse_po, po_path
from kiosk.ui.pictograms import PICTOGRAMS

UI_DIR = Path(__file__).resolve().parents[2] / "kiosk" / "ui"
CALL = re.compile(r"""\b(?:t|notify)\(\s*(['"])((?:(?!\1).)+)\1""")


def used_msgids() -> set[str]:
    """Literal msgids in t(...)/notify(...) calls of every .py and .kv, plus the screens' message tables."""
    ids = set()
    for path in UI_DIR.rglob("*"):
        if path.suffix in (".py", ".kv"):
            ids |= {m.group(2) for m in CALL.finditer(path.read_text(encoding="utf-8"))}
    from kiosk.ui.screens import HOME_TILES

    ids |= {tile.label for tile in HOME_TILES}
    tables = {"attract": ["SLIDES"], "message": ["MESSAGES"], "rating": ["WORDS"], "staff": ["ERRORS"],
              "borrow": ["TITLES", "STATUS_MSGIDS"], "wait": ["TAKE"], "pay": ["STATES", "STORAGE_STATES"],
              "desk_duties": ["REFUSALS", "KIND_WORDS", "CONDITION_WORDS"]}
    for module_name, names in tables.items():
        module = importlib.import_module(f"kiosk.ui.screens.{module_name}")
        for name in names:
            table = getattr(module, name)
            values = table.values() if isinstance(table, dict) else table
            for value in values:
                parts = value if isinstance(value, tuple) else (value,)
                ids |= {p for p in parts if re.search(r"[A-Za-z]{2}", p) and p not in PICTOGRAMS}
    return ids


def has_glyph(font: ImageFont.FreeTypeFont, ch: str, notdef: tuple) -> bool:
    mask = font.getmask(ch)
    return (mask.getbbox(), bytes(mask)) != notdef


def test_every_used_msgid_is_translated_in_both_catalogs(ui_display: str) -> None:
    used = used_msgids()
    assert len(used) > 80
    for lang in LANGS:
        catalog = parse_po(po_path(lang).read_text(encoding="utf-8"))
        missing = sorted(m for m in used if not catalog.get(m))
        assert not missing, f"{lang} lacks {missing}"
    zh = parse_po(po_path("zh_CN").read_text(encoding="utf-8"))
    untranslated = [m for m in used if zh[m] == m and re.search(r"[A-Za-z]{3}", m) and "{" not in m]
    assert not untranslated, f"zh_CN leaves English: {untranslated}"


def test_placeholders_survive_translation() -> None:
    zh = parse_po(po_path("zh_CN").read_text(encoding="utf-8"))
    for msgid, msgstr in zh.items():
        assert set(re.findall(r"\{\w*\}", msgid)) == set(re.findall(r"\{\w*\}", msgstr)), msgid


def test_compiled_catalogs_match_their_sources() -> None:
    for lang in LANGS:
        po = po_path(lang)
        assert po.with_suffix(".mo").read_bytes() == build_mo(parse_po(po.read_text(encoding="utf-8")))


def test_the_font_has_a_glyph_for_every_character_shown() -> None:
    path = ensure_fonts().regular
    font = ImageFont.truetype(str(path), 48)
    missing_mask = font.getmask("\U0010fffd")
    notdef = (missing_mask.getbbox(), bytes(missing_mask))
    assert not has_glyph(font, "\U0010fffd", notdef)  # the check can fail
    text = all_catalog_text()
    # symbols written straight into .kv/.py (icons, stars, arrows) are shown too
    for path in UI_DIR.rglob("*"):
        if path.suffix in (".py", ".kv"):
            text += "".join(ch for ch in path.read_text(encoding="utf-8") if ord(ch) > 127)
    chars = sorted({ch for ch in text if not ch.isspace()})
    assert len(chars) > 300
    missing = [f"{ch} U+{ord(ch):04X}" for ch in chars if not has_glyph(font, ch, notdef)]
    assert not missing, f"no glyph in {path.name}: {missing}"


@pytest.mark.parametrize("lang", LANGS)
def test_catalog_files_parse(lang: str) -> None:
    entries = parse_po(po_path(lang).read_text(encoding="utf-8"))
    assert "Content-Type: text/plain; charset=UTF-8" in entries[""]
