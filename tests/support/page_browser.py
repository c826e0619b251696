"""The analytics page in a real browser: Playwright (PyPI) driving Debian's Chromium (/usr/bin/chromium; no
`playwright install`), every request the page makes recorded, screenshots written under test-output/page/ (kept
out of git by .gitignore) so a reviewer can look at each tab after every run."""

from __future__ import annotations

import urllib.parse
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.support.paths import REPO

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = REPO / "test-output" / "page"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}


@contextmanager
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class PageSession:
    """One browser page on a serve's API port; requested holds the URL of every request it made."""

    def __init__(self, browser, serve, viewport: dict = DESKTOP):
        self.context = browser.new_context(viewport=viewport, accept_downloads=True)
        self.page = self.context.new_page()
        self.base = f"http://{serve.host}:{serve.api_port}"
        self.requested: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requested.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))

    def open(self, query: dict | None = None) -> None:
        """The page with this state in its URL, once it has drawn."""
        suffix = f"?{urllib.parse.urlencode(query)}" if query else ""
        self.page.goto(f"{self.base}/{suffix}")
        self.page.wait_for_selector("body[data-loaded]", state="attached")

    def after(self, action) -> None:
        """Run action (a click, a choice) and wait until the load it starts has drawn."""
        before = int(self.page.evaluate("document.body.dataset.loaded || 0"))
        action()
        self.page.wait_for_function("n => Number(document.body.dataset.loaded || 0) > n", arg=before)

    def state(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.page.url).query))

    def card(self, figure: str) -> str:
        return self.page.inner_text(f'.card[data-figure="{figure}"] .value', timeout=5000)

    def column(self, table: str, column: str) -> list[str]:
        return self.page.locator(f'#{table} tbody td[data-column="{column}"]').all_inner_texts()

    def rows(self, table: str) -> list[dict[str, str]]:
        """The table's shown rows as {column: text}."""
        return self.page.evaluate("""id => [...document.querySelectorAll(`#${id} tbody tr`)].map(row =>
            Object.fromEntries([...row.querySelectorAll("td[data-column]")].map(cell =>
                [cell.dataset.column, cell.textContent])))""", table)

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def hosts(self) -> set[str]:
        return {urllib.parse.urlsplit(url).hostname for url in self.requested if not url.startswith("data:")}

    def close(self) -> None:
        self.context.close()
