"""`--github-label-prs`: the label claude-code-assisted on every merged PR attributed with Claude Code.

The PRs to label are those of level with_claude_code in pull_request_attribution whose stored labels lack it.
After GitHub adds it, the PR's row is stored again with the labels GitHub answered (same updated_at: the row
inserted last wins), so the next run does not ask again, and a PR labelled already is never asked for.
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable

from clickhouse_connect.driver.client import Client

from aggregator.contributions import ATTRIBUTION_TABLE
from aggregator.contributions.attribution import WITH_CLAUDE_CODE
from collector.github.fetcher import RunBlocking, StoreRows
from collector.github.rest_client import GitHubClient, GitHubError
from collector.github.tables import PULL_REQUEST_COLUMNS
from plumbing.log_once import RateLimitedLog

log = logging.getLogger(__name__)

LABEL = "claude-code-assisted"
_LABELS = PULL_REQUEST_COLUMNS.index("labels")


class PullRequestLabeller:
    def __init__(self, github: GitHubClient, client: Client, database: str, *, store_rows: StoreRows,
                 run_blocking: RunBlocking, settle: Callable[[], Awaitable[object]]):
        self._github = github
        self._client = client
        self._database = f"`{database}`"
        self._store_rows = store_rows
        self._run_blocking = run_blocking
        self._settle = settle
        self._failure_log = RateLimitedLog(log, logging.WARNING)

    async def label(self) -> int:
        """Label the PRs that need it; returns how many GitHub labelled now."""
        await self._settle()
        labelled = 0
        for row in await self._run_blocking(self._unlabelled):
            repository, number = row[1], row[2]
            try:
                labels = await self._github.add_labels(repository, number, [LABEL])
            except GitHubError as error:  # tried again on the next run
                self._failure_log.log(f"github:label:{error.status}", "cannot label %s#%d: %s",
                                      repository, number, error)
                continue
            await self._store_rows("github_pull_requests",
                                   [(*row[:_LABELS], labels, *row[_LABELS + 1:])])
            labelled += 1
        if labelled:
            log.info("labelled %d pull requests %s", labelled, LABEL)
        return labelled

    def _unlabelled(self) -> list[tuple]:
        """The PULL_REQUEST_COLUMNS rows (times in ms, as stored) of the PRs to label."""
        columns = ", ".join(f"toUnixTimestamp64Milli({name})" if name.endswith("_at") else name
                            for name in PULL_REQUEST_COLUMNS)
        return [tuple(row) for row in self._client.query(f"""
            SELECT {columns} FROM {self._database}.github_pull_requests FINAL
            WHERE NOT has(labels, {{label:String}}) AND (org_id, repository, number) IN (
                SELECT org_id, repository, number FROM {self._database}.{ATTRIBUTION_TABLE} FINAL
                WHERE level = {{level:String}})
            ORDER BY org_id, repository, number""",
            parameters={"label": LABEL, "level": WITH_CLAUDE_CODE}).result_rows]
