"""--github-label-prs on the real chDB store against the fake GitHub: exactly the with_claude_code PRs, once."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timezone

import pytest

from collector.github import rest_rows
from collector.github.rest_client import GitHubClient
from exporters.github_labels import LABEL, PullRequestLabeller
from plumbing.store.client import insert_columns
from tests.support.fake_github import TOKEN, FakeGitHub, pull_object
from tests.support.github_rows import in_process, insert

REPO = "acme/widgets"
ATTRIBUTION_COLUMNS = ("day", "org_id", "repository", "number", "merged_at", "author_login", "member", "matched_by",
                       "team", "level", "reason", "commits", "commits_with_claude_code", "lines_merged",
                       "lines_with_claude_code", "lines_basis", "version")


@pytest.fixture
def github():
    fake = FakeGitHub().start()
    yield fake
    fake.stop()


def attribute(store, number: int, level: str, org: str = "acme-org") -> None:
    row = (date(2026, 11, 3), org, REPO, number, datetime(2026, 11, 3, tzinfo=timezone.utc), "dev", "github:dev",
           "login", "", level, "test", 1, 1, 10, 10, "effective", 1)
    insert_columns(store.client, "pull_request_attribution", ATTRIBUTION_COLUMNS, list(zip(row)), store.database)


def label_run(store, github: FakeGitHub) -> int:
    async def run():
        async with GitHubClient(TOKEN, github.url) as client:
            return await PullRequestLabeller(client, store.client, store.database, **in_process(store)).label()
    return asyncio.run(run())


@pytest.mark.slow
def test_the_labeller_labels_exactly_the_with_claude_code_prs_once(store, github):
    levels = {1: "with_claude_code", 2: "assisted", 3: "without", 4: "with_claude_code", 5: "with_claude_code"}
    for number, level in levels.items():
        labels = (LABEL,) if number == 5 else ("bug",) if number == 4 else ()
        pull = pull_object(REPO, number, head_sha=f"{number:040x}", labels=labels)
        github.add_pull(REPO, pull, [])
        insert(store, "github_pull_requests", [rest_rows.pull_request_row("acme-org", REPO, pull, 1)])
        attribute(store, number, level)
    attribute(store, 6, "with_claude_code", org="other-org")  # no PR row of that org: nothing to label

    assert label_run(store, github) == 2
    assert sorted(github.paths("POST")) == [f"/repos/{REPO}/issues/1/labels", f"/repos/{REPO}/issues/4/labels"]
    stored = dict(store.rows("SELECT number, labels FROM {db}.github_pull_requests FINAL ORDER BY number"))
    assert stored == {1: [LABEL], 2: [], 3: [], 4: ["bug", LABEL], 5: [LABEL]}
    assert label_run(store, github) == 0
    assert len(github.paths("POST")) == 2
