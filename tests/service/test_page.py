"""The reading room at `/`: served from the package, then used as a person would, in headless Chromium."""

import csv
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait
from starlette.types import ASGIApp, Receive, Scope, Send

from model.segment import split_paragraphs
from service.errors import send_error
from service.main import create_app
from service.page import STATIC
from service.settings import Settings
from tests.conftest import REPO
from tests.service.browser import chromium, full_page_screenshot, wait_for_file
from tests.service.helpers import live_server, ready_url, tiny_settings

# Written for this test: the shape of a real web article (title, byline and dateline, subheads, a
# newsletter prompt) around argued paragraphs of two sentences or more, hard-wrapped as plain text often is.
ARTICLE = """Grain, Guns and the Black Sea Corridor

By Tomasz Wierzbicki, Staff Writer
2 June 2026

Ships carrying wheat left the northern ports again this week. Insurers raised their premiums twice,
and three vessels turned back after a mine warning.

What the navies say

Admirals in several capitals want escorts for every convoy. A corridor that depends on the goodwill
of a belligerent, they argue, stays open only as long as he finds it useful. Guns on the water, not
signatures on paper, decide who eats.

What the lawyers say

Others point to the agreement brokered last year by the United Nations. It gave every party a stake
in the trade and a forum for complaints. Where the deal was honoured, ships moved; where it lapsed,
they stopped.

The choice is not either-or. Escorts can keep the lanes safe this season while negotiators rebuild
the agreement for the next.

Subscribe to the morning briefing
"""
HEADINGS = [
    "Grain, Guns and the Black Sea Corridor",
    "By Tomasz Wierzbicki, Staff Writer\n2 June 2026",
    "What the navies say",
    "What the lawyers say",
    "Subscribe to the morning briefing",
]
NAMES = {"realist": "Realist", "liberal_internationalist": "Liberal internationalist", "neither": "Neither"}
MAX_DOCUMENT_CHARS = 5000
KEY = "sesame"
WAIT = 60


