"""A GitHub REST API client (api.github.com or GitHub Enterprise Server's https://HOST/api/v3): the few calls the
contribution figures need, with GitHub's paging, conditional requests and rate limits handled once, here.

Requests go one at a time, as GitHub asks of integrations (concurrent requests trip the secondary limit). An
answer GitHub says to wait for (rate limits) or that failed on its side (5xx, no connection) is retried after a
capped, logged wait; past the bounds the call raises GitHubError and the caller leaves the item for a later pass.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import AsyncIterator, Mapping

import aiohttp
from multidict import CIMultiDict

from collector.github.rest_answers import Wait, next_page, rate_limit_wait, retryable_status
from collector.github.rest_rows import time_ms
from plumbing.log_once import RateLimitedLog

log = logging.getLogger(__name__)

API_VERSION = "2022-11-28"
PER_PAGE = 100
REQUEST_TIMEOUT_SECONDS = 60


class GitHubTokenError(ValueError):
    """The token file cannot be used; the message says which file and why (never the token)."""


class GitHubError(RuntimeError):
    """A call GitHub refused, or that still failed after the retries; status 0 when no answer came."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


def read_token(path: str) -> str:
    """The token in path, read once; an unreadable or empty file is a GitHubTokenError."""
    try:
        with open(path, encoding="utf-8") as file:
            token = file.read().strip()
    except (OSError, UnicodeDecodeError) as error:
        raise GitHubTokenError(f"cannot read the GitHub token file {path}: {error}") from None
    if not token:
        raise GitHubTokenError(f"the GitHub token file {path} is empty: put a token in it "
                               "(a fine-grained token with read access to pull requests and contents)")
    return token


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # tries of one request through server errors and lost connections
    first_backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0
    rate_limit_waits: int = 3  # waits one request makes for rate limits before it gives up
    max_wait_seconds: float = 900.0  # no wait is longer, whatever the reset time says


@dataclass
class _Cached:
    etag: str
    body: bytes
    link: str | None


class ResponseCache:
    """ETag -> body of the last answers, least recently used forgotten past max_entries or max_bytes."""

    def __init__(self, max_entries: int = 512, max_bytes: int = 64 * 1024 * 1024):
        self._entries: OrderedDict[str, _Cached] = OrderedDict()
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0

    def get(self, url: str) -> _Cached | None:
        entry = self._entries.get(url)
        if entry is not None:
            self._entries.move_to_end(url)
        return entry

    def put(self, url: str, entry: _Cached) -> None:
        self._drop(url)
        if len(entry.body) > self._max_bytes:
            return
        self._entries[url] = entry
        self._bytes += len(entry.body)
        while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, url: str) -> None:
        old = self._entries.pop(url, None)
        if old is not None:
            self._bytes -= len(old.body)


