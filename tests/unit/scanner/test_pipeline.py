"""The decode pipeline on simulated frames: every payload kind, dark mode, no code, two codes."""
from __future__ import annotations

import pytest

from drivers.scanner import PlainZbar, QrPipeline, Roi, ZxingDecoder, render
from drivers.scanner.scene import Scene

PAYLOADS = {
    "member": b"M1.MB000001.60000000.ABCDEFGHIJKLMNOP",
    "lending": b"L1.LD00000042.1800086400.ABCDEFGHIJKLMNOP",
    "staff": b"S1.ST0007.ABCDEFGHIJKLMNOP",
    "item": b"I1.U-0001",
    "signed": b"P1.CAR00042.B2.ABCDEFGHIJKLMNOP",
}


@pytest.mark.parametrize("primary", ["zxing", "zbar"])
@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_each_payload_kind_decodes_from_a_phone_in_view(kind: str, primary: str) -> None:
    frame = render(Scene(tilt=12, perspective=0.15, noise=4, seed=3).with_payloads(PAYLOADS[kind]), 640, 480)
    assert QrPipeline(primary=primary).decode(frame) == [PAYLOADS[kind]]


@pytest.mark.parametrize("primary", ["zxing", "zbar"])
def test_dark_mode_phone_decodes_where_plain_zbar_sees_nothing(primary: str) -> None:
    frame = render(Scene(dark_mode=True, tilt=-8, seed=5).with_payloads(PAYLOADS["member"]), 1280, 720)
    assert PlainZbar().decode(frame) == []
    assert QrPipeline(primary=primary).decode(frame) == [PAYLOADS["member"]]


def test_photographed_receipt_decodes() -> None:
    scene = Scene(holder="receipt", size=0.22, perspective=0.25, perspective_axis=120, blur=1.0, seed=9)
    assert QrPipeline().decode(render(scene.with_payloads(PAYLOADS["lending"]), 1280, 720)) == [PAYLOADS["lending"]]


@pytest.mark.parametrize("seed", range(4))
def test_frames_without_a_code_yield_nothing(seed: int) -> None:
    frame = render(Scene(noise=8, seed=seed), 1280, 720)
    for decoder in (QrPipeline(), QrPipeline(primary="zbar"), ZxingDecoder()):
        assert decoder.decode(frame) == []


def test_two_codes_in_one_frame_yield_both() -> None:
    scene = Scene(holder="badge", size=0.22, center=(0.3, 0.5), seed=2)
    frame = render(scene.with_payloads(PAYLOADS["item"], PAYLOADS["staff"]), 640, 480)
    assert sorted(QrPipeline().decode(frame)) == sorted([PAYLOADS["item"], PAYLOADS["staff"]])


def test_code_outside_the_framing_guide_is_not_decoded() -> None:
    frame = render(Scene(size=0.25, center=(0.15, 0.5), seed=1).with_payloads(PAYLOADS["item"]), 1280, 720)
    assert QrPipeline(Roi(0.0, 0.0, 1.0, 1.0)).decode(frame) == [PAYLOADS["item"]]
    assert QrPipeline(Roi(0.4, 0.0, 0.6, 1.0)).decode(frame) == []


def test_roi_rect_stays_inside_the_frame() -> None:
    assert Roi(0.2, 0.05, 0.6, 0.9).rect(1280, 720) == (256, 36, 768, 648)
    x, y, w, h = Roi(0.5, 0.5, 0.5, 0.5).rect(101, 99)
    assert x + w <= 101 and y + h <= 99


def test_greyscale_frames_are_accepted() -> None:
    frame = render(Scene(seed=4).with_payloads(PAYLOADS["item"]), 640, 480)[:, :, 1].copy()
    assert QrPipeline().decode(frame) == [PAYLOADS["item"]]


def test_unknown_primary_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="primary"):
        QrPipeline(primary="magic")
