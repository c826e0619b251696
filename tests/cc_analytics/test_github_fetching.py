"""The REST fetcher and `github backfill` in real processes against the fake GitHub: a serve SIGKILLed mid-fetch
loses and doubles nothing; the backfill goes through a running serve or opens the store, and twice is once."""

from __future__ import annotations

import json
import signal
import socket
import urllib.error
import urllib.request

import pytest

from tests.support.command_line import run
from tests.support.fake_github import TOKEN, FakeGitHub, commit_object, file_object, pull_object
from tests.support.polling import wait_until

pytestmark = pytest.mark.slow

REPO = "acme/widgets"
TRAILER = "Do it\n\nCo-Authored-By: Claude <noreply@anthropic.com>"
# The rows of a fetch, with every value a key decides (a row fetched twice with another value would show).
KEYED_VALUES = {
    "github_pull_requests": "org_id, repository, number, merged, head_sha",
    "github_commits": "org_id, repository, sha, author_email, claude_trailer, parents",
    "github_pull_request_commits": "org_id, repository, number, sha",
    "github_commit_files": "org_id, repository, sha, path, additions, effective_lines_added, excluded",
    "github_fetches": "org_id, repository, kind, ref, head_sha",
}


@pytest.fixture
def github():
    fake = FakeGitHub().start()
    for number in (1, 2):
        shas = [f"{number:02x}{n:038x}" for n in range(1, 4)]
        commits = [commit_object(sha, message=TRAILER if n == 1 else "plain", files=[
            file_object(f"src/f{n}_{k}.py", ["result = compute(value)"] * k) for k in (1, 2, 3)])
            for n, sha in enumerate(shas, 1)]
        fake.add_pull(REPO, pull_object(REPO, number, head_sha=shas[-1]), commits)
    fake.add_pull(REPO, pull_object(REPO, 3, head_sha="c" * 40, merged=False), [])
    fake.add_pull(REPO, pull_object(REPO, 4, head_sha="d" * 40, updated_at="2026-01-01T00:00:00Z"), [])  # too old
    yield fake
    fake.stop()


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "github-token"
    path.write_text(TOKEN + "\n")
    return path


def github_flags(github: FakeGitHub, token_file) -> tuple[str, ...]:
    return ("--github-token-file", str(token_file), "--github-api-url", github.url, "--github-orgs", "acme=acme-org")


def stored(query) -> dict[str, list]:
    """Each table's keyed values, read with FINAL, and the keys stored with two different values (none)."""
    tables = {}
    for table, columns in KEYED_VALUES.items():
        rows = query(f"SELECT {columns} FROM {table} FINAL ORDER BY {columns}")
        key = ", ".join(columns.split(", ")[:4])
        doubled = query(f"SELECT {key} FROM {table} GROUP BY {key} HAVING uniqExact({columns}) > 1")
        assert doubled == [], f"{table}: keys stored with two values: {doubled}"
        tables[table] = [list(row.values()) for row in rows]
    return tables


def assert_everything_once(tables: dict[str, list]) -> None:
    assert [row[2] for row in tables["github_pull_requests"]] == [1, 2, 3]  # #4 is older than --since
    assert len(tables["github_commits"]) == 6 and len(tables["github_pull_request_commits"]) == 6
    assert len(tables["github_commit_files"]) == 18 and len(tables["github_fetches"]) == 2 + 6
    assert sum(row[4] for row in tables["github_commits"]) == 2  # the two trailers
    assert sum(row[5] for row in tables["github_commit_files"]) == 6 * (1 + 2 + 3)
    assert {row[0] for rows in tables.values() for row in rows} == {"acme-org"}


