"""A real browser for page tests: headless Chromium from Debian (`chromium`, `chromium-driver`),
driven by Selenium. Missing binaries fail the test with what to install; never a skip."""

from __future__ import annotations

import os
import shutil
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
# Where screenshots go: kept by the CI run (git-ignored).
ARTIFACTS = Path(
    os.environ.get("GARAGE_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts")
)


def chromium(profile: Path, width: int = 1280, height: int = 900):
    """A headless Chromium with a fresh profile in `profile`; the caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    for exe, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (os.path.exists(exe) or shutil.which(exe)):
            raise AssertionError(f"{exe} not found: apt-get install {package} (or set GARAGE_*)")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    service = Service(CHROMEDRIVER, log_output=str(profile.parent / "chromedriver.log"))
    return webdriver.Chrome(service=service, options=options)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    driver = chromium(tmp_path / "chromium-profile")
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def screenshot(driver, name: str) -> Path:
    """Saves a PNG of the page under artifacts/ and prints where."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path
