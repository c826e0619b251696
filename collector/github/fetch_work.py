"""The REST fetcher's work list, read from the store: what is still to fetch is what has no github_fetches row.

A merged PR whose commits were not fetched at its head, and a commit of a fetched PR whose files were not, are
to fetch. The marker rows are written after the rows they vouch for, so an interrupted or failed fetch (a crash,
GitHub down, a rate limit past its bound) leaves its item here for the next pass, after a restart as before it;
there is nothing else to persist. Blocking: callers in an event loop run it on a thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from collector.github.tables import COMMIT_FILES, PULL_REQUEST_COMMITS

BATCH = 500  # items per pass: a pass ends and the next takes what is left


@dataclass(frozen=True)
class PullRequestWork:
    org_id: str
    repository: str
    number: int
    head_sha: str


@dataclass(frozen=True)
class CommitWork:
    org_id: str
    repository: str
    sha: str


class FetchWork:
    def __init__(self, client: Client, database: str):
        self._client = client
        self._database = f"`{database}`"

    def pull_requests(self, limit: int = BATCH) -> list[PullRequestWork]:
        """Merged PRs without the commits-fetched marker of their head, oldest merge first."""
        rows = self._client.query(f"""
            SELECT org_id, repository, number, head_sha
            FROM {self._database}.github_pull_requests FINAL
            WHERE merged AND (org_id, repository, toString(number), head_sha) NOT IN (
                SELECT org_id, repository, ref, head_sha FROM {self._database}.github_fetches
                WHERE kind = {{kind:String}})
            ORDER BY merged_at, org_id, repository, number
            LIMIT {{limit:UInt32}}""", parameters={"kind": PULL_REQUEST_COMMITS, "limit": limit}).result_rows
        return [PullRequestWork(org, repository, int(number), head) for org, repository, number, head in rows]

    def commits(self, limit: int = BATCH) -> list[CommitWork]:
        """Commits of PRs whose commits were fetched, without the files-fetched marker."""
        rows = self._client.query(f"""
            SELECT DISTINCT org_id, repository, sha
            FROM {self._database}.github_pull_request_commits
            WHERE (org_id, repository, toString(number)) IN (
                    SELECT org_id, repository, ref FROM {self._database}.github_fetches
                    WHERE kind = {{pull_requests:String}})
                AND (org_id, repository, sha) NOT IN (
                    SELECT org_id, repository, ref FROM {self._database}.github_fetches
                    WHERE kind = {{commits:String}})
            ORDER BY org_id, repository, sha
            LIMIT {{limit:UInt32}}""", parameters={"pull_requests": PULL_REQUEST_COMMITS, "commits": COMMIT_FILES,
                                                   "limit": limit}).result_rows
        return [CommitWork(org, repository, sha) for org, repository, sha in rows]