def post_backfill(serve, query: str = "repo=Acme/Widgets&since=2026-10-01") -> tuple[int, dict]:
    request = urllib.request.Request(f"http://{serve.host}:{serve.api_port}/api/v1/github/backfill?{query}",
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_serve_killed_mid_fetch_fetches_everything_once_after_its_restart(serve_factory, github, token_file,
                                                                            tmp_path):
    held = f"/repos/{REPO}/commits/{2:02x}{2:038x}"
    github.hold_paths.add(held)
    flags = (*github_flags(github, token_file), "--github-fetch-interval", "1")
    serve = serve_factory(*flags, data_dir=tmp_path / "data")
    assert post_backfill(serve)[0] == 202
    assert github.holding.wait(60), "the fetch never reached the held commit"
    serve.stop(signal.SIGKILL)
    github.hold_paths.clear()
    github.release.set()
    before = len(github.paths())

    serve = serve_factory(*flags, data_dir=tmp_path / "data")
    assert wait_until(lambda: serve.scalar("SELECT count() FROM github_fetches FINAL") == 8, timeout=120)
    tables = stored(lambda sql: serve.query(sql))
    assert_everything_once(tables)
    again = github.paths()[before:]
    assert held in again  # the commit cut short was fetched again, after the restart
    assert f"/repos/{REPO}/pulls/1/commits" not in again  # what was fetched before the kill was not


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_backfill_without_serve_twice_stores_the_same_rows(github, token_file, tmp_path):
    no_serve = ("--data-dir", str(tmp_path / "data"), "--api-port", str(free_port()))
    command = ("github", "backfill", "--repo", "acme/widgets", "--since", "2026-10-01",
               *github_flags(github, token_file), *no_serve)

    def query(sql: str) -> list[dict]:
        answer = run("query", "--format", "JSONEachRow", sql, *no_serve, timeout=120)
        assert answer.returncode == 0, answer.stderr
        return [json.loads(line) for line in answer.stdout.splitlines()]

    first = run(*command, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "commits of 2 merged PRs and files of 6 commits fetched" in first.stdout
    assert "[##############################] 6/6 files of their commits" in first.stderr
    assert TOKEN not in first.stderr + first.stdout
    tables = stored(query)
    assert_everything_once(tables)
    requests = len(github.paths())

    second = run(*command, timeout=300)
    assert second.returncode == 0, second.stderr
    assert "commits of 0 merged PRs and files of 0 commits fetched" in second.stdout
    assert stored(query) == tables
    assert len(github.paths()) - requests == 2  # the two pages of the PR list, nothing fetched again


def test_backfill_goes_through_a_running_serve(serve_factory, github, token_file):
    serve = serve_factory(*github_flags(github, token_file), "--github-fetch-interval", "3600")
    answer = run("github", "backfill", "--repo", "acme/widgets", "--since", "2026-10-01",
                 "--api-port", str(serve.api_port), timeout=300)
    assert answer.returncode == 0, answer.stderr
    assert "through the running serve" in answer.stdout
    assert "files of their commits" in answer.stderr
    assert_everything_once(stored(lambda sql: serve.query(sql)))
    assert TOKEN not in serve.log_text()
    status, answer = post_backfill(serve, "repo=not-a-repo&since=2026-10-01")
    assert status == 400 and "OWNER/NAME" in answer["error"]
    status, answer = post_backfill(serve, "repo=acme/widgets&since=yesterday")
    assert status == 400 and "YYYY-MM-DD" in answer["error"]


def test_without_a_token_serve_says_it_cannot_backfill_or_label(serve_factory):
    serve = serve_factory("--github-label-prs")
    status, answer = post_backfill(serve)
    assert status == 503 and "--github-token-file" in answer["error"]
    assert "--github-label-prs does nothing without --github-token-file" in serve.log_text()


def test_an_empty_token_file_stops_serve_with_the_reason(tmp_path):
    (tmp_path / "empty").write_text("")
    answer = run("serve", "--data-dir", str(tmp_path / "data"), "--api-port", "0", "--grpc-port", "0",
                 "--http-port", "0", "--github-token-file", str(tmp_path / "empty"), timeout=120)
    assert answer.returncode == 2
    assert "GitHub token file" in answer.stderr and "is empty" in answer.stderr
