"""QR payloads: what a shopper's phone, a receipt or a badge shows, and what the station refuses."""
from __future__ import annotations

import pytest

from kiosk.tokens import (
    ItemLabel,
    LendingToken,
    MemberCode,
    StaffBadge,
    TokenBook,
    TokenKeys,
    TokenRejected,
    redact,
)

KEY = b"k" * 32


class FakeClock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def book(clock: FakeClock | None = None) -> TokenBook:
    return TokenBook(TokenKeys(KEY), clock=clock or FakeClock())


def test_member_code_is_accepted_once_then_refused_as_replayed() -> None:
    b = book()
    code = b.member_code("M10086")
    assert b.verify_member(code).member_id == "M10086"
    with pytest.raises(TokenRejected) as exc:
        b.verify_member(code)
    assert exc.value.reason == "replayed"


def test_member_code_accepted_one_step_late_refused_two_steps_late() -> None:
    clock = FakeClock()
    b = book(clock)
    code = b.member_code("M1")
    clock.t += 30
    assert isinstance(b.verify_member(code), MemberCode)
    code2 = b.member_code("M1", at=clock.t - 61)
    with pytest.raises(TokenRejected) as exc:
        b.verify_member(code2)
    assert exc.value.reason == "expired"


def test_forged_member_code_names_forgery() -> None:
    b = book()
    code = b.member_code("M10086")
    other_site = TokenBook(TokenKeys(b"x" * 32), clock=b.clock).member_code("M10086")
    assert other_site != code
    with pytest.raises(TokenRejected) as exc:
        b.verify_member(other_site)
    assert exc.value.reason == "forged"
    tampered = code.replace("M10086", "M10087")
    with pytest.raises(TokenRejected) as exc:
        b.verify_member(tampered)
    assert exc.value.reason == "forged"


@pytest.mark.parametrize("junk", [b"\xff\xfe\x00", "M1.x" * 100, "hello", "javascript:alert(1)", "M1..1.AAAA", ""])
def test_junk_is_not_a_code_we_know(junk: str | bytes) -> None:
    with pytest.raises(TokenRejected):
        book().classify(junk)


def test_classify_returns_typed_tokens() -> None:
    b = book()
    assert isinstance(b.classify(b.lending_token("K01-ABC", 1_900_000_000)), LendingToken)
    assert isinstance(b.classify(b.staff_badge("S007")), StaffBadge)
    assert b.classify("I1.U-U1-01") == ItemLabel("U-U1-01", "I1.U-U1-01")
    b.register_kind("P1")
    code = b.sign("P1", "V1", "2")
    assert b.classify(code).fields == ("V1", "2")
    with pytest.raises(TokenRejected):
        b.classify(code[:-1] + ("A" if code[-1] != "A" else "B"))


def test_payloads_fit_qr_alphanumeric_mode() -> None:
    b = book()
    alnum = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    for code in (b.member_code("M10086"), b.lending_token("K01-0A1B2C3D4E", 1_900_000_000), b.staff_badge("S1")):
        assert set(code) <= alnum and len(code) <= 64


def test_redact_never_shows_the_content() -> None:
    code = book().member_code("M10086")
    assert "M10086" not in redact(code) and redact(code).startswith("M1")


def test_a_url_carrying_a_signed_code_is_read_as_that_code_and_other_urls_are_not() -> None:
    b = book()
    b.register_kind("C1")
    code = b.sign("C1", "T123")
    assert b.classify(f"http://127.0.0.1:8800/desk/t/{code}?lang=zh").fields == ("T123",)
    for url in ("https://evil.example/x", f"https://x/desk/t/{code[:-2]}AA", f"https://x/{b.member_code('M1')}"):
        with pytest.raises(TokenRejected):
            b.classify(url)
