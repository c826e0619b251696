"""End to end with the real Claude Code CLI (2.1.332, OTEL_METRICS_INCLUDE_REPOSITORY=1): a session that writes,
commits and opens a pull request in a repository whose origin is github.com/acme/widgets shows up under
acme/widgets in /api/v1/repositories and on /metrics with the lines, commits and PRs the CLI itself sent (the
harness's cli_reported, from the export requests it recorded)."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.claude_cli import run_claude
from tests.support.paths import HARNESS
from tests.support.polling import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not HARNESS.exists(), reason="../shared/claude-code-harness is not present"),
    pytest.mark.skipif(shutil.which("npm") is None, reason="the harness installs the CLI with npm"),
]

SCENARIO = Path(__file__).resolve().parents[1] / "support" / "scenarios" / "commit-pr-github.json"
REPOSITORY = "acme/widgets"


def lines_today(serve) -> dict:
    """cc_analytics_repository_lines_accepted of today on /metrics, by repository."""
    return {sample.labels.get("repository", ""): sample.value
            for family in text_string_to_metric_families(serve.api("GET", "/metrics").decode())
            if family.name == "cc_analytics_repository_lines_accepted"
            for sample in family.samples if sample.labels["window"] == "today"}


def test_a_real_session_is_counted_under_its_repository(serve_factory, tmp_path):
    serve = serve_factory()
    truth = run_claude(serve.http_url, "http/protobuf", 5, "team=payments", scenario=str(SCENARIO),
                       version="2.1.332", record_dir=tmp_path / "recorded")
    reported = truth["cli_reported"]
    assert reported["commits"] == 1 and reported["pull_requests"] == 1 and reported["lines_added"] > 0
    day = f"{datetime.now(timezone.utc).date()}"
    serve.api("POST", "/api/v1/aggregate", **{"from": day, "to": day})
    rows = {row["repository"]: row
            for row in json.loads(serve.api("GET", "/api/v1/repositories", **{"from": day, "to": day}))["data"]}
    widgets = rows[REPOSITORY]
    assert (widgets["lines_accepted"], widgets["lines_removed"], widgets["commits"], widgets["pull_requests"],
            widgets["edits_accepted"], widgets["edits_rejected"]) == (
        reported["lines_added"], reported["lines_removed"], reported["commits"], reported["pull_requests"],
        reported["edits_accepted"], reported["edits_rejected"]), rows
    assert (widgets["org_id"], widgets["members"]) == ("default", 1)
    # the process that added the origin ran before it existed: its records name no repository, and hold none
    # of the lines, commits or PRs
    assert sum(row["lines_accepted"] for row in rows.values()) == reported["lines_added"]
    assert set(rows) <= {REPOSITORY, ""}
    published = wait_until(lambda: lines_today(serve) if lines_today(serve).get(REPOSITORY) else None)
    assert published[REPOSITORY] == reported["lines_added"], published
