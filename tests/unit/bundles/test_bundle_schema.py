"""A bundle is checked by the schemas the station loads its files with; the centre keeps and targets versions."""
from __future__ import annotations

import json
import random
from pathlib import Path

import httpx
import pytest

from kiosk.store import Store
from mallcommon.bundle import BundleProblem, bundle_etag, bundle_from_json, parse_bundle
from server_bridge.central.bundles import WantedConfig, roll_out, store_bundle
from server_bridge.central.db import Database
from server_bridge.uploader import Uploader
from tests.unit.bundles.helpers import demo_files


def test_the_demo_bundle_is_valid_and_its_etag_is_stable() -> None:
    files = demo_files()
    bundle = parse_bundle(files)
    assert {"policy.yaml", "content/info.yaml", "profiles/lockers/umbrella-24.yaml"} <= set(files)
    assert bundle.policy.items["umbrella"].fee_per_hour_cents == 200
    again = bundle_from_json(bundle.canonical_json())
    assert bundle_etag(3, again) == bundle_etag(3, bundle) != bundle_etag(4, bundle)


@pytest.mark.parametrize(("name", "edit", "key"), [
    ("policy.yaml", lambda t: t.replace("fee_per_hour_cents: 200", "fee_per_hour_cents: -1"),
     "items.umbrella.fee_per_hour_cents"),
    ("content/info.yaml", lambda t: t + "\nsurprise: 1\n", "surprise"),
    ("content/shops.yaml", lambda t: t.replace("unit: B1-01,", "unit: B9-99,"), "shops.0.unit"),
    ("profiles/lockers/umbrella-24.yaml", lambda t: t.replace("kind: locker", "kind: printer"), "kind"),
    ("content/floors.yaml", lambda t: "[1, 2]", "(file)"),
])
def test_a_bad_file_is_refused_naming_the_file_and_key(name: str, edit: object, key: str) -> None:
    files = demo_files()
    files[name] = edit(files[name])  # type: ignore[operator]
    with pytest.raises(BundleProblem) as refused:
        parse_bundle(files)
    assert (refused.value.file, refused.value.key) == (name, key), refused.value


def test_a_bundle_is_whole_and_names_only_known_files() -> None:
    files = demo_files()
    del files["content/events.yaml"]
    with pytest.raises(BundleProblem, match="missing"):
        parse_bundle(files)
    with pytest.raises(BundleProblem, match="not a bundle file"):
        parse_bundle({**demo_files(), "../etc/passwd": "a: 1"})


def test_wanted_version_per_station_or_for_all(central_db: Database) -> None:
    bundle = parse_bundle(demo_files())
    with central_db.session() as s:
        v1 = store_bundle(s, bundle, "ops1").version
        v2 = store_bundle(s, bundle, "ops1", note="again").version
        roll_out(s, v1, None, "ops1")
        roll_out(s, v2, ["K02"], "ops1")
    wanted = WantedConfig(central_db)
    wanted.refresh()
    assert (v1, v2) == (1, 2)
    assert wanted.answer("K01", None) == {"version": 1, "etag": bundle_etag(1, bundle)}
    assert wanted.answer("K01", 1) is None  # runs what it should: the heartbeat answer stays empty (204)
    assert wanted.answer("K02", 1) == {"version": 2, "etag": bundle_etag(2, bundle)}
    with central_db.session() as s:
        roll_out(s, v2, None, "ops1")
    wanted.refresh()
    assert wanted.answer("K01", 1) == {"version": 2, "etag": bundle_etag(2, bundle)}


def test_the_uploader_hands_the_heartbeat_answer_on(tmp_path: Path) -> None:
    answers: list[dict] = []
    beats: list[dict] = []

    def centre(request: httpx.Request) -> httpx.Response:
        beats.append(json.loads(request.content))
        return httpx.Response(200, json={"config": {"version": 2, "etag": "abc"}})

    up = Uploader(Store(tmp_path / "s.db"), "K01", "http://127.0.0.1:9", "tok",
                  lambda: {"version": "9", "config_version": 1}, rng=random.Random(1),
                  transport=httpx.MockTransport(centre), on_answer=answers.append)
    assert up.heartbeat_once()
    assert beats[0]["config_version"] == 1 and answers == [{"config": {"version": 2, "etag": "abc"}}]


def test_a_station_falls_back_to_the_previous_version_when_the_current_one_cannot_start(tmp_path: Path) -> None:
    from kiosk.bundles import BundleStore, start_with
    from kiosk.config import load_config
    from tests.unit.bundles.helpers import ROOT

    text = (ROOT / "station.example.toml").read_text().replace('data_dir = "var/K01"', f'data_dir = "{tmp_path}"')
    (tmp_path / "station.toml").write_text(text)
    config = load_config(tmp_path / "station.toml").model_copy(update={"data_dir": tmp_path})
    store = BundleStore(tmp_path)
    files = demo_files()
    store.write(1, parse_bundle(files))
    cheaper = files["policy.yaml"].replace("fee_per_hour_cents: 200", "fee_per_hour_cents: 100")
    store.write(2, parse_bundle({**files, "policy.yaml": cheaper}))
    store.write_state({"current": 2, "previous": 1})
    reports: list[tuple[str, dict]] = []
    parts = start_with(config, lambda kind, data: reports.append((kind, data)))
    assert parts is not None and parts.effective.version == 2  # both fine: it runs the current one
    assert parts.effective.config.policy.items["umbrella"].fee_per_hour_cents == 100

    (store.folder(2) / "content" / "floors.yaml").write_text("floors: []\n")  # damaged on disk since
    parts = start_with(config, lambda kind, data: reports.append((kind, data)))
    assert parts is not None and parts.effective.version == 1
    assert parts.effective.config.policy.items["umbrella"].fee_per_hour_cents == 200
    assert reports[-1][0] == "config.refused" and reports[-1][1]["rolled_back_to"] == 1
    assert reports[-1][1]["stage"] == "startup" and "floors" in reports[-1][1]["reason"]
    assert store.state() == {"current": 1, "previous": None, "refused": 2}
