"""Remote configuration end to end (issue 15.6): a real central process, two stations built by `bootstrap` on
in-memory lockers, talking to it over HTTP with their own tokens. The heartbeat names the wanted version, the
station fetches, checks, applies or refuses and reports back; the console shows it per station.

The steps the station's threads repeat (`heartbeat_once`, `apply_once`, `drain_once`) are called directly, so
the tests wait for nothing."""
from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from device_profiles import load_profile_as
from device_profiles.locker_schema import LockerProfile
from drivers.locker.inmemory import InMemoryLockerLink
from kiosk.bootstrap import Part, bootstrap
from kiosk.config import load_config
from kiosk.station import Station
from mallcommon.bundle import parse_bundle
from server_bridge.central.db import Database
from server_bridge.central.fleet import add_station
from server_bridge.central.runner import CentralProcess
from tests.fixtures.console import console_user
from tests.unit.bundles.helpers import ROOT, demo_files

LOCKERS = {"U1": "device_profiles/lockers/umbrella-24.yaml", "P1": "device_profiles/lockers/powerbank-12.yaml"}


class Stations:
    """Two stations (K01, K02) of one mall, each with its own token, data folder and in-memory lockers."""

    def __init__(self, tmp: Path, central: CentralProcess) -> None:
        self.tmp, self.central = tmp, central
        (tmp / "site.key").write_text(secrets.token_hex(32))
        policy = yaml.safe_load(demo_files()["policy.yaml"])
        self.policy_toml = _toml_policy(policy)
        self.running: dict[str, Station] = {}
        db = Database(central.db_url)  # registered in-process: a CLI per station costs seconds on a busy machine
        with db.session() as s:
            tokens = {sid: add_station(s, sid, time.time()) for sid in ("K01", "K02")}
        db.dispose()
        for sid, token in tokens.items():
            (tmp / f"{sid}.token").write_text(token)
            self.build(sid)

    def build(self, sid: str) -> Station:
        lockers = "".join(f'\n[[lockers]]\nid = "{lid}"\nprofile = "{ROOT / path}"\n' for lid, path in LOCKERS.items())
        cfg = self.tmp / f"{sid}.toml"
        cfg.write_text(f'site = "test-mall"\nstation_id = "{sid}"\ndata_dir = "{self.tmp / sid}"\n'
                       f'site_key_file = "{self.tmp / "site.key"}"\n[broker]\n[central]\nurl = "{self.central.url}"\n'
                       f'token_file = "{self.tmp / f"{sid}.token"}"\n{lockers}\n{self.policy_toml}')
        config = load_config(cfg)
        link = InMemoryLockerLink({lid: load_profile_as(ROOT / p, LockerProfile) for lid, p in LOCKERS.items()})
        station = bootstrap(config, link=link, parts=Part.UPLOADER | Part.DESK)
        self.running[sid] = station
        return station

    def restart(self, sid: str) -> Station:
        old = self.running[sid]
        if old.uploader is not None:
            old.uploader.stop()
        old.store.close()
        return self.build(sid)

    def beat_and_apply(self, sid: str) -> str | None:
        """One heartbeat, whatever it asked for applied, and the outcome uploaded."""
        station = self.running[sid]
        assert station.uploader is not None and station.applier is not None
        assert station.uploader.heartbeat_once(), station.uploader.status()
        outcome = station.applier.apply_once()
        station.uploader.drain_once()
        return outcome

    def close(self) -> None:
        for station in self.running.values():
            if station.uploader is not None:
                station.uploader.stop()
            station.store.close()


