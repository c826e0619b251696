"""Every scenario of ../shared/claude-code-harness, on Claude Code 2.1.197 and 2.1.332, over gRPC, HTTP protobuf and
HTTP JSON, into one serve: after the day's rollup each member's figures in /api/v1/users and in the Admin-API record
equal what the CLI itself reported (`cli_reported`, from the harness's tee of every export request it sent).

Every run is a fresh HOME, so a new user.id and a new member: the user key of an API-key session is its user.id.
The odd telemetry is counted as the CLI reported it: an edit refused by settings, --disallowedTools or (2.1.197)
-p default mode sends nothing and counts nothing; `--continue`'s session.count carries a session id nothing else
has, and `sessions` counts it (3 ids for the 2 conversations of `resume`); a new N-line file counts N+1 lines.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from tests.support.claude_cli import run_claude
from tests.support.paths import FIXTURE_VERSIONS, HARNESS, HARNESS_SCENARIOS
from tests.support.serve_process import ServeProcess

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not HARNESS.exists(), reason="../shared/claude-code-harness is not present"),
    pytest.mark.skipif(shutil.which("npm") is None, reason="the harness installs the CLI with npm"),
]

SCENARIOS = sorted(path.stem for path in HARNESS_SCENARIOS.glob("*.json"))
PROTOCOLS = ("grpc", "http/protobuf", "http/json")
TOKENS = {"input": "input_tokens", "output": "output_tokens", "cacheRead": "cache_read_tokens",
          "cacheCreation": "cache_creation_tokens"}
ADMIN_TOKENS = {"input": "input", "output": "output", "cacheRead": "cache_read", "cacheCreation": "cache_creation"}
EDIT_TOOLS = {"Edit": "edit_tool", "MultiEdit": "multi_edit_tool", "Write": "write_tool",
              "NotebookEdit": "notebook_edit_tool"}
WORKERS = 6


@dataclass
class Run:
    scenario: str
    version: str
    protocol: str
    truth: dict

    @property
    def name(self) -> str:
        return f"{self.scenario}/{self.version}/{self.protocol}"

    @property
    def reported(self) -> dict:
        return self.truth["cli_reported"]


@dataclass
class Stack:
    serve: ServeProcess
    day: str
    runs: list[Run]
    seconds: float


def _one_run(serve: ServeProcess, record_root, scenario: str, version: str, protocol: str) -> Run:
    endpoint = f"http://{serve.grpc_endpoint}" if protocol == "grpc" else serve.http_url
    record_dir = record_root / f"{scenario}-{version}-{protocol.replace('/', '-')}"
    record_dir.mkdir()
    truth = run_claude(endpoint, protocol, 7, "team=platform", scenario=scenario, version=version,
                       record_dir=record_dir)
    assert "cli_reported" in truth, truth
    return Run(scenario, version, protocol, truth)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    # A long timer: the figures read below come from the explicit POST /api/v1/aggregate.
    serve = ServeProcess(tmp_path_factory.mktemp("harness-scenarios"), ("--aggregate-interval", "3600")).start()
    record_root = tmp_path_factory.mktemp("recorded")
    try:
        began = time.monotonic()
        started_on = datetime.now(timezone.utc).date()
        jobs = [(s, v, p) for s in SCENARIOS for v in FIXTURE_VERSIONS for p in PROTOCOLS]
        with ThreadPoolExecutor(WORKERS) as pool:
            runs = list(pool.map(lambda job: _one_run(serve, record_root, *job), jobs))
        seconds = time.monotonic() - began
        days = {row["d"] for table in ("metric_points", "events")
                for row in serve.query(f"SELECT DISTINCT toString(toDate(timestamp)) AS d FROM {table} FINAL")}
        if len(days) != 1:
            pytest.skip(f"the sessions straddled midnight UTC ({sorted(days)}); the per-day figures would split")
        (day,) = days
        assert day in {started_on.isoformat(), datetime.now(timezone.utc).date().isoformat()}
        json.loads(serve.api("POST", "/api/v1/aggregate", **{"from": day, "to": day}))
        yield Stack(serve, day, runs, seconds)
    finally:
        serve.stop()


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def test_every_run_is_its_own_member_and_took_reasonable_time(stack):
    assert len(stack.runs) == len(SCENARIOS) * len(FIXTURE_VERSIONS) * len(PROTOCOLS)
    assert len({run.truth["user_id"] for run in stack.runs}) == len(stack.runs)
    assert all(run.reported["user_ids"] == [run.truth["user_id"]] for run in stack.runs)
    assert {run.truth["claude_code_version"] for run in stack.runs} == set(FIXTURE_VERSIONS)
    print(f"{len(stack.runs)} harness runs in {stack.seconds:.0f} s")
    assert stack.seconds < 600


def test_users_report_equals_what_the_cli_reported(stack):
    rows = {row["user_key"]: row for row in json.loads(stack.serve.api(
        "GET", "/api/v1/users", month=stack.day[:7]))["data"]}
    assert set(rows) == {run.truth["user_id"] for run in stack.runs}
    wrong = []
    for run in stack.runs:
        row, cli = rows[run.truth["user_id"]], run.reported
        expected = {"lines_accepted": cli["lines_added"], "lines_removed": cli["lines_removed"],
                    "edits_accepted": cli["edits_accepted"], "edits_rejected": cli["edits_rejected"],
                    "sessions": len(cli["session_ids"]), "commits": cli["commits"],
                    "pull_requests": cli["pull_requests"], "prompts": cli["prompts"],
                    "api_requests": cli["api_requests"], "api_errors": cli["api_errors"],
                    **{TOKENS[kind]: n for kind, n in cli["tokens"].items()}}
        got = {key: row[key] for key in expected}
        if got != expected or not _close(row["cost_usd"], cli["cost_usd"]):
            wrong.append((run.name, {k: (got[k], v) for k, v in expected.items() if got[k] != v},
                          (row["cost_usd"], cli["cost_usd"])))
    assert not wrong, wrong


def test_admin_api_records_equal_what_the_cli_reported(stack):
    reply = json.loads(stack.serve.api("GET", "/v1/organizations/usage_report/claude_code", starting_at=stack.day,
                                       limit=1000))
    assert reply["has_more"] is False
    records = {record["actor"]["api_key_name"]: record for record in reply["data"]}
    assert set(records) == {run.truth["user_id"] for run in stack.runs}
    wrong = []
    for run in stack.runs:
        record, cli = records[run.truth["user_id"]], run.reported
        core = record["core_metrics"]
        tools = {EDIT_TOOLS[tool]: {"accepted": counts.get("accept", 0), "rejected": counts.get("reject", 0)}
                 for tool, counts in cli["edits"].items()}
        expected = {"num_sessions": len(cli["session_ids"]),
                    "lines_of_code": {"added": cli["lines_added"], "removed": cli["lines_removed"]},
                    "commits_by_claude_code": cli["commits"], "pull_requests_by_claude_code": cli["pull_requests"],
                    "tool_actions": {name: tools.get(name, {"accepted": 0, "rejected": 0})
                                     for name in EDIT_TOOLS.values()},
                    "tokens": {ADMIN_TOKENS[kind]: n for kind, n in cli["tokens"].items()}}
        tokens = {kind: sum(entry["tokens"][kind] for entry in record["model_breakdown"])
                  for kind in ADMIN_TOKENS.values()}
        got = {**{key: core[key] for key in ("num_sessions", "lines_of_code", "commits_by_claude_code",
                                             "pull_requests_by_claude_code")},
               "tool_actions": record["tool_actions"], "tokens": tokens}
        cents = sum(entry["estimated_cost"]["amount"] for entry in record["model_breakdown"])
        if got != expected or not math.isclose(cents, cli["cost_usd"] * 100, rel_tol=1e-9, abs_tol=1e-9):
            wrong.append((run.name, {k: (got[k], v) for k, v in expected.items() if got[k] != v},
                          (cents, cli["cost_usd"] * 100)))
    assert not wrong, wrong


def test_the_odd_telemetry_is_what_the_readme_says(stack):
    """The cases the README's "How odd telemetry is counted" describes, as these runs saw them."""
    by = {(run.scenario, run.version): run.reported for run in stack.runs if run.protocol == "grpc"}
    assert by[("reject-default-mode", "2.1.197")]["edits_rejected"] == 0  # nothing sent
    assert by[("reject-default-mode", "2.1.332")]["decision_sources"] == {"reject/config": 4}
    for version in FIXTURE_VERSIONS:
        assert by[("reject-settings", version)]["edits_rejected"] == 0
        assert by[("reject-disallowed", version)]["edits_rejected"] == 0
        assert len(by[("resume", version)]["session_ids"]) == 3  # 2 conversations, 3 ids
        assert "NotebookEdit" in by[("multiedit-notebook", version)]["edits"]
        assert by[("multiedit-notebook", version)]["lines_added"] == 0
