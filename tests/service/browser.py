"""Headless Chromium from Debian (`apt-get install chromium chromium-driver`), driven by Selenium.

Selenium is given both the browser and its driver, so it never looks for (or downloads) either.
"""

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",  # runs as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@contextmanager
def chromium(downloads: Path, width: int = 1000, height: int = 1400) -> Iterator[WebDriver]:
    """A fresh headless Chromium (own profile) that saves downloads into `downloads`."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("the browser tests need Debian's chromium and chromium-driver (.ci/run installs them)")
    downloads.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stance-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
            options.add_argument(flag)
        options.add_experimental_option(
            "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
        )
        browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            yield browser
        finally:
            browser.quit()


def wait_for_file(directory: Path, name: str, timeout: float = 30.0) -> Path:
    """The downloaded file, once Chromium has finished writing it."""
    path = directory / name
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and not any(directory.glob("*.crdownload")):
            return path
        time.sleep(0.05)
    raise AssertionError(f"{name} was not downloaded into {directory} (found {sorted(directory.iterdir())})")


def full_page_screenshot(browser: WebDriver, path: Path, width: int) -> None:
    """Resize the window to the page's height, then save a screenshot of all of it."""
    height = int(browser.execute_script("return document.documentElement.scrollHeight"))
    browser.set_window_size(width, height + 120)  # the window's own frame takes part of its height
    path.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(path)), f"no screenshot written to {path}"
