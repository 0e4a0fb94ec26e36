"""The plain bugs of issue 13, each pinned by a test that failed before its fix."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from kiosk.services.lending import ReturnResult
from kiosk.services.lostfound import LostFound
from kiosk.ui.health_words import camera_words, other_lines, printer_words
from tests.ui.demo import T0, open_screen, sample_lending


def title(ui: Any) -> str:
    return str(ui.app.current_screen().ids.frame.title)


@pytest.mark.parametrize(("lang", "expected"), [("zh_CN", "借童车"), ("en", "Borrow a stroller")])
def test_the_stroller_borrow_screen_is_titled_for_strollers(make_ui, bare_station, lang: str,
                                                            expected: str) -> None:
    ui = make_ui(bare_station, lang=lang)
    ui.app.go("borrow", item_type="stroller")
    ui.step(2)
    assert title(ui) == expected


def test_the_member_level_is_shown_in_words_not_as_its_key(make_ui, bare_station) -> None:
    ui = make_ui(bare_station)
    screen = ui.app.go("member")
    ui.step(2)
    for lang, words in (("zh_CN", "银卡会员"), ("en", "Silver member")):
        text = screen.summary("shown", "silver", "李*", 3400, 0, lang)
        assert words in text and "silver" not in text
    assert "platinum" not in screen.summary("shown", "platinum", "E*** C***", 1, 0, "en")
    assert "diamond" not in screen.summary("shown", "diamond", "E*** C***", 1, 0, "en")  # unknown: plain Member


def test_a_lost_item_report_asks_when_it_was_lost(make_ui, bare_station, tmp_path: Path) -> None:
    lf = LostFound(store=bare_station.store, tokens=bare_station.tokens, photo_dir=tmp_path / "photos",
                   station_id="K01")
    bare_station.lostfound = lf
    ui = make_ui(bare_station)
    screen = ui.app.go("lostfound")
    ui.step(2)
    [wallet] = [b for b in ui.buttons() if b.text.endswith("钱包")]
    ui.tap(wallet)
    ui.tap_text("登记我丢失的物品")
    assert "请选择丢失的时间" in screen.ids.frame.notice
    assert bare_station.store.query("SELECT * FROM desk_lost_reports") == []
    ui.tap_text("昨天")
    ui.tap_text("登记我丢失的物品")
    [row] = bare_station.store.query("SELECT lost_at FROM desk_lost_reports")
    now = lf.clock()
    midnight = time.mktime(time.localtime(now)[:3] + (0, 0, 0, 0, 0, -1))
    assert midnight - 86400 <= row["lost_at"] < midnight, "yesterday, as the shopper said (not now - 6 h)"


@pytest.mark.parametrize("seconds", [0.0, 30.0, 59.0])
def test_a_return_within_a_minute_never_says_0_minutes(make_ui, bare_station, seconds: float) -> None:
    ui = make_ui(bare_station)
    screen = ui.app.go("returned", result=ReturnResult(sample_lending(), "U-0007", "U1", 3, 0, seconds, False))
    ui.step(2)
    zh = screen.summary(screen.found, screen.minutes, screen.fee_cents, screen.bought, "zh_CN")
    assert "0 分钟" not in zh and "。 " not in zh, zh
    assert zh == "本次借用不到 1 分钟。免费。"
    en = screen.summary(screen.found, screen.minutes, screen.fee_cents, screen.bought, "en")
    assert en == "You had it for less than a minute. No fee."


def test_diagnostics_speak_words_not_python_reprs(make_ui, bare_station) -> None:
    bare_station.extra_health = {
        "printer": {"online": True, "paper_out": False, "paper_near_end": False, "cover_open": False},
        "camera": {"connected": True, "fps": 12.9, "decode_rate": 4.6, "last_frame_age_s": 0.0, "error": None},
        "ts": T0, "version": "0.1.0", "uptime_s": 3725.0, "mqtt": {"stats": {}},
        "disk": {"free_bytes": 20e9, "total_bytes": 64e9}}
    ui = make_ui(bare_station, lang="en")
    screen = open_screen(ui, bare_station, "diagnostics")
    ui.wait_until(lambda: screen._health is not None, 5, "health")
    ui.step(2)
    text = "\n".join(ui.visible_texts())
    for raw in ("=True", "=False", "None", "stats=", "ts:", "uptime_s", "oldest_s", "{", "fps 0.0"):
        assert raw not in text, f"{raw!r} shown: {text}"
    assert "Printer: ready" in text and "Running for 1 h 2 min" in text and "Software version 0.1.0" in text


def test_health_words_cover_each_printer_state() -> None:
    def t(s: str) -> str:
        return s
    assert printer_words({"online": False}, t) == "not answering"
    assert printer_words({"online": True, "paper_out": True}, t) == "out of paper"
    assert camera_words({"connected": False}, t) == "no picture"
    assert other_lines({"outbox": {"depth": 2, "oldest_age_s": 125}}, t) == [
        "Records to send: 2 waiting, the oldest for 2 min"]


def test_the_english_receipt_screen_says_borrowed_like_the_chinese_one(make_ui, bare_station) -> None:
    ui = make_ui(bare_station, lang="en")
    open_screen(ui, bare_station, "receipt")
    assert title(ui) == "Borrowed"
    ui.tap_text("中文")
    assert title(ui) == "借用成功"


def test_an_out_of_service_tile_keeps_its_pictogram_and_its_words(make_ui, bare_station) -> None:
    """The locker link down (tests/integration/station/test_start_degraded.py): the grey Return tile drew its
    pictogram at about 30 px beside the 110 px of "More services", and in low reach the greyed tiles showed only
    the last line of their words ("service")."""
    from tests.ui.demo import open_screen

    for low_reach in (False, True):
        ui = make_ui(bare_station, lang="en", low_reach=low_reach)
        home = open_screen(ui, bare_station, "home_out_of_service")
        ui.step(3)
        tiles = {w.tile_id: w for w in home.ids.tiles.children}
        assert tiles["return"].out_of_service and not tiles["desk"].out_of_service
        if not low_reach:
            assert tiles["return"].picture_side >= 0.75 * tiles["desk"].picture_side, \
                (tiles["return"].picture_side, tiles["desk"].picture_side)
        for tile in tiles.values():
            drawn = " ".join("".join(w.text for w in line.words) for line in tile._label._cached_lines)
            assert tile.text.split("\n")[0] in drawn.replace("\u00a0", " "), (tile.text, drawn)
