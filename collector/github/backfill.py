"""`github backfill`: the closed pull requests of some repositories updated since a day, stored as PR rows, then
their commits and files fetched by the fetcher's passes.

Idempotent (every table is keyed, a row stored again replaces itself) and resumable: a backfill cut short lists
the PRs again and the work list holds only what was not fetched yet.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone
from typing import Callable

from collector.github import rest_rows
from collector.github.orgs import OrgPolicy
from collector.github.fetcher import Fetcher, StoreRows
from collector.github.rest_client import GitHubClient

LISTING_STAGE = "repositories listed"


@dataclass
class BackfillProgress:
    """What a backfill did so far; serve's GET /api/v1/github/backfill answers it as JSON."""

    stage: str = LISTING_STAGE
    done: int = 0
    total: int = 0
    pull_requests_listed: int = 0
    pull_requests_fetched: int = 0
    commits_fetched: int = 0
    failed: int = 0  # items left on the work list (the next run or serve's fetcher takes them again)
    finished: bool = False
    error: str = ""

    def as_json(self) -> dict:
        return asdict(self)


class Backfill:
    def __init__(self, github: GitHubClient, fetcher: Fetcher, store_rows: StoreRows, orgs: OrgPolicy):
        self._github = github
        self._fetcher = fetcher
        self._store_rows = store_rows
        self._orgs = orgs
        self.progress = BackfillProgress()

    async def run(self, repositories: list[str], since: date,
                  on_progress: Callable[[BackfillProgress], None] = lambda _: None) -> BackfillProgress:
        """Repositories are owner/name, lower-cased; their owners' orgs were checked by the caller."""
        progress = self.progress = BackfillProgress(total=len(repositories))
        try:
            start = datetime.combine(since, datetime.min.time(), tzinfo=timezone.utc)
            for listed, repository in enumerate(repositories, 1):
                await self._list(repository, start, progress)
                progress.done = listed
                on_progress(progress)

            def fetched(stage: str, done: int, total: int) -> None:
                progress.stage, progress.done, progress.total = stage, done, total
                on_progress(progress)

            result = await self._fetcher.run_until_done(fetched)
            progress.pull_requests_fetched, progress.commits_fetched = result.pull_requests, result.commits
            progress.failed = result.failed
        except Exception as error:  # reported to whoever polls; the rows stored so far stay, the rest is resumable
            progress.error = f"{type(error).__name__}: {error}"
            raise
        finally:
            progress.finished = True
            on_progress(progress)
        return progress

    async def _list(self, repository: str, since: datetime, progress: BackfillProgress) -> None:
        org = self._orgs.org_of(repository.split("/", 1)[0])
        if org is None:
            raise BadBackfill(f"{repository}: its owner is not listed in --github-orgs")
        page: list[tuple] = []
        async for pull in self._github.closed_pulls_updated_since(repository, since):
            page.append(rest_rows.pull_request_row(org, repository, pull, time.time_ns() // 1_000_000))
            if len(page) >= 100:
                await self._store_rows("github_pull_requests", page)
                progress.pull_requests_listed += len(page)
                page = []
        if page:
            await self._store_rows("github_pull_requests", page)
            progress.pull_requests_listed += len(page)


class BadBackfill(ValueError):
    """A repository or day a backfill cannot take; the message says what is expected."""


_REPOSITORY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")


def parse_repository(text: str) -> str:
    """OWNER/NAME as given on the command line -> the owner/name key, lower-cased."""
    if not _REPOSITORY.fullmatch(text.strip()):
        raise BadBackfill(f"{text[:120]!r} is not a repository: give OWNER/NAME, e.g. acme/widgets")
    return text.strip().lower()


def parse_since(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise BadBackfill(f"since {str(text)[:40]!r} is not a day: give YYYY-MM-DD") from None
