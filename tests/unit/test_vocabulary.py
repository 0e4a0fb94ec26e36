"""One vocabulary (mallcommon.vocabulary): every place that shows or accepts a stored value knows its words.

The drift this guards against: the centre's words said `cat.service` where stations store `attitude`, so the
ops complaints page showed the raw word "attitude".
"""
from __future__ import annotations

import gettext
import html
import time
from pathlib import Path
from typing import get_args

import pytest
import yaml
from fastapi.testclient import TestClient

from device_profiles.locker_schema import LockerProfile
from device_profiles.schema import load_profile_as
from kiosk.services.complaints import ComplaintForm
from mallcommon.vocabulary import (
    CATEGORY_WORDS,
    COMPLAINT_CATEGORIES,
    FLOORS,
    FOUND_CATEGORIES,
    FOUND_WORDS,
    ITEM_TYPES,
    ITEM_WORDS,
)
from server_bridge.central import accounts, security
from server_bridge.central.app import create_app
from server_bridge.central.desk.words import words as desk_words
from server_bridge.central.i18n import t
from server_bridge.central.ingest import ingest_batch
from server_bridge.central.members import seed_demo
from server_bridge.central.schemas import Batch
from server_bridge.central.wiring import build_registry
from tests.fixtures.central import envelope

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "kiosk/ui/locale"


def test_every_value_has_both_words() -> None:
    assert set(ITEM_WORDS) == set(ITEM_TYPES) and set(CATEGORY_WORDS) == set(COMPLAINT_CATEGORIES)
    assert set(FOUND_WORDS) == set(FOUND_CATEGORIES)
    for zh, en in [*ITEM_WORDS.values(), *CATEGORY_WORDS.values(), *FOUND_WORDS.values()]:
        assert zh and en and zh != en


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_centre_has_a_word_for_every_stored_value(lang: str) -> None:
    tr, desk = t(lang), desk_words(lang)
    for category in COMPLAINT_CATEGORIES:
        assert tr(f"cat.{category}") == CATEGORY_WORDS[category][lang == "en"], category
        assert desk[f"cat.{category}"] == CATEGORY_WORDS[category][lang == "en"], category
    for item in ITEM_TYPES:
        assert tr(item) == ITEM_WORDS[item][lang == "en"], item
    for found in FOUND_CATEGORIES:
        assert desk[f"found.{found}"] == FOUND_WORDS[found][lang == "en"], found


def test_the_kiosk_translates_every_word_the_same_way() -> None:
    """The kiosk's screens show the English word as a gettext msgid; its zh_CN catalogue must say the same."""
    zh = gettext.translation("kiosk", localedir=LOCALE, languages=["zh_CN"])
    for value, (word_zh, word_en) in [*CATEGORY_WORDS.items(), *FOUND_WORDS.items()]:
        assert zh.gettext(word_en) == word_zh, value


def test_the_kiosk_accepts_exactly_the_stored_categories_and_floors() -> None:
    assert ComplaintForm(category="attitude", floor="B1", rating=3).category == "attitude"
    with pytest.raises(ValueError):
        ComplaintForm(category="service", rating=3)  # type: ignore[arg-type]
    assert get_args(ComplaintForm.model_fields["category"].annotation) == COMPLAINT_CATEGORIES
    drawn = [f["floor"] for f in yaml.safe_load((ROOT / "kiosk/content/floors.yaml").read_text())["floors"]]
    assert tuple(drawn) == FLOORS


def test_lockers_say_in_their_profile_whether_their_items_are_lent() -> None:
    lent = {p.stem: load_profile_as(p, LockerProfile).lendable for p in (ROOT / "device_profiles/lockers").glob("*.yaml")}
    assert lent == {"umbrella-24": True, "powerbank-12": True, "stroller-6": True, "storage-12": False}


def signed_in_centre(tmp_path: Path, events: list[dict], role: str = "admin") -> TestClient:
    """A centre on SQLite with K01's `events` ingested and a client signed in as `role`."""
    app = create_app(f"sqlite:///{tmp_path / 'central.db'}", eval_every_s=3600)
    db = app.state.central.db
    with db.session() as s:
        seed_demo(s, time.time())
    with db.session() as s:
        ingest_batch(s, "K01", Batch.model_validate({"events": events}), time.time(), build_registry().projections)
    with db.session() as s:  # a console login, as the sign-in page makes one
        accounts.add_user(s, "ops1", role, time.time())
        accounts.set_password(s, "ops1", "a-long-enough-password-1", time.time())
    with db.session() as s:
        user = accounts.authenticate(s, "ops1", "a-long-enough-password-1", time.time())
        cookie = accounts.start_session(s, user, time.time(), "127.0.0.1")
    return TestClient(app, cookies={security.COOKIE: cookie})


def test_the_ops_complaints_page_shows_words_not_stored_values(tmp_path: Path) -> None:
    events = [envelope(i + 1, "complaint.filed", {"complaint_id": f"C-{i}", "category": c, "floor": "1F",
                                                   "filed_at": time.time()})
              for i, c in enumerate(COMPLAINT_CATEGORIES)]
    with signed_in_centre(tmp_path, events) as client:
        for lang, i in (("zh", 0), ("en", 1)):
            page = html.unescape(client.get(f"/complaints?lang={lang}").text)
            for category in COMPLAINT_CATEGORIES:
                assert f"<td>{CATEGORY_WORDS[category][i]}</td>" in page, (lang, category)
                assert f"<td>{category}</td>" not in page, (lang, category)


def test_the_desk_lost_and_found_page_shows_words_not_stored_values(tmp_path: Path) -> None:
    events = [envelope(i + 1, "lostfound.registered", {"item_id": f"F-{i}", "category": c, "place": "1F desk",
                                                        "found_at": time.time(), "registered_by": "S1"})
              for i, c in enumerate(FOUND_CATEGORIES)]
    with signed_in_centre(tmp_path, events) as client:
        for lang, i in (("zh", 0), ("en", 1)):
            page = html.unescape(client.get(f"/desk/ops/lostfound?lang={lang}").text)
            for category in FOUND_CATEGORIES:
                assert f"<td>{FOUND_WORDS[category][i]}</td>" in page, (lang, category)
                assert f"<td>{category}</td>" not in page, (lang, category)
