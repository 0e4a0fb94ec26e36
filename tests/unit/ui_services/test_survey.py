"""Ratings land in the outbox as survey.rated; bad input is refused naming the field."""
from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.services.survey import SurveyError, SurveyService
from kiosk.store import Store


def test_rating_goes_to_outbox(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    seq = SurveyService(store).rate("borrow_umbrella", 4, "zh_CN")
    [event] = store.outbox_pending()
    assert event.seq == seq and event.type == "survey.rated"
    assert event.data == {"flow": "borrow_umbrella", "score": 4, "lang": "zh_CN"}


@pytest.mark.parametrize(("flow", "score", "lang", "code"), [
    ("borrow_umbrella", 0, "en", "invalid_score"),
    ("borrow_umbrella", 6, "en", "invalid_score"),
    ("borrow_umbrella", 3, "fr", "invalid_lang"),
    ("Borrow!", 3, "en", "invalid_flow"),
])
def test_bad_ratings_are_refused(tmp_path: Path, flow: str, score: int, lang: str, code: str) -> None:
    store = Store(tmp_path / "s.db")
    with pytest.raises(SurveyError) as exc:
        SurveyService(store).rate(flow, score, lang)
    assert exc.value.code == code
    assert store.outbox_pending() == []
