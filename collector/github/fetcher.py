"""The REST fetcher: takes the work list (fetch_work.py), fetches each merged PR's commits and each commit's files,
and stores their rows, then the marker rows that take the items off the list.

Rows go to store_rows (serve: Ingestor.store_rows, durable once it returns; the CLI: straight into the store), in
the order rows first, marker last, so a fetch cut short by a failure or a crash is found again by the next pass.
An item GitHub refuses, or that fails past the client's retries, is logged once per kind and left on the list.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

from collector.github import rest_rows
from collector.github.fetch_work import CommitWork, FetchWork, PullRequestWork
from collector.github.rest_client import GitHubClient, GitHubError
from plumbing.log_once import RateLimitedLog
from plumbing.supervisor import TaskStatus

log = logging.getLogger(__name__)

StoreRows = Callable[[str, list[tuple]], Awaitable[None]]
RunBlocking = Callable[[Callable], Awaitable]  # runs a blocking store call (on a thread in serve)
# Called after each item: the stage, how many of its items are done, how many there are.
Progress = Callable[[str, int, int], None]

PULL_REQUESTS_STAGE = "commits of merged pull requests"
COMMITS_STAGE = "files of their commits"


@dataclass
class PassResult:
    pull_requests: int = 0  # fetched completely
    commits: int = 0
    failed: int = 0  # left on the work list for a later pass

    @property
    def fetched(self) -> int:
        return self.pull_requests + self.commits


class Fetcher:
    def __init__(self, github: GitHubClient, work: FetchWork, *, store_rows: StoreRows,
                 stored_email: Callable[[str], str], run_blocking: RunBlocking,
                 settle: Callable[[], Awaitable[object]]):
        self._github = github
        self._work = work
        self._store_rows = store_rows
        self._stored_email = stored_email  # PrivacyPolicy.stored_email: hashed under --hash-emails
        self._run_blocking = run_blocking
        self._settle = settle  # until what was stored is in the store, so the work list sees it
        self._one_pass = asyncio.Lock()  # the timer and a backfill never fetch the same item together
        self._failure_log = RateLimitedLog(log, logging.WARNING)

    async def run_pass(self, progress: Progress | None = None) -> PassResult:
        """Fetch what the work list holds now: PRs' commits, then (once stored) the files of those commits."""
        result = PassResult()
        async with self._one_pass:
            await self._settle()
            pulls = await self._run_blocking(self._work.pull_requests)
            for done, pull in enumerate(pulls, 1):
                result.pull_requests += await self._attempt(self._fetch_pull_request, pull, result)
                _report(progress, PULL_REQUESTS_STAGE, done, len(pulls))
            await self._settle()
            commits = await self._run_blocking(self._work.commits)
            for done, commit in enumerate(commits, 1):
                result.commits += await self._attempt(self._fetch_commit, commit, result)
                _report(progress, COMMITS_STAGE, done, len(commits))
        return result

    async def run_until_done(self, progress: Progress | None = None) -> PassResult:
        """Passes until one fetches nothing more: everything fetched, or only items that fail remain."""
        total = PassResult()
        while True:
            result = await self.run_pass(progress)
            total.pull_requests += result.pull_requests
            total.commits += result.commits
            total.failed = result.failed
            if not result.fetched:
                return total

    async def run_every(self, interval: float, status: TaskStatus,
                        after_pass: Callable[[], Awaitable[None]] | None = None) -> None:
        """serve's timer: a pass (and after_pass, the labeller) every interval seconds, until cancelled."""
        while True:
            result = await self.run_pass()
            if result.fetched or result.failed:
                log.info("GitHub fetch pass: %d pull requests and %d commits fetched, %d left for later",
                         result.pull_requests, result.commits, result.failed)
            if after_pass is not None:
                await after_pass()
            status.progressed()
            await asyncio.sleep(interval)

    async def _attempt(self, fetch, item, result: PassResult) -> int:
        try:
            await fetch(item)
            return 1
        except GitHubError as error:
            result.failed += 1
            self._failure_log.log(f"github:fetch:{error.status}", "GitHub fetch of %s left for the next pass: %s",
                                  item.repository, error)
            return 0

    async def _fetch_pull_request(self, pull: PullRequestWork) -> None:
        commits = await self._github.pull_request_commits(pull.repository, pull.number)
        now = _now_ms()
        org, repository = pull.org_id, pull.repository
        if commits:
            await self._store_rows("github_commits", [
                rest_rows.commit_row(org, repository, commit, self._stored_email, now) for commit in commits])
            await self._store_rows("github_pull_request_commits", [
                rest_rows.pull_request_commit_row(org, repository, pull.number, commit["sha"], now)
                for commit in commits])
        await self._store_rows("github_fetches", [
            rest_rows.pull_request_fetched_row(org, repository, pull.number, pull.head_sha, now)])

    async def _fetch_commit(self, commit: CommitWork) -> None:
        details = await self._github.commit(commit.repository, commit.sha)
        now = _now_ms()
        files = rest_rows.commit_file_rows(commit.org_id, commit.repository, commit.sha,
                                           details.get("files") or [], now)
        if files:
            await self._store_rows("github_commit_files", files)
        await self._store_rows("github_fetches", [
            rest_rows.commit_fetched_row(commit.org_id, commit.repository, commit.sha, now)])


def _report(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
