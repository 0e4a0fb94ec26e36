"""The Simplified Chinese face of Noto Sans CJK, extracted from Debian's .ttc at set-up (docs/ui.md "Fonts").

Debian's fonts-noto-cjk ships one collection per weight; its face 0 is the Japanese one, so a font loader that
takes the first face draws 返, 门, 关, 触, 免 … in Japanese shapes. Face 2 is Simplified Chinese: `ensure_fonts`
saves it as a plain .otf under var/fonts/ (not committed; `make fonts` or the first start writes it).

    python -m kiosk.ui.fonts [DIR]   # what the Makefile runs
"""
from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

NOTO_DIR = Path("/usr/share/fonts/opentype/noto")
COLLECTIONS = {"regular": NOTO_DIR / "NotoSansCJK-Regular.ttc", "bold": NOTO_DIR / "NotoSansCJK-Bold.ttc"}
SC_FACE = 2          # 0 JP, 1 KR, 2 SC, 3 TC, 4 HK in Debian's Noto Sans CJK collections
SC_NAME = "Noto Sans CJK SC"
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "var" / "fonts"


@dataclass(frozen=True)
class FontFiles:
    regular: Path
    bold: Path


def font_dir() -> Path:
    return Path(os.environ.get("KIOSK_FONT_DIR") or DEFAULT_DIR)


def face_name(path: Path, index: int = 0) -> str:
    from fontTools.ttLib import TTFont

    font = TTFont(str(path), fontNumber=index, lazy=True)
    try:
        return str(font["name"].getDebugName(4))
    finally:
        font.close()


def extract_face(collection: Path, index: int, target: Path) -> Path:
    """Save face `index` of a .ttc as its own font file (written beside, then renamed: never half a file)."""
    from fontTools.ttLib import TTCollection

    ttc = TTCollection(str(collection), lazy=True)
    try:
        name = str(ttc.fonts[index]["name"].getDebugName(4))
        if index == SC_FACE and not name.startswith(SC_NAME):
            raise ValueError(f"{collection} face {index} is {name!r}, not {SC_NAME!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")  # parallel test workers may extract at the same time
        ttc.fonts[index].save(str(tmp))
    finally:
        ttc.close()
    tmp.replace(target)
    return target


def ensure_fonts(directory: Path | None = None) -> FontFiles:
    """The SC regular and bold faces as .otf files, extracted once."""
    directory = directory or font_dir()
    out = {}
    for weight, collection in COLLECTIONS.items():
        target = directory / f"NotoSansCJKsc-{weight.capitalize()}.otf"
        if not target.exists():
            if not collection.exists():
                raise FileNotFoundError(f"{collection} is missing: install fonts-noto-cjk (the Makefile does)")
            extract_face(collection, SC_FACE, target)
            log.info("ui.font_extracted file=%s", target)
        out[weight] = target
    return FontFiles(regular=out["regular"], bold=out["bold"])


if __name__ == "__main__":
    files = ensure_fonts(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
    print(files.regular, files.bold)