def _toml_policy(policy: dict[str, Any]) -> str:
    lines = ["[policy]"] + [f"{k} = {json.dumps(v)}" for k, v in policy.items() if not isinstance(v, dict)]
    lines.append("parking = {" + ", ".join(f"{k} = {v}" for k, v in policy["parking"].items()) + "}")
    for item, rules in policy["items"].items():
        lines.append(f"[policy.items.{item}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in rules.items() if v is not None]
    return "\n".join(lines) + "\n"


@pytest.fixture
def fleet(tmp_path: Path, central: CentralProcess) -> Iterator[Stations]:
    stations = Stations(tmp_path, central)
    yield stations
    stations.close()


def upload(client: httpx.Client, files: dict[str, str], note: str) -> httpx.Response:
    body = json.dumps({"format": 1, "files": files}, ensure_ascii=False).encode()
    return client.post("/config/versions", data={"note": note},
                       files={"bundle": ("bundle.json", body, "application/json")})


def roll_out(client: httpx.Client, version: int, stations: list[str] | None) -> None:
    data: dict[str, Any] = {"version": str(version), "target": "all" if stations is None else "chosen"}
    if stations:
        data["stations"] = stations
    answer = client.post("/config/rollouts", data=data)
    assert answer.status_code == 303, answer.text[:300]


def page_states(client: httpx.Client) -> dict[str, tuple[str, str, str]]:
    html = client.get("/config?lang=en").text
    import re
    return {m[0]: (m[1], m[2], m[3]) for m in re.findall(
        r'id="cfg-(K0\d)" data-wanted="([^"]*)" data-applied="([^"]*)" data-state="([^"]*)"', html)}


def edited(files: dict[str, str], name: str, old: str, new: str) -> dict[str, str]:
    assert old in files[name], (name, old)
    return {**files, name: files[name].replace(old, new, 1)}


def test_a_bundle_rolled_out_to_one_station_of_two_is_applied_and_reported(fleet: Stations,
                                                                           central: CentralProcess) -> None:
    ops = console_user(central.url, central.db_url, "olga", "ops")
    token = (fleet.tmp / "K01.token").read_text()
    url = f"{central.url}/api/v1/stations/K01/config"
    assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 404  # nothing rolled out
    files = edited(demo_files(), "policy.yaml", "fee_per_hour_cents: 200", "fee_per_hour_cents: 300")
    files = edited(files, "content/events.yaml", "events:\n", "events:\n  - {id: BUNDLE-1, zh: {title: 远程下发的活动}, "
                   "en: {title: An event sent from the centre}, starts: 2020-01-01, ends: 2099-12-31}\n")
    answer = upload(ops, files, "umbrellas 3 yuan an hour")
    assert answer.status_code == 303 and answer.headers["location"] == "/config?stored=1", answer.text[-1500:]
    viewer = console_user(central.url, central.db_url, "vera", "viewer")
    assert viewer.get("/config").status_code == 200  # every role reads; only ops and admin act
    assert viewer.post("/config/rollouts", data={"version": "1"}).status_code == 403
    no_csrf = httpx.post(f"{central.url}/config/rollouts", data={"version": "1"}, cookies=ops.cookies)
    assert no_csrf.status_code == 403
    roll_out(ops, 1, ["K01"])
    got = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
    assert got.status_code == 200 and got.json()["version"] == 1
    assert httpx.get(url, headers={"Authorization": f"Bearer {token}", "If-None-Match": got.headers["etag"]}
                     ).status_code == 304
    other = (fleet.tmp / "K02.token").read_text()
    assert httpx.get(url, headers={"Authorization": f"Bearer {other}"}).status_code == 403
    assert httpx.get(url).status_code == 401

    k01, k02 = fleet.running["K01"], fleet.running["K02"]
    assert k01.lending.item_policy("umbrella").fee_per_hour_cents == 200  # before: its config file
    assert fleet.beat_and_apply("K01") == "applied"
    assert fleet.beat_and_apply("K02") is None  # its heartbeat answer was empty: nothing rolled out to it
    assert k01.lending.item_policy("umbrella").fee_per_hour_cents == 300
    assert k02.lending.item_policy("umbrella").fee_per_hour_cents == 200
    assert k01.directory is not None and "BUNDLE-1" in {e.id for e in k01.directory.content.events}
    assert k01.health().config_version == 1 and k02.health().config_version is None
    assert (k01.config.data_dir / "config" / "v1" / "policy.yaml").is_file()
    assert page_states(ops) == {"K01": ("1", "1", "ok"), "K02": ("", "", "none")}
    station_page = ops.get("/stations/K01?lang=en").text
    assert 'id="station-config" data-applied="1" data-state="ok"' in station_page
    assert fleet.beat_and_apply("K01") is None  # applied: the centre stops asking
    k01.applier.offer({"config": {"version": 7, "etag": "x"}})  # type: ignore[union-attr]  (a stale answer)
    assert k01.applier.apply_once() == "unchanged"  # type: ignore[union-attr]  (its If-None-Match got a 304)

    restarted = fleet.restart("K01")  # and it starts with what it applied
    assert restarted.config_version == 1 and restarted.lending.item_policy("umbrella").fee_per_hour_cents == 300

    roll_out(ops, 1, None)  # now to every station; K02 applies on its applier's own thread, as in `run`
    assert k02.applier is not None and k02.uploader is not None
    k02.applier.start()
    try:
        assert k02.uploader.heartbeat_once()
        deadline = time.monotonic() + 10
        while k02.config_version != 1 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        k02.applier.stop()
    assert k02.config_version == 1 and k02.uploader.drain_once() == 1
    assert page_states(ops) == {"K01": ("1", "1", "ok"), "K02": ("1", "1", "ok")}
    audit = ops.get("/config?lang=en")
    assert audit.status_code == 200
    with sqlite3.connect(central.db_url.split("///", 1)[1]) as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE actor='olga' ORDER BY id")]
    assert [a for a in actions if a.startswith("config.")] == ["config.stored", "config.rolled_out",
                                                               "config.rolled_out"]
    assert "csrf_refused" in actions  # the post without the form's token


def test_bad_bundles_change_nothing_and_are_reported(fleet: Stations, central: CentralProcess) -> None:
    ops = console_user(central.url, central.db_url, "olga", "ops")
    assert upload(ops, demo_files(), "base").status_code == 303
    roll_out(ops, 1, ["K01"])
    assert fleet.beat_and_apply("K01") == "applied"
    k01 = fleet.running["K01"]
    before = (k01.lending.policy, k01.profiles, k01.directory)

    # The centre refuses an invalid bundle at upload, naming file and key, and stores nothing ...
    bad = edited(demo_files(), "content/info.yaml", "number: ", "number: call-")
    refused = upload(ops, bad, "typo in a hotline")
    assert refused.status_code == 422 and "content/info.yaml" in refused.text and "hotlines.0.number" in refused.text
    # ... so one that reaches a station anyway (a tampered database, a centre with older schemas) is refused
    # there at validation: the station checks with its own schemas before writing anything.
    with sqlite3.connect(central.db_url.split("///", 1)[1]) as conn:
        conn.execute("INSERT INTO config_bundles VALUES (2, ?, 'intruder', 'bad', ?, ?)",
                     (time.time(), "0" * 64, json.dumps({"format": 1, "files": bad}, ensure_ascii=False)))
    roll_out(ops, 2, ["K01"])
    assert fleet.beat_and_apply("K01") == "refused"
    assert fleet.beat_and_apply("K01") is None  # refused once: not fetched again
    assert (k01.lending.policy, k01.profiles, k01.directory) == before and k01.config_version == 1
    assert not (k01.config.data_dir / "config" / "v2").exists()
    html = ops.get("/config?lang=en").text
    assert 'data-stage="validation"' in html and "hotlines.0.number" in html
    assert page_states(ops)["K01"] == ("2", "1", "refused")

    # Valid for the centre, but this station's power-bank cabinet would have no fee rule: it fails to start.
    no_power_banks = yaml.safe_load(demo_files()["policy.yaml"])
    del no_power_banks["items"]["power_bank"]
    files = {**demo_files(), "policy.yaml": yaml.safe_dump(no_power_banks)}
    parse_bundle(files)  # every file is valid on its own
    assert upload(ops, files, "no power banks").headers["location"] == "/config?stored=3"
    roll_out(ops, 3, ["K01"])
    assert fleet.beat_and_apply("K01") == "refused"
    assert (k01.lending.policy, k01.profiles, k01.directory) == before and k01.config_version == 1
    assert k01.lending.item_policy("power_bank").price_cents == 9900
    state = json.loads((k01.config.data_dir / "config" / "state.json").read_text())
    assert state["current"] == 1 and state["refused"] == 3 and "trying" not in state
    assert not (k01.config.data_dir / "config" / "v3").exists()
    html = ops.get("/config?lang=en").text
    assert 'data-stage="startup"' in html and "which locker P1 holds" in html
    assert page_states(ops)["K01"] == ("3", "1", "refused")

    # A station that stopped half-way through applying a version refuses it at its next start.
    (k01.config.data_dir / "config" / "state.json").write_text(json.dumps({"current": 1, "trying": 4}))
    restarted = fleet.restart("K01")
    assert restarted.config_version == 1
    restarted.uploader.drain_once()  # type: ignore[union-attr]
    assert 'data-version="4" data-stage="startup"' in ops.get("/config?lang=en").text


@pytest.mark.browser
def test_the_rollout_page_in_chromium(fleet: Stations, central: CentralProcess, browser: object) -> None:
    """An ops user edits a price at the console, rolls it out to K01 only; K02 is sent one it cannot start with.
    Screenshots: artifacts/central/config-rollout-en.png, config-rollout-zh.png."""
    from selenium.webdriver.common.by import By

    from tests.integration.central.browsing import ARTIFACTS, log_in_as, wait_for

    ops = console_user(central.url, central.db_url, "olga", "ops")
    upload(ops, demo_files(), "as shipped")
    roll_out(ops, 1, None)
    assert fleet.beat_and_apply("K01") == fleet.beat_and_apply("K02") == "applied"

    driver = browser
    log_in_as(driver, central, "omar", "ops")
    driver.get(f"{central.url}/config?lang=en")  # type: ignore[attr-defined]
    policy = driver.find_element(By.CSS_SELECTOR, 'textarea[data-file="policy.yaml"]')  # type: ignore[attr-defined]
    driver.execute_script(  # type: ignore[attr-defined]
        "arguments[0].value = arguments[0].value.replace('fee_per_hour_cents: 200', 'fee_per_hour_cents: 300')",
        policy)
    driver.find_element(By.ID, "edit-note").send_keys("umbrellas 3 yuan an hour")  # type: ignore[attr-defined]
    driver.find_element(By.ID, "edit-submit").click()  # type: ignore[attr-defined]
    wait_for(driver, lambda d: d.find_elements(By.ID, "config-stored"))
    assert driver.find_element(By.ID, "config-stored").get_attribute("data-version") == "2"  # type: ignore[attr-defined]

    row = driver.find_element(By.ID, "version-2")  # type: ignore[attr-defined]
    row.find_element(By.CSS_SELECTOR, 'input[name="target"][value="chosen"]').click()
    row.find_element(By.CSS_SELECTOR, 'input[name="stations"][value="K01"]').click()
    row.find_element(By.CSS_SELECTOR, "button.roll-out").click()
    wait_for(driver, lambda d: d.find_elements(By.ID, "config-rolled"))

    driver.get(f"{central.url}/config?lang=en&edit=2")  # type: ignore[attr-defined]
    info = driver.find_element(By.CSS_SELECTOR, 'textarea[data-file="content/info.yaml"]')  # type: ignore[attr-defined]
    driver.execute_script("arguments[0].value = arguments[0].value.replace('number: ', 'number: call-')", info)  # type: ignore[attr-defined]
    driver.find_element(By.ID, "edit-submit").click()  # type: ignore[attr-defined]
    wait_for(driver, lambda d: d.find_elements(By.ID, "config-refused"))
    refusal = driver.find_element(By.ID, "config-refused").text  # type: ignore[attr-defined]
    assert "content/info.yaml" in refusal and "hotlines.0.number" in refusal
    assert not driver.find_elements(By.ID, "version-3")  # type: ignore[attr-defined]  (nothing stored)
    kept = driver.find_element(By.CSS_SELECTOR, 'textarea[data-file="content/info.yaml"]')  # type: ignore[attr-defined]
    assert "number: call-" in kept.get_attribute("value")  # the edit is still there to be corrected
    driver.save_screenshot(str(ARTIFACTS / "config-upload-refused-en.png"))  # type: ignore[attr-defined]

    no_power_banks = yaml.safe_load(demo_files()["policy.yaml"])
    del no_power_banks["items"]["power_bank"]
    upload(ops, {**demo_files(), "policy.yaml": yaml.safe_dump(no_power_banks)}, "power banks forgotten")
    roll_out(ops, 3, ["K02"])
    assert fleet.beat_and_apply("K01") == "applied"
    assert fleet.beat_and_apply("K02") == "refused"
    assert fleet.running["K01"].lending.item_policy("umbrella").fee_per_hour_cents == 300
    assert fleet.running["K02"].lending.item_policy("umbrella").fee_per_hour_cents == 200

    for lang in ("en", "zh"):
        driver.get(f"{central.url}/config?lang={lang}")  # type: ignore[attr-defined]
        k01 = driver.find_element(By.ID, "cfg-K01")  # type: ignore[attr-defined]
        k02 = driver.find_element(By.ID, "cfg-K02")  # type: ignore[attr-defined]
        assert (k01.get_attribute("data-applied"), k01.get_attribute("data-state")) == ("2", "ok")
        assert (k02.get_attribute("data-applied"), k02.get_attribute("data-state")) == ("1", "refused")
        assert "P1" in k02.find_element(By.CSS_SELECTOR, ".refusal").text
        driver.save_screenshot(str(ARTIFACTS / f"config-rollout-{lang}.png"))  # type: ignore[attr-defined]
