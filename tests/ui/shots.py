"""`make screenshots`: every screen × zh_CN/en × normal/large-text/high-contrast/low-reach into var/screenshots/,
a contact sheet per language, the pictogram sheet, and the layout checker's findings (docs/ui.md "Screenshots").

    .venv/bin/python -m tests.ui.shots [--out var/screenshots] [--screens home,wait] [--modes low_reach] [--langs en]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

LANGS = ("zh_CN", "en")
MODES = ("normal", "large_text", "high_contrast", "low_reach")
W, H = 1080, 1920


def contact_sheet(paths: dict[tuple[str, str], Path], screens: list[str], out: Path, thumb_w: int = 180) -> Path:
    """One row per screen, one column per mode, each picture labelled."""
    from PIL import Image, ImageDraw, ImageFont

    from kiosk.ui.fonts import ensure_fonts

    thumb_h = thumb_w * H // W
    label_h, head_h = 28, 40
    font = ImageFont.truetype(str(ensure_fonts().regular), 18)
    sheet = Image.new("RGB", (thumb_w * len(MODES) + 8 * (len(MODES) + 1),
                              head_h + (thumb_h + label_h + 8) * len(screens)), "white")
    draw = ImageDraw.Draw(sheet)
    for c, mode in enumerate(MODES):
        draw.text((8 + c * (thumb_w + 8), 10), mode, fill="black", font=font)
    for r, screen in enumerate(screens):
        for c, mode in enumerate(MODES):
            path = paths.get((screen, mode))
            x, y = 8 + c * (thumb_w + 8), head_h + r * (thumb_h + label_h + 8)
            if path is not None and path.exists():
                with Image.open(path) as img:
                    sheet.paste(img.convert("RGB").resize((thumb_w, thumb_h)), (x, y + label_h))
            draw.text((x, y + 4), screen, fill="black", font=font)
    sheet.save(out)
    return out


def pictogram_sheet(out: Path) -> Path:
    """Every pictogram drawn by Kivy itself (what the screens show)."""
    from kivy.base import EventLoop
    from kivy.core.window import Window
    from kivy.graphics import Color, Rectangle
    from kivy.uix.gridlayout import GridLayout

    from kiosk.ui.app import save_screenshot
    from kiosk.ui.pictograms import PICTOGRAMS
    from kiosk.ui.widgets import KLabel, Pictogram

    grid = GridLayout(cols=6, padding=24, spacing=16)
    with grid.canvas.before:   # its own background: the sheet is drawn over whatever screen is showing
        Color(0.96, 0.97, 0.97, 1)
        backdrop = Rectangle(pos=(0, 0), size=Window.size)
    grid.bind(size=lambda *_: setattr(backdrop, "size", Window.size))
    for name in sorted(PICTOGRAMS):
        grid.add_widget(Pictogram(name=name, color=(0.11, 0.12, 0.14, 1)))
        grid.add_widget(KLabel(text=name, font_size=26, color=(0.11, 0.12, 0.14, 1), size_hint_y=1))
    Window.add_widget(grid)
    for _ in range(4):
        EventLoop.idle()
    save_screenshot(out)
    Window.remove_widget(grid)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "screenshots")
    parser.add_argument("--screens", default="")
    parser.add_argument("--modes", default="", help="e.g. large_text,low_reach (default: all four)")
    parser.add_argument("--langs", default="", help="e.g. en (default: zh_CN,en)")
    args = parser.parse_args()
    from kiosk.ui.xvfb import Xvfb

    xvfb = None
    if not os.environ.get("DISPLAY"):
        xvfb = Xvfb(W, H).start()
        os.environ["DISPLAY"] = xvfb.display or ""
    tmp = Path(tempfile.mkdtemp(prefix="ui-shots-"))
    os.environ.setdefault("KIVY_HOME", str(tmp / "kivy-home"))
    from kiosk.ui.app import prepare_kivy
    from kiosk.ui.settings import UiSettings

    prepare_kivy(UiSettings(width=W, height=H), windowed=True)
    from kiosk.services.staff import StaffService, write_staff_file
    from kiosk.services.survey import SurveyService
    from kiosk.store import Store
    from kiosk.tokens import TokenBook, TokenKeys
    from kiosk.ui.app import build_app, close_app
    from kiosk.ui.touch import UiDriver
    from tests.fixtures.ui import STAFF_PIN, BareStation, demo_profiles
    from tests.ui.demo import demo_screens, open_screen, with_desk_duties, with_directory
    from tests.ui.layout import problems

    screens = [s for s in args.screens.split(",") if s] or demo_screens()
    started = time.monotonic()
    findings: list[str] = []
    count = 0
    try:
        for lang in [lg for lg in LANGS if lg in (args.langs or ",".join(LANGS)).split(",")]:
            paths: dict[tuple[str, str], Path] = {}
            for mode in [m for m in MODES if m in (args.modes or ",".join(MODES)).split(",")]:
                store = Store(tmp / f"{lang}-{mode}.db")
                tokens = TokenBook(TokenKeys(b"screenshot-site-key-0123456789"))
                write_staff_file(tmp / "staff.toml", {"S-001": ("Wang Fang", STAFF_PIN), "S-002": ("Li Na", "1357")},
                                 iterations=1000)
                station = BareStation(store=store, tokens=tokens, staff=StaffService(store, tokens, time.monotonic,
                                                                                   tmp / "staff.toml"),
                                      survey=SurveyService(store), profiles=demo_profiles())
                with_desk_duties(station, tmp / "incidents")
                with_directory(station)
                flags = {mode: True} if mode != "normal" else {}
                app = build_app(station, UiSettings(width=W, height=H, lang=lang, prewarm=False, **flags))
                ui = UiDriver(app)
                ui.step(2)
                try:
                    for name in screens:
                        open_screen(ui, station, name)
                        ui.step(2)
                        path = ui.screenshot(args.out / lang / mode / f"{name}.png")
                        paths[(name, mode)] = path
                        count += 1
                        findings += [f"{lang}/{mode}/{name}: {p}" for p in problems(app, low_reach=mode == "low_reach")]
                    if lang == LANGS[0] and mode == "normal":
                        print(pictogram_sheet(args.out / "pictograms.png"))   # drawn while an app runs
                finally:
                    close_app(app)
                    store.close()
            sheet = contact_sheet(paths, screens, args.out / f"contact-{lang}.png")
            print(f"{sheet}")
    finally:
        if xvfb is not None:
            xvfb.stop()
    print(f"{count} screenshots in {time.monotonic() - started:.0f} s under {args.out}")
    for line in findings:
        print("layout:", line)
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
