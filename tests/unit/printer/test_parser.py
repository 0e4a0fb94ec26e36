"""The virtual printer parses what python-escpos's own Dummy printer emits for each command it documents."""
from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from escpos.printer import Dummy
from PIL import Image, ImageDraw

from drivers.printer.virtual import VirtualPrinter
from drivers.printer.virtual.parser import Cmd, EscposParser


def _picture() -> Image.Image:
    img = Image.new("RGB", (120, 60), "white")
    ImageDraw.Draw(img).ellipse((10, 5, 110, 55), fill="black")
    return img


COMMANDS: dict[str, Callable[[Dummy], None]] = {
    "text": lambda d: d.textln("Hello receipt 123"),
    "set_styles": lambda d: (d.set(bold=True, underline=2, align="center", font="b", invert=True, flip=True,
                                   smooth=True, density=3), d.text("x\n")),
    "set_sizes": lambda d: (d.set(double_width=True, double_height=True), d.set(custom_size=True, width=3,
                                                                                 height=4), d.text("x\n")),
    "set_with_default": lambda d: d.set_with_default(),
    "qr_native": lambda d: d.qr("L1.LD-1.1.ABCDEFGHIJKLMNOP", native=True, size=6),
    "qr_image_raster": lambda d: d.qr("hello", native=False, image_arguments={"impl": "bitImageRaster"}),
    "qr_image_graphics": lambda d: d.qr("hello", native=False, image_arguments={"impl": "graphics"}),
    "qr_image_column": lambda d: d.qr("hello", native=False, image_arguments={"impl": "bitImageColumn"}),
    "barcode_code128": lambda d: d.barcode("{BU-0007", "CODE128", function_type="B", check=False),
    "barcode_ean13": lambda d: d.barcode("4006381333931", "EAN13"),
    "image_raster": lambda d: d.image(_picture(), impl="bitImageRaster"),
    "image_graphics": lambda d: d.image(_picture(), impl="graphics"),
    "image_column": lambda d: d.image(_picture(), impl="bitImageColumn"),
    "cut_full": lambda d: d.cut(),
    "cut_part": lambda d: d.cut(mode="PART"),
    "cut_nofeed": lambda d: d.cut(feed=False),
    "cashdraw": lambda d: (d.cashdraw(2), d.cashdraw(5)),
    "line_spacing": lambda d: (d.line_spacing(40), d.line_spacing()),
    "ln_and_feed": lambda d: (d.ln(2), d.print_and_feed(3)),
    "control": lambda d: (d.control("LF"), d.control("CR"), d.control("HT"), d.control("SET_HT")),
    "hw": lambda d: (d.hw("INIT"), d.hw("SELECT"), d.hw("RESET")),
    "panel_buttons": lambda d: (d.panel_buttons(False), d.panel_buttons(True)),
    "buzzer": lambda d: d.buzzer(2, 4),
    "charcode": lambda d: (d.charcode("CP858"), d.text("price 5€\n")),
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_python_escpos_command_parses_without_unknown(name: str, tmp_path, capsys) -> None:
    dummy = Dummy(profile="TM-T20II")
    COMMANDS[name](dummy)
    data = dummy.output
    assert data, "python-escpos produced nothing"
    vp = VirtualPrinter(tmp_path, width=576)
    vp.feed(data + b"\x1dV\x00")
    assert vp.unknown_commands == []
    assert EscposParser().feed(data) and not EscposParser().buf


def test_drawn_commands_leave_ink_on_the_paper(tmp_path) -> None:
    dummy = Dummy(profile="TM-T20II")
    dummy.image(_picture(), impl="bitImageColumn")
    dummy.cut()
    vp = VirtualPrinter(tmp_path, width=576)
    vp.feed(dummy.output)
    [png] = vp.receipts()
    ink = Image.open(png).convert("L").histogram()[0]
    assert ink > 1000  # the black ellipse, roughly 100x50 dots of it


def test_stream_split_at_every_byte_parses_the_same() -> None:
    dummy = Dummy(profile="TM-T20II")
    dummy.qr("split me", native=True)
    dummy.image(_picture())
    dummy.textln("end")
    data = dummy.output
    whole = EscposParser().feed(data)
    parser = EscposParser()
    pieces = [item for i in range(len(data)) for item in parser.feed(data[i:i + 1])]
    merged: list[object] = []
    for item in pieces:  # text runs arrive byte by byte; join neighbours before comparing
        if merged and type(item).__name__ == "TextRun" and type(merged[-1]).__name__ == "TextRun":
            merged[-1] = type(item)(merged[-1].data + item.data)  # type: ignore[attr-defined]
        else:
            merged.append(item)
    assert merged == whole


def test_unknown_command_is_skipped_logged_and_printing_goes_on(tmp_path, caplog) -> None:
    vp = VirtualPrinter(tmp_path, width=384)
    with caplog.at_level(logging.WARNING):
        vp.feed(b"\x1b@before\n\x1b\xffafter\n\x1dV\x00")
    assert vp.unknown_commands == [b"\x1b\xff"]
    assert "virtual_printer.unknown_command" in caplog.text
    [png] = vp.receipts()
    assert png.with_suffix(".txt").read_text(encoding="utf-8").split() == ["before", "after"]


def test_dle_eot_is_a_command_not_text() -> None:
    assert EscposParser().feed(b"\x10\x04\x01") == [Cmd("DLE EOT", b"\x01")]
