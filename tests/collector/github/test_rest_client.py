"""The GitHub REST client against the fake GitHub over real HTTP: paging, ETags, rate limits, retries, headers."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

import pytest

from collector.github.rest_answers import next_page, rate_limit_wait
from collector.github.rest_client import GitHubClient, GitHubError, GitHubTokenError, RetryPolicy, read_token
from tests.support.fake_github import TOKEN, FakeGitHub, commit_object, file_object, pull_object

REPO = "acme/widgets"
FAST = RetryPolicy(attempts=3, first_backoff_seconds=0.05, max_backoff_seconds=0.1, max_wait_seconds=3)


@pytest.fixture
def github():
    fake = FakeGitHub(prefix="/api/v3").start()  # GitHub Enterprise Server's base path
    shas = [f"{n:040x}" for n in range(1, 4)]
    commits = [commit_object(sha, files=[file_object(f"src/m{n}.py", ["value = compute(1)"] * n)
                                         for n in range(1, 4)]) for sha in shas]
    fake.add_pull(REPO, pull_object(REPO, 5, head_sha=shas[-1]), commits)
    yield fake
    fake.stop()


def call(fake: FakeGitHub, work, policy: RetryPolicy = FAST):
    async def run():
        async with GitHubClient(TOKEN, fake.url, policy=policy) as client:
            return await work(client)
    return asyncio.run(run())


def test_pages_follow_link_next_with_githubs_headers(github):
    commits = call(github, lambda client: client.pull_request_commits(REPO, 5))
    assert [c["sha"] for c in commits] == [f"{n:040x}" for n in range(1, 4)]  # 2 + 1 over two pages
    assert github.paths() == ["/api/v3/repos/acme/widgets/pulls/5/commits"] * 2
    headers = github.requests[0][2]
    assert headers["Accept"] == "application/vnd.github+json"
    assert headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert headers["User-Agent"] == "cc-analytics"
    assert "per_page=100" in github.requests[0][1]


def test_a_commits_files_over_pages_are_joined(github):
    commit = call(github, lambda client: client.commit(REPO, f"{1:040x}"))
    assert [f["filename"] for f in commit["files"]] == ["src/m1.py", "src/m2.py", "src/m3.py"]


def test_an_unchanged_answer_comes_from_the_etag_cache(github):
    async def twice(client):
        return [await client.pull_request_commits(REPO, 5) for _ in range(2)]

    first, second = call(github, twice)
    assert first == second
    assert github.not_modified == 2  # both pages answered 304 the second time
    assert all("If-None-Match" in headers for _, _, headers in github.requests[2:])


def test_rate_limits_and_a_502_are_waited_out(github, caplog):
    path = "/api/v3/repos/acme/widgets/pulls/5/commits"
    github.rate_limit_once.add(path)
    github.retry_after_once.add(path)
    github.bad_gateway_once.add(path)
    with caplog.at_level(logging.WARNING):
        commits = call(github, lambda client: client.pull_request_commits(REPO, 5))
    assert len(commits) == 3
    assert github.paths().count(path) == 5  # 3 refusals, then both pages
    text = caplog.text
    assert "primary rate limit" in text and "secondary rate limit" in text and "server error" in text
    assert TOKEN not in text


def test_a_server_error_past_the_bound_fails_the_call(github):
    github.failing.add("/api/v3/repos/acme/widgets/commits/" + f"{1:040x}")
    with pytest.raises(GitHubError) as raised:
        call(github, lambda client: client.commit(REPO, f"{1:040x}"))
    assert raised.value.status == 500
    assert len(github.paths()) == FAST.attempts


def test_a_refusal_is_not_retried(github):
    with pytest.raises(GitHubError) as raised:
        call(github, lambda client: client.pull_request_commits("acme/missing", 1))
    assert raised.value.status == 404 and len(github.paths()) == 1


def test_pulls_are_listed_until_one_is_older_than_since(github):
    for number, day in ((6, "2026-10-01"), (7, "2026-11-20"), (8, "2026-09-01")):
        github.add_pull(REPO, pull_object(REPO, number, head_sha="a" * 40, updated_at=f"{day}T00:00:00Z"), [])

    async def listed(client):
        since = datetime(2026, 10, 15, tzinfo=timezone.utc)
        return [pull["number"] async for pull in client.closed_pulls_updated_since(REPO, since)]

    assert call(github, listed) == [7, 5]
    assert len(github.paths()) == 2  # the second page holds #6, older: the third is never asked for


def test_add_labels_answers_the_labels(github):
    labels = call(github, lambda client: client.add_labels(REPO, 5, ["claude-code-assisted"]))
    assert labels == ["claude-code-assisted"]
    assert github.paths("POST") == ["/api/v3/repos/acme/widgets/issues/5/labels"]


def test_the_token_file_must_hold_a_token(tmp_path):
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "token").write_text(TOKEN + "\n")
    assert read_token(str(tmp_path / "token")) == TOKEN
    for name in ("empty", "absent"):
        with pytest.raises(GitHubTokenError, match=name):
            read_token(str(tmp_path / name))


def test_what_an_answer_says_about_waiting():
    now = 1_000_000.0
    primary = rate_limit_wait(403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(now) + 30)}, now)
    assert primary.kind == "primary rate limit" and primary.seconds == 31
    assert rate_limit_wait(429, {"Retry-After": "7"}, now).seconds == 7
    assert rate_limit_wait(403, {"X-RateLimit-Remaining": "12"}, now) is None  # a plain permission refusal
    assert rate_limit_wait(200, {"Retry-After": "7"}, now) is None
    link = '<https://h/x?page=2>; rel="next", <https://h/x?page=9>; rel="last"'
    assert next_page(link) == "https://h/x?page=2"
    assert next_page('<https://h/x?page=1>; rel="prev"') is None and next_page(None) is None
