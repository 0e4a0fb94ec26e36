"""Chinese is drawn in the Simplified Chinese face of Noto Sans CJK, not the Japanese one (issue 13)."""
from __future__ import annotations

from pathlib import Path

from fontTools.ttLib import TTFont

from kiosk.ui.fonts import COLLECTIONS, SC_FACE, SC_NAME, ensure_fonts, extract_face, face_name
from kiosk.ui.i18n import parse_po, po_path

JP_FACE = 0


def zh_characters() -> set[str]:
    catalog = parse_po(po_path("zh_CN").read_text(encoding="utf-8"))
    return {ch for msgstr in catalog.values() for ch in msgstr if ord(ch) > 0x2000 and not ch.isspace()}


def glyphs(path: Path, chars: set[str], index: int = 0) -> dict[str, str]:
    """character → glyph name. The faces of Noto's .ttc share one CFF glyph set and differ in their cmaps,
    so two faces draw a character alike exactly when they map it to the same glyph."""
    font = TTFont(str(path), fontNumber=index, lazy=True)
    try:
        cmap = font.getBestCmap()
        return {ch: cmap.get(ord(ch), ".notdef") for ch in chars}
    finally:
        font.close()


def test_every_zh_catalog_character_comes_from_the_sc_face() -> None:
    chars = zh_characters()
    assert len(chars) > 300
    registered = ensure_fonts().regular
    assert face_name(registered) == SC_NAME
    ours = glyphs(registered, chars)
    sc = glyphs(COLLECTIONS["regular"], chars, SC_FACE)
    jp = glyphs(COLLECTIONS["regular"], chars, JP_FACE)
    assert ".notdef" not in ours.values()
    differ = [ch for ch in chars if ours[ch] != sc[ch]]
    assert not differ, f"not drawn from the SC face: {''.join(sorted(differ))}"
    # the check can fail: the JP face (what Kivy used to load) draws many of these characters differently
    jp_shapes = {ch for ch in chars if jp[ch] != sc[ch]}
    assert len(jp_shapes) > 100 and {"返", "门", "关", "免"} <= jp_shapes


def test_bold_is_the_sc_face_too() -> None:
    assert face_name(ensure_fonts().bold) == SC_NAME + " Bold"


def test_kivy_draws_labels_with_the_sc_face(ui_display: str, tmp_path: Path) -> None:
    """What a Kivy label shows for 返回 is pixel for pixel the SC file and differs from the JP face."""
    from kivy.core.text import Label as CoreLabel

    def pixels(font_name: str | None) -> bytes:
        label = CoreLabel(text="返回 门 关 免费", font_size=64, **({"font_name": font_name} if font_name else {}))
        label.refresh()
        return bytes(label.texture.pixels)

    jp = extract_face(COLLECTIONS["regular"], JP_FACE, tmp_path / "jp.otf")
    default = pixels(None)
    assert default == pixels(str(ensure_fonts().regular))
    assert default != pixels(str(jp))
