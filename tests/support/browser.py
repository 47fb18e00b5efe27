"""A real browser for the page tests: Debian's headless Chromium through Selenium.

`browser` (a pytest fixture, re-exported by tests/browser/conftest.py) gives a fresh
Chromium with its own throwaway profile, closed after the test. It uses the system's
/usr/bin/chromium and /usr/bin/chromedriver (`apt-get install chromium chromium-driver`;
.ci/run installs them): a missing browser FAILS the test and says what to install, and
nothing is downloaded at run time (no Selenium Manager).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("GARAGE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("GARAGE_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
PHONE = (390, 844)  # CSS pixels of a common phone, portrait


def require_chromium() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail(
            f"no browser for the page tests: {', '.join(missing)} missing; "
            "install it: apt-get install chromium chromium-driver",
            pytrace=False,
        )


@pytest.fixture
def browser(settings) -> Iterator[object]:
    """A headless Chromium (Selenium WebDriver) against the live test server."""
    require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    # The live server speaks plain http: cookies marked Secure would never come back.
    settings.CSRF_COOKIE_SECURE = False
    settings.SESSION_COOKIE_SECURE = False
    profile = tempfile.mkdtemp(prefix="garage-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1280,900")  # a desktop; tests resize for phone/tablet
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# Where screenshots go: kept by the CI run (git-ignored).
ARTIFACTS = Path(
    os.environ.get("GARAGE_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts")
)


def screenshot(driver, name: str) -> Path:
    """Saves a PNG of the page under artifacts/ and prints where."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path
