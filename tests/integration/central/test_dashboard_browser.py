"""The ops dashboard in headless Debian chromium: a station goes offline, the alert appears, ops acknowledge.

Screenshots of every page go to artifacts/central/ (not committed) for a person to look at.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from server_bridge.central.runner import CentralProcess
from tests.fixtures.central import envelope
from tests.integration.central.browsing import ARTIFACTS, log_in_as, wait_for

pytestmark = pytest.mark.browser


def heartbeat(central: CentralProcess, token: str, paper_out: bool = False) -> None:
    slots = [{"slot": i, "state": "occupied" if i % 3 else "empty", "item": f"U-{i:04d}" if i % 3 else None}
             for i in range(1, 25)]
    banks = [{"slot": i, "state": "occupied", "item": f"P-{i:03d}", "battery": 100 - 7 * i, "charging": True}
             for i in range(1, 13)]
    beat = {"ts": time.time(), "version": "1.4.0", "uptime_s": 7200,
            "printer": {"online": True, "paper_out": paper_out, "paper_near_end": False, "cover_open": False},
            "camera": {"connected": True, "fps": 14.8, "decode_rate": 0.93},
            "lockers": [{"locker_id": "UL1", "item_type": "umbrella", "online": True, "slots": slots, "faults": []},
                        {"locker_id": "PB1", "item_type": "power_bank", "online": True, "slots": banks,
                         "faults": []}],
            "outbox": {"depth": 2, "oldest_age_s": 0.4}}
    r = httpx.post(f"{central.url}/api/v1/stations/K01/heartbeat", json=beat,
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 204


def seed_activity(central: CentralProcess, token: str) -> None:
    now = time.time()
    events, seq = [], 0
    for day in range(7):
        for i in range(3 + day % 4):
            seq += 1
            events.append(envelope(seq, "lending.started", {
                "lending_id": f"L{seq}", "member_id": "M10001", "item_type": "umbrella" if i % 2 else "power_bank",
                "item_id": f"X-{seq}", "station_id": "K01", "started_at": now - day * 86400 - i * 60,
                "due_at": now + 86400}))
    for score in (5, 5, 4, 5, 3, 5):
        seq += 1
        events.append(envelope(seq, "survey.rated", {"flow": "borrow", "score": score, "lang": "zh_CN"}))
    for n, (cat, floor) in enumerate([("parking", "B1"), ("service", "1F"), ("service", "1F"), ("goods", "3F")]):
        seq += 1
        events.append(envelope(seq, "complaint.filed", {
            "complaint_id": f"C-{n}", "category": cat, "floor": floor, "filed_at": now - 7200,
            "text": "<script>document.title='pwned'</script><b>店员态度</b> '; DROP TABLE complaints; --"}))
    seq += 1
    events.append(envelope(seq, "complaint.answered", {"complaint_id": "C-1", "at": now - 5400, "by": "ops-1"}))
    seq += 1
    events.append(envelope(seq, "complaint.closed", {"complaint_id": "C-1", "at": now - 3600}))
    r = httpx.post(f"{central.url}/api/v1/stations/K01/events", json={"events": events},
                   headers={"Authorization": f"Bearer {token}"})
    assert r.json() == {"acked_seq": seq}


@contextmanager
def beating(central: CentralProcess, token: str, paper_out: bool = False) -> Iterator[None]:
    """The station keeps heartbeating (every 0.5 s) while the block runs, then falls silent."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            heartbeat(central, token, paper_out)
            stop.wait(0.5)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def shown_online(driver: object, central: CentralProcess) -> bool:
    from selenium.webdriver.common.by import By

    driver.get(f"{central.url}/?lang=en")  # type: ignore[attr-defined]
    row = driver.find_element(By.ID, "station-K01")  # type: ignore[attr-defined]
    return row.get_attribute("data-status") == "online" and "1.4.0" in row.text