class KeyGate:
    """Stands in for a server started with an API key: /v1/* needs `Bearer sesame` (401 otherwise), and the
    key `busy` gets the answer of a full queue."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            authorization = dict(scope["headers"]).get(b"authorization", b"")
            if authorization == b"Bearer busy":
                await send_error(send, 429, "queue_full", "the server is busy; retry shortly")
                return
            if authorization != f"Bearer {KEY}".encode():
                await send_error(send, 401, "unauthorized", "this server needs an API key")
                return
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def base_url(decisive_model_dir: Path) -> Iterator[str]:
    app = create_app(tiny_settings(decisive_model_dir, max_document_chars=MAX_DOCUMENT_CHARS))
    with live_server(app) as url:
        ready_url(url)
        yield url


@pytest.fixture(scope="module")
def gated_url(decisive_model_dir: Path) -> Iterator[str]:
    app = create_app(tiny_settings(decisive_model_dir))
    app.add_middleware(KeyGate)
    with live_server(app) as url:
        ready_url(url)
        yield url


def test_page_is_served_from_the_package_with_nothing_from_outside(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    linked = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "/static/reading.js" in linked and "/static/reading.css" in linked
    assert all(link.startswith(("/", "#", "data:")) for link in linked), linked
    for name in ("reading.js", "reading.css"):
        served = client.get(f"/static/{name}")
        assert served.status_code == 200
        assert served.text == (STATIC / name).read_text()
        assert "http://" not in served.text and "https://" not in served.text
    assert "/" not in client.get("/openapi.json").json()["paths"]
    assert client.get("/static/missing.js").json()["error_type"] == "not_found"


def _read(browser: WebDriver) -> list[WebElement]:
    """Wait until the page says it has read the text; its paragraphs."""
    WebDriverWait(browser, WAIT).until(lambda b: b.find_element(By.ID, "status").text.startswith("Read "))
    return browser.find_elements(By.CSS_SELECTOR, "#paragraphs > li")


def _error(browser: WebDriver, expected: str) -> str:
    """Wait until the error box shows `expected`; all it says."""
    box = browser.find_element(By.ID, "error")
    WebDriverWait(browser, WAIT).until(lambda b: box.is_displayed() and expected in box.text)
    return str(box.text)


def _paste(browser: WebDriver, text: str) -> None:
    """Put text in the box as a paste does (all at once), then tell the page it changed."""
    box = browser.find_element(By.ID, "text")
    browser.execute_script(
        "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'))", box, text
    )


def _top_sentence(paragraph: dict[str, Any]) -> str:
    measured = [s for s in paragraph["explanation"] if s["effect"] is not None]
    top = max(measured, key=lambda s: abs(s["effect"]))
    return " ".join(ARTICLE[top["start"] : top["end"]].split())  # as the browser shows it


def test_reading_an_article_in_the_browser(base_url: str, tmp_path: Path) -> None:
    expected = httpx.post(f"{base_url}/v1/documents", json={"text": ARTICLE, "explain": True}, timeout=WAIT)
    assert expected.status_code == 200
    answer = expected.json()
    paragraphs = answer["paragraphs"]
    assert len(paragraphs) == len(split_paragraphs(ARTICLE)) == 9
    downloads = tmp_path / "downloads"
    with chromium(downloads) as browser:
        browser.get(f"{base_url}/")
        assert browser.title.startswith("stance")

        # An empty paste: a readable message, and the keyboard focus on it.
        browser.find_element(By.ID, "read").click()
        _error(browser, "There is no text to read")
        assert browser.switch_to.active_element.get_attribute("id") == "error"

        # Typed into the box, read with Ctrl+Enter.
        box = browser.find_element(By.ID, "text")
        box.send_keys(ARTICLE)
        box.send_keys(Keys.CONTROL, Keys.ENTER)
        items = _read(browser)
        assert not browser.find_element(By.ID, "error").is_displayed()
        assert browser.switch_to.active_element.get_attribute("id") == "results-title"

        assert len(items) == len(paragraphs)
        assert [item.get_attribute("data-label") for item in items] == [p["label"] for p in paragraphs]
        for item, paragraph in zip(items, paragraphs, strict=True):
            assert NAMES[paragraph["label"]] in item.find_element(By.CSS_SELECTOR, ".badge").text
            marks = [mark.text for mark in item.find_elements(By.TAG_NAME, "mark")]
            if paragraph["text"] in HEADINGS:
                assert "heading" in str(item.get_attribute("class")) and paragraph["label"] == "neither"
                assert not marks
            else:
                # Every argued paragraph has its most decisive sentence marked, and its bars.
                assert _top_sentence(paragraph) in marks
                bars = item.find_elements(By.CSS_SELECTOR, ".bar-track")
                assert [bar.get_attribute("aria-label") for bar in bars] == [
                    f"{NAMES[label]}: {100 * p:.1f}%" for label, p in paragraph["scores"].items()
                ]
        assert [p["text"] for p in paragraphs if p["heading"]] == HEADINGS

        summary = answer["summary"]
        shown = browser.find_element(By.ID, "summary").text
        verdict = browser.find_element(By.CSS_SELECTOR, ".verdict .badge")
        assert summary["overall"] in str(verdict.get_attribute("class")).split()
        assert verdict.text.endswith(NAMES.get(summary["overall"], "Mixed"))
        assert f"{summary['paragraphs']} paragraphs" in shown
        assert f"{len(HEADINGS)} of the neither are headings" in shown

        screenshot = tmp_path / "screens" / "page.png"
        full_page_screenshot(browser, screenshot, 1000)
        assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

        browser.find_element(By.ID, "download-jsonl").click()
        rows = [json.loads(line) for line in wait_for_file(downloads, "stance-paragraphs.jsonl").open()]
        assert [row["label"] for row in rows] == [p["label"] for p in paragraphs]
        assert [row["explanation"] for row in rows] == [p["explanation"] for p in paragraphs]
        assert all(ARTICLE[row["start"] : row["end"]] == row["text"] for row in rows)
        browser.find_element(By.ID, "download-csv").click()
        with wait_for_file(downloads, "stance-paragraphs.csv").open(newline="") as handle:
            table = list(csv.DictReader(handle))
        assert [row["text"] for row in table] == [p["text"] for p in paragraphs]
        assert [float(row[f"score_{label}"]) for row in table for label in NAMES] == [
            p["scores"][label] for p in paragraphs for label in NAMES
        ]
        assert [json.loads(row["explanation"]) for row in table] == [p["explanation"] for p in paragraphs]

        # Readable at phone width (a 390-pixel screen; a headless window is at least 500 wide): nothing wider
        # than the screen.
        metrics = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        assert browser.execute_script("return window.innerWidth") == 390
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

        # A text over the server's limit: its message, not a stack trace.
        _paste(browser, "Too long. " * (MAX_DOCUMENT_CHARS // 10 + 1))
        browser.find_element(By.ID, "read").click()
        assert str(MAX_DOCUMENT_CHARS) in _error(browser, "too long for this server")


def test_key_and_busy_server_messages(gated_url: str, tmp_path: Path) -> None:
    with chromium(tmp_path / "downloads") as browser:
        browser.get(f"{gated_url}/")
        _paste(browser, ARTICLE)
        browser.find_element(By.ID, "read").click()
        _error(browser, "needs an API key")
        assert browser.find_element(By.ID, "key-box").get_attribute("open") is not None

        key = browser.find_element(By.ID, "key")
        key.send_keys("busy")
        browser.find_element(By.ID, "read").click()
        _error(browser, "The server is busy")

        key.clear()
        key.send_keys(KEY)
        browser.find_element(By.ID, "read").click()
        assert len(_read(browser)) == len(split_paragraphs(ARTICLE))


def test_shipped_model_reads_the_example_article(tmp_path: Path) -> None:
    """The README's screenshot: `STANCE_SCREENSHOT=docs/page.png` writes it there instead of a temp folder."""
    article = (REPO / "examples" / "demo" / "article.txt").read_text()
    target = Path(os.environ.get("STANCE_SCREENSHOT") or tmp_path / "page.png")
    with live_server(create_app(Settings(model_dir=REPO / "models" / "default"))) as url:
        ready_url(url)
        answer = httpx.post(
            f"{url}/v1/documents", json={"text": article, "explain": True}, timeout=WAIT
        ).json()
        with chromium(tmp_path / "downloads", width=900) as browser:
            browser.get(f"{url}/")
            _paste(browser, article)
            browser.find_element(By.ID, "read").click()
            items = _read(browser)
            labels = [item.get_attribute("data-label") for item in items]
            assert labels == [p["label"] for p in answer["paragraphs"]]
            # The furniture of a web article reads `neither`: title, byline, subheads (by rule) and the
            # newsletter prompt (by the model).
            furniture = [p for p in answer["paragraphs"] if p["heading"] or p["text"].startswith("Sign up")]
            assert len(furniture) == 5 and {p["label"] for p in furniture} == {"neither"}
            assert browser.find_elements(By.CSS_SELECTOR, "#paragraphs mark")
            browser.execute_script("window.scrollTo(0, 0)")
            full_page_screenshot(browser, target, 900)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
