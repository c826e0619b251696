"""End to end with the real Claude Code CLI (2.1.332, OTEL_LOG_TOOL_DETAILS=1 and the repository on every record):
it commits in a repository whose origin is github.com/acme/widgets; signed webhooks of two merged pull requests
follow, one holding the SHA the session committed and one without. The first counts with Claude Code, attributed to
that session's member; the second does not, in the API, the CSV and /metrics."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.support.claude_cli import run_claude
from tests.support.paths import HARNESS
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


def test_a_merged_pr_holding_the_sha_a_real_session_committed_counts_with_claude_code(serve_factory, tmp_path):
    secret_file = tmp_path / "webhook-secret"
    secret_file.write_text(SECRET + "\n")
    serve = serve_factory("--github-webhook-secret-file", str(secret_file))
    keep = tmp_path / "session"
    truth = run_claude(serve.http_url, "http/protobuf", 5, "team=payments", scenario=str(SCENARIO),
                       version="2.1.332", keep=keep)
    assert truth["commits"] == 1 and truth["pull_requests"] == 1
    sha = git(keep / "work", "log", "-1", "--format=%H")
    email = git(keep / "work", "log", "-1", "--format=%ae")
    # what the CLI itself reported: the SHA of the commit it made, and the repository on its records
    (reported,) = serve.query("SELECT user_key, attributes['vcs.ref.head.revision'] AS sha FROM events FINAL "
                              "WHERE event_name = 'tool_result' AND attributes['vcs.ref.head.revision'] != ''")
    assert reported["sha"] == sha
    member = reported["user_key"]
    assert member == truth["user_id"]

    merged_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    deliveries = [
        ("push", push("claude/hello", sha, "Add hello.py", email, "hubot")),
        ("push", push("fix/typo", "f" * 40, "Fix a typo", "octocat@github.com", "octocat")),
        ("pull_request", merged_pull_request(7, "hubot", "claude/hello", 5, merged_at)),
        ("pull_request", merged_pull_request(8, "octocat", "fix/typo", 3, merged_at)),
    ]
    for event, payload in deliveries:
        assert deliver(serve, event, payload)[0] == 200
    today = merged_at[:10]
    serve.api("POST", "/api/v1/aggregate", **{"from": today, "to": today})

    prs = {row["number"]: row for row in json.loads(serve.api(
        "GET", "/api/v1/contributions/pull_requests", **{"from": today, "to": today}))["data"]}
    assert prs[7]["level"] == "with_claude_code" and sha[:7] in prs[7]["reason"], prs
    assert prs[7]["member"] == member
    assert prs[8]["level"] == "without" and prs[8]["member"] == "github:octocat"

    (day,) = json.loads(serve.api("GET", "/api/v1/contributions", **{"from": today, "to": today}))["data"]
    assert {key: day[key] for key in ("prs_merged", "prs_merged_with_cc", "lines_merged", "lines_merged_with_cc")} \
        == {"prs_merged": 2, "prs_merged_with_cc": 1, "lines_merged": 8, "lines_merged_with_cc": 5}
    by_member = {row["member"]: row for row in json.loads(serve.api(
        "GET", "/api/v1/contributions", group="user", **{"from": today, "to": today}))["data"]}
    assert by_member[member]["prs_merged_with_cc"] == 1 and by_member["github:octocat"]["prs_merged_with_cc"] == 0
    by_repo = json.loads(serve.api("GET", "/api/v1/contributions", group="repo", **{"from": today, "to": today}))
    assert [(r["repository"], r["prs_merged"], r["prs_merged_with_cc"]) for r in by_repo["data"]] == \
        [(REPOSITORY, 2, 1)]
    table = list(csv.DictReader(io.StringIO(serve.api("GET", "/api/v1/contributions", format="csv",
                                                      **{"from": today, "to": today}).decode())))
    assert [(int(r["prs_merged"]), int(r["prs_merged_with_cc"])) for r in table] == [(2, 1)]