def test_station_goes_offline_alert_appears_and_is_acknowledged(central: CentralProcess, browser: object) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    token = central.add_station("K01")
    seed_activity(central, token)
    log_in_as(driver, central, "olga", "ops")
    with beating(central, token, paper_out=True):
        wait_for(driver, lambda d: shown_online(d, central))  # heartbeats are written within a second
        wait_for(driver, lambda d: "Paper out" in d.find_element(By.ID, "station-K01").text)
        wait_for(driver, lambda d: "Printer out of paper" in d.find_element(By.ID, "recent-alerts").text)
        driver.save_screenshot(str(ARTIFACTS / "fleet-online.png"))  # type: ignore[attr-defined]

    # No more heartbeats: the page refreshes itself and shows the station offline with its alert.
    wait_for(driver, lambda d: d.find_element(By.ID, "station-K01").get_attribute("data-status") == "offline")
    wait_for(driver, lambda d: "Station offline" in d.find_element(By.ID, "recent-alerts").text)
    driver.save_screenshot(str(ARTIFACTS / "fleet-offline.png"))  # type: ignore[attr-defined]

    driver.get(f"{central.url}/alerts")  # type: ignore[attr-defined]
    xpath = "//tr[@data-kind='station_offline'][@data-station='K01']"
    alert_row = driver.find_element(By.XPATH, xpath)  # type: ignore[attr-defined]
    assert alert_row.get_attribute("data-status") == "open"
    alert_row.find_element(By.CSS_SELECTOR, "button.ack").click()
    wait_for(driver, lambda d: d.find_element(By.XPATH, xpath).get_attribute("data-status") == "acknowledged")
    assert "olga" in driver.find_element(By.XPATH, xpath).text  # type: ignore[attr-defined]  (the login, no form field)
    driver.save_screenshot(str(ARTIFACTS / "alerts-acknowledged.png"))  # type: ignore[attr-defined]

    driver.find_element(By.XPATH, xpath).find_element(By.CSS_SELECTOR, "button.resolve").click()
    wait_for(driver, lambda d: "K01" in d.find_element(By.ID, "alert-history").text)
    assert not driver.find_elements(By.XPATH, xpath)  # type: ignore[attr-defined]


def test_every_page_renders_in_both_languages(central: CentralProcess, browser: object) -> None:

    driver = browser
    token = central.add_station("K01")
    seed_activity(central, token)
    log_in_as(driver, central, "olga", "ops")
    with beating(central, token):
        wait_for(driver, lambda d: shown_online(d, central))
        check_pages(driver, central)


def check_pages(driver: object, central: CentralProcess) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{central.url}/stations/K01?lang=zh")  # type: ignore[attr-defined]
    assert len(driver.find_elements(By.CSS_SELECTOR, "#slots-UL1 .slot")) == 24  # type: ignore[attr-defined]
    assert "雨伞" in driver.page_source  # type: ignore[attr-defined]
    driver.save_screenshot(str(ARTIFACTS / "station-zh.png"))  # type: ignore[attr-defined]

    driver.find_element(By.ID, "lang-toggle").click()  # type: ignore[attr-defined]
    wait_for(driver, lambda d: "Umbrella" in d.page_source)
    driver.save_screenshot(str(ARTIFACTS / "station-en.png"))  # type: ignore[attr-defined]

    driver.get(f"{central.url}/kpis")  # type: ignore[attr-defined]  (the language choice is remembered)
    for panel in ("lendings", "satisfaction", "complaint_times", "complaint_heatmap", "uptime"):
        assert driver.find_elements(By.CSS_SELECTOR, f"#kpi-{panel} svg")  # type: ignore[attr-defined]
    assert len(driver.find_elements(By.CSS_SELECTOR, "#kpi-lendings svg rect")) > 7  # type: ignore[attr-defined]
    assert "90" in driver.find_element(By.ID, "kpi-satisfaction").text  # type: ignore[attr-defined]
    driver.set_window_size(1400, 2000)  # type: ignore[attr-defined]
    driver.save_screenshot(str(ARTIFACTS / "kpis-en.png"))  # type: ignore[attr-defined]

    driver.get(f"{central.url}/complaints?lang=zh")  # type: ignore[attr-defined]
    assert driver.title != "pwned"  # type: ignore[attr-defined]
    cell = driver.find_element(By.CSS_SELECTOR, "#complaint-C-0 td.text")  # type: ignore[attr-defined]
    assert "<script>" in cell.text and not cell.find_elements(By.TAG_NAME, "b")
    driver.save_screenshot(str(ARTIFACTS / "complaints-zh.png"))  # type: ignore[attr-defined]
