"""End to end with the real Claude Code CLI (2.1.332, OTEL_LOG_TOOL_DETAILS=1 and the repository on every record):
it commits in a repository whose origin is github.com/acme/widgets; signed webhooks of two merged pull requests
follow, one holding the SHA the session committed and one without. The first counts with Claude Code, attributed to
that session's member; the second does not, in the API, the CSV and /metrics. Once with webhooks only (lines are
GitHub's additions), once with a REST token: a fake GitHub serves the real commit and its patch from the session's
git repository, and lines are its effective lines."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from prometheus_client.parser import text_string_to_metric_families

from tests.support.claude_cli import run_claude
from tests.support.fake_github import TOKEN, FakeGitHub, commit_object, file_object, pull_object
from tests.support.paths import HARNESS
from tests.support.polling import wait_until
from tests.support.webhook_deliveries import SECRET, deliver
from tests.support.webhook_examples import examples

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not HARNESS.exists(), reason="../shared/claude-code-harness is not present"),
    pytest.mark.skipif(shutil.which("npm") is None, reason="the harness and the webhook examples install with npm"),
]

SCENARIO = Path(__file__).resolve().parents[1] / "support" / "scenarios" / "commit-pr-github.json"
REPOSITORY = "acme/widgets"


def git(work: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(work), *args], capture_output=True, text=True, check=True).stdout.strip()


def in_repository(payload: dict) -> dict:
    """A GitHub example payload moved to acme/widgets, the repository the CLI session worked in."""
    owner, name = REPOSITORY.split("/")
    payload["repository"].update(name=name, full_name=REPOSITORY)
    payload["repository"]["owner"]["login"] = owner
    return payload


def merged_pull_request(number: int, author: str, branch: str, additions: int, merged_at: str) -> dict:
    payload = in_repository(next(p for p in examples("pull_request") if p["action"] == "closed"))
    payload["pull_request"].update(number=number, id=700000 + number, merged=True, merged_at=merged_at,
                                   closed_at=merged_at, updated_at=merged_at, merge_commit_sha=f"{number:040x}",
                                   body="A change.", additions=additions)
    payload["pull_request"]["user"]["login"] = author
    payload["pull_request"]["head"]["ref"] = branch
    return payload


def push(branch: str, sha: str, message: str, email: str, login: str) -> dict:
    payload = in_repository(next(p for p in examples("push") if p["commits"]))
    payload["ref"] = f"refs/heads/{branch}"
    commit = payload["commits"][0]
    commit.update(id=sha, message=message)
    commit["author"].update(email=email, username=login)
    payload["commits"] = [commit]
    payload["head_commit"] = commit
    return payload


@dataclass
class Session:
    member: str  # the user_key the CLI's records carry (user.id: an API-key session sends no email)
    sha: str  # of the commit it made, from its git repository
    email: str
    work: Path


def real_session(serve, tmp_path: Path) -> Session:
    keep = tmp_path / "session"
    truth = run_claude(serve.http_url, "http/protobuf", 5, "team=payments", scenario=str(SCENARIO),
                       version="2.1.332", keep=keep)
    assert truth["commits"] == 1 and truth["pull_requests"] == 1
    work = keep / "work"
    sha = git(work, "log", "-1", "--format=%H")
    # what the CLI itself reported: the SHA of the commit it made
    (reported,) = serve.query("SELECT user_key, attributes['vcs.ref.head.revision'] AS sha FROM events FINAL "
                              "WHERE event_name = 'tool_result' AND attributes['vcs.ref.head.revision'] != ''")
    assert reported == {"user_key": truth["user_id"], "sha": sha}
    return Session(truth["user_id"], sha, git(work, "log", "-1", "--format=%ae"), work)


def deliver_the_two_prs(serve, session: Session) -> str:
    """Pushes, then the merges, of PR 7 (the session's commit, by hubot) and PR 8 (another commit, by octocat);
    returns the merge day."""
    merged_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for event, payload in (
            ("push", push("claude/hello", session.sha, "Add hello.py", session.email, "hubot")),
            ("push", push("fix/typo", "f" * 40, "Fix a typo", "octocat@github.com", "octocat")),
            ("pull_request", merged_pull_request(7, "hubot", "claude/hello", 5, merged_at)),
            ("pull_request", merged_pull_request(8, "octocat", "fix/typo", 3, merged_at))):
        assert deliver(serve, event, payload)[0] == 200
    return merged_at[:10]


def contributions(serve, day: str, path: str = "/api/v1/contributions", **parameters) -> list[dict]:
    return json.loads(serve.api("GET", path, **{"from": day, "to": day}, **parameters))["data"]


def assert_figures(serve, session: Session, day: str, lines: tuple[int, int], basis: str) -> None:
    """PR 7 with Claude Code for the session's member, PR 8 without, in every read surface; lines (merged, with
    Claude Code) on the basis given."""
    serve.api("POST", "/api/v1/aggregate", **{"from": day, "to": day})
    prs = {row["number"]: row for row in contributions(serve, day, "/api/v1/contributions/pull_requests")}
    assert prs[7]["level"] == "with_claude_code" and session.sha[:7] in prs[7]["reason"], prs[7]
    assert (prs[7]["member"], prs[7]["team"], prs[7]["lines_basis"]) == (session.member, "payments", basis)
    assert (prs[8]["level"], prs[8]["member"]) == ("without", "github:octocat"), prs[8]

    merged, with_cc = lines
    figures = ("prs_merged", "prs_merged_with_cc", "lines_merged", "lines_merged_with_cc")
    (total,) = contributions(serve, day)
    assert [total[name] for name in figures] == [2, 1, merged, with_cc]
    by_member = {row["member"]: [row[name] for name in figures] for row in contributions(serve, day, group="user")}
    assert by_member == {session.member: [1, 1, with_cc, with_cc], "github:octocat": [1, 0, merged - with_cc, 0]}
    assert [(row["repository"], row["prs_merged"], row["prs_merged_with_cc"])
            for row in contributions(serve, day, group="repo")] == [(REPOSITORY, 2, 1)]
    table = list(csv.DictReader(io.StringIO(serve.api("GET", "/api/v1/contributions", format="csv",
                                                      **{"from": day, "to": day}).decode())))
    assert [[int(row[name]) for name in figures] for row in table] == [[2, 1, merged, with_cc]]

    # a scrape right after a rebuild may still show the previous render; the next ones show the new figures
    today = wait_until(lambda: merged_today(serve) if sum(merged_today(serve).values()) == 2 else None)
    assert today == {("payments", "with_claude_code"): 1, ("payments", "assisted"): 0, ("payments", "without"): 0,
                     ("", "with_claude_code"): 0, ("", "assisted"): 0, ("", "without"): 1}, today


def merged_today(serve) -> dict:
    """cc_analytics_contribution_prs_merged of today on /metrics, by (team, level)."""
    return {(sample.labels["team"], sample.labels["level"]): sample.value
            for family in text_string_to_metric_families(serve.api("GET", "/metrics").decode())
            if family.name == "cc_analytics_contribution_prs_merged"
            for sample in family.samples if sample.labels["window"] == "today"}


def test_a_merged_pr_holding_the_sha_a_real_session_committed_counts_with_claude_code(serve_factory, tmp_path):
    secret_file = tmp_path / "webhook-secret"
    secret_file.write_text(SECRET + "\n")
    serve = serve_factory("--github-webhook-secret-file", str(secret_file))
    session = real_session(serve, tmp_path)
    day = deliver_the_two_prs(serve, session)
    # no REST token: GitHub's additions count, and the answer says so
    assert_figures(serve, session, day, lines=(8, 5), basis="additions")
    assert "github-token-file" in json.loads(serve.api("GET", "/api/v1/contributions",
                                                       **{"from": day, "to": day}))["note"]


def github_commit(work: Path, sha: str) -> dict:
    """The commit as GitHub's Get a commit answers it, from the session's own repository: its files and patches."""
    files = []
    for path in git(work, "show", "--format=", "--name-only", sha).splitlines():
        patch = git(work, "show", "--format=", "--unified=3", sha, "--", path)
        hunks = patch[patch.index("@@"):]
        added = [line[1:] for line in hunks.splitlines() if line.startswith("+")]
        files.append(file_object(path, added, status="added"))
    return commit_object(sha, message=git(work, "log", "-1", "--format=%B", sha), login="hubot",
                         email=git(work, "log", "-1", "--format=%ae", sha), files=files)


def test_with_a_token_the_lines_are_the_effective_lines_of_the_real_commit(serve_factory, tmp_path):
    github = FakeGitHub().start()
    try:
        secret_file, token_file = tmp_path / "webhook-secret", tmp_path / "github-token"
        secret_file.write_text(SECRET + "\n")
        token_file.write_text(TOKEN + "\n")
        serve = serve_factory("--github-webhook-secret-file", str(secret_file), "--github-token-file",
                              str(token_file), "--github-api-url", github.url, "--github-fetch-interval", "1")
        session = real_session(serve, tmp_path)
        github.add_pull(REPOSITORY, pull_object(REPOSITORY, 7, head_sha=session.sha),
                        [github_commit(session.work, session.sha)])
        other = commit_object("f" * 40, message="Fix a typo", email="octocat@github.com", login="octocat",
                              files=[file_object("README.md", ["Fix the typo in the title"]),
                                     file_object("package-lock.json", ['"lockfileVersion": 3,'])])
        github.add_pull(REPOSITORY, pull_object(REPOSITORY, 8, head_sha="f" * 40, login="octocat"), [other])
        day = deliver_the_two_prs(serve, session)
        assert wait_until(lambda: serve.scalar("SELECT count() FROM github_fetches FINAL") == 4, timeout=60), \
            serve.log_text()
        # hello.py's 5 lines, each more than 3 characters; the lock file counts none
        assert_figures(serve, session, day, lines=(6, 5), basis="effective")
    finally:
        github.stop()
