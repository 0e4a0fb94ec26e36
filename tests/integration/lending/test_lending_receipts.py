"""A borrow and a return end on paper: the virtual printer over real TCP shows the receipt and its QR."""
from __future__ import annotations

from pathlib import Path

from PIL import Image
from pyzbar.pyzbar import decode

from drivers.printer.virtual import VirtualPrinter
from tests.fixtures.station import make_stack

ROOT = Path(__file__).resolve().parents[3]


def test_borrow_and_return_print_receipts_whose_qr_is_the_return_token(tmp_path: Path) -> None:
    printer = VirtualPrinter(tmp_path / "paper", port=0).start()
    extra = (f'[printer]\nprofile = "{ROOT / "device_profiles/printers/epson-tm-t20ii-cn.yaml"}"\n'
             f'connection = {{ type = "network", host = "127.0.0.1", port = {printer.port} }}\n')
    stack = make_stack(tmp_path, extra_toml=extra)
    try:
        stack.start_sim("U1", auto_take=0.1)
        stack.start_sim("U2", fill=0)
        stack.start_sim("P1")
        station = stack.build_station()
        returns = []
        station.lending.on_return(returns.append)

        result = station.lending.borrow(stack.member_code("M10086"), "umbrella")
        assert result.receipt.printed is True
        stack.wait(lambda: len(list((tmp_path / "paper").glob("*.png"))) == 1, what="the lending receipt")
        png = sorted((tmp_path / "paper").glob("*.png"))[0]
        assert Image.open(png).width == 576
        assert [c.data.decode() for c in decode(Image.open(png))] == [result.return_token]
        text = png.with_suffix(".txt").read_text()
        assert "借用凭证" in text and result.lending.item_id in text

        stack.clock.advance(2 * 3600)
        stack.control("U2", {"op": "insert", "item": result.lending.item_id})
        stack.wait(lambda: bool(returns) and len(list((tmp_path / "paper").glob("*.png"))) == 2,
                   what="the return receipt")
        assert returns[0].receipt.printed is True and returns[0].fee_cents == 400
        back = sorted((tmp_path / "paper").glob("*.txt"))[1].read_text()
        assert "归还凭证" in back and "¥4.00" in back and result.lending.item_id in back
    finally:
        stack.close()
        printer.stop()
