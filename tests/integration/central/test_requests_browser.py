"""广播寻人 at the console in headless Chromium: the urgent request first in its list with its clock, the
announcement text in both languages, an action clicked through the page's own form (CSRF) and audited."""
from __future__ import annotations

import sqlite3
import time

import httpx
import pytest

from server_bridge.central.runner import CentralProcess
from tests.fixtures.central import envelope
from tests.fixtures.console import add_console_user
from tests.integration.central.browsing import ARTIFACTS, log_in, wait_for

# Slow: the same flow runs over plain HTTP in tests/integration/desk/test_broadcast_requests.py (normal run);
# this one adds the click-through and the screenshot artifacts/central/console-request-zh.png.
pytestmark = [pytest.mark.browser, pytest.mark.slow]

RID = "K01-R261130-7Q2M"


def test_an_urgent_request_is_announced_from_the_console(central: CentralProcess, browser: object) -> None:
    from selenium.webdriver.common.by import By

    driver: object = browser
    token = central.add_station("K01")
    filed = time.time() - 120
    data = {"request_id": RID, "code": f"R1.{RID}.AAAAAAAAAAAAAAAA", "kind": "child",
            "traits": {"gender": "male", "colour": "yellow"}, "floor": "2F", "place": "", "last_seen_at": filed - 600,
            "phone_masked": "138****5678", "lang": "zh_CN", "filed_at": filed}
    answer = httpx.post(f"{central.url}/api/v1/stations/K01/events", json={"events": [
        envelope(1, "broadcast.filed", data)]}, headers={"Authorization": f"Bearer {token}"})
    assert answer.json() == {"acked_seq": 1}
    log_in(driver, central, "dana", add_console_user(central.db_url, "dana", "desk"), lang="zh")
    wait_for(driver, lambda d: d.find_elements(By.ID, "who"))

    driver.get(f"{central.url}/desk/ops/requests")  # type: ignore[attr-defined]
    row = driver.find_element(By.CSS_SELECTOR, f"tr[data-request='{RID}']")  # type: ignore[attr-defined]
    assert "紧急" in row.text and "剩余" in row.text  # urgent, its acknowledgement clock running
    row.find_element(By.TAG_NAME, "a").click()
    wait_for(driver, lambda d: d.find_elements(By.ID, "announcement-zh"))
    zh = driver.find_element(By.ID, "announcement-zh").text  # type: ignore[attr-defined]
    assert "广播寻人：一位儿童，男，身穿黄色衣服" in zh and "2F" in zh
    assert "wearing yellow" in driver.find_element(By.ID, "announcement-en").text  # type: ignore[attr-defined]
    assert driver.find_element(By.ID, "phone").text == "138****5678"  # type: ignore[attr-defined]
    driver.save_screenshot(str(ARTIFACTS / "console-request-zh.png"))  # type: ignore[attr-defined]
    driver.find_element(By.ID, "act-announced").click()  # type: ignore[attr-defined]
    wait_for(driver, lambda d: d.find_element(By.ID, "status").text == "已广播")
    assert "dana" in driver.page_source  # type: ignore[attr-defined]  (acknowledged by the login)
    with sqlite3.connect(central.db_url.split("///", 1)[1]) as conn:
        assert conn.execute("SELECT actor, action FROM audit_log WHERE target=?", (f"request:{RID}",)).fetchall() == [
            ("dana", "request.announced")]
