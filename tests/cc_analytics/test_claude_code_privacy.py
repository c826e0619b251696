"""The real Claude Code CLI (2.1.197 and 2.1.332, every content flag on, traces beta included) runs a session whose
prompt, tool inputs, file contents, Bash command, commit message and final answer all hold canaries: none reaches
any column of any table, raw or rolled up, the write-ahead queue's files or serve's log, while the figures (lines,
sessions, tool names, the commit's SHA and branch where sent) are all there; with --store-prompts the text is kept."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.support.claude_cli import run_claude
from tests.support.paths import HARNESS
from tests.support.polling import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not HARNESS.exists(), reason="../shared/claude-code-harness is not present"),
    pytest.mark.skipif(shutil.which("npm") is None, reason="the harness installs the CLI with npm"),
]

SCENARIO = Path(__file__).resolve().parents[1] / "support" / "scenarios" / "canaries.json"
CANARY = "zqcanary"  # every canary of the scenario starts with it
HOLD_ROWS = ("--batch-max-delay-ms", "600000")  # rows stay queued until serve stops, so the queue can be read


def queue_bytes(data_dir: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted((data_dir / "queue").iterdir()) if path.is_file())


def tables_holding(serve, text: str) -> dict[str, int]:
    """Rows per table of the store (raw and rolled up) with text anywhere in any column."""
    found = {}
    for table in [row["name"] for row in serve.query("SELECT name FROM system.tables WHERE database = "
                                                      "currentDatabase() AND engine NOT LIKE '%View%'")]:
        columns = [row["name"] for row in serve.query(f"SELECT name FROM system.columns WHERE database = "
                                                      f"currentDatabase() AND table = '{table}'")]
        row_text = "concat(" + ", '\\t', ".join(f"toString(`{column}`)" for column in columns) + ")"
        found[table] = int(serve.scalar(f"SELECT count() FROM `{table}` WHERE positionCaseInsensitive({row_text}, "
                                        f"'{text}') > 0"))
    return found


def session_through(serve_factory, data_dir: Path, version: str, protocol: str, *flags: str):
    """The canary session against a serve that holds its rows queued; returns (truth, queue bytes, serve's log,
    a serve restarted on the same data dir with the rows stored and rolled up)."""
    first = serve_factory(*HOLD_ROWS, *flags, data_dir=data_dir)
    endpoint = f"http://{first.grpc_endpoint}" if protocol == "grpc" else first.http_url
    truth = run_claude(endpoint, protocol, 3, "team=payments", scenario=str(SCENARIO), version=version)
    # the CLI exits once its exports are answered, so what it sent is queued; traces come last
    assert wait_until(lambda: b"claude_code.tool" in queue_bytes(data_dir)), "no span reached the queue"
    queued = queue_bytes(data_dir)
    assert truth["session_id"].encode() in queued
    assert first.stop() == 0  # inserts what it acknowledged
    second = serve_factory(*flags, data_dir=data_dir)
    today = datetime.now(timezone.utc).date()
    second.api("POST", "/api/v1/aggregate", **{"from": str(today - timedelta(days=1)), "to": str(today)})
    return truth, queued, first.log_text() + second.log_text(), second


@pytest.mark.parametrize("version,protocol", [("2.1.197", "grpc"), ("2.1.197", "http/protobuf"),
                                              ("2.1.332", "grpc"), ("2.1.332", "http/protobuf")])
def test_no_canary_is_stored_queued_or_logged_and_the_figures_are_all_there(serve_factory, tmp_path, version,
                                                                            protocol):
    truth, queued, log, serve = session_through(serve_factory, tmp_path / "data", version, protocol)
    assert truth["tool_calls"] == ["Read:ok", "Edit:ok", "Write:ok", "Bash:ok", "Bash:error"]
    assert truth["commits"] == 1

    assert CANARY.encode() not in queued.lower()
    assert CANARY not in log.lower()
    held = tables_holding(serve, CANARY)
    assert held and not any(held.values()), held
    assert {"events", "metric_points", "spans", "daily_user"} <= set(held)

    # the figures: the session, its lines (a new file of N lines counts N+1), its tools, its commit
    assert serve.query("SELECT DISTINCT session_id FROM events FINAL") == [{"session_id": truth["session_id"]}]
    lines_added = serve.scalar("SELECT sum(value) FROM metric_points FINAL WHERE metric_name = "
                               "'claude_code.lines_of_code.count' AND type = 'added'")
    assert float(lines_added) == truth["lines_added"] + 1
    (member,) = serve.query("SELECT sum(lines_accepted) AS lines, sum(sessions) AS sessions FROM daily_user FINAL")
    assert (float(member["lines"]), int(member["sessions"])) == (truth["lines_added"] + 1, 1)
    tools = serve.query("SELECT DISTINCT tool_name FROM events FINAL WHERE event_name = 'tool_result' ORDER BY 1")
    assert [row["tool_name"] for row in tools] == ["Bash", "Edit", "Read", "Write"]
    assert int(serve.scalar("SELECT count() FROM spans FINAL WHERE span_name = 'claude_code.tool'")) == 5
    commits = serve.query("SELECT attributes['vcs.ref.head.revision'] AS sha, attributes['vcs.ref.head.name'] AS "
                          "branch, JSONExtractString(attributes['tool_parameters'], 'git_commit_id') AS parameter "
                          "FROM events FINAL WHERE event_name = 'tool_result' AND attributes['vcs.ref.head.revision']"
                          " != ''")
    for commit in commits:  # sent by 2.1.332
        assert re.fullmatch("[0-9a-f]{40}", commit["sha"]) and commit["branch"] == "main"
        assert commit["parameter"] in ("", commit["sha"])
    assert commits or version == "2.1.197"
    assert int(serve.scalar("SELECT count() FROM events FINAL WHERE resource_attributes['team'] != 'payments' "
                            "OR attributes['team'] != 'payments'")) == 0


def test_with_store_prompts_the_canaries_are_stored(serve_factory, tmp_path):
    """The proof above can fail: the same session with --store-prompts keeps the text."""
    _, queued, _, serve = session_through(serve_factory, tmp_path / "data", "2.1.332", "http/protobuf",
                                          "--store-prompts")
    assert CANARY.encode() in queued.lower()
    held = tables_holding(serve, CANARY)
    assert held["events"] > 0 and held["spans"] > 0
