"""The GitHub REST parts wired from the settings, once for serve and for `github backfill` without serve."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

from clickhouse_connect.driver.client import Client

from cc_analytics.config import Settings
from collector.github.backfill import Backfill
from collector.github.fetch_work import FetchWork
from collector.github.fetcher import Fetcher, RunBlocking, StoreRows
from collector.github.rest_client import GitHubClient, read_token
from exporters.github_labels import PullRequestLabeller


@dataclass
class GitHubFetching:
    github: GitHubClient
    fetcher: Fetcher
    backfill: Backfill
    labeller: PullRequestLabeller | None  # with --github-label-prs


def github_fetching(settings: Settings, client: Client, store_rows: StoreRows, *, run_blocking: RunBlocking,
                    settle: Callable[[], Awaitable[object]]) -> GitHubFetching:
    """Reads --github-token-file (GitHubTokenError when it cannot be used). client: a store client of its own."""
    github = GitHubClient(read_token(settings.github_token_file), settings.github_api_url)
    fetcher = Fetcher(github, FetchWork(client, settings.database), store_rows=store_rows,
                      stored_email=settings.privacy.stored_email,
                      run_blocking=run_blocking, settle=settle)
    labeller = PullRequestLabeller(github, client, settings.database, store_rows=store_rows, run_blocking=run_blocking,
                                   settle=settle) if settings.github_label_prs else None
    return GitHubFetching(github, fetcher, Backfill(github, fetcher, store_rows, settings.github_org_policy), labeller)
