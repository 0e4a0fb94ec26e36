"""ScanService: payloads become verified, typed events, once per sighting; everything else is refused."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from drivers.scanner import Scene, SimulatedCamera, render
from kiosk.services.scanning import (
    ItemScanned,
    LendingScanned,
    MemberScanned,
    ScanRefused,
    ScanService,
    SignedScanned,
    StaffScanned,
)
from kiosk.tokens import MAX_PAYLOAD, StaffBadge, TokenBook
from tests.fixtures.scanner import SettableClock


class ListDecoder:
    """Hands the service whatever payloads the test puts in front of it (the frame is ignored)."""

    roi = None

    def __init__(self) -> None:
        self.payloads: list[bytes] = []

    def decode(self, frame: object) -> list[bytes]:
        return list(self.payloads)


@pytest.fixture
def decoder() -> ListDecoder:
    return ListDecoder()


@pytest.fixture
def service(scan_tokens: TokenBook, scan_clock: SettableClock, decoder: ListDecoder) -> ScanService:
    return ScanService(None, scan_tokens, clock=scan_clock, debounce_s=3.0, decoder=decoder)


def _scan(service: ScanService, decoder: ListDecoder, *payloads: str | bytes) -> list:
    decoder.payloads = [p.encode() if isinstance(p, str) else p for p in payloads]
    return service.process_frame(object())


def test_each_kind_arrives_as_its_typed_event(service: ScanService, decoder: ListDecoder,
                                              scan_tokens: TokenBook) -> None:
    member = scan_tokens.member_code("MB0001")
    lending = scan_tokens.lending_token("LD0001", 1_900_000_000)
    staff = scan_tokens.staff_badge("ST01")
    signed = scan_tokens.sign("P1", "CAR01")
    events = _scan(service, decoder, member, lending, staff, "I1.U-0001", signed)
    kinds = [type(e) for e in events]
    assert kinds == [MemberScanned, LendingScanned, StaffScanned, ItemScanned, SignedScanned]
    assert events[0].code.member_id == "MB0001" and events[1].token.lending_id == "LD0001"
    assert events[2].badge.staff_id == "ST01" and events[3].label.item_id == "U-0001"
    assert events[4].code.fields == ("CAR01",)


def test_same_payload_within_debounce_is_one_scan(service: ScanService, decoder: ListDecoder,
                                                  scan_clock: SettableClock) -> None:
    seen: list = []
    service.subscribe(seen.append)
    for _ in range(10):  # a phone held in view for 10 frames, then again after 2 s
        _scan(service, decoder, "I1.U-0001")
        scan_clock.advance(0.2)
    assert len(seen) == 1
    scan_clock.advance(3.5)
    _scan(service, decoder, "I1.U-0001")
    assert len(seen) == 2


def test_member_code_shown_again_after_debounce_is_refused_as_replayed(
        service: ScanService, decoder: ListDecoder, scan_tokens: TokenBook, scan_clock: SettableClock) -> None:
    code = scan_tokens.member_code("MB0002")
    assert isinstance(_scan(service, decoder, code)[0], MemberScanned)
    scan_clock.advance(4)
    refused = _scan(service, decoder, code)[0]
    assert isinstance(refused, ScanRefused) and refused.reason == "replayed"


@pytest.mark.parametrize("make, reason", [
    (lambda b: b.member_code("MB0003")[:-4] + "AAAA", "forged"),
    (lambda b: b.member_code("MB0003", at=b.clock() - 300), "expired"),
    (lambda b: b.staff_badge("ST02")[:-1] + ("A" if b.staff_badge("ST02")[-1] != "A" else "B"), "forged"),
    (lambda b: "https://evil.example/?x=1", "unknown"),
    (lambda b: "M1.not-a-code", "malformed"),
    (lambda b: b"\xff\xfe\x00\x01binary", "not_text"),
    (lambda b: "会员码", "not_text"),
    (lambda b: "rm -rf /; \x1b[2J", "not_text"),
    (lambda b: "I1." + "A" * (MAX_PAYLOAD + 10), "too_long"),
])
def test_untrusted_payloads_are_refused_with_a_reason(service: ScanService, decoder: ListDecoder,
                                                      scan_tokens: TokenBook, make, reason: str) -> None:
    event = _scan(service, decoder, make(scan_tokens))[0]
    assert isinstance(event, ScanRefused)
    assert event.reason == reason and event.message


def test_refusals_never_log_the_payload(service: ScanService, decoder: ListDecoder, scan_tokens: TokenBook,
                                        caplog: pytest.LogCaptureFixture) -> None:
    secret = scan_tokens.member_code("MB0004")
    caplog.set_level(logging.DEBUG)
    _scan(service, decoder, secret)
    _scan(service, decoder, secret[:-3] + "ZZZ", "SECRET-JUNK-PAYLOAD-12345")
    text = caplog.text
    assert "scan.accepted" in text and "scan.refused" in text
    assert "MB0004" not in text and secret[-16:] not in text and "SECRET-JUNK" not in text


def test_keypad_entry_is_verified_like_a_scan(service: ScanService, scan_tokens: TokenBook) -> None:
    seen: list = []
    service.subscribe(seen.append)
    code = scan_tokens.member_code("MB0005")
    event = service.submit_manual(f"  {code} ")
    assert isinstance(event, MemberScanned) and event.source == "manual" and seen == [event]
    again = service.submit_manual(code)
    assert isinstance(again, ScanRefused) and again.reason == "replayed"


def test_keypad_only_station_reports_no_camera(service: ScanService) -> None:
    status = service.status()
    assert not status.connected and status.error == "no camera"
    assert service.latest_frame() is None


def test_wait_for_returns_the_wanted_kind_or_none(service: ScanService, scan_tokens: TokenBook) -> None:
    import threading

    timer = threading.Timer(0.05, lambda: (service.submit_manual("junk"),
                                           service.submit_manual(scan_tokens.staff_badge("ST03"))))
    timer.start()
    event = service.wait_for((StaffScanned,), timeout=5)
    timer.join()
    assert isinstance(event, StaffScanned) and event.badge.staff_id == "ST03"
    assert service.wait_for(MemberScanned, timeout=0.05) is None


def test_a_failing_subscriber_does_not_stop_the_others(service: ScanService) -> None:
    seen: list = []

    def broken(event: object) -> None:
        raise RuntimeError("screen bug")

    service.subscribe(broken)
    unsubscribe = service.subscribe(seen.append)
    service.submit_manual("I1.U-0009")
    unsubscribe()
    service.submit_manual("I1.U-0010")
    assert [e.label.item_id for e in seen] == ["U-0009"]


def test_diagnostic_frame_is_written_only_for_staff(scan_tokens: TokenBook, tmp_path: Path) -> None:
    cam = SimulatedCamera(320, 240, fps=30)
    cam.start()
    service = ScanService(cam, scan_tokens)
    service.process_frame(cam.read()[0])
    with pytest.raises(TypeError):
        service.save_diagnostic_frame(tmp_path / "x.png", "ST01")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
    out = service.save_diagnostic_frame(tmp_path / "diag.png", StaffBadge("ST01", "S1.ST01.X"))
    assert out is not None and out.stat().st_size > 0


def test_status_counts_decoded_frames(scan_tokens: TokenBook, scan_clock: SettableClock) -> None:
    cam = SimulatedCamera(640, 480, fps=30, clock=scan_clock)
    cam.start()
    service = ScanService(cam, scan_tokens, clock=scan_clock)
    frame = render(Scene(seed=1).with_payloads("I1.U-0001"), 640, 480)
    for _ in range(10):
        service.process_frame(frame)
        scan_clock.advance(0.1)
    status = service.status()
    assert service.frames_decoded == 10 and status.decode_rate == pytest.approx(2.0)
    assert status.decode_ms is not None and status.decode_ms > 0


@pytest.mark.parametrize("payload, reason", [
    (b"\xff\xfe\x00\x01\x02binary", "not_text"),
    (b"http://shop.example/promo?id=1", "unknown"),
    (("I1." + "7" * 200).encode(), "too_long"),
])
def test_junk_codes_seen_by_the_camera_are_refused(scan_tokens: TokenBook, payload: bytes, reason: str) -> None:
    cam = SimulatedCamera(1280, 720, fps=30)
    cam.start()
    cam.show(payload, size=0.6)
    service = ScanService(cam, scan_tokens)
    events = service.process_frame(cam.read()[0])
    assert len(events) == 1 and isinstance(events[0], ScanRefused) and events[0].reason == reason