class GitHubClient:
    def __init__(self, token: str, api_url: str, *, policy: RetryPolicy = RetryPolicy(),
                 cache: ResponseCache | None = None):
        self._api_url = api_url.rstrip("/")
        self._headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION,
                         "User-Agent": "cc-analytics", "Authorization": f"Bearer {token}"}
        self._policy = policy
        self._cache = cache or ResponseCache()
        self._session: aiohttp.ClientSession | None = None
        self._wait_log = RateLimitedLog(log, logging.WARNING)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> "GitHubClient":
        return self

    async def __aexit__(self, *_) -> None:
        await self.close()

    async def pull_request_commits(self, repository: str, number: int) -> list[dict]:
        """The commits of a pull request (GitHub lists up to 250)."""
        return [commit async for page in self._pages(f"/repos/{repository}/pulls/{number}/commits")
                for commit in page]

    async def commit(self, repository: str, sha: str) -> dict:
        """The commit with all its files: a commit of many files pages them, each page the commit again."""
        commit: dict | None = None
        async for page in self._pages(f"/repos/{repository}/commits/{sha}"):
            if commit is None:
                commit = page
            else:
                commit["files"] = [*commit.get("files", []), *page.get("files", [])]
        return commit or {}

    async def closed_pulls_updated_since(self, repository: str, since: datetime) -> AsyncIterator[dict]:
        """Closed pull requests, latest updated first, until one was last updated before since."""
        path = f"/repos/{repository}/pulls?state=closed&sort=updated&direction=desc"
        since_ms = since.timestamp() * 1000
        async for page in self._pages(path):
            for pull in page:
                if time_ms(pull["updated_at"]) < since_ms:
                    return
                yield pull

    async def add_labels(self, repository: str, number: int, labels: list[str]) -> list[str]:
        """Add labels to an issue or pull request (labels it has already stay as they are); its labels after."""
        body, _ = await self._call("POST", self._url(f"/repos/{repository}/issues/{number}/labels"),
                                   {"labels": labels})
        return [label["name"] for label in body]

    def _url(self, path: str) -> str:
        separator = "&" if "?" in path else "?"
        return f"{self._api_url}{path}{separator}per_page={PER_PAGE}"

    async def _pages(self, path: str) -> AsyncIterator:
        url: str | None = self._url(path)
        while url:
            body, url = await self._call("GET", url)
            yield body

    async def _call(self, method: str, url: str, payload: dict | None = None) -> tuple[object, str | None]:
        """The decoded body and the next page's URL, after the waits and retries GitHub's answers ask for."""
        attempt, rate_limited = 0, 0
        while True:
            try:
                status, headers, body = await self._send(method, url, payload)
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                attempt += 1
                if attempt >= self._policy.attempts:
                    raise GitHubError(f"{method} {url}: no answer after {attempt} tries: {error}") from None
                await self._wait(Wait("connection error", self._backoff(attempt)), url)
                continue
            wait = rate_limit_wait(status, headers, time.time())
            if wait is not None:
                rate_limited += 1
                if rate_limited > self._policy.rate_limit_waits:
                    raise GitHubError(f"{method} {url}: still rate limited after {rate_limited - 1} waits", status)
                await self._wait(wait, url)
                continue
            if retryable_status(status):
                attempt += 1
                if attempt >= self._policy.attempts:
                    raise GitHubError(f"{method} {url}: {status} after {attempt} tries", status)
                await self._wait(Wait("server error", self._backoff(attempt)), url)
                continue
            if status >= 400:
                raise GitHubError(f"{method} {url}: {status} {_message(body)}", status)
            return json.loads(body), next_page(headers.get("Link"))

    async def _send(self, method: str, url: str, payload: dict | None) -> tuple[int, Mapping[str, str], bytes]:
        """One request; a 304 answers with the cached body of the ETag it was sent with."""
        cached = self._cache.get(url) if method == "GET" else None
        headers = {**self._headers, "If-None-Match": cached.etag} if cached else self._headers
        async with self._client().request(method, url, headers=headers, json=payload) as response:
            body = await response.read()
            answer_headers = CIMultiDict(response.headers)  # header names' case varies
        if response.status == 304 and cached:
            return 200, {"Link": cached.link} if cached.link else {}, cached.body
        if method == "GET" and response.status == 200 and answer_headers.get("ETag"):
            self._cache.put(url, _Cached(answer_headers["ETag"], body, answer_headers.get("Link")))
        return response.status, answer_headers, body

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:  # made on first use, inside the running loop
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS))
        return self._session

    def _backoff(self, attempt: int) -> float:
        """Exponential with full jitter, so clients that failed together do not come back together."""
        ceiling = min(self._policy.first_backoff_seconds * 2 ** (attempt - 1), self._policy.max_backoff_seconds)
        return random.uniform(ceiling / 2, ceiling)

    async def _wait(self, wait: Wait, url: str) -> None:
        seconds = min(wait.seconds, self._policy.max_wait_seconds)
        self._wait_log.log(f"github:{wait.kind}", "GitHub %s on %s: waiting %.1f s before trying again",
                           wait.kind, url.split("?")[0], seconds)
        await asyncio.sleep(seconds)


def _message(body: bytes) -> str:
    """GitHub's own explanation of a refusal, cut short."""
    try:
        return str(json.loads(body).get("message", ""))[:200]
    except (ValueError, AttributeError):
        return body[:200].decode(errors="replace")
