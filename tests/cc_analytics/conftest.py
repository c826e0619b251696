"""The browser the page and sign-in tests drive: Debian's Chromium through Playwright, one per test module."""

from __future__ import annotations

import pytest

from tests.support.page_browser import chromium


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser
