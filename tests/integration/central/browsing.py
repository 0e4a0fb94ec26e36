"""Headless Chromium for the console tests: the driver fixture, waiting, logging in through the form."""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from server_bridge.central.runner import CentralProcess
from tests.fixtures.console import add_console_user

ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts" / "central"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture
def browser() -> Iterator[object]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("chromium/chromedriver not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="central-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1400,1000", "--lang=zh-CN"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(20)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver: object, condition: object, timeout: float = 20) -> None:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # The fleet page reloads itself, so an element found a moment ago may be gone: look again.
    WebDriverWait(driver, timeout, poll_frequency=0.25,
                  ignored_exceptions=[StaleElementReferenceException, NoSuchElementException]).until(condition)


def log_in(driver: object, central: CentralProcess, username: str, password: str, lang: str = "en") -> None:
    """Through the login form, as a person would."""
    from selenium.webdriver.common.by import By

    driver.get(f"{central.url}/login?lang={lang}")  # type: ignore[attr-defined]
    driver.find_element(By.ID, "username").send_keys(username)  # type: ignore[attr-defined]
    driver.find_element(By.ID, "password").send_keys(password)  # type: ignore[attr-defined]
    driver.find_element(By.ID, "login-submit").click()  # type: ignore[attr-defined]


def log_in_as(driver: object, central: CentralProcess, username: str, role: str) -> str:
    from selenium.webdriver.common.by import By

    password = add_console_user(central.db_url, username, role)
    log_in(driver, central, username, password)
    wait_for(driver, lambda d: d.find_elements(By.ID, "who"))
    return password
