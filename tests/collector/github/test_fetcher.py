"""The REST fetcher on the real chDB store against the fake GitHub: the work list, the rows, exactly once."""

from __future__ import annotations

import asyncio

import pytest

from collector.decode.privacy import PrivacyPolicy, email_pseudonym
from collector.github import rest_rows
from collector.github.fetch_work import FetchWork
from collector.github.fetcher import Fetcher
from collector.github.rest_client import GitHubClient, RetryPolicy
from tests.support.fake_github import TOKEN, FakeGitHub, commit_object, file_object, pull_object
from tests.support.github_rows import in_process, insert
from tests.support.writer_pipeline import RecordingInsert, pipeline_on, running

REPO = "acme/widgets"
FAST = RetryPolicy(attempts=2, first_backoff_seconds=0.05, max_backoff_seconds=0.1, max_wait_seconds=3)
TRAILER = "Add it\n\nCo-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>\n"
CANARY = "canary_patch_text_7f3a"


@pytest.fixture
def github():
    fake = FakeGitHub().start()
    yield fake
    fake.stop()


def merged_pull(store, github: FakeGitHub, number: int, org: str = "acme-org") -> list[str]:
    """A merged PR of three commits (one with Claude's trailer, one a merge) stored as the webhook would."""
    shas = [f"{number:08x}{n:032x}" for n in range(1, 4)]
    commits = [
        commit_object(shas[0], message=TRAILER, email="Ada@Example.com", files=[
            file_object("src/app.py", [f"total = price * {CANARY}", "}", "return total"]),
            file_object("package-lock.json", ['"lockfileVersion": 3,']),
            file_object("logo.png", [], status="added", patch=False)]),
        commit_object(shas[1], files=[file_object("src/b.py", ["value = one(two)"], deletions=2)]),
        commit_object(shas[2], parents=2, files=[]),
    ]
    pull = pull_object(REPO, number, head_sha=shas[-1])
    github.add_pull(REPO, pull, commits)
    insert(store, "github_pull_requests", [rest_rows.pull_request_row(org, REPO, pull, 1)])
    return shas


def fetch_pass(store, github: FakeGitHub, privacy: PrivacyPolicy = PrivacyPolicy()):
    async def run():
        async with GitHubClient(TOKEN, github.url, policy=FAST) as client:
            fetcher = Fetcher(client, FetchWork(store.client, store.database), stored_email=privacy.stored_email,
                              **in_process(store))
            return await fetcher.run_pass()
    return asyncio.run(run())


def counts(store) -> dict[str, tuple[int, int]]:
    """Per table: rows read with FINAL, and rows stored."""
    return {table: (store.rows(f"SELECT count() FROM {{db}}.{table} FINAL")[0][0],
                    store.rows(f"SELECT count() FROM {{db}}.{table}")[0][0])
            for table in ("github_commits", "github_pull_request_commits", "github_commit_files", "github_fetches")}


@pytest.mark.slow
def test_merged_prs_are_fetched_into_rows_once(store, github):
    shas = merged_pull(store, github, 11)
    github.add_pull(REPO, pull_object(REPO, 12, head_sha="e" * 40, merged=False), [])  # closed unmerged: no work
    insert(store, "github_pull_requests", [rest_rows.pull_request_row("acme-org", REPO, github.repositories[
        REPO].pulls[-1], 1)])
    result = fetch_pass(store, github)
    assert (result.pull_requests, result.commits, result.failed) == (1, 3, 0)
    assert counts(store) == {"github_commits": (3, 3), "github_pull_request_commits": (3, 3),
                             "github_commit_files": (4, 4), "github_fetches": (4, 4)}
    commits = store.rows("SELECT sha, author_email, author_login, claude_trailer, parents, source, org_id "
                         "FROM {db}.github_commits FINAL ORDER BY sha")
    assert commits == [(shas[0], "Ada@Example.com", "dev", 1, 1, "rest", "acme-org"),
                       (shas[1], "dev@example.com", "dev", 0, 1, "rest", "acme-org"),
                       (shas[2], "dev@example.com", "dev", 0, 2, "rest", "acme-org")]
    files = store.rows("SELECT path, status, additions, deletions, effective_lines_added, excluded "
                       "FROM {db}.github_commit_files FINAL ORDER BY sha, path")
    assert [f[:5] for f in files] == [("logo.png", "added", 0, 0, 0), ("package-lock.json", "modified", 1, 0, 0),
                                      ("src/app.py", "modified", 3, 0, 2), ("src/b.py", "modified", 1, 2, 1)]
    assert files[0][5] and files[1][5] and not files[2][5]  # binary and lock file excluded, with the reason
    stored_text = store.rows("SELECT count() FROM {db}.github_commit_files WHERE positionCaseInsensitive("
                             "concat(path, excluded), 'canary') > 0")[0][0]
    assert stored_text == 0
    requests = len(github.requests)
    again = fetch_pass(store, github)
    assert (again.pull_requests, again.commits) == (0, 0) and len(github.requests) == requests


@pytest.mark.slow
def test_a_failed_fetch_stays_on_the_work_list(store, github):
    shas = merged_pull(store, github, 21)
    github.failing.add(f"/repos/{REPO}/commits/{shas[1]}")
    first = fetch_pass(store, github)
    assert (first.pull_requests, first.commits, first.failed) == (1, 2, 1)
    assert FetchWork(store.client, store.database).commits()[0].sha == shas[1]
    github.failing.clear()
    second = fetch_pass(store, github)
    assert (second.pull_requests, second.commits, second.failed) == (0, 1, 0)
    assert counts(store)["github_commit_files"] == (4, 4)


@pytest.mark.slow
def test_author_emails_are_pseudonymised_like_telemetrys(store, github):
    merged_pull(store, github, 31)
    fetch_pass(store, github, PrivacyPolicy(hash_emails=True, email_hash_salt="salt"))
    emails = {row[0] for row in store.rows("SELECT author_email FROM {db}.github_commits FINAL")}
    assert emails == {email_pseudonym("Ada@Example.com", "salt"), email_pseudonym("dev@example.com", "salt")}
    assert not any("@" in email for email in emails)


@pytest.mark.slow
def test_rows_through_the_write_ahead_queue_are_stored(store, github, tmp_path):
    """serve's path: Ingestor.store_rows, then the batch writer (github tables have no timestamp partitions, and
    github_fetches no received_at)."""
    merged_pull(store, github, 41)
    pipeline = pipeline_on(tmp_path, RecordingInsert(store), max_delay_seconds=0.05)

    async def scenario():
        running(pipeline)
        async with GitHubClient(TOKEN, github.url, policy=FAST) as client:
            loop = asyncio.get_running_loop()
            fetcher = Fetcher(client, FetchWork(store.client, store.database),
                              stored_email=PrivacyPolicy().stored_email,
                              store_rows=pipeline.ingestor.store_rows,
                              run_blocking=lambda work: loop.run_in_executor(None, work),
                              settle=lambda: pipeline.writer.settled(30))
            result = await fetcher.run_pass()
        assert await pipeline.writer.settled(30)
        await pipeline.close()
        return result

    result = asyncio.run(scenario())
    assert (result.pull_requests, result.commits, result.failed) == (1, 3, 0)
    assert counts(store) == {"github_commits": (3, 3), "github_pull_request_commits": (3, 3),
                             "github_commit_files": (4, 4), "github_fetches": (4, 4)}
