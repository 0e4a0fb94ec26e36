"""gettext catalogs (zh_CN default, en) under kiosk/ui/locale: .po sources compiled to .mo in code.

msgids are the English source strings; placeholders use str.format names ("{seconds}").
"""
from __future__ import annotations

import ast
import gettext
import io
import logging
import struct
from pathlib import Path

log = logging.getLogger(__name__)

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "kiosk"
LANGS = ("zh_CN", "en")
DEFAULT_LANG = "zh_CN"


def parse_po(text: str) -> dict[str, str]:
    """msgid → msgstr of a .po file (no plurals, no contexts: the UI does not use them)."""
    entries: dict[str, str] = {}
    msgid: list[str] | None = None
    msgstr: list[str] | None = None
    current: list[str] | None = None

    def flush() -> None:
        if msgid is not None and msgstr is not None:
            entries["".join(msgid)] = "".join(msgstr)

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("msgid "):
            flush()
            msgid, msgstr = [], None
            current = msgid
            line = line[6:]
        elif line.startswith("msgstr "):
            msgstr = []
            current = msgstr
            line = line[7:]
        if current is None or not line.startswith('"'):
            raise ValueError(f"line {lineno}: cannot parse {raw!r}")
        current.append(ast.literal_eval(line))
    flush()
    return entries


def build_mo(entries: dict[str, str]) -> bytes:
    """GNU .mo bytes (little endian, no hash table) for the given msgid → msgstr map."""
    keys = sorted(entries)
    ids = [k.encode() for k in keys]
    strs = [entries[k].encode() for k in keys]
    header = 7 * 4
    ids_table = header
    strs_table = ids_table + 8 * len(keys)
    data_start = strs_table + 8 * len(keys)
    blob = io.BytesIO()
    id_offsets, str_offsets = [], []
    for b in ids:
        id_offsets.append((len(b), data_start + blob.tell()))
        blob.write(b + b"\0")
    for b in strs:
        str_offsets.append((len(b), data_start + blob.tell()))
        blob.write(b + b"\0")
    out = struct.pack("<7I", 0x950412DE, 0, len(keys), ids_table, strs_table, 0, 0)
    out += b"".join(struct.pack("<2I", *o) for o in id_offsets)
    out += b"".join(struct.pack("<2I", *o) for o in str_offsets)
    return out + blob.getvalue()


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def compile_catalogs() -> list[Path]:
    """Rewrite every .mo whose .po is newer or whose bytes differ; returns the .mo paths written."""
    written = []
    for lang in LANGS:
        po = po_path(lang)
        mo = po.with_suffix(".mo")
        data = build_mo(parse_po(po.read_text(encoding="utf-8")))
        if not mo.exists() or mo.read_bytes() != data:
            try:
                mo.write_bytes(data)
                written.append(mo)
            except OSError as exc:  # a read-only install still runs: load() falls back to the .po
                log.warning("i18n.compile_failed file=%s error=%s", mo, exc.strerror)
    return written


class Catalogs:
    """Translations for every UI language; `t(msgid, lang)` falls back to the msgid."""

    def __init__(self) -> None:
        self._tr: dict[str, gettext.NullTranslations] = {}
        compile_catalogs()
        for lang in LANGS:
            mo = po_path(lang).with_suffix(".mo")
            try:
                with mo.open("rb") as fh:
                    self._tr[lang] = gettext.GNUTranslations(fh)
            except OSError:
                self._tr[lang] = gettext.GNUTranslations(io.BytesIO(
                    build_mo(parse_po(po_path(lang).read_text(encoding="utf-8")))))

    def t(self, msgid: str, lang: str) -> str:
        tr = self._tr.get(lang)
        return tr.gettext(msgid) if tr else msgid

    def msgids(self) -> set[str]:
        return set(parse_po(po_path(DEFAULT_LANG).read_text(encoding="utf-8"))) - {""}


def all_catalog_text() -> str:
    """Every msgid and msgstr of every catalog (for the glyph coverage check)."""
    parts = []
    for lang in LANGS:
        for k, v in parse_po(po_path(lang).read_text(encoding="utf-8")).items():
            if k:
                parts += [k, v]
    return "".join(parts)
