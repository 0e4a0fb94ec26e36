"""Directory search and content validation, on the mall's real content files and on broken copies."""
from __future__ import annotations

import datetime as dt
import io
import shutil
from pathlib import Path

import pytest
from PIL import Image

from kiosk.content import CONTENT_ROOT, ContentError, load_content
from kiosk.services.directory import Directory, UnknownPlace


@pytest.fixture(scope="module")
def directory() -> Directory:
    return Directory(load_content())


def test_pinyin_initials_find_starbucks(directory: Directory) -> None:
    hits = directory.search("xbk")
    assert hits[0].shop.zh == "星巴克"
    assert hits[0].matched == "initials"


@pytest.mark.parametrize("query", ["星巴克", "星巴", "xingbake", "XBK", "Starbucks", "starb", "1F-01"])
def test_chinese_pinyin_english_and_unit_all_find_starbucks(directory: Directory, query: str) -> None:
    assert "星巴克" in [h.shop.zh for h in directory.search(query)]


def test_punctuation_is_ignored_in_english(directory: Directory) -> None:
    assert [h.shop.en for h in directory.search("mcdonalds")] == ["McDonald's"]


def test_polyphonic_override_is_used(directory: Directory) -> None:
    assert [h.shop.unit for h in directory.search("chongqing")] == ["4F-05"]


def test_exact_match_ranks_before_contained(directory: Directory) -> None:
    hits = directory.search("star")
    assert {h.shop.zh for h in hits} == {"星巴克", "星光影城"}
    assert all(h.score == 1 for h in hits)


def test_filters_by_floor_and_category(directory: Directory) -> None:
    hits = directory.search("", category="dining", floor="4F")
    assert hits and all(h.shop.floor == "4F" and h.shop.category == "dining" for h in hits)


def test_nothing_found_is_empty(directory: Directory) -> None:
    assert directory.search("zzzzqqq") == []


def test_shop_map_highlights_the_shop(directory: Directory) -> None:
    png = directory.shop_map_png("1F-01")
    img = Image.open(io.BytesIO(png)).convert("RGB")
    # unit 1F-01 spans x 2..26, y 2..24 on the grid at scale 10: its inside carries the highlight colour
    assert img.getpixel((100, 60)) == (0xFF, 0xB3, 0x00)
    assert img.getpixel((400, 60)) != (0xFF, 0xB3, 0x00)
    assert 'stroke-width="1.2"' in directory.map_svg("1F", "1F-01")


def test_unknown_floor_is_refused(directory: Directory) -> None:
    with pytest.raises(UnknownPlace):
        directory.map_png("9F")


def test_events_running_today(directory: Directory) -> None:
    ids = [e.id for e in directory.events(dt.date(2026, 11, 25))]
    assert "WINTER-SALE" in ids
    assert "WINTER-SALE" not in [e.id for e in directory.events(dt.date(2027, 3, 1))]


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(CONTENT_ROOT, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


def test_bad_category_names_file_and_key(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    text = (root / "shops.yaml").read_text(encoding="utf-8").replace("category: beauty}", "category: beuty}", 1)
    (root / "shops.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ContentError) as exc:
        load_content(root)
    assert exc.value.file.endswith("shops.yaml")
    assert "beuty" in str(exc.value)


def test_charged_service_without_price_is_refused(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    text = (root / "info.yaml").read_text(encoding="utf-8")
    text = "\n".join(line for line in text.splitlines() if not line.strip().startswith("- {service: storage"))
    (root / "info.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ContentError) as exc:
        load_content(root)
    assert exc.value.file.endswith("info.yaml") and "storage" in str(exc.value)


def test_shop_not_on_any_floor_plan_is_refused(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    text = (root / "shops.yaml").read_text(encoding="utf-8").replace("unit: 4F-05", "unit: 4F-09")
    (root / "shops.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ContentError) as exc:
        load_content(root)
    assert exc.value.key.startswith("shops.") and "4F-09" in str(exc.value)


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    with (root / "events.yaml").open("a", encoding="utf-8") as fh:
        fh.write("extra: 1\n")
    with pytest.raises(ContentError) as exc:
        load_content(root)
    assert exc.value.key == "extra"
